"""Open311 GeoReport v2 at ``/open311/v2``: services are categories, requests are cases.

Follows http://wiki.open311.org/GeoReport_v2 in its JSON format only (``.json``; other
formats are refused with an Open311 error, in XML for ``.xml`` so XML clients can read
it). Reads need no key; creating a request needs a channel's API key in the ``api_key``
form field and goes through the case store like the JSON ingest API. Responses never
carry the reporter's name, phone or email.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any
from xml.etree import ElementTree

from flask import Blueprint, Response, current_app, request, url_for
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from app.api.events import limiter
from app.api.schemas import NoNul
from app.context import AppContext
from geo_data.actors import Actor, system_actor
from geo_data.api_keys import ApiKeyInfo, find_key
from geo_data.case_store import CaseReport, UnknownCategoryError, report_cases
from geo_data.catalogue import Category, load_categories
from geo_data.open311_queries import (
    MAX_REQUESTS,
    OPEN311_STATUSES,
    PublicCase,
    cases_by_id,
    cases_in_window,
    request_window,
)

JURISDICTION_ID = "chenghua.gridwatch"  # the only jurisdiction served (to move to settings)
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
EXTERNAL_ID_PREFIX = "o311-"

open311 = Blueprint("open311", __name__, url_prefix="/open311/v2")

_CASE_ID = re.compile(r"[0-9]{1,18}")  # fits a BIGINT
_W3C_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_KIND_ZH = {"component": "部件", "event": "事件"}
_STATUS_NOTES = {
    "reported": ("已上报，待受理", "Reported, awaiting acceptance."),
    "accepted": ("已受理", "Accepted."),
    "dispatched": ("已派遣处置", "Dispatched for handling."),
    "in_progress": ("处置中", "Being handled."),
    "handled": ("已处置，待核查", "Handled, awaiting verification."),
    "verified": ("已核查，待结案", "Handling verified, awaiting closure."),
    "closed": ("已结案", "Resolved and closed."),
    "rejected": ("不予立案", "Rejected: not a case for city management."),
    "escalated": ("已提级处置", "Escalated to a higher level."),
    "reopened": ("已重新办理", "Reopened."),
}


class Open311Error(Exception):
    """A refusal, answered as the spec's error list with ``status`` as the HTTP code."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = descriptions


class RateLimitedError(Open311Error):
    """Too many requests for one key: a 429 with Retry-After."""

    def __init__(self, wait: float, rate: int) -> None:
        super().__init__(429, f"over {rate} requests a minute for this api_key: retry later")
        self.wait = wait


class RequestForm(BaseModel):
    """The form fields of POST requests that GridWatch keeps (others are ignored)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    long: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    description: Annotated[str, Field(max_length=4000), NoNul] = ""
    first_name: Annotated[str | None, Field(max_length=31), NoNul] = None
    last_name: Annotated[str | None, Field(max_length=32), NoNul] = None
    phone: Annotated[str | None, Field(max_length=20, pattern=r"^\+?[0-9][0-9 \-]{4,19}$")] = None
    media_url: Annotated[HttpUrl | None, Field(max_length=2000)] = None

    def reporter_name(self) -> str | None:
        """The reporter's name as stored: family name first when written in Chinese."""
        first, last = self.first_name or "", self.last_name or ""
        if not (first or last):
            return None
        if (first + last).isascii():
            return f"{first} {last}".strip()
        return last + first


def utc_now() -> datetime:
    """The current time (module-level so tests can pin the default 90-day window)."""
    return datetime.now(UTC)


def _ctx() -> AppContext:
    return current_app.extensions["gridwatch"]


def _chinese() -> bool:
    return _ctx().settings.language.startswith("zh")


# -- request parsing ----------------------------------------------------------------------


def _arg(name: str) -> str | None:
    """A parameter's first non-empty value; empty counts as absent (spec: Optional Arguments)."""
    for value in request.values.getlist(name):
        if value.strip():
            return value.strip()
    return None


def _list_arg(name: str) -> list[str]:
    """A parameter declared any number of times, each comma delimited."""
    values = request.values.getlist(name)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _check_format(fmt: str) -> None:
    if fmt != "json":
        raise Open311Error(400, "only the JSON format is supported: use .json")


def _check_jurisdiction() -> None:
    given = {v.strip() for v in request.values.getlist("jurisdiction_id")} - {""}
    if given - {JURISDICTION_ID}:
        raise Open311Error(
            404, f"jurisdiction_id not found: this endpoint serves only {JURISDICTION_ID}"
        )


def _prelude(fmt: str) -> None:
    _check_format(fmt)
    _check_jurisdiction()


def _w3c_datetime(name: str) -> datetime | None:
    """A W3C (ISO 8601 subset) datetime parameter; the spec requires a timezone."""
    value = _arg(name)
    if value is None:
        return None
    value = re.sub(r" ([0-9]{2}:[0-9]{2})$", r"+\1", value)  # an unescaped "+" reads as " "
    problem = f"{name} must be a W3C datetime with a timezone, e.g. 2010-01-01T00:00:00Z"
    if not _W3C_DATETIME.fullmatch(value):
        raise Open311Error(400, problem)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, problem) from None
    try:
        return moment.astimezone(UTC)  # PostgreSQL refuses offsets beyond 15:59
    except OverflowError:
        raise Open311Error(400, f"{name} is out of range") from None


