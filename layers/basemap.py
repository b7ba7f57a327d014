"""The map style: an offline basemap drawn from this server's own tiles and glyphs.

Land, water, green land and roads by kind come from the vector tiles at
``/tiles/<layer>/{z}/{x}/{y}.pbf`` (``app.tiles``; source layers ``roads``, ``water``,
``landuse``), labels from the glyphs at ``/glyphs/{fontstack}/{range}.pbf``
(``app.glyphs``), so nothing is fetched from outside the server. MapLibre draws CJK
ideographs with the browser's own font by default (``localIdeographFontFamily``, which
plotly leaves as it is) and asks the glyph server for the other ranges only.

MapLibre fetches tiles from web workers started from ``blob:`` URLs, where a URL without
a host cannot be resolved ("Failed to parse URL"), and only the request knows this
server's origin. So the figure names the style by a path (:func:`map_style` gives
``/basemap/style.json?lang=..&theme=..``, loaded by the page itself) and ``app.style``
answers it with :func:`basemap_style`, every URL made absolute with the request's origin.

``GRIDWATCH_BASEMAP_URL`` replaces the basemap: an XYZ raster template (a Tianditu or
other intranet mirror), a URL ending in ``style.json`` (a whole MapLibre style, used as it
is), or any other ``.json`` URL: a TileJSON of vector tiles in GridWatch's schema, drawn
with this style.

Choropleth traces go in just above the last layer whose id starts with ``water`` (plotly's
rule), so the areas cover land and water but the roads and labels stay on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

BACKGROUND = "#e6eaf0"
FONTSTACK = "Noto Sans CJK SC Regular"  # etl.glyphs.FONTSTACK: the set the server generates
GLYPHS_URL = "/glyphs/{fontstack}/{range}.pbf"
TILES_URL = "/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"
BASEMAP_LAYERS = ("landuse", "water", "roads")
# The zooms the tile layers are cut for (app.tiles): none are asked for outside them.
TILE_ZOOMS = {"roads": (8, 16), "water": (8, 16), "landuse": (10, 16)}
LANGS = ("zh", "en")
# Main roads first, as the store's kinds (geo_data.models.ROAD_KINDS; a test keeps them equal).
ROAD_KINDS = ("motorway", "trunk", "primary", "secondary", "tertiary", "residential", "service")

# Line widths (px) of each road kind at a few zooms, interpolated in between.
ROAD_WIDTHS: dict[int, dict[str, float]] = {
    8: {"motorway": 1.0, "trunk": 0.8},
    11: {"motorway": 2.0, "trunk": 1.8, "primary": 1.2, "secondary": 0.8},
    13: {"motorway": 3.5, "trunk": 3.0, "primary": 2.5, "secondary": 2.0, "tertiary": 1.2,
         "residential": 0.8, "service": 0.5},
    16: {"motorway": 10.0, "trunk": 9.0, "primary": 8.0, "secondary": 6.5, "tertiary": 5.0,
         "residential": 4.0, "service": 2.5},
    18: {"motorway": 20.0, "trunk": 18.0, "primary": 16.0, "secondary": 13.0, "tertiary": 10.0,
         "residential": 8.0, "service": 5.0},
}  # fmt: skip
CASING_PX = 1.5  # the casing is this much wider than the road on each side, in total


@dataclass(frozen=True)
class Palette:
    """Colours and text sizes of one look of the basemap (light for desks, dark for walls)."""

    background: str = BACKGROUND
    landuse: dict[str, str] = field(
        default_factory=lambda: {
            "park": "#c6e3b1",
            "green": "#d5eac3",
            "forest": "#b3d59e",
            "farmland": "#ece8d2",
        }
    )
    water: str = "#a9cce8"
    roads: dict[str, str] = field(
        default_factory=lambda: {
            "motorway": "#e891a1",
            "trunk": "#f4b08c",
            "primary": "#fcd6a4",
            "secondary": "#f7f3bd",
            "tertiary": "#ffffff",
            "residential": "#ffffff",
            "service": "#f8f8f8",
        }
    )
    casing: str = "#b9c0cb"
    road_text: str = "#374151"
    water_text: str = "#1f5f99"
    park_text: str = "#2f6b2f"
    halo: str = "rgba(255, 255, 255, 0.92)"
    halo_width: float = 1.5
    text_scale: float = 1.0  # on every label size

    def scaled(self, factor: float) -> Palette:
        return replace(self, text_scale=self.text_scale * factor)


LIGHT = Palette()
# The wall (layers.dark): a dark room, read from metres away on a 4K screen.
WALL = Palette(
    background="#0b1424",  # layers.dark.DARK_BACKGROUND
    landuse={"park": "#123524", "green": "#10301f", "forest": "#0f3a26", "farmland": "#1a2230"},
    water="#123d66",
    roads={
        "motorway": "#b0566a",
        "trunk": "#a8674a",
        "primary": "#8a7a4e",
        "secondary": "#5d6478",
        "tertiary": "#3c4861",
        "residential": "#2d3a52",
        "service": "#26324a",
    },
    casing="#060c18",
    road_text="#f1f5f9",
    water_text="#9fd3ff",
    park_text="#b7f0c4",
    halo="#02060e",
    halo_width=2.5,
    text_scale=1.5,
)
THEMES = {"light": LIGHT, "wall": WALL}
STYLE_PATH = "/basemap/style.json"
SCALES = (0.5, 4.0)  # the text scales a style URL may ask for


def name_field(lang: str) -> list[Any]:
    """The label text of a feature: its Chinese name, or in English its English name
    where it has one (else the Chinese)."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    if lang == "en":
        return ["coalesce", ["get", "name_en"], ["get", "name_zh"]]
    return ["get", "name_zh"]


