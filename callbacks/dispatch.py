"""The case panel on the map: click a case, see it, act on it.

Clicking a case marker selects it (a store); the panel renders from the store; an
action button calls the store's ``act`` as the signed-in user and writes the outcome
back into the store, so the panel shows the fresh state with a message. A feed batch
that mentions the selected case refreshes the panel on every open screen.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from dash import (
    ALL,
    ClientsideFunction,
    Dash,
    Input,
    Output,
    State,
    callback_context,
    html,
    no_update,
)
from dash.development.base_component import Component
from sqlalchemy.exc import OperationalError

from app.api.cases import visible
from app.auth import current_user
from app.context import AppContext
from app.pages.case_panel import PanelData, case_panel
from app.privacy import may_see_personal
from geo_data import dispatch
from geo_data.users import UserInfo
from geo_data.workflow import WorkflowError, act, allowed_actions
from layers.labels import ACTION, CASE_STATUS, label

MESSAGES = {
    "done": ("已{action}：案件现为“{status}”。", "{action}: the case is now {status}."),
    "conflict": (
        "该案件已被他人更新（现为“{status}”），已刷新为最新状态，请确认后再操作。",
        "Someone else changed this case (now {status}); the panel shows the fresh state.",
    ),
    "forbidden": ("您无权执行此操作。", "You may not do this."),
    "not_found": ("您的管辖范围内没有此案件。", "No such case in your area."),
    "unavailable": ("案件库暂时无法连接，请稍后重试。", "The case store is unreachable; retry."),
    "need_note": ("请填写处置意见。", "Write a note first."),
    "need_worker": ("请选择要派遣的网格员。", "Choose a worker to dispatch."),
    "need_confirmation": (
        "结案需居民确认满意，或填写强制结案理由。",
        "Closing needs the resident's confirmation or an override reason.",
    ),
    "need_duplicate": ("请填写一个未结的原案件编号。", "Give the number of an open original case."),
    "illegal": ("当前状态不能执行此操作。", "This action is not allowed in the current state."),
}
FIELD_MESSAGE = {
    "note": "need_note",
    "worker_id": "need_worker",
    "confirmed_by_resident": "need_confirmation",
    "duplicate_of": "need_duplicate",
}


def say(key: str, lang: str, **values: object) -> str:
    zh, en = MESSAGES[key]
    return (en if lang == "en" else zh).format(**values)


def lang_of(search: str | None) -> str:
    return "en" if parse_qs((search or "").lstrip("?")).get("lang") == ["en"] else "zh"


def selected_case(click_data: dict | None) -> int | None:
    """The case id of a clicked case marker (a live one too), or None."""
    points = (click_data or {}).get("points") or []
    custom = points[0].get("customdata") if points else None
    if isinstance(custom, list | tuple) and len(custom) >= 2 and custom[0] == "case":
        try:
            return int(custom[1])
        except (TypeError, ValueError):
            return None
    return None


def panel_data(ctx: AppContext, user: UserInfo, case_id: int) -> PanelData | None:
    """Everything the panel shows, or None when the case is not the user's to see."""
    with ctx.engine.connect() as conn:
        case = dispatch.case_detail(conn, case_id)
        if not visible(case, user):
            return None
        assert case is not None
        return PanelData(
            case=case,
            timeline=dispatch.timeline(conn, case_id),
            merged=dispatch.merged_reports(conn, case_id),
            workers=dispatch.nearest_workers(conn, case_id, limit=5),
            cameras=dispatch.nearest_cameras(conn, case_id, limit=5),
            actions=allowed_actions(case.status, user.role),
            personal=may_see_personal(user),
        )


def render_panel(
    ctx: AppContext, user: UserInfo | None, selection: dict | None, lang: str
) -> tuple[Component | None, str]:
    """(panel, class name) for the selected case; hidden when nothing is selected."""
    if not selection or user is None:
        return None, "gw-case-panel"
    data = panel_data(ctx, user, int(selection["id"]))
    if data is None:
        refusal = html.Div(say("not_found", lang), className="gw-feedback gw-flash-error")
        return refusal, "gw-case-panel gw-case-open"
    panel = case_panel(data, lang)
    flash = selection.get("flash")
    if flash:
        _set_feedback(panel, flash)
    return panel, "gw-case-panel gw-case-open"


def _set_feedback(panel: Component, flash: dict[str, str]) -> None:
    """Put the last action's outcome into the panel's feedback line."""
    from app import ids

    stack = [panel]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None) == ids.CASE_FEEDBACK:
            node.children = flash["text"]
            node.className = f"gw-feedback gw-flash-{flash['tone']}"
            return
        children = getattr(node, "children", None)
        if isinstance(children, list | tuple):
            stack.extend(c for c in children if c is not None and hasattr(c, "children"))
        elif children is not None and hasattr(children, "children"):
            stack.append(children)


