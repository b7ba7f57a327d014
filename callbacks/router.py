"""Route the URL to a page layout."""

from __future__ import annotations

from urllib.parse import parse_qsl

from dash import Dash, Input, Output, html
from dash.development.base_component import Component

from app import ids
from app.context import AppContext
from app.pages import DEFAULT_PATH, PAGES


def render_page(ctx: AppContext, pathname: str | None, search: str | None) -> Component:
    """The layout for ``pathname`` (``/`` is the default page), with the query string."""
    path = pathname if pathname and pathname != "/" else DEFAULT_PATH
    page = PAGES.get(path)
    if page is None:
        return html.Div([html.H2("404"), html.P(f"No page at {path}")], className="not-found")
    query = dict(parse_qsl((search or "").lstrip("?")))
    return page(ctx, query)


def register(app: Dash, ctx: AppContext) -> None:
    app.callback(
        Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search")
    )(lambda pathname, search: render_page(ctx, pathname, search))
