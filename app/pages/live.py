"""What a page needs for ``assets/live.js`` to patch its map with the live feed: the
Socket.IO client, the live state and the pulse tick. Shared by the map and the wall, which
both carry these ids (pages are exclusive, so the ids never clash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dash import dcc, html
from dash.development.base_component import Component
from dash_socketio import DashSocketIO

from app import ids
from callbacks.map import MapView
from geo_data.catalogue import load_categories
from geo_data.views import LOCAL_TZ

LIVE_LIMIT = 500  # live markers kept on a screen; older ones drop off (screens run for days)
TICKER_ROWS = 12  # as assets/live.js keeps


def category_names(lang: str) -> dict[str, str]:
    """Category code -> name in ``lang`` (the ticker and hover texts name categories)."""
    return {c.code: (c.name_en if lang == "en" else c.name_zh) for c in load_categories()}


def live_components(
    view: MapView, *, ticker: list[dict[str, Any]] | None = None, limit: int = LIVE_LIMIT
) -> list[Component]:
    """The Socket.IO client, the live state and the tick for ``view`` (nothing when the
    view shows no area: there is nothing live to patch). ``ticker``: rows the ticker
    starts with (newest first, shaped as ``geo_data.wall.recent_reports`` gives them)."""
    area = view.area
    if area is None or not view.panel:
        return []
    scope = None
    if area.level != "city":
        scope = {"column": f"{area.level}_id", "id": area.id}
    return [
        # The server sends this screen only its area's changes (a room per area).
        DashSocketIO(
            id=ids.LIVE_SOCKET,
            eventNames=["feed"],
            # Straight to websocket: long-polling adds a poll cycle to every batch.
            options={"transports": ["websocket"]}
            | ({"auth": {"area_id": area.id}} if scope else {}),
        ),
        dcc.Store(
            id=ids.LIVE_STATE,
            data={
                "upto": view.feed_upto,
                "scope": scope,
                "trace": view.live_index,
                "lang": view.state.lang,
                "limit": limit,
                "categories": category_names(view.state.lang),
                "points": [],
                "ticker": list(ticker or [])[:TICKER_ROWS],
                "open": view.panel.get("open"),
                "new_today": view.panel.get("new_today"),
            },
        ),
        dcc.Interval(id=ids.LIVE_TICK, interval=1000),
    ]


def ticker_rows(rows: list[dict[str, Any]], lang: str) -> list[html.Li]:
    """The ticker's rows as ``assets/live.js`` draws them, for the first render."""
    names = category_names(lang)
    items = []
    for row in rows[:TICKER_ROWS]:
        local = datetime.fromisoformat(row["at"]).astimezone(ZoneInfo(LOCAL_TZ))
        merged = " merged" if row["status"] == "merged" else ""
        items.append(
            html.Li(
                [
                    html.Span(f"{local:%H:%M}", className="gw-ticker-time"),
                    html.Span(
                        names.get(row["category"], row["category"]), className="gw-ticker-name"
                    ),
                    html.Span(f"#{row['id']}", className="gw-ticker-id"),
                ],
                className=f"gw-ticker-row sev-{row['severity']}{merged}",
                **{"data-case": str(row["id"])},
            )
        )
    return items
