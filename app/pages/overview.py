"""What the store holds: counts per table and per area level."""

from __future__ import annotations

from dash import html

from app import ids
from app.context import AppContext
from geo_data.stats import load_stats
from geo_data.users import UserInfo


def layout(ctx: AppContext, query: dict[str, str], user: UserInfo) -> html.Div:
    with ctx.engine.connect() as conn:
        figures = load_stats(conn)
    rows = [
        html.Tr([html.Td(level), html.Td(f"{n:,}")])
        for level, n in figures["areas_by_level"].items()
    ] + [html.Tr([html.Td(name), html.Td(f"{n:,}")]) for name, n in figures["tables"].items()]
    return html.Div(
        [html.H1("GridWatch 网格指挥中心"), html.Table(html.Tbody(rows), id=ids.STATS_TABLE)]
    )
