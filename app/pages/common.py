"""Parts every page shares: who is signed in, and the way out."""

from __future__ import annotations

from dash import html

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
