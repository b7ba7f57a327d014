"""Route the URL to a page layout."""

from __future__ import annotations

from urllib.parse import parse_qsl

from dash import Dash, Input, Output, html
from dash.development.base_component import Component

from app import ids
from app.auth import PAGE_ROLES, current_user
from app.context import AppContext
from app.i18n import t
from app.pages import DEFAULT_PATH, PAGES
from geo_data.users import UserInfo


def render_page(
    ctx: AppContext, pathname: str | None, search: str | None, user: UserInfo | None
) -> Component:
    """The layout for ``pathname`` (``/`` is the default page) as ``user`` may see it."""
    path = pathname if pathname and pathname != "/" else DEFAULT_PATH
    query = dict(parse_qsl((search or "").lstrip("?")))
    lang = "en" if query.get("lang") == "en" else "zh"
    page = PAGES.get(path)
    if page is None:
        return html.Div([html.H2("404"), html.P(f"No page at {path}")], className="not-found")
    if user is None or user.role not in PAGE_ROLES.get(path, ()):
        return html.Div([html.H2("403"), html.P(t("forbidden_page", lang))], className="not-found")
    return page(ctx, query, user)


def register(app: Dash, ctx: AppContext) -> None:
    app.callback(
        Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search")
    )(lambda pathname, search: render_page(ctx, pathname, search, current_user()))
