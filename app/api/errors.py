"""JSON error answers: every refusal names the field and the reason."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import ValidationError


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``[{"field": "lon", "reason": "..."}]`` (no input echoed)."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        out.append({"field": field, "reason": reason})
    return out


def error(status: int, code: str, message: str, **extra: object) -> tuple[Response, int]:
    return jsonify(error=code, message=message, **extra), status
