"""Vector tiles over HTTP: ``/tiles/<layer>/<z>/<x>/<y>.pbf`` and ``/tiles/<layer>.json``.

The request check in ``app.auth`` has already demanded a session (a map's tile requests
carry its cookie; anonymous ones get the same 401 or sign-in redirect as every data
route). Here the viewer's area and whether they may see personal data choose the
statement's parameters (``geo_data.tiles``), so a supervisor's tile holds only their
area, whatever tile is asked for.

Tiles are cached gzipped on disk (``app.tile_cache``) and answered with an ``ETag``
(``304`` on ``If-None-Match``), gzip when the client accepts it, and ``Cache-Control``:
``no-cache`` (revalidate every time) for the live layers, a few minutes for the others.
Bad addresses are a JSON 400 naming the field, unknown layers and paths a JSON 404;
a database that is down is the app's 503.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from typing import Any

import psycopg.errors
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import ProgrammingError

from app.api.errors import error
from app.auth import PAGE_ROLES, current_user
from app.privacy import may_see_personal
from app.realtime import FeedListener
from app.tile_cache import TileCache, TileKey
from geo_data.tiles import LAYERS, cut_tile, tile_bounds, tile_state

log = logging.getLogger(__name__)
TILE_ROLES = PAGE_ROLES["/map"]  # whoever may open the map may draw its tiles
MIME = "application/vnd.mapbox-vector-tile"
STATIC_MAX_AGE_SECONDS = 600
GZIP_LEVEL = 4  # 3-5 % larger than 6 on 100 KB tiles, about half the time
VARY = "Accept-Encoding, Cookie, Authorization"  # tiles differ by viewer
_DIGITS = re.compile(r"[0-9]{1,10}")

tiles = Blueprint("tiles", __name__, url_prefix="/tiles")


class TileService:
    """The cache and the database it last served, kept in ``server.extensions``."""

    def __init__(self, cache: TileCache) -> None:
        self.cache = cache
        self.database: str | None = None  # set by the first tile request

    def feed_pumped(self, upto: int) -> None:
        """The listener pumped a batch up to ``upto``: drop the live tiles it superseded."""
        if self.database is not None:
            self.cache.evict_live(self.database, list(LAYERS.values()), upto)


def _service() -> TileService:
    return current_app.extensions["gridwatch.tiles"]


def _layer_names() -> str:
    return ", ".join(LAYERS)


def _refused() -> tuple[Response, int] | None:
    user = current_user()
    if user is None:
        return error(401, "unauthenticated", "sign in first")
    if user.role not in TILE_ROLES:
        return error(403, "forbidden", "your role may not draw the map")
    return None


def _parse(z: str, x: str, y: str, layer: str) -> tuple[tuple[int, int, int] | None, Any]:
    """(z, x, y), or (None, the 400 answer naming the field and the reason)."""
    spec = LAYERS[layer]
    values: dict[str, int] = {}
    for name, raw in (("z", z), ("x", x), ("y", y)):
        if not _DIGITS.fullmatch(raw):
            return None, _bad(name, "must be a whole number of at most 10 digits")
        values[name] = int(raw)
    if not spec.has_zoom(values["z"]):
        reason = f"{layer} tiles exist for zoom {spec.minzoom} to {spec.maxzoom}"
        return None, _bad("z", reason)
    top = 2 ** values["z"] - 1
    for name in ("x", "y"):
        if values[name] > top:
            return None, _bad(name, f"must be 0 to {top} at zoom {values['z']}")
    return (values["z"], values["x"], values["y"]), None


def _bad(field: str, reason: str) -> tuple[Response, int]:
    return error(400, "bad_tile", f"{field} {reason}", details=[{"field": field, "reason": reason}])


def _unknown_layer(layer: str) -> tuple[Response, int]:
    return error(404, "unknown_layer", f"no tile layer {layer[:40]!r}; one of {_layer_names()}")


@tiles.get("/<layer>/<z>/<x>/<y>.pbf")
def tile(layer: str, z: str, x: str, y: str) -> Response | tuple[Response, int]:
    """One layer's tile for the signed-in viewer."""
    refused = _refused()
    if refused:
        return refused
    if layer not in LAYERS:
        return _unknown_layer(layer)
    address, problem = _parse(z, x, y, layer)
    if address is None:
        return problem
    user = current_user()
    assert user is not None
    spec = LAYERS[layer]
    service = _service()
    personal = may_see_personal(user)
    engine = current_app.extensions["gridwatch"].engine
    with engine.connect() as connection:
        # Two read-only statements: no BEGIN/ROLLBACK round trips around them.
        conn = connection.execution_options(isolation_level="AUTOCOMMIT")
        state = tile_state(conn)
        service.database = state.database
        key = TileKey(spec, *address, state=state, area_id=user.area_id, personal=personal)
        stored = service.cache.get(key)
        hit = stored is not None
        if stored is None:
            try:
                raw = cut_tile(conn, spec, *address, area_id=user.area_id, personal=personal)
            except ProgrammingError as exc:
                if isinstance(exc.orig, psycopg.errors.UndefinedTable):
                    return error(503, "layer_unavailable", f"{layer} is not loaded (migrate)")
                raise
            stored = gzip.compress(raw, GZIP_LEVEL, mtime=0) if raw else b""
            try:
                service.cache.put(key, stored)
            except OSError as exc:  # a full or read-only disk: serve the tile uncached
                log.warning("tile cache write failed (%s)", exc)
    return _answer(stored, live=spec.live, hit=hit)


