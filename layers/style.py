"""How layers draw: the language, the chosen metric and window, and the palette."""

from __future__ import annotations

from dataclasses import dataclass

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Style:
    """What a layer needs to know besides its data.

    ``faded``: draw the area choropleth lightly (when hexagons lie on top of it).
    """

    lang: str = "zh"
    metric: str = "open"
    window: str = "live"
    faded: bool = False

    def __post_init__(self) -> None:
        if self.lang not in LANGS:
            raise ValueError(f"unknown language {self.lang!r}; one of {', '.join(LANGS)}")


# Palette: sequential scales for counts, categorical colours for states.
AREA_SCALE = [
    [0.0, "#fff7ec"],
    [0.25, "#fdd49e"],
    [0.5, "#fc8d59"],
    [0.75, "#d7301f"],
    [1.0, "#7f0000"],
]
HEX_SCALE = [
    [0.0, "#edf8fb"],
    [0.25, "#b3cde3"],
    [0.5, "#8c96c6"],
    [0.75, "#8856a7"],
    [1.0, "#810f7c"],
]
HEALTH_SCALE = [[0.0, "#16a34a"], [0.15, "#facc15"], [0.4, "#f97316"], [1.0, "#b91c1c"]]
SEVERITY_COLOUR = {1: "#c0161d", 2: "#f0641e", 3: "#f2b705", 4: "#3f7fbf"}
OVERDUE_RING = "rgba(220, 38, 38, 0.35)"
CAMERA_STATUS_COLOUR = {"online": "#16a34a", "offline": "#8b95a5", "fault": "#dc2626"}
CAMERA_TIER_SIZE = {"district": 10, "street": 9, "community": 8, "courtyard": 7}
WORKER_STATUS_COLOUR = {
    "available": "#2563eb",
    "en_route": "#9333ea",
    "on_site": "#0d9488",
    "off_duty": "#94a3b8",
}
BUILDING_USE_COLOUR = {
    "residential": "#a3aec0",
    "commercial": "#f4a340",
    "public": "#34b38a",
    "industrial": "#8d79c9",
}
OTHER_COLOUR = "#cbd5e1"
OUTLINE_COLOUR = "#1e293b"
AREA_EDGE = "#ffffff"

# Where each continuous scale's colour bar sits, so several never overlap.
COLORBAR_SLOTS = {"areas": 0.93, "hexes": 0.62, "cameras": 0.31}


def colorbar(slot: str, title: str, *, top: float | None = None) -> dict:
    """A compact colour bar at the right edge of the map, in the slot for its layer.

    ``top``: the largest value of a count scale, so small counts tick in whole numbers.
    """
    bar: dict = {
        "title": {"text": title, "side": "top", "font": {"size": 11}},
        "x": 0.995,
        "xanchor": "right",
        "y": COLORBAR_SLOTS[slot],
        "yanchor": "top",
        "len": 0.28,
        "thickness": 10,
        "outlinewidth": 0,
        "bgcolor": "rgba(255,255,255,0.85)",
        "tickfont": {"size": 10},
    }
    if top is not None:
        bar |= {"tick0": 0, "dtick": 1} if top <= 6 else {"tickformat": ",d"}
    return bar


def single_colour_scale(colour: str) -> list[list[object]]:
    return [[0.0, colour], [1.0, colour]]
