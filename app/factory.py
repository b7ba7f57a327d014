"""``create_app``: settings, database, Dash server and its routes wired together."""

from __future__ import annotations

from pathlib import Path

from dash import Dash, html
from flask import jsonify
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app import ids
from app.runtime import engine_for
from app.settings import Settings
from geo_data.stats import load_stats

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Dash:
    """Build the app; ``engine`` defaults to the configured database."""
    settings = settings or Settings()
    engine = engine or engine_for(settings)
    dash_app = Dash(
        __name__,
        title="GridWatch 网格指挥中心",
        assets_folder=str(ASSETS),
        serve_locally=True,  # closed networks: no CDN
        update_title=None,
    )
    server = dash_app.server
    server.config["SECRET_KEY"] = settings.resolved_secret_key()
    server.extensions["gridwatch.engine"] = engine
    server.extensions["gridwatch.settings"] = settings

    @server.get("/healthz")
    def healthz() -> tuple[object, int]:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            return jsonify(database="down", error=type(exc).__name__), 503
        return jsonify(database="ok"), 200

    dash_app.layout = lambda: _overview(engine)
    return dash_app


def _overview(engine: Engine) -> html.Div:
    """The bare landing page until the map lands: what the store holds."""
    with engine.connect() as conn:
        figures = load_stats(conn)
    rows = [
        html.Tr([html.Td(level), html.Td(f"{n:,}")])
        for level, n in figures["areas_by_level"].items()
    ] + [html.Tr([html.Td(name), html.Td(f"{n:,}")]) for name, n in figures["tables"].items()]
    return html.Div(
        [
            html.H1("GridWatch 网格指挥中心"),
            html.Table(html.Tbody(rows), id=ids.STATS_TABLE),
        ]
    )
