"""``/api/v1/cases``: read a case and act on it, for handheld terminals and other systems.

The same store function as the screen's buttons (:func:`geo_data.workflow.act`) does
every check, so both answer alike: 403 for a role that may not act, 404 for a case that
does not exist or lies outside the user's area (no difference is revealed), 409 for a
stale version (with the current one), 422 for an illegal transition (with the allowed
actions) or a missing input (with the field).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from app.api.errors import error, field_errors
from app.api.schemas import NoNul
from app.auth import current_user
from app.privacy import mask_name, mask_phone, may_see_personal
from geo_data import dispatch
from geo_data.models import CHANNELS
from geo_data.users import UserInfo
from geo_data.workflow import TRANSITIONS, WorkflowError, act, allowed_actions

cases_api = Blueprint("cases_api", __name__, url_prefix="/api/v1")

STATUS_OF = {
    "unknown_action": 404,
    "not_found": 404,
    "forbidden": 403,
    "illegal_transition": 422,
    "missing_input": 422,
    "conflict": 409,
}


class ActionIn(BaseModel):
    """An action on a case, made against the version the user saw."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: Annotated[int, Field(ge=1, strict=True)]
    note: Annotated[str, Field(max_length=2000), NoNul] = ""
    worker_id: Annotated[int | None, Field(ge=1, strict=True)] = None
    duplicate_of: Annotated[int | None, Field(ge=1, strict=True)] = None
    confirmed_by_resident: bool = False
    confirmation_channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]


def _engine():
    return current_app.extensions["gridwatch"].engine


def visible(detail: dispatch.CaseDetail | None, user: UserInfo) -> bool:
    """Whether ``user`` may see the case at all (supervisors: inside their area)."""
    if detail is None:
        return False
    if user.area_id is None:
        return True
    return user.area_id in (
        detail.district_id,
        detail.street_id,
        detail.community_id,
        detail.grid_id,
    )


def case_json(detail: dispatch.CaseDetail, user: UserInfo) -> dict[str, Any]:
    """The case as JSON, personal data masked unless the user may see it."""
    body = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(detail).items()}
    if not may_see_personal(user):
        body["reporter_phone"] = mask_phone(detail.reporter_phone)
        body["reporter_name"] = mask_name(detail.reporter_name)
        body["assignee_phone"] = mask_phone(detail.assignee_phone)
    body["allowed_actions"] = allowed_actions(detail.status, user.role)
    return body


def _not_found(case_id: int) -> tuple[Response, int]:
    return error(404, "not_found", f"no case {case_id} in your area")


@cases_api.get("/cases/<int:case_id>")
def get_case(case_id: int) -> tuple[Response, int]:
    user = current_user()
    assert user is not None  # the request check let only signed-in users through
    with _engine().connect() as conn:
        detail = dispatch.case_detail(conn, case_id)
        if not visible(detail, user):
            return _not_found(case_id)
        events = dispatch.timeline(conn, case_id)
        merged = dispatch.merged_reports(conn, case_id)
    body = case_json(detail, user)
    body["timeline"] = [_plain(asdict(e)) for e in events]
    body["merged_reports"] = [_plain(asdict(m)) for m in merged]
    return jsonify(body), 200


@cases_api.get("/cases/<int:case_id>/nearby")
def get_nearby(case_id: int) -> tuple[Response, int]:
    """The nearest available workers (tiers 1-2) and cameras, by geodesic distance."""
    user = current_user()
    assert user is not None
    limit = request.args.get("limit", "5")
    if not limit.isdigit() or not 1 <= int(limit) <= 50:
        return error(400, "bad_limit", "limit must be an integer from 1 to 50")
    with _engine().connect() as conn:
        if not visible(dispatch.case_detail(conn, case_id), user):
            return _not_found(case_id)
        workers = dispatch.nearest_workers(conn, case_id, limit=int(limit))
        cameras = dispatch.nearest_cameras(conn, case_id, limit=int(limit))
    personal = may_see_personal(user)
    return jsonify(
        workers=[asdict(w) | ({} if personal else {"phone": mask_phone(w.phone)}) for w in workers],
        cameras=[asdict(c) for c in cameras],
    ), 200


@cases_api.post("/cases/<int:case_id>/actions/<action>")
def post_action(case_id: int, action: str) -> tuple[Response, int]:
    user = current_user()
    assert user is not None
    if action not in TRANSITIONS:
        return error(404, "unknown_action", f"unknown action; one of {', '.join(TRANSITIONS)}")
    if not request.is_json:
        return error(415, "unsupported_media_type", "send JSON (Content-Type: application/json)")
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        return error(400, "malformed_json", "the body must be a JSON object")
    try:
        body = ActionIn.model_validate(raw)
    except ValidationError as exc:
        return error(422, "validation_failed", "invalid action", details=field_errors(exc))
    try:
        with _engine().begin() as conn:
            if not visible(dispatch.case_detail(conn, case_id), user):
                return _not_found(case_id)
            result = act(
                conn,
                case_id,
                action,
                user.actor(),
                version=body.version,
                note=body.note,
                worker_id=body.worker_id,
                duplicate_of=body.duplicate_of,
                confirmed_by_resident=body.confirmed_by_resident,
                confirmation_channel=body.confirmation_channel,
            )
    except WorkflowError as exc:
        body = {"error": exc.code, "message": str(exc)} | _safe(exc.details)
        return jsonify(body), STATUS_OF.get(exc.code, 422)
    except OperationalError:
        response, status = error(503, "database_unavailable", "the case store is unreachable")
        response.headers["Retry-After"] = "5"
        return response, status
    return jsonify(asdict(result)), 200


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _safe(details: dict[str, Any]) -> dict[str, Any]:
    """Refusal details that help the caller (current version, allowed actions, field)."""
    return {k: v for k, v in details.items() if k in ("version", "status", "allowed", "field")}


@cases_api.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> tuple[Response, int]:
    """Anything else under /api/v1 (``/cases/abc``, ``/cases/-1/actions/x``...): a JSON
    404, or 405 on a known path, instead of the app's HTML page or Flask's HTML 405."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        if endpoint != request.endpoint:
            allowed.append(method)
    if allowed:
        response, status = error(405, "method_not_allowed", f"use {' or '.join(allowed)}")
        response.headers["Allow"] = ", ".join(allowed)
        return response, status
    return error(404, "not_found", "no such resource: see /api/v1/openapi.json")


@cases_api.app_errorhandler(404)
def no_route(exc: HTTPException) -> HTTPException | tuple[Response, int]:
    """A path no rule matches at all (``/api/v1/cases/%0A``): JSON under /api/v1, else as
    before."""
    if request.path.startswith(cases_api.url_prefix + "/"):
        return error(404, "not_found", "no such resource: see /api/v1/openapi.json")
    return exc
