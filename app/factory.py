"""``create_app``: settings, database, Dash server and its routes wired together."""

from __future__ import annotations

from pathlib import Path

from dash import Dash, dcc, html
from flask import jsonify
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app import auth, ids
from app.api.cases import cases_api
from app.api.events import api
from app.api.open311 import open311
from app.context import AppContext
from app.realtime import attach_socketio
from app.runtime import engine_for
from app.settings import Settings
from callbacks import dispatch as dispatch_callbacks
from callbacks import live as live_callbacks
from callbacks import map as map_callbacks
from callbacks import router

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of 1,000 events is about 1 MB
CALLBACK_MODULES = (router, map_callbacks, live_callbacks, dispatch_callbacks)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Dash:
    """Build the app; ``engine`` defaults to the configured database."""
    settings = settings or Settings()
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
    server = dash_app.server
    server.config["SECRET_KEY"] = settings.resolved_secret_key()
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    server.register_blueprint(api)
    server.register_blueprint(open311)
    server.register_blueprint(cases_api)
    server.extensions["gridwatch"] = ctx
    auth.install(server)
    # The Socket.IO server is also kept in server.extensions.
    _sio, listener = attach_socketio(server, engine, settings.session_hours)
    server.extensions["gridwatch.listener"] = listener

    @server.get("/healthz")
    def healthz() -> tuple[object, int]:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            return jsonify(database="down", error=type(exc).__name__), 503
        return jsonify(database="ok"), 200

    dash_app.layout = html.Div(
        [dcc.Location(id=ids.URL, refresh=False), html.Div(id=ids.PAGE)], className="app-shell"
    )
    for module in CALLBACK_MODULES:
        module.register(dash_app, ctx)
    return dash_app