def _by_kind(values: dict[str, Any], default: Any) -> list[Any]:
    pairs: list[Any] = []
    for kind, value in values.items():
        pairs += [kind, value]
    return ["match", ["get", "kind"], *pairs, default]


def _road_width(extra: float = 0.0) -> list[Any]:
    stops: list[Any] = []
    for zoom, widths in ROAD_WIDTHS.items():
        stops += [zoom, _by_kind({k: round(w + extra, 2) for k, w in widths.items()}, 0)]
    return ["interpolate", ["exponential", 1.5], ["zoom"], *stops]


def _text_size(palette: Palette, small: float, large: float, zooms: tuple[int, int]) -> list[Any]:
    s = palette.text_scale
    return ["interpolate", ["linear"], ["zoom"], zooms[0], small * s, zooms[1], large * s]


def _vector_sources(origin: str, tilejson: str | None) -> dict[str, Any]:
    if tilejson:
        return {"basemap": {"type": "vector", "url": tilejson}}
    return {
        layer: {
            "type": "vector",
            "tiles": [origin + TILES_URL.format(layer=layer)],
            "minzoom": TILE_ZOOMS[layer][0],
            "maxzoom": TILE_ZOOMS[layer][1],
        }
        for layer in BASEMAP_LAYERS
    }


def _source(layer: str, tilejson: str | None) -> dict[str, str]:
    return {"source": "basemap" if tilejson else layer, "source-layer": layer}


def basemap_layers(
    lang: str = "zh", palette: Palette = LIGHT, tilejson: str | None = None
) -> list[dict[str, Any]]:
    """The basemap's MapLibre layers, bottom to top: green land, water, road casings,
    roads, then road, water and park names."""
    name = name_field(lang)
    rank = _by_kind({kind: len(ROAD_KINDS) - i for i, kind in enumerate(ROAD_KINDS)}, 0)
    halo = {"text-halo-color": palette.halo, "text-halo-width": palette.halo_width}
    return [
        {
            "id": "landuse",
            "type": "fill",
            **_source("landuse", tilejson),
            "paint": {"fill-color": _by_kind(palette.landuse, palette.background)},
        },
        {
            "id": "water",
            "type": "fill",
            **_source("water", tilejson),
            "paint": {"fill-color": palette.water},
        },
        {
            "id": "road-casing",
            "type": "line",
            **_source("roads", tilejson),
            "minzoom": 12,
            "layout": {"line-cap": "round", "line-join": "round", "line-sort-key": rank},
            "paint": {"line-color": palette.casing, "line-width": _road_width(CASING_PX)},
        },
        {
            "id": "road",
            "type": "line",
            **_source("roads", tilejson),
            "layout": {"line-cap": "round", "line-join": "round", "line-sort-key": rank},
            "paint": {
                "line-color": _by_kind(palette.roads, "#ffffff"),
                "line-width": _road_width(),
            },
        },
        {
            "id": "label-road",
            "type": "symbol",
            **_source("roads", tilejson),
            "minzoom": 13,
            "layout": {
                "symbol-placement": "line",
                "symbol-spacing": 320,
                "text-field": name,
                "text-font": [FONTSTACK],
                "text-size": _text_size(palette, 11, 15, (13, 17)),
                "text-max-angle": 30,
                "text-padding": 2,
                "symbol-sort-key": ["-", 0, rank],
            },
            "paint": {"text-color": palette.road_text, **halo},
        },
        {
            "id": "label-water",
            "type": "symbol",
            **_source("water", tilejson),
            "minzoom": 11,
            "layout": {
                "text-field": name,
                "text-font": [FONTSTACK],
                "text-size": _text_size(palette, 11, 15, (11, 16)),
                "text-padding": 4,
            },
            "paint": {"text-color": palette.water_text, **halo},
        },
        {
            "id": "label-park",
            "type": "symbol",
            **_source("landuse", tilejson),
            "minzoom": 14,
            "filter": ["==", ["get", "kind"], "park"],
            "layout": {
                "text-field": name,
                "text-font": [FONTSTACK],
                "text-size": _text_size(palette, 10, 13, (14, 17)),
                "text-padding": 4,
            },
            "paint": {"text-color": palette.park_text, **halo},
        },
    ]