def _categories() -> dict[str, Category]:
    return {c.code: c for c in load_categories()}


# -- representations ----------------------------------------------------------------------


def _w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _service(cat: Category, zh: bool) -> dict[str, Any]:
    if zh:
        name, group, other = cat.name_zh, cat.class_zh, (cat.name_en, cat.class_en)
        description = f"{cat.name_zh}（{cat.class_zh}类{_KIND_ZH[cat.kind]}）"
    else:
        name, group, other = cat.name_en, cat.class_en, (cat.name_zh, cat.class_zh)
        description = f"{cat.name_en} ({cat.class_en}, {cat.kind})"
    return {
        "service_code": cat.code,
        "service_name": name,
        "description": description,
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(other),
        "group": group,
    }


def _status_notes(case: PublicCase, zh: bool) -> str | None:
    if case.status == "merged":
        if case.duplicate_of_id is None:
            return "重复诉求" if zh else "Duplicate request."
        return (
            f"重复诉求，已并入 {case.duplicate_of_id} 号"
            if zh
            else f"Duplicate of service request {case.duplicate_of_id}."
        )
    notes = _STATUS_NOTES.get(case.status)
    return None if notes is None else notes[0 if zh else 1]


def _service_notice(case: PublicCase, zh: bool) -> str | None:
    if case.status == "merged" and case.duplicate_of_id is not None:
        return (
            f"该问题已有人上报，将随 {case.duplicate_of_id} 号诉求一并处置"
            if zh
            else f"Already reported: handled with service request {case.duplicate_of_id}."
        )
    if case.open311_status == "closed":
        return None
    hours = (case.due_at - case.reported_at).total_seconds() / 3600
    return (
        f"按时限在上报后 {hours:g} 小时内处置"
        if zh
        else f"To be handled within {hours:g} hours of the report."
    )


def _request(case: PublicCase, zh: bool) -> dict[str, Any]:
    """A case as the spec's service request (never the reporter's personal data)."""
    return {
        "service_request_id": str(case.id),
        "status": case.open311_status,
        "status_notes": _status_notes(case, zh),
        "service_name": case.service_name_zh if zh else case.service_name_en,
        "service_code": case.category_code,
        "description": case.description,
        "agency_responsible": case.agency_zh if zh else case.agency_en,
        "service_notice": _service_notice(case, zh),
        "requested_datetime": _w3c(case.reported_at),
        "updated_datetime": _w3c(case.updated_at),
        "expected_datetime": _w3c(case.due_at),
        "address": "",
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.media_url,
    }


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, content_type=JSON_TYPE)


def _errors(status: int, descriptions: Iterable[str]) -> Response:
    """The spec's error list, as XML when the client asked for XML."""
    items = [{"code": status, "description": d} for d in descriptions]
    if (request.view_args or {}).get("fmt") != "xml":
        return _json(items, status)
    root = ElementTree.Element("errors")
    for item in items:
        error = ElementTree.SubElement(root, "error")
        ElementTree.SubElement(error, "code").text = str(item["code"])
        ElementTree.SubElement(error, "description").text = str(item["description"])
    body = '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode"
    )
    return Response(body, status, content_type=XML_TYPE)


# -- services -----------------------------------------------------------------------------


@open311.get("/services.<fmt>")
def services(fmt: str) -> Response:
    """GET Service List: every category as a realtime service without metadata."""
    _prelude(fmt)
    zh = _chinese()
    return _json([_service(cat, zh) for cat in load_categories()])


@open311.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    """GET Service Definition: no category asks for attributes, so the list is empty."""
    _prelude(fmt)
    if code not in _categories():
        raise Open311Error(404, "service_code not found: see services.json")
    return _json({"service_code": code, "attributes": []})


# -- requests -----------------------------------------------------------------------------


@open311.get("/requests.<fmt>")
def list_requests(fmt: str) -> Response:
    """GET Service Requests: by id list, or filtered within the 90-day/1,000 window."""
    _prelude(fmt)
    zh = _chinese()
    wanted = _list_arg("service_request_id")
    with _ctx().engine.connect() as conn:
        if wanted:  # the spec: this overrides all other arguments
            if not all(_CASE_ID.fullmatch(i) for i in wanted):
                raise Open311Error(400, "service_request_id must be a comma-delimited list of ids")
            if len(wanted) > MAX_REQUESTS:
                raise Open311Error(400, f"at most {MAX_REQUESTS} service_request_id at once")
            cases = cases_by_id(conn, list(dict.fromkeys(int(i) for i in wanted)))
            return _json([_request(c, zh) for c in cases])
        problems = []
        codes = _list_arg("service_code")
        if set(codes) - set(_categories()):
            problems.append("service_code must be codes from services.json (comma delimited)")
        statuses = [s.lower() for s in _list_arg("status")]
        if set(statuses) - set(OPEN311_STATUSES):
            problems.append("status must be open or closed (comma delimited)")
        try:
            start, end = _w3c_datetime("start_date"), _w3c_datetime("end_date")
            window = request_window(start, end, utc_now())
        except Open311Error as exc:
            problems.extend(exc.descriptions)
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise Open311Error(400, *problems)
        cases = cases_in_window(conn, window, category_codes=codes, statuses=statuses)
    return _json([_request(c, zh) for c in cases])


