"""What browser tests do to a page: wait for Dash to settle, save a screenshot."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from app import ids

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

# Dash shows `._dash-loading` until the renderer has the layout, `._dash-loading-callback`
# while any callback is pending, and components mark `data-dash-is-loading` while their
# props are being computed.
DASH_BUSY = '._dash-loading, ._dash-loading-callback, [data-dash-is-loading="true"]'

_IDLE_FOR = """
([busy, quietMs]) => {
  const now = performance.now();
  if (!document.getElementById("react-entry-point") || document.querySelector(busy)) {
    window.__gridwatchIdleSince = null;
    return false;
  }
  window.__gridwatchIdleSince ??= now;
  return now - window.__gridwatchIdleSince >= quietMs;
}
"""


def wait_for_dash_idle(page: Page, *, timeout_ms: float = 15_000, quiet_ms: float = 150) -> None:
    """Wait until Dash has rendered and no callback has been pending for ``quiet_ms``.

    The quiet period covers the gap between an input changing and Dash queueing the
    callbacks it triggers, when the page would otherwise look idle too early.
    """
    page.evaluate("window.__gridwatchIdleSince = null")
    page.wait_for_function(_IDLE_FOR, arg=[DASH_BUSY, quiet_ms], timeout=timeout_ms)


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``tests/e2e/screenshots/<name>.png`` and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Where the case's marker is on screen: the MapLibre map projects its lon/lat.
MARKER_XY_JS = f"""
(caseId) => {{
  const gd = document.getElementById({ids.MAP_GRAPH!r})?.querySelector('.js-plotly-plot');
  if (!gd || !gd.data || !gd._fullLayout.map) return null;
  const map = gd._fullLayout.map._subplot.map;
  if (!map.loaded() || map.isMoving()) return null;
  for (const t of gd.data) {{
    const i = (t.customdata || []).findIndex(
        c => c && c[0] === 'case' && String(c[1]) === String(caseId));
    if (i >= 0 && t.lon) {{
      const p = map.project([t.lon[i], t.lat[i]]);
      const box = gd.querySelector('.mapboxgl-canvas, .maplibregl-canvas').getBoundingClientRect();
      return [box.left + p.x, box.top + p.y];
    }}
  }}
  return null;
}}
"""
