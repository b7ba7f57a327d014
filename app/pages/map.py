"""The map page: breadcrumb, layer and metric controls, the map and the area's figures.

Rendered from the URL query alone (``callbacks.map.state_from_query``); the controls
rewrite the query and the router renders the page again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dash import dcc, html
from dash.development.base_component import Component

from app import ids
from app.context import AppContext
from app.i18n import as_of_text, t
from app.pages.common import breadcrumb, case_drawer, page_nav, user_menu
from app.pages.live import live_components, live_config
from callbacks.map import MapView, href, map_view, state_from_query, visible_chain
from geo_data.users import UserInfo
from layers import LAYER_NAMES
from layers.labels import METRIC, WINDOW, label

GRAPH_CONFIG = {
    "displaylogo": False,
    "scrollZoom": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "toImage"],
}


def layout(ctx: AppContext, query: dict[str, str], user: UserInfo) -> html.Div:
    state = replace(state_from_query(query), scope_code=user.area_code)
    view = map_view(ctx, state)
    lang = view.state.lang
    return html.Div(
        [_header(view, user), _toolbar(view), _body(view), *live_components(view, _live(view))],
        id=ids.MAP_PAGE,
        className=f"gw-map-page lang-{lang}",
        lang="en" if lang == "en" else "zh-CN",
    )


def _live(view: MapView) -> dict | None:
    """The live model of this map: its cases on the map, its counters in the panel."""
    kpis = {"open": ids.MAP_KPI_OPEN, "new_today": ids.MAP_KPI_NEW_TODAY,
            "overdue": ids.MAP_KPI_OVERDUE}  # fmt: skip
    return live_config(view, kpis=kpis)


def _ticker_card(view: MapView) -> html.Div:
    lang = view.state.lang
    return html.Div(
        [
            html.H3(
                [
                    t("live_feed", lang),
                    html.Span(t("connecting", lang), id=ids.LIVE_STATUS, className="gw-live-dot"),
                ]
            ),
            html.Ol(
                html.Li(t("waiting_for_reports", lang), className="gw-muted"),
                id=ids.LIVE_TICKER,
                className="gw-ticker",
            ),
        ],
        className="gw-card gw-ticker-card",
    )


def _segments(component_id: str, kind: str, choices: dict, value: str, lang: str) -> dcc.RadioItems:
    """A segmented control over ``choices`` (labels ``<kind>_<choice>``, long names as
    tooltips)."""
    return dcc.RadioItems(
        id=component_id,
        options=[
            {"label": t(f"{kind}_{c}", lang), "value": c, "title": label(choices, c, lang)}
            for c in choices
        ],
        value=value,
        inline=True,
        className="gw-segments",
    )


def _as_of(view: MapView) -> str:
    if view.now is None:
        return ""
    return as_of_text(view.now, view.state.lang)


def _header(view: MapView, user: UserInfo) -> html.Header:
    state, lang = view.state, view.state.lang
    other = "en" if lang == "zh" else "zh"
    return html.Header(
        [
            html.Div(
                [
                    html.Span("GridWatch", className="gw-logo"),
                    html.Span(t("brand", lang), className="gw-brand-sub"),
                ],
                className="gw-brand",
            ),
            page_nav(user, state.lang, "/map", view.area.code if view.area else None),
            _breadcrumb(view),
            dcc.Link(
                t("switch_lang", lang),
                href=href(state, lang=other),
                id=ids.MAP_LANG,
                className="gw-lang",
            ),
            user_menu(user, lang),
        ],
        className="gw-header",
    )


def _breadcrumb(view: MapView) -> html.Nav:
    state = view.state
    chain = visible_chain(view.area, state.scope_code) if view.area else ()
    return breadcrumb(
        chain, state.lang, lambda code: href(state, area_code=code), id=ids.MAP_BREADCRUMB
    )


def _toolbar(view: MapView) -> html.Div:
    state, lang = view.state, view.state.lang

    def group(title: str, control: Component) -> html.Div:
        return html.Div([html.Span(title, className="gw-tool-title"), control], className="gw-tool")

    return html.Div(
        [
            group(
                t("layers", lang),
                dcc.Checklist(
                    id=ids.MAP_LAYERS,
                    options=[{"label": t(f"layer_{n}", lang), "value": n} for n in LAYER_NAMES],
                    value=list(state.layers),
                    inline=True,
                    className="gw-checks",
                ),
            ),
            group(
                t("metric", lang),
                _segments(ids.MAP_METRIC, "metric", METRIC, state.metric, lang),
            ),
            group(
                t("window", lang),
                _segments(ids.MAP_WINDOW, "window", WINDOW, state.window, lang),
            ),
            html.Span(_as_of(view), className="gw-asof"),
        ],
        className="gw-toolbar",
    )


def _body(view: MapView) -> html.Div:
    lang = view.state.lang
    map_children: list[Component] = []
    if view.message:
        map_children.append(
            html.Div(
                [
                    html.Span(view.message),
                    dcc.Link(t("back_to_default", lang), href=href(view.state, area_code=None)),
                ],
                id=ids.MAP_MESSAGE,
                className="gw-alert",
                role="alert",
            )
        )
    map_children.append(
        dcc.Graph(
            id=ids.MAP_GRAPH,
            figure=view.figure,
            config=GRAPH_CONFIG,
            responsive=True,
            className="gw-map",
            style={"height": "100%", "width": "100%"},
        )
    )
    map_children.append(case_drawer(lang))
    return html.Div(
        [html.Div(map_children, className="gw-map-wrap"), _panel(view)],
        className="gw-main",
    )


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _kpi(
    title: str, value: str, tone: str = "", note: str = "", value_id: str | None = None
) -> html.Div:
    value_props = {"id": value_id} if value_id else {}
    return html.Div(
        [
            html.Div(title, className="gw-kpi-title"),
            html.Div(value, className="gw-kpi-value", **value_props),
            html.Div(note, className="gw-kpi-note") if note else None,
        ],
        className=f"gw-kpi {tone}".strip(),
    )


def _panel(view: MapView) -> html.Aside:
    lang, panel = view.state.lang, view.panel
    if not panel:
        return html.Aside(
            html.Div(t("no_data", lang), className="gw-card gw-muted"),
            id=ids.MAP_PANEL,
            className="gw-panel",
        )
    area = panel["area"]
    meta = [
        f"{t('population', lang)} {area['population']:,}" if area["population"] else None,
        f"{t('area_km2', lang)} {area['area_km2']:,} km²",
        f"{t('children', lang)} {area['children']} {area['child_level_name'] or ''}".strip()
        if area["children"]
        else None,
    ]
    cards: list[Component] = [
        _ticker_card(view),
        html.Div(
            [
                html.Span(area["level_name"], className="gw-badge"),
                html.H2(area["name"], className="gw-area-name"),
                html.Div(" · ".join(m for m in meta if m), className="gw-area-meta"),
            ],
            className="gw-card gw-area-card",
        ),
        html.Div(
            [
                _kpi(
                    t("open", lang), f"{panel['open']:,}", "gw-kpi-main", value_id=ids.MAP_KPI_OPEN
                ),
                _kpi(
                    t("overdue", lang),
                    f"{panel['overdue']:,}",
                    "gw-kpi-alert",
                    value_id=ids.MAP_KPI_OVERDUE,
                ),
                _kpi(
                    t("new_today", lang), f"{panel['new_today']:,}", value_id=ids.MAP_KPI_NEW_TODAY
                ),
                _kpi(
                    t("closure_rate", lang),
                    _percent(panel["closure_rate"]),
                    note=t("last_30_days", lang),
                ),
                _kpi(
                    t("on_time_rate", lang),
                    _percent(panel["on_time_rate"]),
                    note=t("last_30_days", lang),
                ),
            ],
            className="gw-kpis",
        ),
        _bars_card(
            t("top_categories", lang),
            [
                (c["name_en"] if lang == "en" else c["name_zh"], c["count"], None)
                for c in panel["top_categories"]
            ],
            lang,
        ),
    ]
    if panel["ranking"]:
        cards.append(
            _bars_card(
                f"{t('ranking', lang)} · {panel['metric_name']}",
                [
                    (r["name"], r["value"], href(view.state, area_code=r["code"]))
                    for r in panel["ranking"]
                ],
                lang,
            )
        )
    if panel["notes"]:
        cards.append(
            html.Div(
                [html.H3(t("notes", lang))] + [html.P(n) for n in panel["notes"]],
                className="gw-card gw-notes",
            )
        )
    return html.Aside(cards, id=ids.MAP_PANEL, className="gw-panel")


def _bars_card(title: str, rows: list[tuple[str, Any, str | None]], lang: str) -> html.Div:
    numbers = [float(v) for _, v, _ in rows if v is not None]
    top = max(numbers, default=0) or 1
    items: list[Component] = []
    for name, value, link in rows:
        share = 0 if value is None else float(value) / top
        shown = (
            "—"
            if value is None
            else (f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
        )
        name_part = dcc.Link(name, href=link) if link else html.Span(name)
        items.append(
            html.Li(
                [
                    html.Div(
                        [name_part, html.Span(shown, className="gw-bar-value")],
                        className="gw-bar-label",
                    ),
                    html.Div(
                        html.Div(className="gw-bar-fill", style={"width": f"{share * 100:.0f}%"}),
                        className="gw-bar",
                    ),
                ]
            )
        )
    body: Component = (
        html.Ol(items, className="gw-bars")
        if items
        else html.P(t("no_data", lang), className="gw-muted")
    )
    return html.Div([html.H3(title), body], className="gw-card")
