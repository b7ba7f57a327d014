"""The ingest API: every bad input class to its 4xx and reason; retries; batches."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from app import create_app
from app.settings import Settings
from tests.conftest import DEMO_END
from tests.support import grid_points


@pytest.fixture(scope="module")
def keys(new_api_key) -> dict[str, str]:
    return {"hotline": new_api_key("hotline"), "slow": new_api_key("wechat", 2)}


@pytest.fixture(scope="module")
def client(settings: Settings, demo_engine: Engine) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


@pytest.fixture(scope="module")
def spot(demo_engine: Engine) -> tuple[float, float]:
    return grid_points(demo_engine, limit=1, last_first=True)[0]


def _event(spot: tuple[float, float], **changes: object) -> dict:
    event = {
        "channel": "hotline",
        "external_id": f"API-{uuid.uuid4().hex[:16]}",
        "category": "0101",
        "severity": 3,
        "lon": spot[0],
        "lat": spot[1],
        "reported_at": (DEMO_END + timedelta(days=60)).isoformat(),
        "description": "路灯不亮",
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not ...}


def _post(client: FlaskClient, key: str, body: object, path: str = "/api/v1/events"):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", headers={"X-API-Key": key}
    )


BAD_EVENTS = [
    ({"lon": "east"}, "lon", "valid number"),
    ({"lon": float("nan")}, "lon", "finite"),
    ({"lon": 200.0}, "lon", "less than or equal to 180"),
    ({"lat": -91}, "lat", "greater than or equal to -90"),
    ({"lon": 116.40, "lat": 39.90}, "lon,lat", "outside the jurisdiction"),
    ({"category": "9999"}, "category", "unknown category"),
    ({"channel": "fax"}, "channel", "Input should be"),
    ({"severity": 5}, "severity", "less than or equal to 4"),
    ({"severity": "2"}, "severity", "valid integer"),
    ({"reported_at": "2026-01-01T10:00:00"}, "reported_at", "timezone"),
    ({"reported_at": "yesterday"}, "reported_at", "datetime"),
    ({"description": "x" * 2001}, "description", "at most 2000"),
    ({"external_id": ...}, "external_id", "Field required"),
    ({"external_id": "../../etc"}, "external_id", "pattern"),
    ({"reporter_phone": "call me"}, "reporter_phone", "pattern"),
    ({"media_url": "javascript:alert(1)"}, "media_url", "URL"),
    ({"priority": "high"}, "priority", "unknown field"),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_EVENTS)
def test_bad_event_is_refused_with_field_and_reason(
    client: FlaskClient,
    keys: dict,
    spot: tuple,
    demo_engine: Engine,
    change: dict,
    field: str,
    reason: str,
) -> None:
    event = _event(spot, **change)
    response = _post(client, keys["hotline"], event)
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert any(d["field"] == field and reason in d["reason"] for d in details), details
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM cases WHERE external_id = :e"),
            {"e": str(event.get("external_id"))},
        ).scalar()
    assert stored == 0


@pytest.mark.parametrize(
    ("headers", "data", "content_type", "status", "code"),
    [
        ({}, "{}", "application/json", 401, "missing_api_key"),
        ({"X-API-Key": "gw_nope"}, "{}", "application/json", 401, "invalid_api_key"),
        (
            None,
            "channel=hotline",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        (None, "{not json", "application/json", 400, "malformed_json"),
        (None, "[" * 5_000_000, "application/json", 413, "body_too_large"),
    ],
)
def test_malformed_requests_get_4xx(
    client: FlaskClient,
    keys: dict,
    headers: dict | None,
    data: str,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = client.post(
        "/api/v1/events",
        data=data,
        content_type=content_type,
        headers=headers if headers is not None else {"X-API-Key": keys["hotline"]},
    )
    assert response.status_code == status
    assert response.get_json()["error"] == code


def test_key_may_only_report_for_its_channel(client: FlaskClient, keys: dict, spot: tuple) -> None:
    response = _post(client, keys["hotline"], _event(spot, channel="wechat"))
    assert response.status_code == 403
    assert "only report for hotline" in response.get_json()["message"]


def test_created_once_then_200_with_the_same_case(
    client: FlaskClient, keys: dict, spot: tuple
) -> None:
    event = _event(spot)
    first = _post(client, keys["hotline"], event)
    again = _post(client, keys["hotline"], event)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.get_json()["case_id"] == again.get_json()["case_id"]


def test_batch_reports_bad_items_by_index_and_stores_the_good(
    client: FlaskClient, keys: dict, spot: tuple, demo_engine: Engine
) -> None:
    good = _event(spot, category="0104")
    events = [good, _event(spot, severity=9), _event(spot, lon=0.0, lat=0.0), good]
    response = _post(client, keys["hotline"], {"events": events}, "/api/v1/events/batch")
    assert response.status_code == 200
    body = response.get_json()
    statuses = [r["code"] for r in body["results"]]
    assert statuses == [201, 422, 422, 422]
    assert body["results"][1]["details"][0]["field"] == "severity"
    assert "outside the jurisdiction" in body["results"][2]["details"][0]["reason"]
    assert "repeated within this batch" in body["results"][3]["details"][0]["reason"]
    assert body["stored"] == 1


def test_atomic_batch_stores_nothing_if_any_item_is_bad(
    client: FlaskClient, keys: dict, spot: tuple, demo_engine: Engine
) -> None:
    events = [_event(spot, category="0111"), _event(spot, lon=0.0, lat=0.0)]
    response = _post(
        client, keys["hotline"], {"events": events, "atomic": True}, "/api/v1/events/batch"
    )
    assert response.status_code == 422
    assert [i["index"] for i in response.get_json()["items"]] == [1]
    with demo_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM cases WHERE external_id = :e"),
            {"e": events[0]["external_id"]},
        ).scalar()
    assert n == 0


def test_batch_over_1000_is_refused(client: FlaskClient, keys: dict, spot: tuple) -> None:
    response = _post(
        client, keys["hotline"], {"events": [_event(spot)] * 1001}, "/api/v1/events/batch"
    )
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "events"


def test_rate_limit_answers_429_with_retry_after(
    client: FlaskClient, keys: dict, spot: tuple
) -> None:
    statuses = [
        _post(client, keys["slow"], _event(spot, channel="wechat", category="E0101")).status_code
        for _ in range(3)
    ]
    assert statuses[:2] == [201, 201] or statuses[:2] == [201, 200]
    assert statuses[2] == 429


def test_openapi_document_describes_the_endpoints(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/v1/events",
        "/api/v1/events/batch",
        "/api/v1/categories",
        "/api/v1/auth/token",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/nearby",
        "/api/v1/cases/{case_id}/actions/{action}",
    }
    event = doc["components"]["schemas"]["Event"]
    assert event["additionalProperties"] is False
    assert {"channel", "external_id", "category", "severity", "lon", "lat", "reported_at"} <= set(
        event["required"]
    )
    responses = doc["paths"]["/api/v1/events"]["post"]["responses"]
    assert {"201", "200", "401", "422", "429", "503"} <= set(responses)
