"""Every time on every page in the configured zone (Asia/Shanghai here), whatever zone the
browser is in: the wall's clock and ticker, the console's table, the summary's "as of".

Issue 13: the wall's ticker printed 17:42 (the browser's UTC) beside a clock reading 01:42
Beijing time. Each test runs in a browser set to UTC and again to America/New_York, and
compares what is drawn with the same instants formatted in Python (``geo_data.localtime``),
the instants read from the database or from the page, never written into the test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, text

from app import ids
from app.i18n import as_of_text
from app.pages.summary import as_of
from geo_data import localtime
from tests.support import post_event

from .conftest import ACTION_TIMEOUT_MS, WATCH, PageWatch, sign_in
from .helpers import wait_for_dash_idle

BROWSER_ZONES = ("UTC", "America/New_York")
CLOCK_SLACK_SECONDS = 5  # the clock ticks each second; reading it takes a moment

BROWSER_CLOCK_JS = f"""() => {{
    const clock = document.getElementById({ids.WALL_CLOCK!r});
    return {{
        now: Date.now(),
        time: clock?.querySelector('.gw-wall-time')?.textContent ?? null,
        date: clock?.querySelector('.gw-wall-date')?.textContent ?? null,
    }};
}}"""
TICKER_ROWS_JS = f"""() => Array.from(
    document.querySelectorAll('#{ids.LIVE_TICKER} > li[data-case]'),
    li => [Number(li.dataset.case), li.querySelector('.gw-ticker-time')?.textContent ?? null])"""
GRID_ROWS_JS = f"""() => Array.from(
    document.querySelectorAll('#{ids.OPS_GRID} .ag-center-cols-container .ag-row[row-id]'),
    row => [Number(row.getAttribute('row-id')),
            row.querySelector('[col-id=reported]')?.textContent ?? null,
            row.querySelector('[col-id=due]')?.textContent ?? null])"""


@pytest.fixture(params=BROWSER_ZONES)
def zoned_page(
    request: pytest.FixtureRequest, browser: Browser, live_server: str
) -> Iterator[Page]:
    """A signed-in operator's page in a browser whose own zone is not Beijing's, watched
    for foreign requests and console errors like every e2e page."""
    context = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", timezone_id=request.param
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    watch = PageWatch(page)
    context.on("request", watch.on_request)
    page.on("websocket", watch.on_websocket)
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    request.node.stash[WATCH] = watch
    try:
        sign_in(page, live_server, "operator")
        # The browser really is elsewhere, and the page names the zone to show.
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (request.param)
        assert page.evaluate("document.documentElement.dataset.timezone") == (localtime.ZONE_NAME)
        yield page
    finally:
        context.close()


def _reported(engine: Engine, case_ids: list[int]) -> dict[int, tuple[datetime, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, reported_at, due_at FROM cases WHERE id = ANY(:ids)"),
            {"ids": case_ids},
        ).all()
    return {int(r.id): (r.reported_at, r.due_at) for r in rows}


def _open_wall(page: Page, base: str) -> None:
    page.goto(f"{base}/wall")
    wait_for_dash_idle(page)
    expect(page.locator(f"#{ids.WALL_LINK}")).to_have_class("gw-wall-link is-live", timeout=15_000)


def test_wall_clock_shows_the_configured_zone(zoned_page: Page, live_server: str) -> None:
    page = zoned_page
    _open_wall(page, live_server)
    page.wait_for_timeout(1500)  # the browser's own tick has redrawn the clock by now
    shown = page.evaluate(BROWSER_CLOCK_JS)
    browser_now = datetime.fromtimestamp(shown["now"] / 1000, UTC)
    recent = [browser_now - timedelta(seconds=s) for s in range(CLOCK_SLACK_SECONDS + 1)]
    assert shown["time"] in [localtime.fmt_hms(m) for m in recent], (shown, browser_now)
    # The day in the configured zone (spacing aside: assets/wall.js and the server's
    # first render have differed in the space before 星期).
    days = {localtime.fmt_date_long(m, "zh").replace(" ", "") for m in recent}
    assert (shown["date"] or "").replace(" ", "") in days, shown


def test_live_ticker_times_in_configured_zone(
    zoned_page: Page, live_server: str, demo_engine: Engine, new_api_key
) -> None:
    """The wall's ticker, as first drawn and after a new report arrives over the feed:
    each row's time is its case's report time in the configured zone."""
    page = zoned_page
    _open_wall(page, live_server)
    rows = page.evaluate(TICKER_ROWS_JS)
    assert rows, "the wall's ticker shows no reports"
    stored = _reported(demo_engine, [case_id for case_id, _ in rows])
    assert rows == [[i, localtime.fmt_hm(stored[i][0])] for i, _ in rows]

    # A new report, drawn by the browser from the feed (the server rendered none of it).
    with demo_engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(label_point), ST_Y(label_point) FROM areas"
                " WHERE level = 'grid' AND code LIKE '510108%' ORDER BY code LIMIT 1 OFFSET 300"
            )
        ).one()
    case_id = post_event(
        live_server,
        new_api_key("app"),
        {
            "channel": "app",
            "external_id": f"TZ-{uuid.uuid4().hex}",
            "category": "E0101",
            "severity": 3,
            "lon": float(lon),
            "lat": float(lat),
            "reported_at": datetime.now(UTC).isoformat(),
            "description": "time zone e2e",
        },
        expect=(200, 201),
    )
    row = page.locator(f"#{ids.LIVE_TICKER} > li[data-case='{case_id}']")
    expect(row).to_be_visible(timeout=30_000)
    reported_at = _reported(demo_engine, [case_id])[case_id][0]
    expect(row.locator(".gw-ticker-time")).to_have_text(localtime.fmt_hm(reported_at))


def test_console_reported_and_due_times_in_configured_zone(
    zoned_page: Page, live_server: str, demo_engine: Engine
) -> None:
    page = zoned_page
    page.goto(f"{live_server}/ops?status=all")
    wait_for_dash_idle(page)
    expect(page.locator(f"#{ids.OPS_GRID} .ag-row").first).to_be_visible(timeout=15_000)
    rows = page.evaluate(GRID_ROWS_JS)
    assert rows, "the console's table shows no rows"
    stored = _reported(demo_engine, [case_id for case_id, _, _ in rows])
    for case_id, reported, due in rows:
        reported_at, due_at = stored[case_id]
        assert reported == localtime.fmt_minute(reported_at), case_id
        assert due.split(" · ")[0] == localtime.fmt_minute(due_at), case_id


def test_summary_as_of_in_configured_zone(zoned_page: Page, live_server: str) -> None:
    page = zoned_page
    # Looking back at a past day: "as of" is that day's end, in the configured zone.
    real_now = datetime.now(UTC)
    day = (localtime.local_day(real_now) - timedelta(days=2)).isoformat()
    end, _ = as_of({"date": day})
    page.goto(f"{live_server}/summary?date={day}")
    wait_for_dash_idle(page)
    assert localtime.fmt_minute(end) == f"{day} 23:59"
    expect(page.locator(".gw-sum-asof")).to_contain_text(as_of_text(end, "zh"))
    assert "北京时间" in as_of_text(end, "zh")

    # Live: "as of" is the moment the page was drawn.
    before = datetime.now(UTC)
    page.goto(f"{live_server}/summary")
    wait_for_dash_idle(page)
    after = datetime.now(UTC)
    shown = page.locator(".gw-sum-asof").inner_text()
    minutes = int((after - before).total_seconds() // 60) + 2
    expected = {localtime.fmt_minute(before + timedelta(minutes=k)) for k in range(minutes)}
    assert any(f"数据截至 {stamp}（北京时间）" in shown for stamp in expected), (shown, before)
