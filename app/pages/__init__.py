"""Pages by path. Each page is a function of the app context returning its layout."""

from __future__ import annotations

from collections.abc import Callable

from dash.development.base_component import Component

from app.context import AppContext
from app.pages import map as map_page
from app.pages import ops, overview, summary, wall
from geo_data.users import UserInfo

Page = Callable[[AppContext, dict[str, str], UserInfo], Component]

PAGES: dict[str, Page] = {
    "/map": map_page.layout,
    "/overview": overview.layout,
    "/ops": ops.layout,
    "/wall": wall.layout,
    "/summary": summary.layout,
}
DEFAULT_PATH = "/map"
