"""The wall screen (``/wall``): a full-screen dark layout for a command centre's large
displays that needs no interaction.

The map with the live cases, the KPI tiles, the live ticker, the longest-overdue cases,
the clock and the link status; ``?tour=SECONDS`` moves the map through the child areas
one by one and back. ``callbacks.wall`` keeps it current; ``assets/wall.css`` lays it
out for 1920 x 1080 up to 3840 x 2160.
"""

from __future__ import annotations

from datetime import datetime

from dash import dcc, html
from dash.development.base_component import Component

from app import ids
from app.context import AppContext
from app.i18n import t
from app.pages.live import live_components, live_config, ticker_rows
from callbacks.map import MapView
from callbacks.wall import (
    FIGURES_SECONDS,
    WALL_SCALE,
    WallConfig,
    config_from_query,
    stops_of,
    wall_state,
    wall_view,
)
from geo_data import localtime, views
from geo_data.users import UserInfo
from geo_data.wall import OverdueCase, overdue_cases, recent_reports
from layers.labels import age_text

GRAPH_CONFIG = {
    "displayModeBar": False,
    "displaylogo": False,
    "scrollZoom": False,
    "doubleClick": False,
    "showTips": False,
}
# Below each wall level, the levels a case's place is named by in the overdue list.
PLACE_LEVELS = {
    "city": ("street", "community"),
    "district": ("street", "community"),
    "street": ("community", "grid"),
    "community": ("grid",),
}


def layout(ctx: AppContext, query: dict[str, str], user: UserInfo) -> html.Div:
    config = config_from_query(query)
    view = wall_view(ctx, wall_state(config, user))
    lang = config.lang
    page_props = {
        "id": ids.WALL_PAGE,
        "className": f"gw-wall lang-{lang}",
        "lang": "en" if lang == "en" else "zh-CN",
    }
    if view.area is None or not view.panel:
        return html.Div(
            [_head(view, config, None), html.Div(view.message, className="gw-wall-message")],
            **page_props,
        )
    area = view.area
    with ctx.engine.connect() as conn:
        overdue, total = overdue_cases(conn, area, now=view.now)
        recent = recent_reports(conn, area, now=view.now)
    config = WallConfig(
        area_code=area.code,
        level=area.level,
        lang=lang,
        tour=config.tour,
        stops=stops_of(ctx, area) if config.tour else (),
    )
    return html.Div(
        [
            _head(view, config, view.now),
            _kpis(view),
            html.Main(
                [
                    html.Div(
                        dcc.Graph(
                            id=ids.MAP_GRAPH,
                            figure=view.figure,
                            config=GRAPH_CONFIG,
                            responsive=True,
                            className="gw-wall-graph",
                            style={"height": "100%", "width": "100%"},
                        ),
                        className="gw-wall-map",
                    ),
                    html.Aside(
                        [_ticker(recent, lang), _overdue_card(overdue, total, area, view)],
                        className="gw-wall-side",
                    ),
                ],
                className="gw-wall-main",
            ),
            dcc.Store(id=ids.WALL_CONFIG, data=config.to_store()),
            dcc.Interval(id=ids.WALL_CLOCK_TICK, interval=1000),
            dcc.Interval(id=ids.WALL_REFRESH_TICK, interval=FIGURES_SECONDS * 1000),
            # The tour moves the camera; without one nothing redraws the map.
            dcc.Interval(
                id=ids.WALL_MAP_TICK,
                interval=(config.tour or 3600) * 1000,
                disabled=not config.tour,
            ),
            dcc.Store(id=ids.WALL_CAMERA),
            *live_components(view, _live(view, recent)),
        ],
        **page_props,
    )


def _live(view: MapView, recent: list[dict]) -> dict | None:
    """The wall's live model: cases on its map, the three live tiles, the ticker."""
    config = live_config(
        view,
        dark=True,
        scale=WALL_SCALE,
        kpis={
            "open": ids.MAP_KPI_OPEN,
            "new_today": ids.MAP_KPI_NEW_TODAY,
            "overdue": ids.WALL_KPI_OVERDUE,
        },
    )
    if config is not None:
        config["tickerStart"] = recent[:12]
    return config


# -- parts --------------------------------------------------------------------------------


def _head(view: MapView, config: WallConfig, now: datetime | None) -> html.Header:
    lang = config.lang
    area_name = view.area.name(lang) if view.area else ""
    return html.Header(
        [
            html.Div(
                [
                    html.Span("GridWatch", className="gw-wall-logo"),
                    html.Span(t("brand", lang), className="gw-wall-brand"),
                    html.Span(area_name, className="gw-wall-area"),
                ],
                className="gw-wall-title",
            ),
            html.Div(
                tour_caption(view.area.name(lang), 0, len(config.stops), config)
                if view.area
                else "",
                id=ids.WALL_TOUR,
                className="gw-wall-tour",
            ),
            html.Div(
                [
                    html.Span(className="gw-wall-dot"),
                    html.Span(t("connecting", lang), id=ids.LIVE_STATUS),
                ],
                id=ids.WALL_LINK,
                className="gw-wall-link",
            ),
            html.Div(clock_text(now, lang), id=ids.WALL_CLOCK, className="gw-wall-clock"),
        ],
        className="gw-wall-head",
    )


