"""A report POSTed to the API appears on an open map without reloading it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from app import ids
from tests.support import post_event

from .conftest import WATCH
from .helpers import (
    DRAWN_CASES_JS,
    HAS_CASE_JS,
    drawn_ids,
    poll,
    screenshot,
    wait_for_dash_idle,
    wait_until,
)


def _grid_point(engine: Engine, offset: int) -> tuple[float, float]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT ST_X(label_point), ST_Y(label_point) FROM areas"
                    " WHERE level = 'grid' ORDER BY code LIMIT 1 OFFSET :n"
                ),
                {"n": offset},
            ).one()
        )


def _post(base: str, key: str, lon: float, lat: float) -> int:
    body = {
        "channel": "wechat",
        "external_id": f"E2E-{uuid.uuid4().hex}",
        "category": "E0101",
        "severity": 2,
        "lon": lon,
        "lat": lat,
        "reported_at": datetime.now(UTC).isoformat(),
        "description": "<b>不应加粗</b> e2e",
    }
    return post_event(base, key, body)


def test_posted_report_appears_on_the_open_map(
    page: Page, live_server: str, demo_engine: Engine, new_api_key
) -> None:
    key = new_api_key("wechat")
    lon, lat = _grid_point(demo_engine, 500)
    page.goto(f"{live_server}/map?area=510108")
    wait_for_dash_idle(page)
    expect(page.locator(f"#{ids.LIVE_STATUS}")).to_have_text("实时", timeout=10_000)
    poll(page, f"async () => (await ({DRAWN_CASES_JS})('map-graph')) !== null")
    before = drawn_ids(page)
    open_before = int(page.locator(f"#{ids.MAP_KPI_OPEN}").inner_text().replace(",", ""))

    case_id = _post(live_server, key, lon, lat)
    poll(page, HAS_CASE_JS, case_id, timeout=10)
    row = page.locator(f"#{ids.LIVE_TICKER} [data-case='{case_id}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text(f"#{case_id}")
    expect(page.locator(f"#{ids.MAP_KPI_OPEN}")).to_have_text(f"{open_before + 1:,}")
    screenshot(page, "live_new_report")

    second = _post(live_server, key, lon + 0.002, lat)
    poll(page, HAS_CASE_JS, second, timeout=10)
    wait_until(lambda: set(drawn_ids(page)) - set(before) == {case_id, second})


def test_page_catches_up_after_the_socket_drops(
    page: Page, live_server: str, demo_engine: Engine, new_api_key, request: pytest.FixtureRequest
) -> None:
    # Offline on purpose: the socket's reconnect attempts fail until it is back.
    request.node.stash[WATCH].expect_error("ERR_INTERNET_DISCONNECTED")
    # The basemap's tiles cannot load while offline: MapLibre logs each failed fetch (its
    # minified AJAXError, "TT") and plotly rejects that redraw with "Map error.".
    request.node.stash[WATCH].expect_error("TT")
    request.node.stash[WATCH].expect_error("Map error")
    key = new_api_key("wechat")
    lon, lat = _grid_point(demo_engine, 900)
    page.goto(f"{live_server}/map?area=510108")
    wait_for_dash_idle(page)
    expect(page.locator(f"#{ids.LIVE_STATUS}")).to_have_text("实时", timeout=10_000)
    page.context.set_offline(True)
    expect(page.locator(f"#{ids.LIVE_STATUS}")).to_have_text("已断开", timeout=30_000)
    missed = _post(live_server, key, lon, lat)
    page.context.set_offline(False)
    poll(page, HAS_CASE_JS, missed, timeout=30)
