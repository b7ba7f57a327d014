"""Dispatch in the browser: an operator takes a fresh case from report to closed."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from app import ids
from tests.support import new_case

from .helpers import marker_xy, screenshot, wait_for_dash_idle


def _grid_of(engine: Engine, case_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT a.code FROM cases c JOIN areas a ON a.id = c.grid_id WHERE c.id = :i"),
            {"i": case_id},
        ).scalar_one()


def _act(page: Page, action_label: str, expect_status: str) -> None:
    page.locator(".gw-act", has_text=action_label).first.click()
    expect(page.locator(f"#{ids.CASE_FEEDBACK}")).to_contain_text(expect_status, timeout=15_000)
    wait_for_dash_idle(page)


def test_operator_takes_a_case_from_report_to_closed(
    page: Page, live_server: str, demo_engine: Engine
) -> None:
    with demo_engine.begin() as conn:
        case_id = new_case(conn, reported_at=datetime.now(UTC))
    page.goto(f"{live_server}/map?area={_grid_of(demo_engine, case_id)}")
    wait_for_dash_idle(page)
    xy = marker_xy(page, case_id)
    page.mouse.move(xy[0], xy[1])
    page.mouse.click(xy[0], xy[1])
    panel = page.locator(f"#{ids.CASE_PANEL}")
    expect(panel).to_have_class("gw-case-panel gw-case-open", timeout=15_000)
    expect(panel).to_contain_text(f"#{case_id}")
    expect(panel).to_contain_text("已上报")
    workers = page.locator(f"#{ids.CASE_WORKER} input[type=radio]")
    expect(workers.first).to_be_checked()  # the nearest available worker is suggested
    screenshot(page, "dispatch-1-reported")

    _act(page, "立案", "已立案")
    nearest = page.locator(f"#{ids.CASE_WORKER} label").first.locator(".gw-w-name").inner_text()
    _act(page, "派遣", "已派遣")
    expect(panel.locator(".gw-facts")).to_contain_text(nearest)  # assigned to the suggestion
    screenshot(page, "dispatch-2-dispatched")

    page.fill(f"#{ids.CASE_NOTE}", "已清理完毕，现场恢复")
    _act(page, "处置反馈", "已处置")
    screenshot(page, "dispatch-3-handled")
    _act(page, "核查", "已核查")
    screenshot(page, "dispatch-4-verified")

    # Closing needs the resident's confirmation: without it the panel says so.
    page.locator(".gw-act", has_text="结案").first.click()
    expect(page.locator(f"#{ids.CASE_FEEDBACK}")).to_contain_text("结案需居民确认满意")
    page.locator(f"#{ids.CASE_CONFIRMED} input").check()
    _act(page, "结案", "已结案")
    timeline = panel.locator(".gw-timeline li .gw-t-action")
    expect(timeline).to_have_text(["上报", "立案", "派遣", "处置反馈", "核查", "结案"])
    expect(panel).to_contain_text("已清理完毕，现场恢复")
    screenshot(page, "dispatch-5-closed")

    with demo_engine.connect() as conn:
        status, satisfied, actors = conn.execute(
            text(
                "SELECT c.status, c.satisfied, array_agg(DISTINCT e.actor_name) FROM cases c"
                " JOIN case_events e ON e.case_id = c.id WHERE c.id = :i"
                " GROUP BY c.status, c.satisfied"
            ),
            {"i": case_id},
        ).one()
    assert (status, satisfied) == ("closed", True)
    assert "operator" in actors  # the signed-in user is on the audit trail