def clock_text(now: datetime | None, lang: str) -> list[Component]:
    """The clock's first render (``assets/wall.js`` ticks it on): time and date."""
    if now is None:
        return []
    return [
        html.Span(localtime.fmt_hms(now), className="gw-wall-time"),
        html.Span(localtime.fmt_date_long(now, lang), className="gw-wall-date"),
    ]


def tour_caption(name: str, index: int, stops: int, config: WallConfig) -> str:
    """``巡览 3/14 · 双水碾街道`` at a stop, ``全域 · 成华区`` at the wall's own area (and
    nothing without a tour)."""
    if not config.tour or not stops:
        return ""
    lang = config.lang
    if index == 0:
        return f"{t('tour_whole', lang)} · {name}"
    return f"{t('tour_stop', lang).format(i=index, n=stops)} · {name}"


def _kpis(view: MapView) -> html.Section:
    lang, panel = view.state.lang, view.panel
    rate_note = t("last_30_days", lang)
    return html.Section(
        [
            _tile(t("open", lang), f"{panel['open']:,}", ids.MAP_KPI_OPEN, "gw-tile-main"),
            _tile(
                t("overdue_now", lang),
                f"{panel['overdue']:,}",
                ids.WALL_KPI_OVERDUE,
                "gw-tile-alert",
            ),
            _tile(t("new_today", lang), f"{panel['new_today']:,}", ids.MAP_KPI_NEW_TODAY),
            _tile(
                t("closure_rate", lang),
                percent(panel["closure_rate"]),
                ids.WALL_KPI_CLOSURE,
                note=rate_note,
            ),
            _tile(
                t("on_time_rate", lang),
                percent(panel["on_time_rate"]),
                ids.WALL_KPI_ON_TIME,
                note=rate_note,
            ),
        ],
        className="gw-wall-kpis",
    )


def _tile(title: str, value: str, value_id: str, tone: str = "", note: str = "") -> html.Div:
    return html.Div(
        [
            html.Div(
                [html.Span(title), html.Span(note, className="gw-tile-note") if note else None],
                className="gw-tile-title",
            ),
            html.Div(value, id=value_id, className="gw-tile-value"),
        ],
        className=f"gw-tile {tone}".strip(),
    )


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _ticker(recent: list[dict], lang: str) -> html.Section:
    rows = ticker_rows(recent, lang)
    return html.Section(
        [
            html.H2(t("live_feed", lang)),
            html.Ol(
                rows or html.Li(t("waiting_for_reports", lang), className="gw-muted"),
                id=ids.LIVE_TICKER,
                className="gw-ticker gw-wall-ticker",
            ),
        ],
        className="gw-wall-card gw-wall-ticker-card",
    )


def _overdue_card(
    rows: list[OverdueCase], total: int, area: views.AreaInfo, view: MapView
) -> html.Section:
    lang = view.state.lang
    return html.Section(
        [
            html.H2(
                [
                    html.Span(t("overdue_list", lang)),
                    html.Span(
                        overdue_total_text(total, lang),
                        id=ids.WALL_OVERDUE_TOTAL,
                        className="gw-wall-count",
                    ),
                ]
            ),
            html.Ol(
                overdue_items(rows, lang, place_levels(area.level)),
                id=ids.WALL_OVERDUE,
                className="gw-wall-overdue",
            ),
            html.Div(
                updated_text(view.now, lang) if view.now else "",
                id=ids.WALL_UPDATED,
                className="gw-wall-updated",
            ),
        ],
        className="gw-wall-card gw-wall-overdue-card",
    )


def place_levels(level: str | None) -> tuple[str, ...]:
    """The levels an overdue case's place is named by on the wall of a ``level`` area."""
    return PLACE_LEVELS.get(level or "", ())


def overdue_items(rows: list[OverdueCase], lang: str, levels: tuple[str, ...]) -> list[html.Li]:
    """The overdue list's rows: severity, category, place and how long overdue."""
    if not rows:
        return [html.Li(t("no_overdue", lang), className="gw-muted")]
    items = []
    for row in rows:
        place = [getattr(row, level) for level in levels]
        names = [p[1] if lang == "en" else p[0] for p in place if p]
        items.append(
            html.Li(
                [
                    html.Span(row.category(lang), className="gw-od-name"),
                    html.Span(" · ".join(names), className="gw-od-place"),
                    html.Span(
                        [
                            html.Small(t("overdue_for", lang)),
                            " " if lang == "en" else "",
                            age_text(row.overdue_hours, lang),
                        ],
                        className="gw-od-late",
                    ),
                ],
                className=f"gw-od-row sev-{row.severity}",
                **{"data-case": str(row.id)},
            )
        )
    return items


def overdue_total_text(total: int, lang: str) -> str:
    return t("overdue_total", lang).format(n=f"{total:,}")


def updated_text(now: datetime, lang: str) -> str:
    return t("updated_at", lang).format(time=localtime.fmt_hms(now))
