"""The summary page's clicks: a chart bar or a date opens the page it points to.

Tiles and table cells are plain links; only the charts and the date picker need a
callback. The target goes to the page's own ``dcc.Location`` (``callback-nav``), which
moves the app's URL without reloading, and the router renders the new page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, callback_context, no_update

from app import ids
from app.context import AppContext
from app.pages.summary import live_tiles, ops_href, summary_href


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _point(click: dict | None) -> Any:
    points = (click or {}).get("points") or []
    return points[0].get("customdata") if points else None


def target(
    trigger: str | None,
    trend_click: dict | None,
    category_click: dict | None,
    picked: str | None,
    context: dict | None,
) -> str | None:
    """Where a click or a picked date leads, or None (nothing to do).

    A trend bar opens the cases received that day; a category bar the category's cases
    of the 30 days; a date the summary as of the end of that day.
    """
    if not context or not context.get("area"):
        return None
    area, lang = str(context["area"]), "en" if context.get("lang") == "en" else "zh"
    if trigger == ids.SUMMARY_TREND:
        day = _day(_point(trend_click))
        return ops_href(area, "all", lang, day, day) if day else None
    if trigger == ids.SUMMARY_CATEGORIES:
        custom = _point(category_click)
        code = custom[0] if isinstance(custom, list | tuple) and custom else None
        if not isinstance(code, str):
            return None
        return ops_href(
            area, "all", lang, _day(context.get("from")), _day(context.get("to")), category=code
        )
    if trigger == ids.SUMMARY_DATE:
        day = _day(picked)
        if day is None or (context.get("date") or None) == day.isoformat():
            return None
        if context.get("date") is None and context.get("to") == day.isoformat():
            return None  # today, already shown live
        return summary_href(area, lang, day, context.get("sort"))
    return None


def register(app: Dash, ctx: AppContext) -> None:
    def on_click(
        trend_click: dict | None,
        category_click: dict | None,
        picked: str | None,
        context: dict | None,
    ) -> str:
        href = target(callback_context.triggered_id, trend_click, category_click, picked, context)
        return no_update if href is None else href

    app.callback(
        Output(ids.SUMMARY_NAV, "href"),
        Input(ids.SUMMARY_TREND, "clickData"),
        Input(ids.SUMMARY_CATEGORIES, "clickData"),
        Input(ids.SUMMARY_DATE, "date"),
        State(ids.SUMMARY_CONTEXT, "data"),
        prevent_initial_call=True,
    )(on_click)

    # Today's tiles follow the feed: the browser marks a change and asks at most once a
    # second; the server answers with the tiles as the store holds them now.
    app.clientside_callback(
        ClientsideFunction(namespace="gridwatchSummary", function_name="pace"),
        Output(ids.SUMMARY_REFRESH, "data"),
        Input(ids.SUMMARY_SOCKET, "data-feed"),
        Input(ids.SUMMARY_TICK, "n_intervals"),
        prevent_initial_call=True,
    )

    def on_refresh(_n: Any, context: dict | None) -> Any:
        from app.auth import current_user

        items = live_tiles(ctx, current_user(), context)
        return no_update if items is None else items

    app.callback(
        Output(ids.SUMMARY_TILES, "children"),
        Input(ids.SUMMARY_REFRESH, "data"),
        State(ids.SUMMARY_CONTEXT, "data"),
        prevent_initial_call=True,
    )(on_refresh)