def basemap_kind(basemap_url: str | None) -> str:
    """What ``GRIDWATCH_BASEMAP_URL`` is: ``local`` (unset: this server's tiles),
    ``style`` (a MapLibre style.json), ``tilejson`` (another .json: vector tiles in
    GridWatch's schema) or ``raster`` (an XYZ template)."""
    if not basemap_url:
        return "local"
    path = urlsplit(basemap_url).path.lower()
    if path.endswith("style.json"):
        return "style"
    if path.endswith(".json"):
        return "tilejson"
    return "raster"


def style_url(lang: str = "zh", theme: str = "light", scale: float = 1.0) -> str:
    """The path this server answers with the basemap style (``app.style``)."""
    name_field(lang)  # refuses an unknown language here, not in the browser
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}")
    url = f"{STYLE_PATH}?lang={lang}&theme={theme}"
    return url + (f"&scale={scale:g}" if scale != 1.0 else "")


def map_style(
    basemap_url: str | None = None,
    *,
    lang: str = "zh",
    theme: str = "light",
    scale: float = 1.0,
) -> dict[str, Any] | str:
    """What a figure's ``layout.map.style`` is for the map in ``lang`` (``zh``/``en``) and
    ``theme`` (``light``, or ``wall`` with labels ``scale`` times larger still): the path
    of this server's basemap style, or what ``basemap_url`` names (a style.json URL as
    it is, a raster template as an inline style)."""
    kind = basemap_kind(basemap_url)
    if kind == "style":
        assert basemap_url is not None
        return basemap_url
    if kind == "raster":
        assert basemap_url is not None
        return raster_style(basemap_url, THEMES[theme].background)
    return style_url(lang, theme, scale)


def raster_style(basemap_url: str, background: str = BACKGROUND) -> dict[str, Any]:
    """An inline style of the background and ``basemap_url``'s raster tiles (which carry
    their own labels: no glyphs)."""
    return {
        "version": 8,
        "name": "gridwatch",
        # Never an empty ``sources``: a patched figure loses empty objects on its way to
        # plotly, and MapLibre then rejects the style ("missing required property sources").
        "sources": {
            "empty": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}},
            "basemap": {"type": "raster", "tiles": [basemap_url], "tileSize": 256},
        },
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": background}},
            {
                "id": "basemap",
                "type": "raster",
                "source": "basemap",
                "paint": {"raster-opacity": 0.9},
            },
        ],
    }


def basemap_style(
    origin: str,
    *,
    lang: str = "zh",
    theme: str = "light",
    scale: float = 1.0,
    tilejson: str | None = None,
) -> dict[str, Any]:
    """The basemap style with every URL on ``origin`` (``http://host:port``): the vector
    tiles (or ``tilejson``'s) and the glyphs, labels in ``lang``."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}")
    palette = THEMES[theme].scaled(scale)
    origin = origin.rstrip("/")
    return {
        "version": 8,
        "name": "gridwatch",
        "glyphs": origin + GLYPHS_URL,
        "sources": _vector_sources(origin, tilejson),
        "layers": [
            {
                "id": "background",
                "type": "background",
                "paint": {"background-color": palette.background},
            },
            *basemap_layers(lang, palette, tilejson),
        ],
    }
