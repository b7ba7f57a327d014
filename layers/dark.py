"""The dark variant of a map figure, for the wall screen (a dark room, read from metres).

``darken`` takes the plain figure dict ``callbacks.map.map_view`` builds and returns a new
one: the basemap in dark colours with larger labels on high-contrast halos (a 4K wall
read from 3 m), light text, a muted area scale (so the bright case markers stand out on
it), a light boundary line and larger legend type. Nothing is mutated.
"""

from __future__ import annotations

import copy
from typing import Any

from layers.basemap import WALL, map_style
from layers.style import OUTLINE_COLOUR

DARK_BACKGROUND = "#0b1424"
DARK_INK = "#e2e8f0"
DARK_AREA_SCALE = [
    [0.0, "#15294a"],
    [0.3, "#1f3f6e"],
    [0.6, "#553a78"],
    [0.8, "#86325e"],
    [1.0, "#a52a3a"],
]
DARK_AREA_EDGE = "rgba(148, 163, 184, 0.55)"
DARK_OUTLINE = "#7dd3fc"
LIVE_COLOUR = "#22d3ee"
LIVE_PULSE = "rgba(34, 211, 238, 0.4)"
FONT_SIZE = 15
LEGEND_FONT_SIZE = 15
DARK_PALETTE = WALL  # the basemap's colours and label sizes on the wall


def darken(
    figure: dict[str, Any],
    basemap_url: str | None = None,
    *,
    scale: float = 1.0,
    lang: str = "zh",
) -> dict[str, Any]:
    """``figure`` on the dark basemap with labels in ``lang``; ``scale`` enlarges text and
    markers (a wall read from a distance)."""
    out = copy.deepcopy(figure)
    layout = out.setdefault("layout", {})
    layout.setdefault("map", {})["style"] = map_style(
        basemap_url, lang=lang, theme="wall", scale=scale
    )
    layout["paper_bgcolor"] = DARK_BACKGROUND
    layout["font"] = {**layout.get("font", {}), "color": DARK_INK, "size": FONT_SIZE * scale}
    layout["legend"] = {
        **layout.get("legend", {}),
        "bgcolor": "rgba(11, 20, 36, 0.82)",
        "bordercolor": "rgba(148, 163, 184, 0.35)",
        "font": {"size": LEGEND_FONT_SIZE * scale, "color": DARK_INK},
    }
    layout["dragmode"] = False
    layout["clickmode"] = "none"  # a wall is not clicked: no drill-down, no case panel
    for trace in out.get("data", []):
        _darken_trace(trace, scale)
    return out


def _darken_trace(trace: dict[str, Any], scale: float) -> None:
    if trace.get("type") == "choroplethmap":
        trace["colorscale"] = DARK_AREA_SCALE
        marker = trace.setdefault("marker", {})
        marker["line"] = {**marker.get("line", {}), "color": DARK_AREA_EDGE}
        marker["opacity"] = min(0.92, marker.get("opacity", 0.8) + 0.1)
        bar = trace.get("colorbar")
        if bar:
            title = bar.get("title", {})
            trace["colorbar"] = {
                **bar,
                "bgcolor": "rgba(11, 20, 36, 0.82)",
                "tickfont": {"size": 12 * scale, "color": DARK_INK},
                "title": {**title, "font": {"size": 13 * scale, "color": DARK_INK}},
                "thickness": 12 * scale,
            }
        return
    line = trace.get("line") or {}
    if trace.get("mode") == "lines" and line.get("color") == OUTLINE_COLOUR:
        trace["line"] = {**line, "color": DARK_OUTLINE, "width": 3 * scale}
        return
    marker = trace.get("marker")
    if not isinstance(marker, dict):
        return
    if trace.get("uid") == "live-new":
        trace["marker"] = {**marker, "color": LIVE_COLOUR}
    elif trace.get("uid") == "live-pulse":
        trace["marker"] = {**marker, "color": LIVE_PULSE}
    size = marker.get("size")
    if isinstance(size, int | float):
        trace["marker"] = {**trace["marker"], "size": size * scale}
    elif size is not None and not isinstance(size, str | dict):
        trace["marker"] = {**trace["marker"], "size": [s * scale for s in size]}
