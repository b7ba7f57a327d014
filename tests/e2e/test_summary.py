"""The leader summary in Chromium: a leader lands on it, it renders at wall-screen size in
Chinese and English, and its numbers and chart bars lead to the cases behind them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from app import ids

from .conftest import sign_in
from .helpers import screenshot, wait_for_dash_idle

DAY = "2026-10-31"  # the last full day of the demo's data (it ends 2026-11-01 20:00)

CHARTS_DRAWN = """(graphIds) => graphIds.every((id) => {
  const gd = document.getElementById(id)?.querySelector('.js-plotly-plot');
  return !!gd && !!gd._fullLayout && gd.querySelectorAll('.bars .point').length > 0;
})"""


def _open(page: Page, base: str, search: str) -> None:
    page.goto(f"{base}/summary?{search}")
    wait_for_dash_idle(page)
    page.wait_for_function(CHARTS_DRAWN, arg=[ids.SUMMARY_TREND, ids.SUMMARY_CATEGORIES])


def test_leader_summary_in_both_languages_drills_to_the_cases(
    anonymous_page: Page, live_server: str
) -> None:
    page = anonymous_page
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in(page, live_server, "leader")
    expect(page).to_have_url(f"{live_server}/summary")  # a leader's home
    wait_for_dash_idle(page)

    _open(page, live_server, f"date={DAY}")
    expect(page.locator(".gw-sum-h1")).to_contain_text("成华区")
    tiles = page.locator(f"#{ids.SUMMARY_TILES} .gw-sum-tile")
    expect(tiles).to_have_count(7)
    expect(page.locator(".gw-sum-tile-closure_rate .gw-sum-tile-value")).to_have_text(
        re.compile(r"^\d{1,3}\.\d%$")
    )
    expect(page.locator(f"#{ids.SUMMARY_RANKINGS} tbody tr")).to_have_count(14)
    expect(page.locator(f"#{ids.SUMMARY_LEADERBOARD} tbody tr")).to_have_count(20)
    expect(page.locator(".gw-sum-export")).to_have_count(4)
    screenshot(page, "summary-zh")

    # A tile opens the case console on the cases behind it.
    page.locator(".gw-sum-tile-today .gw-sum-tile-value").click()
    expect(page).to_have_url(
        f"{live_server}/ops?area=510108&status=all&from={DAY}&to={DAY}", timeout=15_000
    )
    wait_for_dash_idle(page)

    _open(page, live_server, f"date={DAY}&lang=en")
    expect(page.locator(".gw-sum-h1")).to_contain_text("Chenghua District")
    expect(page.locator(".gw-sum-tile-closure_rate .gw-sum-tile-title")).to_have_text(
        "Closure rate"
    )
    expect(page.locator(f"#{ids.SUMMARY_TREND}")).to_contain_text("Oct 31")
    screenshot(page, "summary-en")

    # A bar of the trend opens that day's cases (the chart's click goes through Dash).
    bar = page.locator(f"#{ids.SUMMARY_TREND} .bars .point").last
    box = bar.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 4)
    expect(page).to_have_url(
        f"{live_server}/ops?area=510108&status=all&from={DAY}&to={DAY}&lang=en", timeout=15_000
    )
    wait_for_dash_idle(page)


def test_overdue_tile_links_to_the_map(anonymous_page: Page, live_server: str) -> None:
    page = anonymous_page
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, live_server, "leader")
    _open(page, live_server, f"area=510108001&date={DAY}")
    expect(page.locator(".gw-sum-h1")).to_contain_text("猛追湾街道")
    expect(page.locator(f"#{ids.SUMMARY_RANKINGS} thead")).to_contain_text("社区")
    page.locator(".gw-sum-tile-map").click()
    expect(page).to_have_url(f"{live_server}/map?area=510108001&metric=overdue", timeout=15_000)
    wait_for_dash_idle(page)


def test_todays_tiles_follow_the_feed(
    anonymous_page: Page, live_server: str, demo_engine, new_api_key
) -> None:
    """A report committed anywhere in the area shows on an open summary's tiles."""
    from tests.support import grid_points, post_event

    page = anonymous_page
    sign_in(page, live_server, "leader")
    _open(page, live_server, "area=510108")
    today = page.locator(".gw-sum-tile-today .gw-sum-tile-value")
    before = int(today.inner_text().replace(",", ""))
    lon, lat = grid_points(demo_engine)[1300]
    key = new_api_key("app")
    post_event(
        live_server,
        key,
        {
            "channel": "app", "external_id": f"SUM-{time.time_ns()}", "category": "E0104",
            "severity": 4, "lon": lon, "lat": lat, "reported_at": datetime.now(UTC).isoformat(),
        },
    )  # fmt: skip
    expect(today).to_have_text(f"{before + 1:,}", timeout=5_000)
