"""The supervisor console: filters rewrite the URL, a row or a marker opens the case."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from dash import Dash, Input, Output, State, callback_context, no_update

from app.context import AppContext
from app.pages.ops import filtered_search
from callbacks.dispatch import selected_case


def next_search(search: str | None, trigger: str | None, values: dict[str, Any]) -> str | None:
    """The URL query after a filter changed; None when nothing changes."""
    from app import ids

    query = dict(parse_qsl((search or "").lstrip("?")))
    keys = {
        ids.OPS_STATUS: "status",
        ids.OPS_CATEGORY: "category",
        ids.OPS_CHANNEL: "channel",
        ids.OPS_SEVERITY: "severity",
    }
    if trigger in keys:
        new = filtered_search(query, **{keys[trigger]: values.get(keys[trigger])})
    elif trigger == ids.OPS_DATES:
        new = filtered_search(query, **{"from": values.get("from"), "to": values.get("to")})
    else:
        return None
    return None if new == (search or "") else new


def case_of_row(cell: dict | None) -> dict | None:
    """The selection for a clicked table row (its row id is the case id)."""
    row_id = (cell or {}).get("rowId")
    if row_id is None or not str(row_id).isdigit():
        return None
    return {"id": int(row_id), "n": time.time()}


def register(app: Dash, ctx: AppContext) -> None:
    from app import ids

    def on_filter(status, category, channel, severity, start, end, search) -> Any:
        new = next_search(
            search,
            callback_context.triggered_id,
            {
                "status": status,
                "category": category,
                "channel": channel,
                "severity": severity,
                "from": start,
                "to": end,
            },
        )
        return no_update if new is None else new

    app.callback(
        Output(ids.URL, "search", allow_duplicate=True),
        Input(ids.OPS_STATUS, "value"),
        Input(ids.OPS_CATEGORY, "value"),
        Input(ids.OPS_CHANNEL, "value"),
        Input(ids.OPS_SEVERITY, "value"),
        Input(ids.OPS_DATES, "start_date"),
        Input(ids.OPS_DATES, "end_date"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(on_filter)

    app.callback(
        Output(ids.CASE_SELECTED, "data", allow_duplicate=True),
        Input(ids.OPS_GRID, "cellClicked"),
        prevent_initial_call=True,
    )(lambda cell: case_of_row(cell) or no_update)

    def on_map_click(click_data: dict | None) -> Any:
        case_id = selected_case(click_data)
        return no_update if case_id is None else {"id": case_id, "n": time.time()}

    app.callback(
        Output(ids.CASE_SELECTED, "data", allow_duplicate=True),
        Input(ids.OPS_MAP, "clickData"),
        prevent_initial_call=True,
    )(on_map_click)

    app.callback(
        Output(ids.OPS_GRID, "exportDataAsCsv"),
        Input(ids.OPS_EXPORT, "n_clicks"),
        prevent_initial_call=True,
    )(lambda clicks: bool(clicks))
