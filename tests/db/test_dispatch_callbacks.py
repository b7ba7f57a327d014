"""The case panel's callbacks as plain functions, on the demo city."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, text

from app.context import AppContext
from app.settings import Settings
from callbacks.dispatch import render_panel, selected_case, take_action
from tests.support import new_case


@pytest.fixture
def ctx(settings: Settings, demo_engine: Engine) -> AppContext:
    return AppContext(settings, demo_engine)


@pytest.fixture
def case_id(demo_engine: Engine, demo_users: dict) -> int:
    with demo_engine.begin() as conn:
        return new_case(conn, street_id=demo_users["supervisor"].area_id)


def flat(component: object) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json(),
                      ensure_ascii=False)  # fmt: skip


def test_a_click_on_a_case_marker_selects_it_and_other_clicks_do_not() -> None:
    assert selected_case({"points": [{"customdata": ["case", 42, "x"]}]}) == 42
    assert selected_case({"points": [{"customdata": ["area", "510108"]}]}) is None
    assert selected_case({"points": [{"customdata": ["case", "<script>"]}]}) is None
    assert selected_case({"points": []}) is None
    assert selected_case(None) is None


def test_operator_panel_offers_the_states_actions_and_the_nearest_worker(
    ctx: AppContext, demo_users: dict, case_id: int
) -> None:
    panel, css = render_panel(ctx, demo_users["operator"], {"id": case_id}, "zh")
    text_ = flat(panel)
    assert "gw-case-open" in css
    for word in ("立案", "不予立案", "合并重复", "办理记录", "附近网格员", "附近摄像头"):
        assert word in text_
    assert "13812345678" in text_  # the operator calls the reporter
    assert '"action": "dispatch"' not in text_  # not allowed before acceptance


def test_leader_sees_the_case_masked_and_without_buttons(
    ctx: AppContext, demo_users: dict, case_id: int
) -> None:
    panel, _ = render_panel(ctx, demo_users["leader"], {"id": case_id}, "en")
    text_ = flat(panel)
    assert "138****5678" in text_ and "13812345678" not in text_
    assert "No actions for your role" in text_
    assert '"type": "case-action"' not in text_


def test_other_supervisor_cannot_open_the_case_by_id(
    ctx: AppContext, demo_users: dict, case_id: int
) -> None:
    panel, _ = render_panel(ctx, demo_users["community"], {"id": case_id}, "en")
    text_ = flat(panel)
    assert "No such case in your area" in text_ and "13812345678" not in text_
    flash = take_action(ctx, demo_users["community"], case_id, 1, "accept", lang="en")
    assert flash["tone"] == "error"
    with ctx.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT version FROM cases WHERE id=:i"), {"i": case_id}).scalar()
            == 1
        )


def test_actions_from_the_panel_write_through_the_store(
    ctx: AppContext, demo_users: dict, case_id: int
) -> None:
    op = demo_users["supervisor"]
    assert take_action(ctx, op, case_id, 1, "accept", lang="zh")["tone"] == "ok"
    stale = take_action(ctx, op, case_id, 1, "reject", lang="zh", note="x")
    assert stale["tone"] == "warn" and "已被他人更新" in stale["text"]
    missing = take_action(ctx, op, case_id, 2, "dispatch", lang="en")
    assert missing == {"tone": "error", "text": "Choose a worker to dispatch."}
    with ctx.engine.connect() as conn:
        worker = conn.execute(
            text("SELECT id FROM workers WHERE status='available' ORDER BY id DESC LIMIT 1")
        ).scalar()
    done = take_action(ctx, op, case_id, 2, "dispatch", lang="en", worker_id=worker)
    assert done == {"tone": "ok", "text": "Dispatch: the case is now Dispatched."}
    close = take_action(ctx, op, case_id, 3, "close", lang="en")
    assert close["tone"] == "error"
    panel, _ = render_panel(ctx, op, {"id": case_id, "flash": done}, "en")
    text_ = flat(panel)
    assert "Dispatch: the case is now Dispatched." in text_ and "gw-flash-ok" in text_
