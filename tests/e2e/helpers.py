"""What browser tests do to a page: wait for Dash to settle, save a screenshot."""

from __future__ import annotations

import time
from collections.abc import Callable
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


# Where the case's marker is on screen: the MapLibre map projects the live case's point
# (the screen's live model holds it; assets/live.js). Null until it is drawn.
MARKER_XY_JS = """
async (caseId) => {
  const screen = window.GridWatchLive && window.GridWatchLive.screen();
  if (!screen || !screen.ready) return null;
  const gd = screen.gd;
  const map = window.GridWatchMap.mapOf(gd);
  if (!map || !map.loaded() || map.isMoving()) return null;
  const drawn = await window.GridWatchMap.drawnFeatures(gd);
  const f = (drawn || []).find(f => String(f.id) === String(caseId));
  if (!f) return null;
  const p = map.project(f.geometry.coordinates);
  const box = gd.querySelector('.maplibregl-canvas').getBoundingClientRect();
  return [box.left + p.x, box.top + p.y];
}
"""

# The live cases a screen's map source holds, read back from MapLibre: [{id, status,
# severity, overdue}], sorted by id; null before the screen has its snapshot.
DRAWN_CASES_JS = """
async (graph) => {
  const screen = window.GridWatchLive && window.GridWatchLive.screen(graph);
  if (!screen || !screen.ready) return null;
  const drawn = await window.GridWatchMap.drawnFeatures(screen.gd);
  if (!drawn) return null;
  return drawn.map(f => ({id: f.id, status: f.properties.status,
                          severity: f.properties.severity, overdue: f.properties.overdue}))
              .sort((a, b) => a.id - b.id);
}
"""


# Whether the map's live source holds case ``id`` (poll it: it is async).
HAS_CASE_JS = f"""async (id) => {{
    const cases = await ({DRAWN_CASES_JS})({ids.MAP_GRAPH!r});
    return !!cases && cases.some(c => c.id === id);
}}"""


def drawn_ids(page: Page, graph: str = ids.MAP_GRAPH) -> list[int] | None:
    """The case ids the live source of ``graph`` holds (None before its snapshot)."""
    cases = page.evaluate(DRAWN_CASES_JS, graph)
    return None if cases is None else [c["id"] for c in cases]


def wait_until(check: Callable[[], bool], *, timeout: float = 10.0, every: float = 0.2) -> None:
    """Poll ``check`` until it holds; fail with the timeout when it never does."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check.__doc__ or check}")
        time.sleep(every)


def poll(page: Page, script: str, arg: object = None, *, timeout: float = 20.0) -> object:
    """Evaluate ``script`` (it may be async) until it gives a truthy value; return it.

    Playwright's ``wait_for_function`` takes a promise itself for the truthy answer, so
    the live source (read back asynchronously) is polled from here instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer within {timeout} s from {script.strip()[:80]}")
        time.sleep(0.1)


def marker_xy(page: Page, case_id: int, *, timeout: float = 20.0) -> list[float]:
    """Where the live case's marker is on the page, once it is drawn."""
    return poll(page, MARKER_XY_JS, case_id, timeout=timeout)  # type: ignore[return-value]
