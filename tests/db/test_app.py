"""The app factory and router on a real database."""

from __future__ import annotations

from collections.abc import Callable

from dash import html
from sqlalchemy import Engine

from app import create_app, ids
from app.context import AppContext
from app.settings import Settings
from callbacks.router import render_page
from tests.support import OPERATOR


def test_healthz_reports_database_ok(settings: Settings, engine: Engine) -> None:
    client = create_app(settings, engine=engine).server.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["listener"] == "idle"  # no screen has connected yet


def test_index_serves_scripts_locally(
    settings: Settings, demo_engine: Engine, bearer: Callable[[str], dict]
) -> None:
    client = create_app(settings, engine=demo_engine).server.test_client()
    page = client.get("/", headers=bearer("leader")).get_data(True)
    assert "_dash-component-suites" in page
    assert "https://" not in page and "http://" not in page


def test_router_renders_overview_and_unknown_paths(settings: Settings, engine: Engine) -> None:
    ctx = AppContext(settings, engine)
    overview = render_page(ctx, "/overview", "", OPERATOR)
    tables = [c for c in overview.children if getattr(c, "id", None) == ids.STATS_TABLE]
    assert len(tables) == 1
    missing = render_page(ctx, "/nowhere", "", OPERATOR)
    assert isinstance(missing, html.Div)
    assert missing.className == "not-found"
