"""/healthz and /metrics on a real database (and on one that is not there)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from app import create_app
from app.settings import Settings
from geo_data.db import make_engine


def test_healthz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    nowhere = make_engine("postgresql+psycopg://nobody:nothing@127.0.0.1:9/none")
    client = create_app(settings, engine=nowhere).server.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"


def test_metrics_count_ingest_and_refusals(
    settings: Settings, demo_engine: Engine, new_api_key: Callable, bearer: Callable
) -> None:
    client = create_app(settings, engine=demo_engine).server.test_client()
    key = new_api_key("app")
    event = {
        "channel": "app",
        "external_id": f"M-{uuid.uuid4().hex}",
        "category": "E0101",
        "severity": 3,
        "lon": 104.1,
        "lat": 30.66,
        "reported_at": datetime.now(UTC).isoformat(),
    }
    assert client.post("/api/v1/events", json=event, headers={"X-API-Key": key}).status_code == 201
    refused = client.post("/api/v1/events", json={"x": 1}, headers={"X-API-Key": key})
    assert refused.status_code == 422
    client.get("/api/v1/cases/1")  # 401 unauthenticated
    text = client.get("/metrics").get_data(True)  # the test client comes from 127.0.0.1
    assert 'gridwatch_http_requests_total{group="ingest",status="201"} 1' in text
    assert 'gridwatch_http_requests_total{group="ingest",status="422"} 1' in text
    assert 'gridwatch_errors_total{kind="validation_failed"} 1' in text
    assert 'gridwatch_errors_total{kind="unauthenticated"} 1' in text
    assert 'gridwatch_ingest_seconds_bucket{le="+Inf"} 2' in text
    assert "gridwatch_ingest_seconds_count 2" in text
    assert "gridwatch_socket_clients 0" in text
    assert "gridwatch_ingest_accepted_total 1" in text


def test_metrics_are_for_this_host_or_admins(
    settings: Settings, demo_engine: Engine, bearer: Callable
) -> None:
    client = create_app(settings, engine=demo_engine).server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers=bearer("leader")).status_code == 403
    assert client.get("/metrics", headers=bearer("admin")).status_code == 200
