"""The basemap style over HTTP: ``GET /basemap/style.json?lang=zh|en&theme=light|wall``.

A figure names its style by this path (``layers.basemap.map_style``); MapLibre loads it
from the page and fetches the tiles it lists from web workers, which cannot resolve a
URL without a host. Only the request knows the origin the browser reached us at (the
same ``host_url`` the origin check in ``app.auth`` trusts), so the style is made here,
every URL absolute on it. Unknown parameters are a JSON 400 naming the field; the
request check in ``app.auth`` has already demanded a session.
"""

from __future__ import annotations

import math

from flask import Blueprint, Flask, Response, current_app, request

from app.api.errors import error
from layers.basemap import LANGS, SCALES, THEMES, basemap_kind, basemap_style

MAX_AGE_SECONDS = 300

style = Blueprint("style", __name__, url_prefix="/basemap")


def _bad(field: str, reason: str) -> tuple[Response, int]:
    return error(400, "bad_request", f"{field}: {reason}", field=field, reason=reason)


@style.get("/style.json")
def style_json() -> Response | tuple[Response, int]:
    lang = request.args.get("lang", "zh")
    theme = request.args.get("theme", "light")
    if lang not in LANGS:
        return _bad("lang", f"one of {', '.join(LANGS)}")
    if theme not in THEMES:
        return _bad("theme", f"one of {', '.join(THEMES)}")
    try:
        scale = float(request.args.get("scale", "1"))
    except ValueError:
        scale = math.nan
    if not SCALES[0] <= scale <= SCALES[1]:
        return _bad("scale", f"a number from {SCALES[0]:g} to {SCALES[1]:g}")
    basemap_url = current_app.extensions["gridwatch.style"]
    tilejson = basemap_url if basemap_kind(basemap_url) == "tilejson" else None
    document = basemap_style(
        request.host_url, lang=lang, theme=theme, scale=round(scale, 2), tilejson=tilejson
    )
    response = current_app.json.response(document)
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE_SECONDS}"
    return response


def install(server: Flask, basemap_url: str | None) -> None:
    """Serve the style of this server's basemap (or of ``basemap_url``'s TileJSON)."""
    server.extensions["gridwatch.style"] = basemap_url
    server.register_blueprint(style)