@open311.get("/requests/<rid>.<fmt>")
def get_request(rid: str, fmt: str) -> Response:
    """GET Service Request: a list holding the one request."""
    _prelude(fmt)
    cases = []
    if _CASE_ID.fullmatch(rid):
        with _ctx().engine.connect() as conn:
            cases = cases_by_id(conn, [int(rid)])
    if not cases:
        raise Open311Error(404, "service_request_id not found")
    return _json([_request(cases[0], _chinese())])


def _location_problems() -> list[str]:
    lat, lon = _arg("lat"), _arg("long")
    if lat is not None and lon is not None:
        return []
    if lat is not None or lon is not None:
        return ["lat and long must both be sent"]
    if _arg("address_string") or _arg("address_id"):
        return ["address_string and address_id are not supported: send lat and long (WGS84)"]
    return ["a location is required: send lat and long (WGS84)"]


def _form() -> RequestForm:
    """The validated form, or a 400 listing every problem."""
    problems = _location_problems()
    fields = {name: _arg(name) for name in RequestForm.model_fields}
    try:
        return RequestForm.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            if err["type"] == "missing" and field in ("lat", "long"):
                continue  # said by _location_problems
            problems.append(f"{field}: {err['msg']}")
        raise Open311Error(400, *problems) from None


def _authenticate() -> tuple[Actor, ApiKeyInfo]:
    """The acting key from the ``api_key`` form field (403 without a valid one)."""
    key = (request.form.get("api_key") or "").strip()
    if not key:
        raise Open311Error(403, "api_key is required to create a service request")
    with _ctx().engine.connect() as conn:
        info = find_key(conn, key)
        if info is None:
            raise Open311Error(403, "invalid api_key: unknown or disabled")
        system = system_actor(conn)
    wait = limiter.take(info.id, info.rate_per_minute, 1)
    if wait > 0:
        raise RateLimitedError(wait, info.rate_per_minute)
    return Actor(system.id, f"open311:{info.name}", "admin"), info


@open311.post("/requests.<fmt>")
def create_request(fmt: str) -> Response:
    """POST Service Request (form-encoded): store the report as a case through the store."""
    _check_format(fmt)
    if request.mimetype not in FORM_TYPES:
        raise Open311Error(400, "send the request as application/x-www-form-urlencoded")
    _check_jurisdiction()
    actor, key = _authenticate()
    code = _arg("service_code")
    if code is None:
        raise Open311Error(400, "service_code is required: see services.json")
    category = _categories().get(code)
    if category is None:
        raise Open311Error(404, "service_code not found: see services.json")
    form = _form()
    report = CaseReport(
        channel=key.channel,
        external_id=EXTERNAL_ID_PREFIX + uuid.uuid4().hex,
        category_code=code,
        severity=category.default_severity,
        lon=form.long,
        lat=form.lat,
        reported_at=utc_now(),
        description=form.description,
        reporter_name=form.reporter_name(),
        reporter_phone=form.phone,
        media_url=str(form.media_url) if form.media_url else None,
    )
    try:
        with _ctx().engine.begin() as conn:
            outcome = report_cases(conn, [report], actor)[0]
            if outcome.error or outcome.case_id is None:
                raise Open311Error(400, "lat/long is outside the jurisdiction (in no grid)")
            case = cases_by_id(conn, [outcome.case_id])[0]
    except UnknownCategoryError:
        raise Open311Error(404, "service_code not found: see services.json") from None
    body = [
        {
            "service_request_id": str(case.id),
            "service_notice": _service_notice(case, _chinese()),
            "account_id": None,
        }
    ]
    response = _json(body, 201)
    response.headers["Location"] = url_for(".get_request", rid=case.id, fmt="json")
    return response


# -- errors -------------------------------------------------------------------------------


@open311.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    """Anything else under the prefix: 405 on a known resource, else 404 (never HTML)."""
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
        response = _errors(405, [f"use {' or '.join(allowed)} on this resource"])
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _errors(404, ["no such resource: see services.json and requests.json"])


@open311.errorhandler(Open311Error)
def refused(exc: Open311Error) -> Response:
    response = _errors(exc.status, exc.descriptions)
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(math.ceil(exc.wait))
    return response


@open311.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> Response:
    return _errors(413, ["the request body exceeds the size limit"])


@open311.errorhandler(DBAPIError)
def database_error(_exc: DBAPIError) -> Response:
    # The spec's "General Service Error" (e.g. the CRM is down) is a 400.
    return _errors(400, ["general service error: the case store failed, try again later"])
