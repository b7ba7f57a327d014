"""``/api/v1``: ingest of events (one or a batch) by channel systems with an API key."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from app.api.errors import error, field_errors
from app.api.openapi import openapi_document
from app.api.ratelimit import RateLimiter
from app.api.schemas import BatchIn, EventIn
from app.context import AppContext
from geo_data.actors import Actor, system_actor
from geo_data.api_keys import ApiKeyInfo, find_key
from geo_data.case_store import CaseReport, ReportOutcome, report_cases
from geo_data.catalogue import CHANNELS, load_categories

api = Blueprint("api", __name__, url_prefix="/api/v1")
limiter = RateLimiter()


def _ctx() -> AppContext:
    return current_app.extensions["gridwatch"]


def _report(event: EventIn) -> CaseReport:
    return CaseReport(
        channel=event.channel,
        external_id=event.external_id,
        category_code=event.category,
        severity=event.severity,
        lon=event.lon,
        lat=event.lat,
        reported_at=event.reported_at,
        description=event.description,
        reporter_name=event.reporter_name,
        reporter_phone=event.reporter_phone,
        media_url=str(event.media_url) if event.media_url else None,
    )


def _json_body() -> Any:
    if not request.is_json:
        return error(415, "unsupported_media_type", "send JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if body is None:
        return error(400, "malformed_json", "the body is not valid JSON")
    return body


KEY_CACHE_SECONDS = 10.0  # a disabled key stops working within this long
_key_cache: dict[str, tuple[float, ApiKeyInfo | None]] = {}
_system_ids: dict[int, int] = {}  # id(engine) -> the system user's id


def _lookup(key: str) -> tuple[ApiKeyInfo | None, int]:
    """The key's record (cached briefly: every POST needs it) and the system user's id."""
    engine = _ctx().engine
    now = time.monotonic()
    cached = _key_cache.get(key)
    if cached is not None and now - cached[0] < KEY_CACHE_SECONDS and id(engine) in _system_ids:
        return cached[1], _system_ids[id(engine)]
    with engine.connect() as conn:
        info = find_key(conn, key)
        _system_ids[id(engine)] = system_actor(conn).id
    if len(_key_cache) > 10_000:
        _key_cache.clear()  # bounded: guessed keys must not grow memory
    _key_cache[key] = (now, info)
    return info, _system_ids[id(engine)]


@api.before_request
def authenticate() -> tuple[Response, int] | None:
    if request.endpoint in {"api.categories", "api.openapi"}:
        return None
    key = request.headers.get("X-API-Key", "")
    if not key:
        return error(401, "missing_api_key", "send the channel's key in the X-API-Key header")
    info, system_id = _lookup(key)
    if info is None:
        return error(401, "invalid_api_key", "the API key is unknown or disabled")
    g.api_key = info
    g.actor = Actor(system_id, f"api:{info.name}", "admin")
    return None


def _rate_limited(cost: float) -> tuple[Response, int] | None:
    wait = limiter.take(g.api_key.id, g.api_key.rate_per_minute, cost)
    if wait > 0:
        response, status = error(
            429, "rate_limited", f"over {g.api_key.rate_per_minute} events a minute"
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response, status
    return None


def _wrong_channel(event: EventIn) -> dict[str, str] | None:
    if event.channel != g.api_key.channel:
        return {"field": "channel", "reason": f"this key may only report for {g.api_key.channel}"}
    return None


def _answer(outcome: ReportOutcome) -> tuple[int, dict[str, Any]]:
    if outcome.error:
        return 422, {
            "error": "validation_failed",
            "details": [{"field": "lon,lat", "reason": outcome.error}],
        }
    body = {"case_id": outcome.case_id, "status": outcome.status}
    if outcome.duplicate_of:
        body["duplicate_of"] = outcome.duplicate_of
    return (201 if outcome.created else 200), body


class _RefusedError(Exception):
    """Roll back an atomic batch whose reports the store refused."""

    def __init__(self, outcomes: list[ReportOutcome]) -> None:
        self.outcomes = outcomes


def _store(
    reports: list[CaseReport], atomic: bool = False
) -> list[ReportOutcome] | tuple[Response, int]:
    try:
        with _ctx().engine.begin() as conn:
            outcomes = report_cases(conn, reports, g.actor)
            if atomic and any(o.error for o in outcomes):
                raise _RefusedError(outcomes)
            return outcomes
    except _RefusedError as refused:
        return refused.outcomes
    except OperationalError:
        response, status = error(503, "database_unavailable", "the case store is unreachable")
        response.headers["Retry-After"] = "5"
        return response, status


@api.post("/events")
def post_event() -> tuple[Response, int]:
    """Store one event; 201 with the case id once committed, 200 if already stored."""
    body = _json_body()
    if isinstance(body, tuple):
        return body
    try:
        event = EventIn.model_validate(body)
    except ValidationError as exc:
        return error(422, "validation_failed", "the event is invalid", details=field_errors(exc))
    if problem := _wrong_channel(event):
        return error(403, "wrong_channel", problem["reason"], details=[problem])
    if limited := _rate_limited(1):
        return limited
    outcomes = _store([_report(event)])
    if isinstance(outcomes, tuple):
        return outcomes
    status, answer = _answer(outcomes[0])
    return jsonify(answer), status


@api.post("/events/batch")
def post_batch() -> tuple[Response, int]:
    """Up to 1,000 events; bad ones reported by index, good ones stored (unless atomic).

    Each result carries ``code``: 201 stored, 200 already stored, 422 refused.
    """
    body = _json_body()
    if isinstance(body, tuple):
        return body
    try:
        batch = BatchIn.model_validate(body)
    except ValidationError as exc:
        return error(422, "validation_failed", "the batch is invalid", details=field_errors(exc))
    valid: list[tuple[int, EventIn]] = []
    results: list[dict[str, Any] | None] = [None] * len(batch.events)
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(batch.events):
        try:
            event = EventIn.model_validate(item)
        except ValidationError as exc:
            results[index] = {"index": index, "code": 422, "details": field_errors(exc)}
            continue
        problem = _wrong_channel(event)
        if problem is None and (event.channel, event.external_id) in seen:
            problem = {"field": "external_id", "reason": "repeated within this batch"}
        if problem:
            results[index] = {"index": index, "code": 422, "details": [problem]}
            continue
        seen.add((event.channel, event.external_id))
        valid.append((index, event))
    bad = [r for r in results if r is not None]
    if batch.atomic and bad:
        return error(422, "validation_failed", "nothing stored: some events are invalid", items=bad)
    if limited := _rate_limited(len(valid)):
        return limited
    outcomes = _store([_report(e) for _, e in valid], batch.atomic) if valid else []
    if isinstance(outcomes, tuple):
        return outcomes
    for (index, _), outcome in zip(valid, outcomes, strict=True):
        code, answer = _answer(outcome)
        results[index] = {"index": index, "code": code, **answer}
    if batch.atomic and any(o.error for o in outcomes):
        refused = [r for r in results if r and r["code"] == 422]
        return error(
            422, "validation_failed", "nothing stored: some events are refused", items=refused
        )
    stored = sum(1 for r in results if r and r["code"] == 201)
    return jsonify(stored=stored, results=results), 200


@api.get("/categories")
def categories() -> tuple[Response, int]:
    """The category catalogue and the channels (no key needed)."""
    return jsonify(
        categories=[
            {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en, "kind": c.kind}
            for c in load_categories()
        ],
        channels=[{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en} for c in CHANNELS],
    ), 200


@api.get("/openapi.json")
def openapi() -> tuple[Response, int]:
    """This API described as OpenAPI 3.1."""
    return jsonify(openapi_document()), 200


@api.errorhandler(413)
def too_large(_exc: Exception) -> tuple[Response, int]:
    return error(413, "body_too_large", "the body exceeds the size limit")


@api.errorhandler(DBAPIError)
def database_error(_exc: DBAPIError) -> tuple[Response, int]:
    response, status = error(503, "database_unavailable", "the case store is unreachable")
    response.headers["Retry-After"] = "5"
    return response, status
