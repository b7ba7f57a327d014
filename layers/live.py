"""The live cases as MapLibre layers on the map plotly draws, and the words their hover uses.

Open cases are not plotly traces: the browser keeps them in a live model
(``assets/live_model.js``) and draws them as one GeoJSON source fed by diffs
(``assets/map_bridge.js``). What is pure lives here: the layers' paint (severity colour,
the overdue ring, the pulse of a new report) for the light map and the wall, and the
labels the hover text is made of. No plotly redraw is involved in showing a change.
"""

from __future__ import annotations

from typing import Any

from layers.labels import CASE_STATUS, HANDLING_LEVEL, SEVERITY, label, word
from layers.style import OVERDUE_RING, SEVERITY_COLOUR, Style

MARKER_RADIUS = 5.5  # px at scale 1: plotly's size-11 markers were 11 px across
OVERDUE_RADIUS = 7.0
RING_RADIUS = 13.0
PULSE_RADIUS = 17.0
PULSE_COLOUR = "rgba(37, 99, 235, 0.35)"
EDGE = {"light": "#ffffff", "dark": "#0b1424"}
LAYER_IDS = ("gw-live-pulse", "gw-live-ring", "gw-live-cases")


def _severity_colour() -> list[Any]:
    expression: list[Any] = ["match", ["get", "severity"]]
    for severity, colour in sorted(SEVERITY_COLOUR.items()):
        expression += [severity, colour]
    return [*expression, SEVERITY_COLOUR[3]]


def layer_specs(*, dark: bool = False, scale: float = 1.0) -> list[dict[str, Any]]:
    """The live layers, bottom to top: pulse (new reports), overdue ring, case markers.

    ``scale`` enlarges them for a wall read from a distance; ``interactive`` marks the
    layers hover and click answer on.
    """
    return [
        {
            "id": LAYER_IDS[0],
            "type": "circle",
            "filter": ["==", ["get", "fresh"], True],
            "paint": {
                "circle-radius": PULSE_RADIUS * scale,
                "circle-color": PULSE_COLOUR,
                "circle-stroke-width": 0,
            },
        },
        {
            "id": LAYER_IDS[1],
            "type": "circle",
            "filter": ["==", ["get", "overdue"], True],
            "paint": {
                "circle-radius": RING_RADIUS * scale,
                "circle-color": OVERDUE_RING,
                "circle-stroke-width": 0,
            },
        },
        {
            "id": LAYER_IDS[2],
            "type": "circle",
            "interactive": True,
            "paint": {
                "circle-radius": [
                    "case",
                    ["==", ["get", "overdue"], True],
                    OVERDUE_RADIUS * scale,
                    MARKER_RADIUS * scale,
                ],
                "circle-color": _severity_colour(),
                "circle-opacity": 0.95,
                "circle-stroke-color": EDGE["dark" if dark else "light"],
                "circle-stroke-width": 1.0 * scale,
            },
        },
    ]


def hover_words(style: Style, categories: dict[str, str]) -> dict[str, Any]:
    """Everything the hover text of a live case is made of, in ``style.lang``."""
    lang = style.lang
    return {
        "case": word("case", lang),
        "status": word("status", lang),
        "age": word("age", lang),
        "reports": word("reports", lang),
        "overdue": word("overdue", lang),
        "on_time": word("on_time", lang),
        "assigned": word("assignee", lang),
        "unassigned": word("unassigned", lang),
        "categories": categories,
        "statuses": {code: label(CASE_STATUS, code, lang) for code in CASE_STATUS},
        "severities": {str(n): f"{n} {label(SEVERITY, n, lang)}" for n in SEVERITY},
        "levels": {code: label(HANDLING_LEVEL, code, lang) for code in HANDLING_LEVEL},
        "hours": "h" if lang == "en" else "小时",
        "minutes": "min" if lang == "en" else "分钟",
        "days": "d" if lang == "en" else "天",
    }
