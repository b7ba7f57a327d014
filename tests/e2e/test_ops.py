"""The supervisor console in Chromium: lands there, sees only the street, opens a case."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app import ids

from .conftest import sign_in
from .helpers import screenshot, wait_for_dash_idle

MAP_DRAWN = """(graphId) => {
  const gd = document.getElementById(graphId)?.querySelector('.js-plotly-plot');
  const map = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot.map;
  return !!map && map.loaded() && !map.isMoving();
}"""


def _rows(page: Page):
    return page.locator(f"#{ids.OPS_GRID} .ag-center-cols-container .ag-row")


def test_supervisor_console_filters_and_opens_a_case(
    anonymous_page: Page, live_server: str, demo_users: dict
) -> None:
    page = anonymous_page
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in(page, live_server, "supervisor")
    expect(page).to_have_url(f"{live_server}/ops")  # a supervisor's home
    wait_for_dash_idle(page)
    expect(page.locator(".gw-ops-area")).to_have_text(demo_users["supervisor"].area_name_zh)
    expect(_rows(page).first).to_be_visible(timeout=15_000)
    screenshot(page, "ops-zh")

    page.goto(f"{live_server}/ops?status=all&lang=en")
    wait_for_dash_idle(page)
    expect(_rows(page).first).to_be_visible(timeout=15_000)
    expect(page.locator(f"#{ids.OPS_GRID} .ag-header")).to_contain_text("Reported")
    screenshot(page, "ops-en")

    # Sorting by a column header works in the browser, client side.
    page.locator(f"#{ids.OPS_GRID} .ag-header-cell", has_text="No.").click()
    first_id = int(_rows(page).first.locator("[col-id=id]").inner_text())
    ids_shown = [
        int(x) for x in page.locator(f"#{ids.OPS_GRID} [col-id=id].ag-cell").all_inner_texts()
    ]
    assert first_id == min(ids_shown)

    _rows(page).first.locator("[col-id=category]").click()
    panel = page.locator(f"#{ids.CASE_PANEL}")
    expect(panel).to_have_class("gw-case-panel gw-case-open", timeout=15_000)
    expect(panel).to_contain_text(f"#{first_id}")
    screenshot(page, "ops-panel-en")


def test_console_at_tablet_width(anonymous_page: Page, live_server: str) -> None:
    page = anonymous_page
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, live_server, "supervisor")
    wait_for_dash_idle(page)
    expect(_rows(page).first).to_be_visible(timeout=15_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, f"the page scrolls sideways at 768 px ({width} px wide)"
    page.locator(f"#{ids.OPS_MAP}").scroll_into_view_if_needed()
    page.wait_for_function(MAP_DRAWN, arg=ids.OPS_MAP, timeout=15_000)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "ops-768")
