"""The wall screen on the demo city: the page through the real app, its queries against
independent SQL, its refresh and tour callbacks, and who may open it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import plotly
import pytest
from dash.exceptions import PreventUpdate
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text

from app import create_app, ids
from app.context import AppContext
from app.pages.live import LIVE_LIMIT
from app.settings import Settings
from callbacks import wall as wall_callbacks
from callbacks.router import render_page
from callbacks.wall import WallConfig, config_from_query, tour_stop
from geo_data import views
from geo_data.feed import latest_seq
from geo_data.users import UserInfo
from geo_data.wall import OVERDUE_ROWS, overdue_cases, recent_reports, tour_stops
from layers.dark import DARK_BACKGROUND
from layers.live import LAYER_IDS as LIVE_LAYER_IDS
from tests.conftest import DEMO_END
from tests.support import OPERATOR, viewer

OPEN = "status NOT IN ('closed', 'rejected', 'merged')"


@pytest.fixture
def ctx(settings: Settings, demo_engine: Engine) -> AppContext:
    return AppContext(settings, demo_engine)


@pytest.fixture
def client(settings: Settings, demo_engine: Engine, demo_users: dict) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


def page_request(pathname: str, search: str = "") -> dict:
    return {
        "output": f"{ids.PAGE}.children",
        "outputs": {"id": ids.PAGE, "property": "children"},
        "inputs": [
            {"id": ids.URL, "property": "pathname", "value": pathname},
            {"id": ids.URL, "property": "search", "value": search},
        ],
        "changedPropIds": [f"{ids.URL}.pathname"],
        "state": [],
    }


def walk(node: Any) -> Iterator[dict]:
    """Every component (as JSON) in a rendered layout."""
    if isinstance(node, dict):
        if "props" in node:
            yield node
            yield from walk(node["props"].get("children"))
        return
    if isinstance(node, list | tuple):
        for child in node:
            yield from walk(child)


def as_json(component: Any) -> Any:
    """A component tree as the browser receives it."""
    return json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))


def by_id(layout: Any) -> dict[str, dict]:
    return {c["props"]["id"]: c["props"] for c in walk(layout) if "id" in c["props"]}


def text_of(node: Any) -> str:
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, dict):
        return text_of(node.get("props", {}).get("children"))
    if isinstance(node, list | tuple):
        return "".join(text_of(c) for c in node)
    return ""


def wall_json(client: FlaskClient, header: dict, search: str = "") -> Any:
    response = client.post(
        "/_dash-update-component", json=page_request("/wall", search), headers=header
    )
    assert response.status_code == 200, response.get_data(True)[:500]
    return response.get_json()["response"][ids.PAGE]["children"]


def area(conn: Connection, code: str) -> views.AreaInfo:
    found = views.area_info(conn, code)
    assert found is not None
    return found


# -- the page through the real app ---------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "words"),
    [
        ("", ("未结案件", "当前超期", "今日新增", "结案率", "按期结案率", "实时上报", "超期案件")),
        (
            "?lang=en",
            (
                "Open cases",
                "Overdue now",
                "New today",
                "Closure rate",
                "On-time closure",
                "Live reports",
                "Overdue cases",
            ),
        ),
    ],
)
def test_wall_renders_tiles_ticker_and_overdue_list(
    client: FlaskClient, bearer: Callable[[str], dict], search: str, words: tuple[str, ...]
) -> None:
    layout = wall_json(client, bearer("operator"), search)
    found = by_id(layout)
    for needed in (
        ids.WALL_PAGE,
        ids.MAP_GRAPH,
        ids.MAP_KPI_OPEN,
        ids.MAP_KPI_NEW_TODAY,
        ids.WALL_KPI_OVERDUE,
        ids.WALL_KPI_CLOSURE,
        ids.WALL_KPI_ON_TIME,
        ids.LIVE_TICKER,
        ids.LIVE_STATUS,
        ids.LIVE_SOCKET,
        ids.LIVE_STATE,
        ids.WALL_OVERDUE,
        ids.WALL_CLOCK,
        ids.WALL_CONFIG,
    ):
        assert needed in found, needed
    body = text_of(layout)
    for word in words:
        assert word in body, word
    # The live ticker starts with the latest reports, rows as assets/live.js draws them.
    ticker = found[ids.LIVE_TICKER]["children"]
    assert ticker and all("gw-ticker-row" in row["props"]["className"] for row in ticker)
    state = found[ids.LIVE_STATE]["data"]
    assert [r["id"] for r in state["tickerStart"]] == [
        int(row["props"]["data-case"]) for row in ticker
    ]
    # The live model draws the cases: no plotly trace of them, the wall's layers instead.
    assert state["graph"] == ids.MAP_GRAPH and state["area"] == "510108"
    assert [layer["id"] for layer in state["layers"]] == list(LIVE_LAYER_IDS)
    assert set(state["kpis"]) == {"open", "new_today", "overdue"}
    # The overdue list: as many rows as the list holds, the oldest overdue first.
    overdue = found[ids.WALL_OVERDUE]["children"]
    assert 1 <= len(overdue) <= OVERDUE_ROWS
    assert all(row["props"]["className"].startswith("gw-od-row") for row in overdue)
    # Dark and non-interactive.
    graph = found[ids.MAP_GRAPH]
    assert graph["figure"]["layout"]["paper_bgcolor"] == DARK_BACKGROUND
    assert graph["figure"]["layout"]["dragmode"] is False
    assert graph["config"]["displayModeBar"] is False
    assert state["limit"] == LIVE_LIMIT and state["scaleWithRoot"] is True
    config = found[ids.WALL_CONFIG]["data"]
    assert config["area"] == "510108" and config["tour"] is None and config["stops"] == []


def test_overdue_kpi_and_list_agree_with_the_figures(
    client: FlaskClient, bearer: Callable[[str], dict]
) -> None:
    found = by_id(wall_json(client, bearer("operator")))
    overdue = int(found[ids.WALL_KPI_OVERDUE]["children"].replace(",", ""))
    total = found[ids.WALL_OVERDUE_TOTAL]["children"]
    assert total == f"共 {overdue:,} 件"


def test_tour_query_carries_the_streets_as_stops(
    client: FlaskClient, bearer: Callable[[str], dict], demo: Connection
) -> None:
    found = by_id(wall_json(client, bearer("operator"), "?tour=5"))
    config = found[ids.WALL_CONFIG]["data"]
    streets = demo.execute(
        text("SELECT code FROM areas WHERE level = 'street' AND code LIKE '510108%' ORDER BY code")
    ).scalars()
    assert config["tour"] == 10  # clamped to the shortest stop
    assert config["stops"] == list(streets)
    assert found[ids.WALL_MAP_TICK]["interval"] == 10_000
    assert "全域 · 成华区" in text_of(found[ids.WALL_TOUR]["children"])


# -- the queries against independent SQL ----------------------------------------------------


def test_overdue_list_equals_direct_sql_at_the_demo_end(demo: Connection) -> None:
    district = area(demo, "510108")
    rows, total = overdue_cases(demo, district, now=DEMO_END)
    params = {"d": district.id, "now": DEMO_END}
    where = f"district_id = :d AND {OPEN} AND reported_at <= :now AND due_at < :now"
    expected_ids = demo.execute(
        text(f"SELECT id FROM cases WHERE {where} ORDER BY due_at, id LIMIT 12"), params
    ).scalars()
    expected_total = demo.execute(text(f"SELECT count(*) FROM cases WHERE {where}"), params)
    assert [r.id for r in rows] == list(expected_ids)
    assert total == expected_total.scalar_one() > OVERDUE_ROWS
    assert total == views.area_figures(demo, district, DEMO_END)["overdue"]
    hours = [r.overdue_hours for r in rows]
    assert hours == sorted(hours, reverse=True) and hours[-1] > 0
    first = rows[0]
    assert first.overdue_hours == pytest.approx(
        (DEMO_END - first.due_at).total_seconds() / 3600, abs=0.06
    )
    assert first.street and first.community and first.category_zh


def test_overdue_list_of_a_street_names_only_its_cases(demo: Connection) -> None:
    # The first street with an overdue case at the demo's end.
    code = demo.execute(
        text(
            "SELECT a.code FROM areas a JOIN cases c ON c.street_id = a.id"
            " WHERE a.level = 'street' AND c.status NOT IN ('closed', 'rejected', 'merged')"
            " AND c.due_at < :end AND c.reported_at <= :end ORDER BY a.code LIMIT 1"
        ),
        {"end": DEMO_END},
    ).scalar_one()
    street = area(demo, code)
    rows, total = overdue_cases(demo, street, now=DEMO_END, limit=500)
    assert rows and len(rows) == total
    assert {r.street for r in rows} == {(street.name_zh, street.name_en)}


def test_overdue_list_is_empty_before_anything_is_due(demo: Connection) -> None:
    rows, total = overdue_cases(demo, area(demo, "510108"), now=DEMO_END - timedelta(days=400))
    assert rows == [] and total == 0
    with pytest.raises(ValueError, match="limit"):
        overdue_cases(demo, area(demo, "510108"), now=DEMO_END, limit=0)


def test_recent_reports_are_the_newest_first(demo: Connection) -> None:
    district = area(demo, "510108")
    rows = recent_reports(demo, district, now=DEMO_END)
    expected = demo.execute(
        text(
            "SELECT id FROM cases WHERE district_id = :d AND reported_at <= :now"
            " ORDER BY reported_at DESC, id DESC LIMIT 12"
        ),
        {"d": district.id, "now": DEMO_END},
    ).scalars()
    assert [r["id"] for r in rows] == list(expected)
    assert set(rows[0]) == {"id", "category", "severity", "status", "at"}


# -- supervisors and roles -------------------------------------------------------------------


def test_supervisor_wall_is_scoped_to_their_street(
    client: FlaskClient, bearer: Callable[[str], dict], demo_users: dict, demo: Connection
) -> None:
    own: UserInfo = demo_users["supervisor"]
    found = by_id(wall_json(client, bearer("supervisor")))
    assert found[ids.WALL_CONFIG]["data"]["area"] == own.area_code
    state = found[ids.LIVE_STATE]["data"]
    assert state["scope"] == {"column": "street_id", "id": own.area_id}
    socket_auth = found[ids.LIVE_SOCKET]["options"]["auth"]
    assert socket_auth == {"area_id": own.area_id}
    # Every overdue case listed lies in their street: its communities name the places.
    communities = set(
        demo.execute(
            text("SELECT name_zh FROM areas WHERE level = 'community' AND street_id = :s"),
            {"s": own.area_id},
        ).scalars()
    )
    for row in found[ids.WALL_OVERDUE]["children"]:
        place = text_of(row["props"]["children"][1])
        assert place.split(" · ")[0] in communities
    open_in_street = demo.execute(
        text(
            f"SELECT count(*) FROM cases WHERE street_id = :s AND {OPEN} AND reported_at <= now()"
        ),
        {"s": own.area_id},
    ).scalar_one()
    assert found[ids.MAP_KPI_OPEN]["children"] == f"{open_in_street:,}"


def test_supervisor_cannot_put_the_district_on_their_wall(
    client: FlaskClient, bearer: Callable[[str], dict]
) -> None:
    layout = wall_json(client, bearer("supervisor"), "?area=510108&lang=en")
    found = by_id(layout)
    assert ids.MAP_GRAPH not in found and ids.LIVE_SOCKET not in found
    assert "lies outside your area" in text_of(layout)


def test_refresh_of_another_area_is_refused_to_a_supervisor(
    ctx: AppContext, demo_users: dict
) -> None:
    config = WallConfig(area_code="510108", level="district").to_store()
    with pytest.raises(PreventUpdate):
        wall_callbacks.refresh(ctx, demo_users["supervisor"], config)
    own = WallConfig(area_code=demo_users["supervisor"].area_code, level="street").to_store()
    assert wall_callbacks.refresh(ctx, demo_users["supervisor"], own)


def test_a_role_not_allowed_is_refused(ctx: AppContext, client: FlaskClient) -> None:
    refused = render_page(ctx, "/wall", "?lang=en", viewer("guest"))
    assert "Your role may not open this page" in text_of(as_json(refused))
    assert client.post("/_dash-update-component", json=page_request("/wall")).status_code == 401
    config = WallConfig(area_code="510108", level="district").to_store()
    for user in (None, viewer("guest")):
        with pytest.raises(PreventUpdate):
            wall_callbacks.refresh(ctx, user, config)
        with pytest.raises(PreventUpdate):
            wall_callbacks.tour_move(ctx, user, config, 1)


# -- the callbacks ---------------------------------------------------------------------------


def test_refresh_replaces_the_tiles_and_list_and_rebases_the_live_counters(
    ctx: AppContext, demo: Connection
) -> None:
    config = WallConfig(area_code="510108", level="district", lang="en").to_store()
    upto = latest_seq(demo)
    out = wall_callbacks.refresh(ctx, OPERATOR, config, now=DEMO_END)
    items, total, closure, on_time, live, updated = out
    figures = views.area_figures(demo, area(demo, "510108"), DEMO_END)
    assert closure == f"{figures['closure_rate'] * 100:.1f}%"
    assert on_time == f"{figures['on_time_rate'] * 100:.1f}%"
    assert total == f"{figures['overdue']:,} in all"
    assert len(items) == OVERDUE_ROWS  # replaced, never appended: at most this many
    assert "overdue" in text_of(as_json(items[0]))
    patch = live.to_plotly_json()["operations"]
    assert [(tuple(op["location"]), op["params"]["value"]) for op in patch] == [
        (("rebase",), {"open": figures["open"], "new_today": figures["new_today"], "upto": upto})
    ]
    assert updated.startswith("Updated ")


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, (0, "D")), (1, (1, "a")), (2, (2, "b")), (3, (0, "D")), (4, (1, "a")), (300, (0, "D"))],
)
def test_tour_visits_each_child_and_comes_back(n: int, expected: tuple[int, str]) -> None:
    config = WallConfig(area_code="D", tour=20, stops=("a", "b"))
    assert tour_stop(config, n) == expected
    assert tour_stop(WallConfig(area_code="D"), n) == (0, "D")  # no tour: always home


def test_tour_step_moves_the_camera_to_the_next_street(ctx: AppContext, demo: Connection) -> None:
    district = area(demo, "510108")
    stops = tuple(tour_stops(demo, district))
    config = WallConfig(area_code="510108", level="district", tour=20, stops=stops)
    camera, caption = wall_callbacks.tour_move(ctx, OPERATOR, config.to_store(), 1)
    first = area(demo, stops[0])
    assert caption == f"巡览 1/{len(stops)} · {first.name_zh}"
    assert camera["bbox"] == list(first.bbox)  # the figure stays; the camera moves
    back, caption = wall_callbacks.tour_move(ctx, OPERATOR, config.to_store(), len(stops) + 1)
    assert caption == "全域 · 成华区"
    assert back["bbox"] == list(district.bbox)


def test_malformed_config_is_ignored(ctx: AppContext) -> None:
    for bad in (None, [], {"area": 5, "lang": "zh"}, {"area": "510108", "lang": "fr"}):
        with pytest.raises(PreventUpdate):
            wall_callbacks.refresh(ctx, OPERATOR, bad)


def test_query_parsing_falls_back_to_defaults() -> None:
    assert config_from_query("?lang=xx&tour=abc") == WallConfig(lang="zh")
    assert config_from_query({"tour": "99999", "lang": "en"}).tour == 3600
    assert config_from_query({"area": " 510108001 "}).area_code == "510108001"


def test_wall_page_json_is_not_huge(client: FlaskClient, bearer: Callable[[str], dict]) -> None:
    body = json.dumps(wall_json(client, bearer("operator")))
    assert len(body) < 1_000_000
