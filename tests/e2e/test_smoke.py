"""The harness end to end: the real server, the demo city, Chromium rendering Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app import ids

from .conftest import WATCH, sign_in
from .helpers import screenshot, wait_for_dash_idle


def _table_rows(page: Page, table_id: str) -> dict[str, str]:
    """First cell -> second cell of every row of the table ``table_id``."""
    rows = page.locator(f"#{table_id} tr")
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
    return {row[0].strip(): row[1].strip() for row in cells if len(row) >= 2}


def test_overview_shows_demo_city_counts(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/overview")
    wait_for_dash_idle(page)

    expect(page).to_have_title("GridWatch 网格指挥中心")
    expect(page.get_by_role("heading", level=1)).to_have_text("GridWatch 网格指挥中心")
    table = page.locator(f"#{ids.STATS_TABLE}")
    expect(table).to_be_visible()
    counts = _table_rows(page, ids.STATS_TABLE)
    assert counts["city"] == "1"
    assert counts["district"] == "20"
    assert counts["street"] == "14"
    assert counts["community"] == "110"
    assert counts["grid"] == "1,794"
    screenshot(page, "overview")


def test_unknown_path_shows_not_found(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/nowhere")
    wait_for_dash_idle(page)

    not_found = page.locator(".not-found")
    expect(not_found.get_by_role("heading", level=2)).to_have_text("404")
    expect(not_found).to_contain_text("No page at /nowhere")
    expect(page.locator(f"#{ids.STATS_TABLE}")).to_have_count(0)


def test_sign_in_and_out_in_the_browser(
    anonymous_page: Page, live_server: str, request: pytest.FixtureRequest
) -> None:
    page = anonymous_page
    request.node.stash[WATCH].expect_error("401 (UNAUTHORIZED)")  # the wrong password below
    page.goto(f"{live_server}/map?area=510108")
    expect(page).to_have_url(f"{live_server}/login?next=/map%3Farea%3D510108")
    screenshot(page, "login-zh")
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", "wrong password!")
    page.click("button[type=submit]")
    expect(page.locator(".login-error")).to_have_text("用户名或密码错误")
    page.goto(f"{live_server}/login?lang=en")
    expect(page.locator("button[type=submit]")).to_have_text("Sign in")
    screenshot(page, "login-en")
    sign_in(page, live_server, "leader")
    wait_for_dash_idle(page)
    expect(page.locator(".gw-user-name")).to_have_text("区领导")
    page.click(".gw-signout")
    expect(page).to_have_url(f"{live_server}/login?lang=zh")
    page.goto(f"{live_server}/map")
    expect(page).to_have_url(f"{live_server}/login?next=/map")
