"""Parts every page shares: who is signed in, and the way out."""

from __future__ import annotations

from dash import dcc, html

from app import ids
from app.i18n import t
from geo_data.users import UserInfo
from layers.labels import ROLE, label


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
