"""The map view and its callbacks on the demo city: drill-down, URL state, payload size."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import plotly
import pytest
from dash import html
from dash.development.base_component import Component
from sqlalchemy import Connection, Engine, text

from app import create_app, ids
from app.context import AppContext
from app.settings import Settings
from callbacks import map as map_callbacks
from callbacks.map import MapState, MapView, map_view, next_search, query_string, state_from_query
from callbacks.router import render_page
from geo_data import views
from layers import LAYER_NAMES
from tests.conftest import DEMO_END
from tests.support import OPERATOR

LEVEL_NAMES = ("city", "district", "street", "community", "grid", "courtyard")
MAX_BYTES = 500_000


@pytest.fixture
def ctx(settings: Settings, demo_engine: Engine) -> AppContext:
    return AppContext(settings, demo_engine)


@pytest.fixture
def codes(demo: Connection) -> dict[str, str]:
    """One area per level, the busiest below the district so views are not empty."""
    found = {"city": "510100", "district": "510108"}
    for level in ("street", "community", "grid", "courtyard"):
        found[level] = demo.execute(
            text(
                f"""
                SELECT a.code FROM areas a JOIN cases c ON c.{level}_id = a.id
                GROUP BY a.code ORDER BY count(*) DESC, a.code LIMIT 1
                """
            )
        ).scalar_one()
    return found


def view(ctx: AppContext, code: str | None = None, **changes: object) -> MapView:
    return map_view(ctx, replace(MapState(area_code=code, now=DEMO_END), **changes))


def payload(figure: dict) -> int:
    return len(json.dumps(figure, cls=plotly.utils.PlotlyJSONEncoder))


def find(component: Component, component_id: str) -> Component | None:
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    if children is None or isinstance(children, str | int | float):
        return None
    for child in children if isinstance(children, list | tuple) else [children]:
        if isinstance(child, Component) and (hit := find(child, component_id)) is not None:
            return hit
    return None


def texts(component: object) -> str:
    if isinstance(component, str | int | float):
        return str(component)
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if isinstance(children, list | tuple):
        return " ".join(texts(c) for c in children)
    return texts(children)


def links(component: object) -> list[str]:
    found = [component.href] if getattr(component, "href", None) else []
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            found += links(child)
    elif isinstance(children, Component):
        found += links(children)
    return found


def test_bench_signature_shows_chenghua_by_default(ctx: AppContext) -> None:
    result = map_view(ctx, MapState())
    assert result.state.area_code == "510108"
    assert result.breadcrumb == [("510100", "成都市"), ("510108", "成华区")]
    assert isinstance(result.figure, dict) and result.figure["data"]
    assert payload(result.figure) > 0


def test_breadcrumb_at_courtyard_level_runs_from_the_city_down(
    ctx: AppContext, codes: dict[str, str], demo: Connection
) -> None:
    yard = codes["courtyard"]
    result = view(ctx, yard)
    chain = [code for code, _ in result.breadcrumb]
    assert len(chain) == 6
    assert chain[0] == "510100" and chain[1] == "510108" and chain[-1] == yard
    assert [len(c) for c in chain[1:]] == [6, 9, 12, 15, 17]
    names = dict(
        demo.execute(
            text("SELECT code, name_zh FROM areas WHERE code = ANY(:c)"), {"c": chain}
        ).all()
    )
    assert result.breadcrumb == [(c, names[c]) for c in chain]
    english = view(ctx, yard, lang="en")
    assert english.breadcrumb[0] == ("510100", "Chengdu")
    assert english.breadcrumb[1] == ("510108", "Chenghua District")


def test_breadcrumb_links_go_back_up_any_number_of_levels(
    ctx: AppContext, codes: dict[str, str]
) -> None:
    yard = codes["courtyard"]
    page = render_page(ctx, "/map", f"?area={yard}&layers=areas,hexes&window=7d", OPERATOR)
    crumbs = find(page, ids.MAP_BREADCRUMB)
    assert crumbs is not None
    hrefs = links(crumbs)
    targets = [parse_qs(urlparse(h).query)["area"][0] for h in hrefs]
    assert targets == [code for code, _ in view(ctx, yard).breadcrumb][:-1]
    for h in hrefs:  # going up keeps the layers and the window
        query = parse_qs(urlparse(h).query)
        assert query["layers"] == ["areas,hexes"] and query["window"] == ["7d"]
    for level in ("市", "区", "街道", "社区", "网格", "院落"):
        assert level in texts(crumbs)


@pytest.mark.parametrize("level", LEVEL_NAMES)
def test_payload_stays_small_at_every_level(
    ctx: AppContext, codes: dict[str, str], level: str
) -> None:
    for state in (
        MapState(area_code=codes[level], now=DEMO_END),
        MapState(area_code=codes[level], now=DEMO_END, layers=LAYER_NAMES, window="30d"),
    ):
        result = map_view(ctx, state)
        assert result.area is not None and result.area.level == level
        assert payload(result.figure) < MAX_BYTES
        assert result.polygons < 10_000
        assert result.points < 50_000
        features = sum(
            len(t["geojson"]["features"]) for t in result.figure["data"] if "geojson" in t
        )
        points = sum(
            sum(x is not None for x in t["lon"]) for t in result.figure["data"] if "lon" in t
        )
        assert (features, points) == (result.polygons, result.points)


def test_every_layer_draws_something_at_community_level(
    ctx: AppContext, codes: dict[str, str]
) -> None:
    result = view(ctx, codes["community"], layers=LAYER_NAMES, window="30d")
    names = " ".join(t.get("name", "") for t in result.figure["data"])
    for part in ("网格 · 未结案件", "案件热力", "楼栋", "摄像头", "网格员", "当前区域"):
        assert part in names


def test_figure_is_offline_and_has_no_text_labels(ctx: AppContext, codes: dict[str, str]) -> None:
    result = view(ctx, codes["community"], layers=LAYER_NAMES, window="30d")
    # The basemap's style is this server's (app.style: its own tiles and glyphs).
    style = result.figure["layout"]["map"]["style"]
    assert isinstance(style, str) and style.startswith("/basemap/style.json?")
    assert "http" not in json.dumps(result.figure, cls=plotly.utils.PlotlyJSONEncoder)
    for trace in result.figure["data"]:
        assert "text" not in trace.get("mode", "")
        assert "text" not in trace and "texttemplate" not in trace
        assert trace["type"] in ("choroplethmap", "scattermap")


def test_configured_basemap_reaches_the_figure(settings: Settings, demo_engine: Engine) -> None:
    url = "http://127.0.0.1:8090/tiles/{z}/{x}/{y}.png"
    configured = AppContext(settings.model_copy(update={"basemap_url": url}), demo_engine)
    style = map_view(configured, MapState(now=DEMO_END)).figure["layout"]["map"]["style"]
    assert style["sources"]["basemap"]["tiles"] == [url]


def test_map_centres_and_zooms_on_the_area(ctx: AppContext, codes: dict[str, str]) -> None:
    zooms = []
    for level in LEVEL_NAMES:
        result = view(ctx, codes[level])
        centre, zoom = (
            result.figure["layout"]["map"]["center"],
            result.figure["layout"]["map"]["zoom"],
        )
        west, south, east, north = result.area.bbox
        assert west < centre["lon"] < east and south < centre["lat"] < north
        zooms.append(zoom)
        assert result.figure["layout"]["uirevision"] == codes[level]
    assert zooms == sorted(zooms) and zooms[0] < 10 < zooms[-1]


def test_panel_holds_the_area_figures(
    ctx: AppContext, codes: dict[str, str], demo: Connection
) -> None:
    district = views.area_info(demo, "510108")
    result = view(ctx, "510108", metric="overdue")
    figures = views.area_figures(demo, district, DEMO_END)
    assert {k: result.panel[k] for k in figures} == figures
    assert result.panel["area"]["name"] == "成华区" and result.panel["area"]["children"] == 14
    ranking = result.panel["ranking"]
    assert len(ranking) == 5
    assert [r["value"] for r in ranking] == sorted((r["value"] for r in ranking), reverse=True)
    page = render_page(ctx, "/map", "?area=510108&metric=overdue", OPERATOR)
    panel = find(page, ids.MAP_PANEL)
    assert panel is not None
    # The page renders at the real now: other tests of the session may have added cases.
    live = views.area_figures(demo, district, datetime.now(UTC))
    assert f"{live['open']:,}" in texts(panel) and ranking[0]["name"] in texts(panel)


def test_unknown_area_code_gives_a_clear_message_not_an_error(ctx: AppContext) -> None:
    result = view(ctx, "999999")
    assert result.message == "未找到区域代码“999999”。"
    assert result.area is None and result.breadcrumb == [] and result.panel == {}
    assert isinstance(result.figure, dict)
    assert "999999" in (view(ctx, "999999", lang="en").message or "")
    page = render_page(ctx, "/map", "?area=999999", OPERATOR)
    alert = find(page, ids.MAP_MESSAGE)
    assert alert is not None and "999999" in texts(alert)
    assert "/map?" in " ".join(links(alert))


def test_unknown_area_through_the_http_callback_is_not_a_500(
    settings: Settings, demo_engine: Engine, bearer: Callable[[str], dict]
) -> None:
    app = create_app(settings, engine=demo_engine)
    client = app.server.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=bearer("operator")["Authorization"])
    body = {
        "output": f"{ids.PAGE}.children",
        "outputs": {"id": ids.PAGE, "property": "children"},
        "inputs": [
            {"id": ids.URL, "property": "pathname", "value": "/map"},
            {"id": ids.URL, "property": "search", "value": "?area=%3Cscript%3E"},
        ],
        "changedPropIds": [f"{ids.URL}.search"],
        "state": [],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    body_text = json.dumps(response.get_json(), ensure_ascii=False)
    assert "未找到区域代码“<script>”" in body_text


def test_root_path_is_the_map(ctx: AppContext) -> None:
    page = render_page(ctx, "/", "", OPERATOR)
    assert find(page, ids.MAP_GRAPH) is not None
    assert find(page, ids.MAP_LAYERS).value == ["areas", "incidents"]


def test_map_callback_is_registered_on_the_url(settings: Settings, demo_engine: Engine) -> None:
    app = create_app(settings, engine=demo_engine)
    outputs = [key for key in app.callback_map if key.startswith(f"{ids.URL}.search")]
    assert outputs
    inputs = {i["id"] for i in app.callback_map[outputs[0]]["inputs"]}
    assert inputs == {ids.MAP_LAYERS, ids.MAP_METRIC, ids.MAP_WINDOW, ids.MAP_GRAPH}


def test_state_round_trips_through_the_url_query() -> None:
    state = MapState(
        area_code="510108001", layers=("areas", "hexes"), metric="per_1000", window="7d", lang="en"
    )
    search = query_string(state)
    assert search == ("?area=510108001&layers=areas,hexes&metric=per_1000&window=7d&lang=en")
    assert state_from_query(search) == state
    as_router_passes_it = {k: v[0] for k, v in parse_qs(search[1:]).items()}
    assert state_from_query(as_router_passes_it) == state
    no_layers = replace(state, layers=())
    assert state_from_query(query_string(no_layers)) == no_layers


def test_malformed_query_values_fall_back_to_defaults() -> None:
    state = state_from_query("?area=&layers=areas,bogus&metric=nope&window=1y&lang=fr")
    assert state == MapState(layers=("areas",))
    assert state_from_query("") == MapState()
    with pytest.raises(ValueError, match="metric"):
        MapState(metric="nope")
    with pytest.raises(ValueError, match="layers"):
        MapState(layers=("bogus",))


def test_clicking_a_child_polygon_drills_into_it(ctx: AppContext) -> None:
    district = view(ctx, "510108")
    area_trace = next(t for t in district.figure["data"] if t["type"] == "choroplethmap")
    child = area_trace["customdata"][3]
    click = {"points": [{"curveNumber": 0, "location": child[1], "customdata": child}]}
    search = "?area=510108&layers=areas,incidents&metric=overdue&window=24h"
    new = next_search(ctx, search, trigger=ids.MAP_GRAPH, click_data=click)
    assert new == f"?area={child[1]}&layers=areas,incidents&metric=overdue&window=24h"
    page = render_page(ctx, "/map", new, OPERATOR)
    assert texts(find(page, ids.MAP_BREADCRUMB)).endswith(child[2])
    assert find(page, ids.MAP_METRIC).value == "overdue"
    assert find(page, ids.MAP_WINDOW).value == "24h"


def test_clicking_a_hexagon_drills_into_the_child_under_it(
    ctx: AppContext, demo: Connection
) -> None:
    result = view(ctx, "510108", layers=("hexes",), window="30d")
    (hexes,) = [t for t in result.figure["data"] if t["type"] == "choroplethmap"]
    cell = hexes["customdata"][0]
    click = {"points": [{"customdata": cell}]}
    new = next_search(
        ctx, "?area=510108&layers=hexes&window=30d", trigger=ids.MAP_GRAPH, click_data=click
    )
    district = views.area_info(demo, "510108")
    expected = views.child_at_cell(demo, district, cell[1])
    assert expected is not None
    assert new == f"?area={expected}&layers=hexes&metric=open&window=30d"


def test_clicks_on_points_or_nothing_leave_the_url_alone(ctx: AppContext) -> None:
    search = "?area=510108&layers=areas,incidents&metric=open&window=live"
    case = {"points": [{"customdata": ["case", 1, "x"]}]}
    assert next_search(ctx, search, trigger=ids.MAP_GRAPH, click_data=case) is None
    assert next_search(ctx, search, trigger=ids.MAP_GRAPH, click_data=None) is None
    assert next_search(ctx, search, trigger=ids.MAP_GRAPH, click_data={"points": []}) is None


def test_controls_rewrite_the_query(ctx: AppContext) -> None:
    search = "?area=510108001&layers=areas&metric=open&window=live"
    new = next_search(
        ctx,
        search,
        trigger=ids.MAP_LAYERS,
        layers=["incidents", "areas", "cameras"],
        metric="open",
        window="live",
    )
    assert new == "?area=510108001&layers=areas,cameras,incidents&metric=open&window=live"
    new = next_search(
        ctx, search, trigger=ids.MAP_WINDOW, layers=["areas"], metric="open", window="7d"
    )
    assert new == "?area=510108001&layers=areas&metric=open&window=7d"
    same = next_search(
        ctx, search, trigger=ids.MAP_METRIC, layers=["areas"], metric="open", window="live"
    )
    assert same is None


def test_reload_gives_the_same_view(ctx: AppContext, codes: dict[str, str]) -> None:
    search = query_string(MapState(area_code=codes["grid"], layers=LAYER_NAMES, window="7d"))
    first = map_view(ctx, replace(state_from_query(search), now=DEMO_END))
    again = map_view(ctx, replace(state_from_query(search), now=DEMO_END))
    as_json = [json.dumps(v.figure, cls=plotly.utils.PlotlyJSONEncoder) for v in (first, again)]
    assert as_json[0] == as_json[1] and first.panel == again.panel


def test_english_page_labels(ctx: AppContext) -> None:
    page = render_page(ctx, "/map", "?area=510108&lang=en", OPERATOR)
    words = texts(page)
    for english in ("Layers", "Open cases", "Chenghua District", "Closure rate"):
        assert english in words
    assert "网格指挥中心" not in words
    switch = find(page, ids.MAP_LANG)
    assert "lang" not in parse_qs(urlparse(switch.href).query)
    assert isinstance(page, html.Div)


def test_module_exposes_register() -> None:
    assert callable(map_callbacks.register)
