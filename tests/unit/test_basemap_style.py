"""The basemap style (layers.basemap, layers.dark, app.style): this server's tiles and
glyphs, labels by language, the dark wall variant, and what GRIDWATCH_BASEMAP_URL may
name."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from app.style import install
from etl.glyphs import FONTSTACK
from geo_data.models import ROAD_KINDS
from layers import basemap
from layers.basemap import LIGHT, WALL, basemap_style, map_style
from layers.dark import DARK_BACKGROUND, darken

ORIGIN = "http://10.1.2.3:8050"


def layer(style: dict[str, Any], layer_id: str) -> dict[str, Any]:
    return next(entry for entry in style["layers"] if entry["id"] == layer_id)


def sizes(expression: list[Any]) -> list[float]:
    """The output values of an ``interpolate`` over zoom: [zoom, value, zoom, value...]."""
    assert expression[:3] == ["interpolate", ["linear"], ["zoom"]]
    return expression[4::2]


def test_the_basemap_draws_land_water_green_roads_and_names_from_local_tiles() -> None:
    style = basemap_style(ORIGIN)
    ids = [entry["id"] for entry in style["layers"]]
    assert ids == [
        "background", "landuse", "water", "road-casing", "road",
        "label-road", "label-water", "label-park",
    ]  # fmt: skip
    for name in ("roads", "water", "landuse"):
        source = style["sources"][name]
        assert source["tiles"] == [f"{ORIGIN}/tiles/{name}/{{z}}/{{x}}/{{y}}.pbf"]
        assert source["type"] == "vector" and 8 <= source["minzoom"] <= source["maxzoom"] == 16
    for entry in style["layers"][1:]:
        assert entry["source"] == entry["source-layer"]  # the tile layer of the same name
    road = layer(style, "label-road")
    assert road["layout"]["symbol-placement"] == "line"
    assert road["layout"]["text-font"] == [FONTSTACK]
    widths = layer(style, "road")["paint"]["line-width"]
    assert widths[:3] == ["interpolate", ["exponential", 1.5], ["zoom"]]
    at_16 = widths[widths.index(16) + 1]  # ["match", ["get", "kind"], kind, width, ..., 0]
    width = dict(zip(at_16[2:-1:2], at_16[3:-1:2], strict=True))
    assert width["motorway"] > width["primary"] > width["residential"] > width["service"] > 0


def test_every_url_is_on_this_server_and_absolute_for_the_tile_workers() -> None:
    style = basemap_style(ORIGIN + "/")
    assert style["glyphs"] == ORIGIN + "/glyphs/{fontstack}/{range}.pbf"
    urls = re.findall(r'"(https?://[^"]*)"', json.dumps(style))
    assert urls and all(url.startswith(ORIGIN + "/") for url in urls)
    assert "sprite" not in style
    assert "icon-image" not in json.dumps(style)  # plotly fetches a missing image from a CDN


def test_a_figure_names_the_style_by_a_path_of_this_server() -> None:
    assert map_style() == "/basemap/style.json?lang=zh&theme=light"
    assert map_style(lang="en") == "/basemap/style.json?lang=en&theme=light"
    assert (
        map_style(theme="wall", scale=1.25) == "/basemap/style.json?lang=zh&theme=wall&scale=1.25"
    )
    with pytest.raises(ValueError, match="language"):
        map_style(lang="fr")
    with pytest.raises(ValueError, match="theme"):
        map_style(theme="sepia")


def test_lang_switches_every_label_between_chinese_and_english() -> None:
    zh, en = basemap_style(ORIGIN, lang="zh"), basemap_style(ORIGIN, lang="en")
    for label in ("label-road", "label-water", "label-park"):
        assert layer(zh, label)["layout"]["text-field"] == ["get", "name_zh"]
        assert layer(en, label)["layout"]["text-field"] == [
            "coalesce",
            ["get", "name_en"],
            ["get", "name_zh"],
        ]


def test_choropleths_go_in_above_water_and_below_the_roads() -> None:
    # plotly inserts a choroplethmap trace after the last layer whose id starts "water".
    ids = [entry["id"] for entry in basemap_style(ORIGIN)["layers"]]
    last_water = max(i for i, name in enumerate(ids) if name.startswith("water"))
    assert ids[last_water + 1] == "road-casing"


def test_the_dark_wall_variant_has_larger_labels_and_strong_halos() -> None:
    figure = {"data": [], "layout": {"map": {"style": map_style(lang="en")}}}
    dark = darken(figure, scale=1.25, lang="en")["layout"]["map"]["style"]
    assert dark == "/basemap/style.json?lang=en&theme=wall&scale=1.25"
    assert figure["layout"]["map"]["style"] == map_style(lang="en")  # not mutated
    wall = basemap_style(ORIGIN, lang="en", theme="wall", scale=1.25)
    light = basemap_style(ORIGIN, lang="en")
    assert layer(wall, "background")["paint"]["background-color"] == DARK_BACKGROUND
    for label in ("label-road", "label-water", "label-park"):
        big, small = layer(wall, label), layer(light, label)
        for b, s in zip(sizes(big["layout"]["text-size"]), sizes(small["layout"]["text-size"]),
                        strict=True):  # fmt: skip
            assert b == pytest.approx(s * 1.5 * 1.25)
        assert big["paint"]["text-halo-width"] > small["paint"]["text-halo-width"]
        assert big["paint"]["text-halo-color"] == WALL.halo
    assert min(sizes(layer(wall, "label-road")["layout"]["text-size"])) >= 18


def test_a_raster_url_replaces_the_basemap() -> None:
    url = "http://tdt.intranet/vec_w/{z}/{x}/{y}.png"
    style = map_style(url, lang="en")
    assert [entry["id"] for entry in style["layers"]] == ["background", "basemap"]
    assert "glyphs" not in style
    dark = darken({"layout": {"map": {}}}, url)["layout"]["map"]["style"]
    assert layer(dark, "background")["paint"]["background-color"] == DARK_BACKGROUND


def test_a_style_json_url_is_the_whole_style() -> None:
    url = "http://tiles.intranet:8080/styles/chengdu/style.json?key=x"
    assert map_style(url) == url
    assert darken({"layout": {"map": {}}}, url)["layout"]["map"]["style"] == url


def test_a_tilejson_url_feeds_the_same_layers() -> None:
    url = "http://martin.intranet:3000/gridwatch.json"
    assert map_style(url) == "/basemap/style.json?lang=zh&theme=light"
    style = basemap_style(ORIGIN, tilejson=url)
    assert style["sources"] == {"basemap": {"type": "vector", "url": url}}
    road = layer(style, "road")
    assert (road["source"], road["source-layer"]) == ("basemap", "roads")
    assert style["glyphs"].startswith(ORIGIN + "/glyphs/")


def test_road_kinds_are_the_stores() -> None:
    assert basemap.ROAD_KINDS == ROAD_KINDS
    assert set(LIGHT.roads) == set(WALL.roads) == set(ROAD_KINDS)
    assert WALL.background == DARK_BACKGROUND


# -- the route ------------------------------------------------------------------------------


def _client(basemap_url: str | None = None):
    server = Flask(__name__)
    install(server, basemap_url)
    return server.test_client()


def test_the_style_is_served_on_the_origin_the_browser_used() -> None:
    answer = _client().get(
        "/basemap/style.json?lang=en&theme=wall&scale=1.25", base_url="http://wall.local:8050"
    )
    assert answer.status_code == 200 and answer.content_type == "application/json"
    style = answer.get_json()
    assert style["glyphs"] == "http://wall.local:8050/glyphs/{fontstack}/{range}.pbf"
    assert layer(style, "label-road")["layout"]["text-field"][0] == "coalesce"
    assert style == basemap_style("http://wall.local:8050/", lang="en", theme="wall", scale=1.25)
    assert "max-age" in answer.headers["Cache-Control"]


def test_the_style_follows_a_configured_tilejson() -> None:
    url = "http://martin.intranet:3000/gridwatch.json"
    style = _client(url).get("/basemap/style.json").get_json()
    assert style["sources"] == {"basemap": {"type": "vector", "url": url}}


@pytest.mark.parametrize(
    ("query", "field"),
    [("lang=fr", "lang"), ("theme=sepia", "theme"), ("scale=9", "scale"), ("scale=nan", "scale"),
     ("scale=x", "scale")],
)  # fmt: skip
def test_unknown_style_parameters_are_refused(query: str, field: str) -> None:
    answer = _client().get(f"/basemap/style.json?{query}")
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field
