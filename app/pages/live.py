"""What a page needs for its live model (``assets/live.js``): the Socket.IO client, the
screen's configuration and the tick. Shared by the map, the wall and the console, which
each name the graph the live cases are drawn on.

The configuration is plain data: the area and scope, the MapLibre layers of the live
cases (``layers.live``), the words of their hover, and what the counts recolour.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import dcc, html
from dash.development.base_component import Component
from dash_socketio import DashSocketIO

from app import ids
from callbacks.map import MapView
from geo_data import localtime
from geo_data.catalogue import load_categories
from layers import live
from layers.style import Style

LIVE_LIMIT = 2000  # open cases a screen holds at most, the most urgent first
TICKER_ROWS = 12  # as assets/live.js keeps


def category_names(lang: str) -> dict[str, str]:
    """Category code -> name in ``lang`` (the ticker and hover texts name categories)."""
    return {c.code: (c.name_en if lang == "en" else c.name_zh) for c in load_categories()}


def live_config(
    view: MapView,
    *,
    graph: str = ids.MAP_GRAPH,
    dark: bool = False,
    scale: float = 1.0,
    kpis: dict[str, str] | None = None,
    ticker: bool = True,
) -> dict[str, Any] | None:
    """The live model's configuration for ``view`` drawn on ``graph``; None when the view
    shows no area or no live cases."""
    area = view.area
    if area is None or not view.panel or view.live is None:
        return None
    lang = view.state.lang
    scope = None if area.level == "city" else {"column": f"{area.level}_id", "id": area.id}
    return {
        "area": area.code,
        "scope": scope,
        "graph": graph,
        "lang": lang,
        "tz": localtime.ZONE_NAME,
        "limit": LIVE_LIMIT,
        "layers": live.layer_specs(dark=dark, scale=scale),
        "scaleWithRoot": dark,  # the wall scales with its screen (assets/wall.css)
        "words": live.hover_words(Style(lang=lang), category_names(lang)),
        "counts": view.live,
        "kpis": kpis or {},
        "ticker": ids.LIVE_TICKER if ticker else None,
    }


def live_components(view: MapView, config: dict[str, Any] | None) -> list[Component]:
    """The Socket.IO client, the configuration and the tick (nothing without a config)."""
    if config is None:
        return []
    scope = config["scope"]
    return [
        # The server sends this screen only its area's changes (a room per area).
        DashSocketIO(
            id=ids.LIVE_SOCKET,
            eventNames=["feed"],
            # Straight to websocket: long-polling adds a poll cycle to every batch.
            options={"transports": ["websocket"]}
            | ({"auth": {"area_id": view.area.id}} if scope else {}),
        ),
        dcc.Store(id=ids.LIVE_STATE, data=config),
        dcc.Interval(id=ids.LIVE_TICK, interval=1000),
    ]


def ticker_rows(rows: list[dict[str, Any]], lang: str) -> list[html.Li]:
    """The ticker's rows as ``assets/live.js`` draws them, for the first render."""
    names = category_names(lang)
    items = []
    for row in rows[:TICKER_ROWS]:
        at = datetime.fromisoformat(row["at"])
        merged = " merged" if row["status"] == "merged" else ""
        items.append(
            html.Li(
                [
                    html.Span(localtime.fmt_hm(at), className="gw-ticker-time"),
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
