"""The leader summary (``/summary``): headline tiles, the 30-day trend, categories,
rankings of the sub-areas and the weekly grid-worker leaderboard.

Rendered from the URL query alone (``?area=510108001&date=2026-10-31&sort=overdue
&lang=en``). Every number links to the cases behind it in the case console
(``/ops?area=...&status=...&from=...&to=...``) and, where a place matters, to the map;
every table exports to CSV (``app.exports``). A supervisor sees their own street or
community and anything inside it; other roles see the whole jurisdiction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component
from dash_socketio import DashSocketIO
from sqlalchemy import Connection

from app import ids
from app.context import AppContext
from app.i18n import as_of_text, t
from app.pages.common import breadcrumb, page_nav, user_menu
from callbacks.map import message, visible_chain
from geo_data import localtime, views
from geo_data import summary as figures
from geo_data.users import UserInfo
from layers import summary as charts
from layers.labels import LEVEL, label

GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False}
CHART_HEIGHT = 340  # px; the figures are drawn for it
SORTS = ("closure_rate", "on_time_rate", "received", "open", "overdue")
DEFAULT_SORT = "closure_rate"
LEADERBOARD_COLUMN = 10  # rows per column of the leaderboard

WORDS = {
    "title": ("运行总览", "Summary"),
    "as_of_date": ("查看日期", "View date"),
    "back_live": ("回到实时", "Back to live"),
    "history": ("历史回看", "Looking back"),
    "window_note": ("近30天：{start}至{end}", "30 days: {start} to {end}"),
    "tile_today": ("今日受理", "Received today"),
    "tile_month": ("本月受理", "Received this month"),
    "tile_closure_rate": ("结案率", "Closure rate"),
    "tile_on_time_rate": ("按期结案率", "On-time closure"),
    "tile_satisfaction": ("群众满意率", "Satisfaction"),
    "tile_overdue": ("当前超期", "Overdue now"),
    "tile_handling_hours": ("平均办理时长", "Mean handling time"),
    "prev_today": ("昨日同时段", "Yesterday by this time"),
    "tile_today_past": ("当日受理", "Received that day"),
    "prev_today_past": ("前一日", "The day before"),
    "tile_overdue_past": ("日终超期", "Overdue at day end"),
    "prev_month": ("上月同期", "Last month to date"),
    "prev_window": ("前30天", "Previous 30 days"),
    "prev_overdue": ("24小时前", "24 hours ago"),
    "sub_today": ("不含重复上报", "duplicates not counted"),
    "sub_month": ("不含重复上报", "duplicates not counted"),
    "sub_window": ("近30天", "last 30 days"),
    "sub_overdue": ("未结且超过时限", "open and past due"),
    "no_change": ("持平", "no change"),
    "points": ("个百分点", " pts"),
    "hours": ("小时", " h"),
    "on_map": ("地图", "Map"),
    "on_map_title": ("在地图上查看超期分布", "See the overdue cases on the map"),
    "trend": ("近30天受理与结案趋势", "Received and closed, last 30 days"),
    "trend_hint": ("点击柱形查看当日案件", "Click a bar for that day's cases"),
    "categories": ("高发类别 · 近30天", "Top categories · last 30 days"),
    "categories_hint": ("点击查看该类案件", "Click a bar for the cases"),
    "category_table": ("类别明细", "Categories in detail"),
    "category_table_hint": (
        "受理、结案为近30天；未结、超期为当前",
        "received and closed: 30 days; open and overdue: now",
    ),
    "rankings": ("{level}排名", "{level} ranking"),
    "rankings_hint": ("近30天受理口径；点击表头排序", "30-day figures; click a heading to sort"),
    "no_children": ("本区域没有下级区域", "This area has no sub-areas"),
    "leaderboard": ("网格员周排行", "Grid workers of the week"),
    "leaderboard_hint": (
        "近7天（{start}至{end}）按结案数",
        "Last 7 days ({start} to {end}), by cases closed",
    ),
    "export": ("导出CSV", "Export CSV"),
    "col_rank": ("排名", "Rank"),
    "col_category": ("类别", "Category"),
    "col_received": ("受理", "Received"),
    "col_closed": ("结案", "Closed"),
    "col_closure_rate": ("结案率", "Closure rate"),
    "col_on_time_rate": ("按期结案率", "On-time rate"),
    "col_open": ("未结", "Open"),
    "col_overdue": ("超期", "Overdue"),
    "col_worker": ("网格员", "Worker"),
    "col_grid": ("所属网格", "Grid"),
    "col_on_time": ("按期结案", "On time"),
    "col_satisfaction": ("满意率", "Satisfied"),
    "col_reopened": ("重办", "Reopened"),
    "col_hours": ("平均用时", "Mean time"),
    "no_workers": ("近7天没有网格员结案", "No worker closed a case in the last 7 days"),
    "definitions": ("口径说明", "Definitions"),
    "def_received": (
        "受理：上报的案件，不含已合并的重复上报；结案率和按期结案率的分母另不含不予受理。",
        "Received: reported cases, duplicates (merged) not counted; the rates also leave "
        "out rejected reports.",
    ),
    "def_rates": (
        "结案率、按期结案率、满意率、平均办理时长：近30天（含今日）受理的案件；"
        "前30天按其期末时的状态计算，以便同口径比较。",
        "Closure, on-time, satisfaction and handling time: cases received in the last 30 "
        "days (today included); the previous 30 days as they stood when they ended, so "
        "both periods are judged alike.",
    ),
    "def_overdue": (
        "超期：未结案且已过处置时限；24小时前的数字按当时的上报、结案和时限推算。",
        "Overdue: open and past its due time; the figure 24 hours ago is reconstructed "
        "from report, closing and due times.",
    ),
    "def_week": (
        "网格员周排行：近7天结案数，并列时依次比较按期结案数、满意数和重办数（少者优先）。",
        "Worker ranking: cases closed in the last 7 days; ties go to more on time, more "
        "satisfied, then fewer reopened.",
    ),
}


def w(key: str, lang: str, **values: object) -> str:
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


# -- the viewer's area ----------------------------------------------------------------------


@dataclass(frozen=True)
class AreaChoice:
    """The area a request may see, or why not: ``error`` is unknown_area, outside_area or
    no_areas (the keys of ``callbacks.map.MESSAGES``) with the code asked for."""

    area: views.AreaInfo | None
    error: str | None = None
    code: str | None = None


def choose_area(conn: Connection, user: UserInfo, requested: str | None) -> AreaChoice:
    """The area ``user`` asked for (``?area=``), or their default: a supervisor's own
    street or community, else the district. A supervisor may see their area and what
    lies inside it, nothing else."""
    requested = (requested or "").strip()[:32] or None
    code = requested or user.area_code or views.default_area_code(conn)
    if code is None:
        return AreaChoice(None, "no_areas")
    area = views.area_info(conn, code)
    if area is None:
        return AreaChoice(None, "unknown_area", code)
    if user.area_code and user.area_code not in {ref.code for ref in area.chain}:
        return AreaChoice(None, "outside_area", code)
    return AreaChoice(area)


def as_of(query: dict[str, str], real_now: datetime | None = None) -> tuple[datetime, date | None]:
    """The summary's reference time: now, or the end of the local day ``?date=`` names
    when that day is over (a leader looking back). Returns (now, the day or None)."""
    real_now = real_now or datetime.now(UTC)
    try:
        day = date.fromisoformat(query.get("date", ""))
    except ValueError:
        return real_now, None
    end = localtime.midnight(day + timedelta(days=1)) - timedelta(microseconds=1)
    if end >= real_now:
        return real_now, None
    return end, day


# -- links ------------------------------------------------------------------------------------


def _query(params: dict[str, object]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def summary_href(area: str, lang: str, day: date | None = None, sort: str | None = None) -> str:
    return "/summary?" + _query(
        {
            "area": area,
            "date": day.isoformat() if day else None,
            "sort": sort if sort and sort != DEFAULT_SORT else None,
            "lang": "en" if lang == "en" else None,
        }
    )


def ops_href(
    area: str,
    status: str,
    lang: str,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    category: str | None = None,
    worker: int | None = None,
    by_closing: bool = False,
) -> str:
    """The case console listing the cases behind a number (the keys ``/ops`` reads);
    ``by_closing``: the dates bound the closing time, not the report time."""
    return "/ops?" + _query(
        {
            "area": area,
            "status": status,
            "from": date_from.isoformat() if date_from else None,
            "to": date_to.isoformat() if date_to else None,
            "dates": "closed" if by_closing and (date_from or date_to) else None,
            "category": category,
            "worker": worker,
            "lang": "en" if lang == "en" else None,
        }
    )


def map_href(area: str, lang: str, metric: str = "overdue") -> str:
    return "/map?" + _query(
        {"area": area, "metric": metric, "lang": "en" if lang == "en" else None}
    )


def export_href(table: str, area: str, lang: str, day: date | None) -> str:
    return f"/export/{table}.csv?" + _query(
        {"area": area, "date": day.isoformat() if day else None, "lang": lang}
    )


# -- numbers in the locale ---------------------------------------------------------------------


def count_text(value: float | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def rate_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def hours_text(value: float | None, lang: str) -> str:
    return "—" if value is None else f"{value:,.1f}{w('hours', lang)}"


def day_text(day: date, lang: str) -> str:
    return charts.day_label(day, lang)


def value_text(tile: figures.Tile, value: float | None, lang: str) -> str:
    if tile.unit == "rate":
        return rate_text(value)
    if tile.unit == "hours":
        return hours_text(value, lang)
    return count_text(value)


def change_text(tile: figures.Tile, lang: str) -> tuple[str, str]:
    """(the change as shown, its tone: good, bad, flat or neutral)."""
    change = tile.change
    if change is None:
        return "—", "flat"
    if tile.unit == "rate":
        points = round(change * 100, 1)
        if points == 0:
            return w("no_change", lang), "flat"
        shown = f"{abs(points):.1f}{w('points', lang)}"
    else:
        relative = tile.relative_change
        if round(change, 1) == 0:
            return w("no_change", lang), "flat"
        if relative is None:  # from nothing
            shown = f"+{value_text(tile, change, lang)}"
        else:
            shown = f"{abs(relative) * 100:.1f}%"
    up = change > 0
    arrow = "▲" if up else "▼"
    good = up == (tile.better == "up")
    tone = "neutral" if tile.better == "none" else ("good" if good else "bad")
    return f"{arrow} {shown}", tone


# -- the page ---------------------------------------------------------------------------------


def layout(ctx: AppContext, query: dict[str, str], user: UserInfo) -> html.Div:
    lang = "en" if query.get("lang") == "en" else "zh"
    now, day = as_of(query)
    sort = query.get("sort") if query.get("sort") in SORTS else DEFAULT_SORT
    with ctx.engine.connect() as conn:
        choice = choose_area(conn, user, query.get("area"))
        data = figures.summary(conn, choice.area, now) if choice.area else None
    page_class = f"gw-sum-page lang-{lang}"
    html_lang = "en" if lang == "en" else "zh-CN"
    if data is None:
        text_ = message(choice.error or "no_areas", lang, code=choice.code or "")
        home = user.area_code or ""
        return html.Div(
            [
                _header(None, user, lang, day, query),
                html.Main(
                    html.Div(
                        [
                            html.Span(text_),
                            dcc.Link(
                                t("back_to_default", lang),
                                href=summary_href(home, lang) if home else "/summary",
                            ),
                        ],
                        id=ids.SUMMARY_MESSAGE,
                        className="gw-sum-alert",
                        role="alert",
                    ),
                    className="gw-sum-main",
                ),
            ],
            id=ids.SUMMARY_PAGE,
            className=page_class,
            lang=html_lang,
        )
    view = _View(data, lang, day, sort, user)
    return html.Div(
        [
            _header(data.area, user, lang, day, query),
            html.Main(
                [
                    _title(view),
                    _tiles(view),
                    html.Div(
                        [_trend_card(view), _categories_card(view)],
                        className="gw-sum-row gw-sum-row-charts",
                    ),
                    html.Div(
                        [
                            _rankings_card(view),
                            html.Div(
                                [_category_table_card(view), _definitions(view)],
                                className="gw-sum-stack",
                            ),
                        ],
                        className="gw-sum-row gw-sum-row-tables",
                    ),
                    _leaderboard_card(view),
                ],
                className="gw-sum-main",
            ),
            dcc.Location(id=ids.SUMMARY_NAV, refresh="callback-nav"),
            *_live(data, day),
            dcc.Store(
                id=ids.SUMMARY_CONTEXT,
                data={
                    "area": data.area.code,
                    "lang": lang,
                    "date": day.isoformat() if day else None,
                    "from": data.periods.window_first_day.isoformat(),
                    "to": data.periods.today.isoformat(),
                    "sort": sort,
                },
            ),
        ],
        id=ids.SUMMARY_PAGE,
        className=page_class,
        lang=html_lang,
    )


@dataclass(frozen=True)
class _View:
    data: figures.Summary
    lang: str
    day: date | None
    sort: str
    user: UserInfo

    @property
    def code(self) -> str:
        return self.data.area.code

    @property
    def window(self) -> tuple[date, date]:
        return self.data.periods.window_first_day, self.data.periods.today


def _header(
    area: views.AreaInfo | None, user: UserInfo, lang: str, day: date | None, query: dict
) -> html.Header:
    other = "en" if lang == "zh" else "zh"
    code = area.code if area else (query.get("area") or "")
    nav = page_nav(user, lang, "/summary", area.code if area else None)
    chain = visible_chain(area, user.area_code) if area is not None else ()
    crumbs = breadcrumb(chain, lang, lambda code: summary_href(code, lang, day))
    lang_query = {k: v for k, v in query.items() if k != "lang"}
    if other == "en":
        lang_query["lang"] = "en"
    if code and "area" not in lang_query:
        lang_query["area"] = code
    return html.Header(
        [
            html.Div(
                [
                    html.Span("GridWatch", className="gw-logo"),
                    html.Span(t("brand", lang), className="gw-brand-sub"),
                ],
                className="gw-brand",
            ),
            nav,
            crumbs,
            dcc.Link(
                t("switch_lang", lang),
                href="/summary?" + _query(lang_query),
                id=ids.SUMMARY_LANG,
                className="gw-lang",
            ),
            user_menu(user, lang),
        ],
        className="gw-header",
    )


def _title(view: _View) -> html.Div:
    lang, p = view.lang, view.data.periods
    area = view.data.area
    level = label(LEVEL, area.level, lang)
    window = w(
        "window_note",
        lang,
        start=day_text(view.window[0], lang),
        end=day_text(view.window[1], lang),
    )
    picker = dcc.DatePickerSingle(
        id=ids.SUMMARY_DATE,
        date=(view.day or p.today).isoformat(),
        max_date_allowed=localtime.local_day(datetime.now(UTC)).isoformat(),
        display_format="YYYY-MM-DD",
        first_day_of_week=1,
        clearable=False,
        className="gw-sum-date",
    )
    controls: list[Component] = [
        html.Span(w("as_of_date", lang), className="gw-sum-date-label"),
        picker,
    ]
    if view.day:
        controls.append(
            dcc.Link(
                w("back_live", lang),
                href=summary_href(area.code, lang, None, view.sort),
                className="gw-sum-live",
            )
        )
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(level, className="gw-badge"),
                            html.Span(w("history", lang), className="gw-badge gw-badge-history")
                            if view.day
                            else None,
                        ],
                        className="gw-sum-badges",
                    ),
                    html.H1(
                        [
                            html.Span(area.name(lang)),
                            html.Span(" · " + w("title", lang), className="gw-sum-h1-sub"),
                        ],
                        className="gw-sum-h1",
                    ),
                    html.Div(f"{as_of_text(p.now, lang)} · {window}", className="gw-sum-asof"),
                ],
                className="gw-sum-heading",
            ),
            html.Div(controls, className="gw-sum-controls"),
        ],
        className="gw-sum-titlebar",
    )


TILE_PREVIOUS = {
    "today": "prev_today",
    "month": "prev_month",
    "closure_rate": "prev_window",
    "on_time_rate": "prev_window",
    "satisfaction": "prev_window",
    "overdue": "prev_overdue",
    "handling_hours": "prev_window",
}
TILE_SUB = {
    "today": "sub_today",
    "month": "sub_month",
    "closure_rate": "sub_window",
    "on_time_rate": "sub_window",
    "satisfaction": "sub_window",
    "overdue": "sub_overdue",
    "handling_hours": "sub_window",
}


def _past(key: str, view: _View) -> str:
    """The wording for a day looked back on (``tile_today`` -> ``tile_today_past``)."""
    return f"{key}_past" if view.day and f"{key}_past" in WORDS else key


def _tiles(view: _View) -> html.Section:
    return html.Section(tile_items(view), id=ids.SUMMARY_TILES, className="gw-sum-tiles")


def tile_items(view: _View) -> list[html.Div]:
    """The tiles as the page shows them (also what the live refresh sends)."""
    lang = view.lang
    items = []
    for tile in view.data.tiles:
        shown, tone = change_text(tile, lang)
        link = ops_href(view.code, tile.status, lang, tile.date_from, tile.date_to)
        extra = None
        if tile.key == "overdue":
            extra = dcc.Link(
                w("on_map", lang),
                href=map_href(view.code, lang),
                title=w("on_map_title", lang),
                className="gw-sum-tile-map",
            )
        alert = tile.key == "overdue" and (tile.value or 0) > 0
        items.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(
                                w(_past(f"tile_{tile.key}", view), lang),
                                className="gw-sum-tile-title",
                            ),
                            html.Span(w(TILE_SUB[tile.key], lang), className="gw-sum-tile-sub"),
                        ],
                        className="gw-sum-tile-head",
                    ),
                    dcc.Link(
                        value_text(tile, tile.value, lang),
                        href=link,
                        className="gw-sum-tile-value",
                    ),
                    html.Div(
                        [
                            html.Span(shown, className=f"gw-sum-change gw-sum-{tone}"),
                            html.Span(
                                w(_past(TILE_PREVIOUS[tile.key], view), lang)
                                + " "
                                + value_text(tile, tile.previous, lang),
                                className="gw-sum-prev",
                            ),
                            extra,
                        ],
                        className="gw-sum-tile-foot",
                    ),
                ],
                className=f"gw-sum-tile gw-sum-tile-{tile.key}"
                + (" gw-sum-tile-alert" if alert else ""),
            )
        )
    return items


def live_tiles(ctx: AppContext, user: UserInfo, context: dict | None) -> list[html.Div] | None:
    """Today's tiles afresh for the page's area (the feed named a change in it); None
    when the page shows a past day or an area the user may not see."""
    if not isinstance(context, dict) or context.get("date") is not None:
        return None
    lang = "en" if context.get("lang") == "en" else "zh"
    with ctx.engine.connect() as conn:
        choice = choose_area(conn, user, str(context.get("area") or ""))
        if choice.area is None or choice.error:
            return None
        tiles = figures.tiles(conn, choice.area, datetime.now(UTC))
    data = _TilesOnly(area=choice.area, tiles=tiles)
    return tile_items(_View(data, lang, None, DEFAULT_SORT, user))  # type: ignore[arg-type]


@dataclass(frozen=True)
class _TilesOnly:
    """What ``tile_items`` reads of a summary: its area and tiles."""

    area: views.AreaInfo
    tiles: list[figures.Tile]


def _live(data: figures.Summary, day: date | None) -> list[Component]:
    """Today's summary follows the feed: a change in the area refreshes the tiles (at
    most once a second, ``assets/summary_live.js``). A past day stays as it was."""
    if day is not None:
        return []
    area = data.area
    auth = {} if area.level == "city" else {"auth": {"area_id": area.id}}
    return [
        DashSocketIO(
            id=ids.SUMMARY_SOCKET, eventNames=["feed"], options={"transports": ["websocket"]} | auth
        ),
        dcc.Interval(id=ids.SUMMARY_TICK, interval=1000),
        dcc.Store(id=ids.SUMMARY_REFRESH),
    ]


def _card_head(
    title: str, hint: str | None = None, export: str | None = None, lang: str = "zh"
) -> html.Div:
    return html.Div(
        [
            html.Div(
                [html.H2(title), html.Span(hint, className="gw-sum-hint") if hint else None],
                className="gw-sum-card-title",
            ),
            html.A(w("export", lang), href=export, className="gw-sum-export", download="")
            if export
            else None,
        ],
        className="gw-sum-card-head",
    )


def _trend_card(view: _View) -> html.Section:
    lang = view.lang
    return html.Section(
        [
            _card_head(
                w("trend", lang),
                w("trend_hint", lang),
                export_href("trend", view.code, lang, view.day),
                lang,
            ),
            dcc.Graph(
                id=ids.SUMMARY_TREND,
                figure=charts.trend_figure(
                    view.data.trend, lang, CHART_HEIGHT, today_running=view.day is None
                ),
                config=GRAPH_CONFIG,
                className="gw-sum-graph",
                responsive=True,
                style={"height": f"{CHART_HEIGHT}px"},
            ),
        ],
        className="gw-card gw-sum-card gw-sum-trend",
    )


def _categories_card(view: _View) -> html.Section:
    lang = view.lang
    return html.Section(
        [
            _card_head(w("categories", lang), w("categories_hint", lang), None, lang),
            dcc.Graph(
                id=ids.SUMMARY_CATEGORIES,
                figure=charts.categories_figure(view.data.categories, lang, CHART_HEIGHT),
                config=GRAPH_CONFIG,
                className="gw-sum-graph",
                responsive=True,
                style={"height": f"{CHART_HEIGHT}px"},
            ),
        ],
        className="gw-card gw-sum-card gw-sum-categories",
    )


def _num_link(text_: str, href: str, cls: str = "") -> dcc.Link:
    return dcc.Link(text_, href=href, className=f"gw-sum-num {cls}".strip())


def _table(head: list[Component], rows: list[html.Tr], table_id: str, cls: str = "") -> html.Div:
    return html.Div(
        html.Table(
            [html.Thead(html.Tr(head)), html.Tbody(rows)],
            id=table_id,
            className=f"gw-sum-table {cls}".strip(),
        ),
        className="gw-sum-table-wrap",
    )


def _sorted_rankings(frame: pd.DataFrame, sort: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    key = frame[sort].astype(float).fillna(-1.0)
    return (
        frame.assign(_key=key)
        .sort_values(["_key", "code"], ascending=[False, True])
        .drop(columns="_key")
    )


def _rankings_card(view: _View) -> html.Section:
    lang, area = view.lang, view.data.area
    frame = view.data.rankings
    child = area.child_level
    level_name = label(LEVEL, child, lang) if child else ""
    title = w("rankings", lang, level=level_name) if child else w("rankings", lang, level="")
    head_ = _card_head(
        title.strip(),
        w("rankings_hint", lang),
        export_href("rankings", view.code, lang, view.day) if child else None,
        lang,
    )
    if frame.empty:
        return html.Section(
            [head_, html.P(w("no_children", lang), className="gw-muted gw-sum-empty")],
            className="gw-card gw-sum-card gw-sum-rankings",
        )
    columns = [
        ("received", "col_received"),
        ("closure_rate", "col_closure_rate"),
        ("on_time_rate", "col_on_time_rate"),
        ("open", "col_open"),
        ("overdue", "col_overdue"),
    ]
    head: list[Component] = [
        html.Th(w("col_rank", lang), className="gw-sum-rank-col"),
        html.Th(level_name, className="gw-sum-name-col"),
    ]
    for key, word in columns:
        active = key == view.sort
        head.append(
            html.Th(
                dcc.Link(
                    [
                        w(word, lang),
                        html.Span("▼", className="gw-sum-sort-mark") if active else None,
                    ],
                    href=summary_href(view.code, lang, view.day, key),
                    className="gw-sum-sort" + (" gw-sum-sort-active" if active else ""),
                ),
                className="gw-sum-num-col" + (" gw-sum-col-active" if active else ""),
            )
        )
    head.append(html.Th("", className="gw-sum-map-col"))
    frm, to = view.window
    rows = []
    for rank, r in enumerate(_sorted_rankings(frame, view.sort).itertuples(index=False), start=1):
        name = r.name_en if lang == "en" else r.name_zh
        cells = [
            html.Td(
                html.Span(
                    str(rank),
                    className=f"gw-sum-rank gw-sum-rank-{rank}" if rank <= 3 else "gw-sum-rank",
                ),
                className="gw-sum-rank-col",
            ),
            html.Td(
                dcc.Link(
                    name,
                    href=summary_href(r.code, lang, view.day, view.sort),
                    className="gw-sum-area-link",
                    title=name,
                )
                if child not in ("courtyard",)
                else html.Span(name),
                className="gw-sum-name-col",
            ),
            html.Td(
                _num_link(count_text(r.received), ops_href(r.code, "all", lang, frm, to)),
                className="gw-sum-num-col",
            ),
            html.Td(
                _rate_cell(r.closure_rate, ops_href(r.code, "closed", lang, frm, to)),
                className="gw-sum-num-col",
            ),
            html.Td(
                _rate_cell(r.on_time_rate, ops_href(r.code, "closed", lang, frm, to)),
                className="gw-sum-num-col",
            ),
            html.Td(
                _num_link(count_text(r.open), ops_href(r.code, "open", lang)),
                className="gw-sum-num-col",
            ),
            html.Td(
                _num_link(
                    count_text(r.overdue),
                    ops_href(r.code, "overdue", lang),
                    "gw-sum-overdue" if r.overdue else "",
                ),
                className="gw-sum-num-col",
            ),
            html.Td(
                dcc.Link(
                    w("on_map", lang),
                    href=map_href(r.code, lang),
                    className="gw-sum-map-link",
                    title=w("on_map_title", lang),
                ),
                className="gw-sum-map-col",
            ),
        ]
        rows.append(html.Tr(cells))
    return html.Section(
        [head_, _table(head, rows, ids.SUMMARY_RANKINGS, "gw-sum-rank-table")],
        className="gw-card gw-sum-card gw-sum-rankings",
    )


def _rate_cell(value: float | None, href: str) -> Component:
    if value is None:
        return html.Span("—", className="gw-sum-num gw-muted")
    return html.Div(
        [
            _num_link(rate_text(value), href),
            html.Div(
                html.Div(
                    className="gw-sum-meter-fill",
                    style={"width": f"{max(0.0, min(1.0, value)) * 100:.0f}%"},
                ),
                className="gw-sum-meter",
            ),
        ],
        className="gw-sum-rate",
    )


def _category_table_card(view: _View) -> html.Section:
    lang = view.lang
    frame = view.data.categories
    frm, to = view.window
    head_ = _card_head(
        w("category_table", lang),
        w("category_table_hint", lang),
        export_href("categories", view.code, lang, view.day),
        lang,
    )
    if frame.empty:
        return html.Section(
            [head_, html.P(t("no_data", lang), className="gw-muted gw-sum-empty")],
            className="gw-card gw-sum-card gw-sum-cat-table",
        )
    head = [
        html.Th(w("col_category", lang), className="gw-sum-name-col"),
        html.Th(w("col_received", lang), className="gw-sum-num-col"),
        html.Th(w("col_closed", lang), className="gw-sum-num-col"),
        html.Th(w("col_open", lang), className="gw-sum-num-col"),
        html.Th(w("col_overdue", lang), className="gw-sum-num-col"),
    ]
    rows = []
    for r in frame.itertuples(index=False):
        name = r.name_en if lang == "en" else r.name_zh
        rows.append(
            html.Tr(
                [
                    html.Td(html.Span(name, title=name), className="gw-sum-name-col"),
                    html.Td(
                        _num_link(
                            count_text(r.received),
                            ops_href(view.code, "all", lang, frm, to, category=r.code),
                        ),
                        className="gw-sum-num-col",
                    ),
                    html.Td(
                        _num_link(
                            count_text(r.closed),
                            ops_href(view.code, "closed", lang, frm, to, category=r.code),
                        ),
                        className="gw-sum-num-col",
                    ),
                    html.Td(
                        _num_link(
                            count_text(r.open), ops_href(view.code, "open", lang, category=r.code)
                        ),
                        className="gw-sum-num-col",
                    ),
                    html.Td(
                        _num_link(
                            count_text(r.overdue),
                            ops_href(view.code, "overdue", lang, category=r.code),
                            "gw-sum-overdue" if r.overdue else "",
                        ),
                        className="gw-sum-num-col",
                    ),
                ]
            )
        )
    return html.Section(
        [head_, _table(head, rows, ids.SUMMARY_CATEGORY_TABLE)],
        className="gw-card gw-sum-card gw-sum-cat-table",
    )


def _leaderboard_card(view: _View) -> html.Section:
    lang, p = view.lang, view.data.periods
    frame = view.data.leaderboard
    start, end = p.week_first_day, p.today
    hint = w("leaderboard_hint", lang, start=day_text(start, lang), end=day_text(end, lang))
    head_ = _card_head(
        w("leaderboard", lang), hint, export_href("leaderboard", view.code, lang, view.day), lang
    )
    if frame.empty:
        return html.Section(
            [head_, html.P(w("no_workers", lang), className="gw-muted gw-sum-empty")],
            className="gw-card gw-sum-card gw-sum-leaderboard",
        )
    head = [
        html.Th(w("col_rank", lang), className="gw-sum-rank-col"),
        html.Th(w("col_worker", lang), className="gw-sum-name-col"),
        html.Th(w("col_grid", lang), className="gw-sum-grid-col"),
        html.Th(w("col_closed", lang), className="gw-sum-num-col"),
        html.Th(w("col_on_time", lang), className="gw-sum-num-col"),
        html.Th(w("col_on_time_rate", lang), className="gw-sum-num-col"),
        html.Th(w("col_satisfaction", lang), className="gw-sum-num-col"),
        html.Th(w("col_reopened", lang), className="gw-sum-num-col"),
        html.Th(w("col_hours", lang), className="gw-sum-num-col"),
    ]
    rows = []
    for r in frame.itertuples(index=False):
        closed_href = ops_href(
            view.code, "closed", lang, start, end, worker=r.worker_id, by_closing=True
        )
        grid = r.grid_en if lang == "en" else r.grid_zh
        rank_cls = f"gw-sum-rank gw-sum-rank-{r.rank}" if r.rank <= 3 else "gw-sum-rank"
        rows.append(
            html.Tr(
                [
                    html.Td(
                        html.Span(str(r.rank), className=rank_cls), className="gw-sum-rank-col"
                    ),
                    html.Td(
                        html.Span(r.name, className="gw-sum-worker"), className="gw-sum-name-col"
                    ),
                    html.Td(html.Span(grid or "—", title=grid or ""), className="gw-sum-grid-col"),
                    html.Td(
                        _num_link(count_text(r.closed), closed_href, "gw-sum-strong"),
                        className="gw-sum-num-col",
                    ),
                    html.Td(
                        _num_link(count_text(r.on_time), closed_href), className="gw-sum-num-col"
                    ),
                    html.Td(_rate_cell(r.on_time_rate, closed_href), className="gw-sum-num-col"),
                    html.Td(_rate_cell(r.satisfaction, closed_href), className="gw-sum-num-col"),
                    # Reopened counts events, not a case status: no case list matches it.
                    html.Td(
                        count_text(r.reopened),
                        className="gw-sum-num-col gw-sum-plain"
                        + (" gw-sum-overdue" if r.reopened else ""),
                    ),
                    html.Td(hours_text(r.hours, lang), className="gw-sum-num-col gw-sum-plain"),
                ]
            )
        )
    # Two columns of ten on a wide screen, as boards are posted; one column when narrow.
    halves = [rows[i : i + LEADERBOARD_COLUMN] for i in range(0, len(rows), LEADERBOARD_COLUMN)]
    return html.Section(
        [
            head_,
            html.Div(
                [
                    _table(head, half, f"{ids.SUMMARY_LEADERBOARD}-{i}", "gw-sum-board")
                    for i, half in enumerate(halves)
                ],
                id=ids.SUMMARY_LEADERBOARD,
                className="gw-sum-board-columns",
            ),
        ],
        className="gw-card gw-sum-card gw-sum-leaderboard",
    )


def _definitions(view: _View) -> html.Section:
    lang = view.lang
    return html.Section(
        [
            html.H2(w("definitions", lang)),
            html.Ul(
                [
                    html.Li(w(key, lang))
                    for key in ("def_received", "def_rates", "def_overdue", "def_week")
                ]
            ),
        ],
        className="gw-card gw-sum-card gw-sum-defs",
    )
