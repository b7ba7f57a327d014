"""Refusals at the edge for malformed requests that Flask and Dash answered with a 500.

- JSON nested too deeply for the parser (100,000 ``[`` is well under the size limit):
  Python's parser raised RecursionError, which Werkzeug does not treat as bad JSON.
  Here it is a ValueError like any other parse failure, so routes reading with
  ``silent=True`` see no body (their own 400) and the others get a JSON 400.
- A Dash callback request that is JSON but not a callback (``{}``, an unknown output,
  inputs that are not a list): Dash raised KeyError. It is now a 400 with the reason.
- A ``/_dash-component-suites/`` path that names no registered file (``../`` included):
  Dash raised DependencyException. It is now a 404.
- A NUL character in the URL (``/export/rankings.csv?area=%00``) or in a callback (a page's
  URL ``?area=%00``, a note): PostgreSQL text cannot hold it, so every query naming it
  raised DataError. No area, category or note holds one; it is now a 400.
"""

from __future__ import annotations

from typing import Any

from dash import Dash
from dash.exceptions import DependencyException
from flask import Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

CALLBACK_PATH = "/_dash-update-component"
URL_PROPS = ("pathname", "search", "hash", "href")  # dcc.Location: still percent-encoded


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing (not crashing on) nesting the parser cannot recurse through."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def _refuse(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def malformed_json(exc: BadRequest) -> BadRequest | tuple[Response, int]:
    """A 400 for a JSON request as JSON with the reason (else Flask's page, as before)."""
    if request.is_json:
        return _refuse(400, "malformed_json", "the body is not valid JSON")
    return exc


def _is_prop(item: Any, nested: bool = True) -> bool:
    """``{"id", "property", ...}``, or (pattern-matching) a list of them."""
    if isinstance(item, list) and nested:
        return all(_is_prop(i, nested=False) for i in item)
    return isinstance(item, dict) and "id" in item and isinstance(item.get("property"), str)


def callback_problem(body: Any, known_outputs: Any) -> str | None:
    """Why ``body`` is not a request for one of this app's callbacks, or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("output"), str) or body["output"] not in known_outputs:
        return "output names no callback of this app"
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list) or not all(_is_prop(i) for i in items):
            return f"{key} must be a list of {{id, property}}"
    outputs = body.get("outputs", [])
    if not (_is_prop(outputs) or (isinstance(outputs, list) and all(map(_is_prop, outputs)))):
        return "outputs must be {id, property} or a list of them"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds must be a list of strings"
    return None


def nul_in_callback(body: dict[str, Any]) -> bool:
    """Whether a callback's URL inputs (still percent-encoded) hold ``%00``."""
    return any(
        item["property"] in URL_PROPS and "%00" in str(item.get("value") or "")
        for item in _flat(body.get("inputs", []) + body.get("state", []))
    )


def _flat(items: list[Any]) -> list[dict[str, Any]]:
    return [i for item in items for i in (item if isinstance(item, list) else [item])]


def nul_in_url() -> bool:
    """Whether the path or a query parameter holds U+0000 (``%00``)."""
    return "\x00" in request.path or any(
        "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
    )


def install(dash_app: Dash) -> None:
    """Install the JSON parser, the callback check and the handlers; call after every
    callback is registered (the check knows their outputs)."""
    server = dash_app.server
    server.json = BoundedJSONProvider(server)
    server.register_error_handler(BadRequest, malformed_json)

    @server.before_request
    def check_request_shape() -> tuple[Response, int] | None:
        # Runs after the session check, so a stranger learns nothing about callbacks.
        if nul_in_url():
            return _refuse(400, "nul_character", "the URL must not contain NUL (%00)")
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        if b"\\u0000" in request.get_data():
            return _refuse(400, "nul_character", "the callback must not contain NUL (U+0000)")
        body = request.get_json(silent=True)
        if body is None:
            return _refuse(400, "malformed_json", "send the callback as JSON")
        problem = callback_problem(body, dash_app.callback_map)
        if problem:
            return _refuse(400, "bad_callback", problem)
        if nul_in_callback(body):
            return _refuse(400, "nul_character", "the URL must not contain NUL (%00)")
        return None

    @server.errorhandler(DependencyException)
    def no_such_dependency(_exc: DependencyException) -> tuple[Response, int]:
        return _refuse(404, "not_found", "no such file")