def _answer(stored: bytes, *, live: bool, hit: bool) -> Response:
    """The tile (gzipped when accepted), or 304 when the client holds this version."""
    gzipped = bool(stored) and request.accept_encodings["gzip"] > 0
    digest = hashlib.blake2b(stored, digest_size=12).hexdigest()
    etag = digest if gzipped or not stored else f"{digest}-identity"
    headers = {
        "Cache-Control": "private, no-cache"
        if live
        else f"private, max-age={STATIC_MAX_AGE_SECONDS}",
        "Vary": VARY,
        "X-Tile-Cache": "hit" if hit else "miss",
    }
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    body = stored if gzipped else (gzip.decompress(stored) if stored else b"")
    response = Response(body, mimetype=MIME, headers=headers)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag)
    return response


@tiles.get("/<layer>.json")
def tilejson(layer: str) -> Response | tuple[Response, int]:
    """TileJSON 3.0.0 of one layer, as the signed-in viewer may draw it."""
    refused = _refused()
    if refused:
        return refused
    if layer not in LAYERS:
        return _unknown_layer(layer)
    user = current_user()
    assert user is not None
    spec = LAYERS[layer]
    engine = current_app.extensions["gridwatch"].engine
    with engine.connect() as conn:
        bounds, centre = tile_bounds(conn, user.area_id)
    fields = spec.tilejson_fields(may_see_personal(user))
    document = {
        "tilejson": "3.0.0",
        "name": f"GridWatch {layer}",
        "description": spec.description,
        "attribution": "GridWatch",
        "scheme": "xyz",
        "tiles": [f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": bounds,
        "center": [*centre, max(spec.minzoom, 12)],
        "vector_layers": [
            {
                "id": layer,
                "description": spec.description,
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
                "fields": fields,
            }
        ],
    }
    response = current_app.json.response(document)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = VARY
    return response


@tiles.route("/", defaults={"rest": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
@tiles.route("/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def other(rest: str) -> tuple[Response, int]:
    """Anything else under /tiles/ is a JSON refusal, not the app's page shell."""
    refused = _refused()
    if refused:
        return refused
    if request.method not in ("GET", "HEAD"):
        return error(405, "method_not_allowed", "tiles are read with GET")
    return error(
        404,
        "not_found",
        f"no such tile path; /tiles/<layer>/<z>/<x>/<y>.pbf or /tiles/<layer>.json,"
        f" layers: {_layer_names()}",
    )


def install(server: Flask, listener: FeedListener) -> TileService:
    """Register the routes, the cache under the state directory and the feed hook."""
    settings = server.extensions["gridwatch"].settings
    service = TileService(TileCache(settings.state_dir / "tiles"))
    server.extensions["gridwatch.tiles"] = service
    server.register_blueprint(tiles)
    listener.after_batch(service.feed_pumped)
    return service
