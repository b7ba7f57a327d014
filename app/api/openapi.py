"""The OpenAPI 3.1 document of the JSON API, built from the models that validate it."""

from __future__ import annotations

from typing import Any

from app.api.schemas import MAX_BATCH, BatchIn, EventIn
from geo_data.workflow import TRANSITIONS

ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
STORED = {
    "type": "object",
    "required": ["case_id", "status"],
    "properties": {
        "case_id": {"type": "integer"},
        "status": {"type": "string"},
        "duplicate_of": {"type": "integer"},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "malformed JSON", 401: "missing or unknown API key",
        403: "the key's channel differs from the event's", 413: "body too large",
        415: "not JSON", 422: "invalid event (field and reason given)",
        429: "rate limited (Retry-After)", 503: "database unavailable (Retry-After)",
    }  # fmt: skip
    return _error_answers(reasons, codes)


def _error_answers(reasons: dict[int, str], codes: tuple[int, ...]) -> dict[str, Any]:
    return {
        str(c): {"description": reasons[c]} | _json({"$ref": "#/components/schemas/Error"})
        for c in codes
    }


CASE_ERRORS = {
    400: "malformed JSON or bad parameter", 401: "not signed in (send a bearer token)",
    403: "your role may not act on cases", 404: "no such case in your area, or action",
    409: "conflict: the case changed since you saw it (current version and status given)",
    415: "not JSON", 422: "illegal transition (allowed actions given), missing input (field "
    "given) or invalid body", 429: "too many failed sign-ins: wait",
    503: "database unavailable (Retry-After)",
}  # fmt: skip


def _case_paths() -> dict[str, Any]:
    """The case endpoints for handheld terminals and other systems (bearer token)."""
    from app.api.cases import ActionIn

    case_id = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    action = {
        "name": "action",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(TRANSITIONS)},
    }
    bearer = [{"bearer": []}]
    return {
        "schemas": {"Action": ActionIn.model_json_schema()},
        "paths": {
            "/api/v1/auth/token": {
                "post": {
                    "summary": "Trade a user's name and password for a bearer token",
                    "operationId": "postToken",
                    "security": [],
                    "requestBody": {"required": True}
                    | _json(
                        {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                            },
                        }
                    ),
                    "responses": {"200": {"description": "token"} | _json({"type": "object"})}
                    | _error_answers(CASE_ERRORS, (400, 401, 429)),
                }
            },
            "/api/v1/cases/{case_id}": {
                "get": {
                    "summary": "A case with its timeline, merged reports and allowed actions",
                    "operationId": "getCase",
                    "security": bearer,
                    "parameters": [case_id],
                    "responses": {"200": {"description": "the case"} | _json({"type": "object"})}
                    | _error_answers(CASE_ERRORS, (401, 404)),
                }
            },
            "/api/v1/cases/{case_id}/nearby": {
                "get": {
                    "summary": "Nearest available workers and cameras (geodesic metres)",
                    "operationId": "getNearby",
                    "security": bearer,
                    "parameters": [
                        case_id,
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {"200": {"description": "ranked"} | _json({"type": "object"})}
                    | _error_answers(CASE_ERRORS, (400, 401, 404)),
                }
            },
            "/api/v1/cases/{case_id}/actions/{action}": {
                "post": {
                    "summary": "Act on a case at the version you saw",
                    "operationId": "postAction",
                    "security": bearer,
                    "parameters": [case_id, action],
                    "requestBody": {"required": True}
                    | _json({"$ref": "#/components/schemas/Action"}),
                    "responses": {
                        "200": {"description": "done: new status and version"}
                        | _json({"type": "object"})
                    }
                    | _error_answers(CASE_ERRORS, (400, 401, 403, 404, 409, 415, 422, 503)),
                }
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    cases = _case_paths()
    event = EventIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch["properties"]["events"]["items"] = {"$ref": "#/components/schemas/Event"}
    common = _errors(400, 401, 403, 413, 415, 422, 429, 503)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GridWatch API",
            "version": "1",
            "description": "Reports from channel systems become cases. Send the channel's key "
            "in X-API-Key. Repeating a (channel, external_id) is harmless.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {"Event": event, "Batch": batch, "Error": ERROR, "Stored": STORED}
            | cases["schemas"],
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/api/v1/events": {
                "post": {
                    "summary": "Report one event",
                    "operationId": "postEvent",
                    "requestBody": {"required": True}
                    | _json({"$ref": "#/components/schemas/Event"}),
                    "responses": {
                        "201": {"description": "stored as a new case"}
                        | _json({"$ref": "#/components/schemas/Stored"}),
                        "200": {"description": "already stored (same channel and external_id)"}
                        | _json({"$ref": "#/components/schemas/Stored"}),
                    }
                    | common,
                }
            },
            "/api/v1/events/batch": {
                "post": {
                    "summary": f"Report up to {MAX_BATCH} events",
                    "operationId": "postBatch",
                    "requestBody": {"required": True}
                    | _json({"$ref": "#/components/schemas/Batch"}),
                    "responses": {
                        "200": {"description": "per-item results with code 201/200/422"}
                        | _json({"type": "object"}),
                    }
                    | common,
                }
            },
            "/api/v1/categories": {
                "get": {
                    "summary": "The category catalogue and the channels",
                    "operationId": "getCategories",
                    "security": [],
                    "responses": {"200": {"description": "catalogue"} | _json({"type": "object"})},
                }
            },
        }
        | cases["paths"],
    }
