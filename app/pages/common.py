"""Parts every page shares: who is signed in, and the way out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from app import ids
from app.auth import PAGE_ROLES
from app.i18n import t
from geo_data.users import UserInfo
from geo_data.views import AreaRef
from layers.labels import LEVEL, ROLE, label


def user_menu(user: UserInfo, lang: str) -> html.Div:
    """The signed-in user, their role and area, and a sign-out button (a same-origin POST)."""
    area = user.area_name_en if lang == "en" else user.area_name_zh
    role = label(ROLE, user.role, lang)
    return html.Div(
        [
            html.Span(user.display_name, className="gw-user-name"),
            html.Span(f"{role} · {area}" if area else role, className="gw-user-role"),
            html.Form(
                html.Button(t("sign_out", lang), type="submit", className="gw-signout"),
                action="/logout",
                method="POST",
                id=ids.SIGN_OUT,
            ),
        ],
        className="gw-user",
    )


def case_drawer(lang: str) -> html.Aside:
    """The case panel's frame over a map; ``callbacks.dispatch`` fills and opens it."""
    return html.Aside(
        [
            dcc.Store(id=ids.CASE_SELECTED, data=None),
            html.Button("×", id=ids.CASE_CLOSE, className="gw-case-x", title=t("close", lang)),
            html.Div(id=ids.CASE_BODY, className="gw-case-body"),
        ],
        id=ids.CASE_PANEL,
        className="gw-case-panel",
    )


NAV = (
    ("/map", ("指挥地图", "Map")),
    ("/ops", ("案件工作台", "Cases")),
    ("/summary", ("运行总览", "Summary")),
    ("/wall", ("大屏", "Wall")),
)


def page_nav(user: UserInfo, lang: str, current: str, area_code: str | None = None) -> html.Nav:
    """Links to the pages this user's role may open, keeping the area and language."""
    items: list = []
    query = urlencode({k: v for k, v in (("area", area_code), ("lang", lang)) if v and v != "zh"})
    for path, (zh, en) in NAV:
        if user.role not in PAGE_ROLES.get(path, ()):
            continue
        name = en if lang == "en" else zh
        if path == current:
            items.append(html.Span(name, className="gw-sum-nav-item gw-sum-nav-current"))
        else:
            href = f"{path}?{query}" if query else path
            items.append(dcc.Link(name, href=href, className="gw-sum-nav-item"))
    return html.Nav(items, className="gw-sum-nav")


def breadcrumb(
    chain: Sequence[AreaRef], lang: str, href_of: Callable[[str], str], **nav: Any
) -> html.Nav:
    """Level and name of each area from the top down; every one but the last links to
    ``href_of(code)`` (the map and the summary each keep their own query)."""
    items: list = []
    for i, ref in enumerate(chain):
        if i:
            items.append(html.Span("›", className="gw-crumb-sep"))
        content = [
            html.Span(label(LEVEL, ref.level, lang), className="gw-crumb-level"),
            html.Span(ref.name(lang), className="gw-crumb-name", title=ref.name(lang)),
        ]
        if i == len(chain) - 1:
            items.append(
                html.Span(content, className=f"gw-crumb gw-crumb-{ref.level} gw-crumb-current")
            )
        else:
            items.append(
                dcc.Link(
                    content, href=href_of(ref.code), className=f"gw-crumb gw-crumb-{ref.level}"
                )
            )
    return html.Nav(items, className="gw-breadcrumb", **nav)