def take_action(
    ctx: AppContext,
    user: UserInfo | None,
    case_id: int,
    version: int,
    action: str,
    *,
    lang: str,
    note: str | None = None,
    worker_id: int | None = None,
    confirmed: bool = False,
    channel: str | None = None,
    duplicate_of: Any = None,
) -> dict[str, str]:
    """Act as ``user`` and say how it went: ``{"tone": "ok"|"warn"|"error", "text"}``."""
    if user is None:
        return {"tone": "error", "text": say("forbidden", lang)}
    try:
        duplicate = int(duplicate_of) if duplicate_of not in (None, "") else None
    except (TypeError, ValueError):
        return {"tone": "error", "text": say("need_duplicate", lang)}
    try:
        with ctx.engine.begin() as conn:
            if not visible(dispatch.case_detail(conn, case_id), user):
                return {"tone": "error", "text": say("not_found", lang)}
            result = act(
                conn,
                case_id,
                action,
                user.actor(),
                version=version,
                note=(note or "")[:2000],
                worker_id=worker_id,
                duplicate_of=duplicate,
                confirmed_by_resident=confirmed,
                confirmation_channel=channel if confirmed else None,
            )
    except WorkflowError as exc:
        return _refusal(exc, lang)
    except OperationalError:
        return {"tone": "error", "text": say("unavailable", lang)}
    return {
        "tone": "ok",
        "text": say(
            "done",
            lang,
            action=label(ACTION, action, lang),
            status=label(CASE_STATUS, result.status, lang),
        ),
    }


def _refusal(exc: WorkflowError, lang: str) -> dict[str, str]:
    if exc.code == "conflict":
        status = label(CASE_STATUS, exc.details.get("status", ""), lang)
        return {"tone": "warn", "text": say("conflict", lang, status=status)}
    if exc.code == "missing_input":
        key = FIELD_MESSAGE.get(exc.details.get("field", ""), "illegal")
        return {"tone": "error", "text": say(key, lang)}
    if exc.code in ("forbidden", "not_found"):
        return {"tone": "error", "text": say(exc.code, lang)}
    return {"tone": "error", "text": say("illegal", lang)}


def register(app: Dash, ctx: AppContext) -> None:
    from app import ids

    def on_select(click_data: dict | None) -> Any:
        case_id = selected_case(click_data)
        return no_update if case_id is None else {"id": case_id, "n": time.time()}

    app.callback(
        Output(ids.CASE_SELECTED, "data"),
        Input(ids.MAP_GRAPH, "clickData"),
        prevent_initial_call=True,
    )(on_select)
    app.callback(
        Output(ids.CASE_SELECTED, "data", allow_duplicate=True),
        Input(ids.CASE_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )(lambda _clicks: None)

    def on_render(selection: dict | None, search: str | None) -> tuple[Any, str]:
        return render_panel(ctx, current_user(), selection, lang_of(search))

    app.callback(
        Output(ids.CASE_BODY, "children"),
        Output(ids.CASE_PANEL, "className"),
        Input(ids.CASE_SELECTED, "data"),
        State(ids.URL, "search"),
    )(on_render)

    def on_action(
        clicks: list[int | None],
        selection: dict | None,
        version: int | None,
        note: str | None,
        worker_id: int | None,
        confirmed: list[str] | None,
        channel: str | None,
        duplicate_of: Any,
        search: str | None,
    ) -> Any:
        trigger = callback_context.triggered_id
        if not selection or not isinstance(trigger, dict) or not any(clicks or []):
            return no_update
        flash = take_action(
            ctx,
            current_user(),
            int(selection["id"]),
            int(version or 0),
            str(trigger.get("action")),
            lang=lang_of(search),
            note=note,
            worker_id=worker_id,
            confirmed=bool(confirmed),
            channel=channel,
            duplicate_of=duplicate_of,
        )
        return {"id": selection["id"], "n": time.time(), "flash": flash}

    app.callback(
        Output(ids.CASE_SELECTED, "data", allow_duplicate=True),
        Input({"type": ids.CASE_ACTION, "action": ALL}, "n_clicks"),
        State(ids.CASE_SELECTED, "data"),
        State(ids.CASE_VERSION, "data"),
        State(ids.CASE_NOTE, "value"),
        State(ids.CASE_WORKER, "value"),
        State(ids.CASE_CONFIRMED, "value"),
        State(ids.CASE_CHANNEL, "value"),
        State(ids.CASE_DUPLICATE, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(on_action)

    # A feed batch naming the selected case refreshes the panel (someone else acted).
    app.clientside_callback(
        ClientsideFunction(namespace="gridwatch", function_name="refreshCase"),
        Output(ids.CASE_SELECTED, "data", allow_duplicate=True),
        Input(ids.LIVE_SOCKET, "data-feed"),
        State(ids.CASE_SELECTED, "data"),
        prevent_initial_call=True,
    )
