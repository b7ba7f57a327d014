"""``create_app``: settings, database, Dash server and its routes wired together."""

from __future__ import annotations

from html import escape
from pathlib import Path

from dash import Dash, dcc, html
from sqlalchemy import Engine

from app import auth, edge, health, ids, security, tiles
from app.api.cases import cases_api
from app.api.events import api
from app.api.open311 import open311
from app.context import AppContext
from app.exports import exports, refuse_other_paths
from app.glyphs import install as install_glyphs
from app.realtime import attach_socketio
from app.runtime import engine_for
from app.settings import Settings
from app.style import install as install_style
from callbacks import dispatch as dispatch_callbacks
from callbacks import live as live_callbacks
from callbacks import map as map_callbacks
from callbacks import ops as ops_callbacks
from callbacks import router
from callbacks import summary as summary_callbacks
from callbacks import wall as wall_callbacks
from etl.glyphs import glyph_dir
from geo_data import localtime

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of 1,000 events is about 1 MB
CALLBACK_MODULES = (
    router,
    map_callbacks,
    live_callbacks,
    dispatch_callbacks,
    ops_callbacks,
    wall_callbacks,
    summary_callbacks,
)


def with_timezone(index: str, zone: str) -> str:
    """Dash's page shell ``index`` carrying the display zone, ``<html data-timezone="…">``,
    for ``assets/timefmt.js``: the browser shows times in it, never in its own zone."""
    if index.count("<html>") != 1:
        raise RuntimeError("Dash's index page changed: put data-timezone on its <html> again")
    return index.replace("<html>", f'<html data-timezone="{escape(zone, quote=True)}">')


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Dash:
    """Build the app; ``engine`` defaults to the configured database."""
    settings = settings or Settings()
    if settings.timezone != localtime.ZONE_NAME:
        # SQL day boundaries and every formatted time read the zone from the environment.
        raise ValueError(
            f"settings.timezone is {settings.timezone!r} but {localtime.ENV_VAR} gives "
            f"{localtime.ZONE_NAME!r}: set the zone through {localtime.ENV_VAR}"
        )
    engine = engine or engine_for(settings)
    ctx = AppContext(settings=settings, engine=engine)
    dash_app = Dash(
        __name__,
        title="GridWatch 网格指挥中心",
        assets_folder=str(ASSETS),
        serve_locally=True,  # closed networks: no CDN
        update_title=None,
        suppress_callback_exceptions=True,  # pages add their components after load
    )
    dash_app.index_string = with_timezone(dash_app.index_string, localtime.ZONE_NAME)
    server = dash_app.server
    server.config["SECRET_KEY"] = settings.resolved_secret_key()
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    server.register_blueprint(api)
    server.register_blueprint(open311)
    server.register_blueprint(cases_api)
    server.register_blueprint(exports)
    install_glyphs(server, glyph_dir(settings.state_dir))
    install_style(server, settings.basemap_url)
    server.extensions["gridwatch"] = ctx
    health.install(server)  # first: its clock times the whole request
    auth.install(server)
    server.before_request(refuse_other_paths)  # after the session check
    # The Socket.IO server is also kept in server.extensions.
    _sio, listener = attach_socketio(server, engine, settings.session_hours)
    server.extensions["gridwatch.listener"] = listener
    tiles.install(server, listener)  # vector tiles; the listener drops superseded live ones

    dash_app.layout = html.Div(
        [dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)], className="app-shell"
    )
    for module in CALLBACK_MODULES:
        module.register(dash_app, ctx)
    edge.install(dash_app)  # malformed requests Flask and Dash would answer with a 500
    security.install(dash_app, settings)  # last: its CSP hashes the inline scripts
    return dash_app
