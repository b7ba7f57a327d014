"""The supervisor console (``/ops``): the cases of the user's area as a sortable,
filterable table beside the map, with the case panel to act on them.

Filters live in the URL (``?status=overdue&category=E0101&from=2026-11-01``), so the
summary page's numbers link straight to the cases behind them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from app import ids
from app.context import AppContext
from app.i18n import t
from app.pages.common import case_drawer, page_nav, user_menu
from app.pages.live import live_components, live_config
from callbacks.map import MapState, map_view
from geo_data import localtime, views
from geo_data.case_list import STATUS_FILTERS, CaseFilters, filters_from_query, list_cases
from geo_data.catalogue import CHANNELS, load_categories
from geo_data.users import UserInfo
from layers.labels import CASE_STATUS, HANDLING_LEVEL, SEVERITY, label

WORDS = {
    "title": ("案件工作台", "Case console"),
    "status": ("状态", "Status"),
    "category": ("类别", "Category"),
    "channel": ("渠道", "Channel"),
    "severity": ("等级", "Severity"),
    "dates": ("上报日期", "Reported"),
    "dates_closed": ("结案日期", "Closed on"),
    "date_start": ("开始日期", "From"),
    "date_end": ("结束日期", "To"),
    "any": ("全部", "Any"),
    "all": ("全部", "All"),
    "open": ("未结", "Open"),
    "overdue": ("超期", "Overdue"),
    "closed_only": ("已结案", "Closed"),
    "shown": ("显示 {shown} / 共 {total} 件", "{shown} of {total} cases"),
    "export": ("导出CSV", "Export CSV"),
    "reset": ("清除筛选", "Clear filters"),
    "col_id": ("编号", "No."),
    "col_reported": ("上报时间", "Reported"),
    "col_category": ("类别", "Category"),
    "col_severity": ("等级", "Severity"),
    "col_status": ("状态", "Status"),
    "col_where": ("街道 / 社区", "Street / community"),
    "col_assignee": ("处置人", "Assignee"),
    "col_due": ("时限", "Due"),
    "col_level": ("层级", "Level"),
    "col_reports": ("上报次数", "Reports"),
    "overdue_flag": ("超期", "overdue"),
    "no_rows": ("没有符合条件的案件", "No cases match these filters"),
    "outside": ("区域“{code}”不在您的管辖范围内。", "The area “{code}” lies outside your area."),
}


def w(key: str, lang: str, **values: object) -> str:
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def layout(ctx: AppContext, query: dict[str, str], user: UserInfo) -> html.Div:
    lang = "en" if query.get("lang") == "en" else "zh"
    filters = filters_from_query(query)
    with ctx.engine.connect() as conn:
        code = query.get("area") or user.area_code or views.default_area_code(conn)
        area = views.area_info(conn, code) if code else None
        allowed = area is not None and (
            user.area_code is None or user.area_code in {ref.code for ref in area.chain}
        )
        frame, total = list_cases(conn, area, filters) if area and allowed else (None, 0)
    if area is None or not allowed:
        message = w("outside", lang, code=code) if area else t("no_data", lang)
        return html.Div(
            [_header(lang, user, query), html.Div(message, className="gw-alert", role="alert")],
            className=f"gw-ops-page lang-{lang}",
        )
    view = map_view(
        ctx,
        MapState(
            area_code=area.code, layers=("areas", "incidents"), lang=lang, scope_code=user.area_code
        ),
    )
    rows = grid_rows(frame, lang)
    live = live_config(view, graph=ids.OPS_MAP, ticker=False)
    if live is not None:
        # The table follows the feed too: the page's own filters, its rows by id.
        live["grid"] = {
            "id": ids.OPS_GRID,
            "query": {**query, "area": area.code, "lang": lang},
            "ids": [row["id"] for row in rows],
            "total": total,
            "count": ids.OPS_COUNT,
            "countText": w("shown", lang, shown="{shown}", total="{total}"),
        }
    return html.Div(
        [
            _header(lang, user, query, area.name(lang)),
            _filters(filters, lang),
            html.Div(
                [
                    html.Section(
                        [
                            html.Div(
                                [
                                    html.Span(
                                        w(
                                            "shown",
                                            lang,
                                            shown=f"{len(frame):,}",
                                            total=f"{total:,}",
                                        ),
                                        id=ids.OPS_COUNT,
                                    ),
                                    html.Span(
                                        t("connecting", lang),
                                        id=ids.LIVE_STATUS,
                                        className="gw-live-dot",
                                    ),
                                    html.Button(
                                        w("export", lang), id=ids.OPS_EXPORT, className="gw-btn"
                                    ),
                                ],
                                className="gw-ops-tablebar",
                            ),
                            _grid(rows, lang),
                        ],
                        className="gw-ops-table",
                    ),
                    html.Section(
                        [
                            dcc.Graph(
                                id=ids.OPS_MAP,
                                figure=view.figure,
                                config={"displaylogo": False, "scrollZoom": True},
                                responsive=True,
                                className="gw-map",
                                style={"height": "100%", "width": "100%"},
                            ),
                            case_drawer(lang),
                        ],
                        className="gw-ops-map gw-map-wrap",
                    ),
                ],
                className="gw-ops-main",
            ),
            *live_components(view, live),
        ],
        id=ids.OPS_PAGE,
        className=f"gw-ops-page lang-{lang}",
        lang="en" if lang == "en" else "zh-CN",
    )


def _header(
    lang: str, user: UserInfo, query: dict[str, str], area_name: str | None = None
) -> html.Header:
    other = "zh" if lang == "en" else "en"
    switched = urlencode({**query, "lang": other})
    return html.Header(
        [
            html.Div(
                [
                    html.Span("GridWatch", className="gw-logo"),
                    html.Span(w("title", lang), className="gw-brand-sub"),
                ],
                className="gw-brand",
            ),
            page_nav(user, lang, "/ops", query.get("area")),
            html.Span(area_name or "", className="gw-ops-area"),
            dcc.Link(t("switch_lang", lang), href=f"/ops?{switched}", className="gw-lang"),
            user_menu(user, lang),
        ],
        className="gw-header",
    )


def _filters(filters: CaseFilters, lang: str) -> html.Div:
    statuses = [("all", w("all", lang)), ("open", w("open", lang)),
                ("overdue", w("overdue", lang)), ("closed", w("closed_only", lang))]  # fmt: skip
    statuses += [(s, label(CASE_STATUS, s, lang)) for s in STATUS_FILTERS[4:] if s != "closed"]
    categories = sorted(load_categories(), key=lambda c: c.code)

    def group(title: str, control: Component) -> html.Label:
        return html.Label([html.Span(title, className="gw-tool-title"), control],
                          className="gw-ops-filter")  # fmt: skip

    return html.Div(
        [
            group(
                w("status", lang),
                dcc.Dropdown(
                    id=ids.OPS_STATUS,
                    options=[{"label": name, "value": value} for value, name in statuses],
                    value=filters.status,
                    clearable=False,
                ),
            ),
            group(
                w("category", lang),
                dcc.Dropdown(
                    id=ids.OPS_CATEGORY,
                    options=[
                        {"label": c.name_en if lang == "en" else c.name_zh, "value": c.code}
                        for c in categories
                    ],
                    value=filters.category,
                    placeholder=w("any", lang),
                ),
            ),
            group(
                w("channel", lang),
                dcc.Dropdown(
                    id=ids.OPS_CHANNEL,
                    options=[
                        {"label": c.name_en if lang == "en" else c.name_zh, "value": c.code}
                        for c in CHANNELS
                    ],
                    value=filters.channel,
                    placeholder=w("any", lang),
                ),
            ),
            group(
                w("severity", lang),
                dcc.Dropdown(
                    id=ids.OPS_SEVERITY,
                    options=[
                        {"label": f"{n} {label(SEVERITY, n, lang)}", "value": n}
                        for n in (1, 2, 3, 4)
                    ],
                    value=filters.severity,
                    placeholder=w("any", lang),
                ),
            ),
            group(
                w("dates_closed" if filters.dates == "closed" else "dates", lang),
                dcc.DatePickerRange(
                    id=ids.OPS_DATES,
                    start_date=filters.date_from,
                    end_date=filters.date_to,
                    display_format="YYYY-MM-DD",
                    clearable=True,
                    start_date_placeholder_text=w("date_start", lang),
                    end_date_placeholder_text=w("date_end", lang),
                    first_day_of_week=1,
                ),
            ),
        ],
        className="gw-ops-filters",
    )


COLUMN_KEYS = ("id", "reported", "category", "severity", "status", "where", "assignee", "due",
               "level", "reports")  # fmt: skip


def grid_rows(frame: pd.DataFrame, lang: str) -> list[dict[str, Any]]:
    """Table rows with every label in ``lang`` (no raw codes on screen)."""
    rows = []
    en = lang == "en"
    for r in frame.itertuples(index=False):
        street = r.street_en if en else r.street_zh
        community = r.community_en if en else r.community_zh
        rows.append(
            {
                "id": int(r.id),
                "reported": localtime.fmt_minute(r.reported_at),
                "category": r.category_en if en else r.category_zh,
                "severity": int(r.severity),
                "severity_name": f"{int(r.severity)} {label(SEVERITY, int(r.severity), lang)}",
                "status": label(CASE_STATUS, r.status, lang),
                "where": " / ".join(p for p in (street, community) if isinstance(p, str)),
                "assignee": r.assignee if isinstance(r.assignee, str) else "—",
                "due": localtime.fmt_minute(r.due_at)
                + (f" · {w('overdue_flag', lang)}" if r.overdue else ""),
                "overdue": bool(r.overdue),
                "level": label(HANDLING_LEVEL, r.handling_level, lang),
                "reports": int(r.report_count),
            }
        )
    return rows


def _grid(rows: list[dict[str, Any]], lang: str) -> dag.AgGrid:
    stamp = localtime.local(datetime.now(UTC))

    def col(key: str, **extra: Any) -> dict[str, Any]:
        return {"field": key, "headerName": w(f"col_{key}", lang)} | extra

    columns = [
        col("id", width=90, filter="agNumberColumnFilter"),
        col("reported", width=150, sort="desc"),
        col("category", flex=1, minWidth=120),
        col("severity", field="severity_name", width=100),
        col("status", width=110),
        col("where", flex=1, minWidth=150),
        col("assignee", width=100),
        col("due", width=170, cellClassRules={"gw-cell-late": "params.data.overdue"}),
        col("level", width=90),
        col("reports", width=90, filter="agNumberColumnFilter"),
    ]
    return dag.AgGrid(
        id=ids.OPS_GRID,
        rowData=rows,
        columnDefs=columns,
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "localeText": {"noRowsToShow": w("no_rows", lang)},
            "animateRows": False,
        },
        getRowId="params.data.id",
        rowClassRules={"gw-row-late": "params.data.overdue"},
        csvExportParams={"fileName": f"gridwatch-cases-{stamp:%Y%m%d-%H%M}.csv"},
        className="gw-grid",
        style={"height": "100%", "width": "100%"},
    )


def filtered_search(query: dict[str, str], **changes: Any) -> str:
    """The URL query with ``changes`` applied (None removes a key)."""
    merged = {**query}
    for key, value in changes.items():
        if value in (None, "", []):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    if merged.get("status") == "open":
        merged.pop("status")
    return "?" + urlencode(merged) if merged else ""
