"""The OpenAPI 3.1 document of the JSON API, built from the models that validate it."""

from __future__ import annotations

from typing import Any

from app.api.schemas import MAX_BATCH, BatchIn, EventIn

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
    return {
        str(c): {"description": reasons[c]} | _json({"$ref": "#/components/schemas/Error"})
        for c in codes
    }


def openapi_document() -> dict[str, Any]:
    event = EventIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    batch["properties"]["events"]["items"] = {"$ref": "#/components/schemas/Event"}
    common = _errors(400, 401, 403, 413, 415, 422, 429, 503)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GridWatch ingest API",
            "version": "1",
            "description": "Reports from channel systems become cases. Send the channel's key "
            "in X-API-Key. Repeating a (channel, external_id) is harmless.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": {"Event": event, "Batch": batch, "Error": ERROR, "Stored": STORED},
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
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
        },
    }
