"""The attacker suite (issue 7, item 3): what someone without the right would try, on the
real app, a real PostGIS and real Socket.IO (flask-socketio's test client).

Covered here: security headers; deeply nested JSON on every JSON-taking route; forged,
expired, revoked and missing sessions and bearer tokens on every kind of route and on the
Socket.IO connect; missing, malformed, disabled and wrong API keys, replayed events and
channel binding; path traversal in exports, static files and ``gridwatch etl load``;
passwords, keys and tokens kept out of every log record and error answer; cross-site
writes riding on the cookie (lookalike origins, other ports and schemes, ``null``, a
foreign Referer, neither) on a callback, a case action and logout.

Covered elsewhere, not repeated here:

- another area's case by id over the API and by the panel callback, the catch-up feed's
  scope, and acting on another area's case: ``tests/db/test_authorization.py``;
- another area by Socket.IO room (``watch`` and connect ``area_id``) and a connect with
  no or a forged bearer token on a real server: ``tests/realtime/test_feed.py``;
- a forged cookie on ``/_dash-layout``, a copied cookie after logout, a disabled user,
  sign-in and callbacks from another origin, login throttling, ``next`` staying on the
  site: ``tests/db/test_auth.py``;
- a body over the size limit (413), malformed JSON, a missing or unknown API key, a key
  reporting for another channel (single event) and a repeated event with the same body:
  ``tests/db/test_api.py``; NUL characters and absurd times in fields:
  ``tests/fuzz/test_api_fuzz.py``;
- an export table name that is a path (``/export/..%2F..%2Fetc%2Fpasswd.csv``) and a
  supervisor exporting another area: ``tests/db/test_summary.py``.

There is no upload route: data loads are CLI-only (``gridwatch etl load KIND FILE``, run
by the admin on the server), so the CLI is tested to read only the local file it is
named, refusing anything else with a message and changing nothing (a NUL byte cannot
reach it: no command-line argument can hold one). ``/assets//etc/passwd`` matches no
static rule and gets Dash's page shell (no data, no file), like any unknown path.

API keys are random secrets compared by their SHA-256, not signatures; a "replayed"
request is a repeated ``(channel, external_id)``, which the API answers idempotently
(200, the same case).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from dash import Dash
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from app import create_app
from app.cli import main
from app.security import content_security_policy
from app.settings import Settings
from geo_data.actors import system_actor
from geo_data.api_keys import create_key, disable_key, hash_key
from geo_data.users import close_session, open_session
from tests.conftest import DEMO_END
from tests.db.test_auth import ORIGIN, page_request, sign_in
from tests.support import grid_points, new_case

# -- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def gridwatch(settings: Settings, demo_engine: Engine, demo_users: dict) -> Iterator[Dash]:
    app = create_app(settings, engine=demo_engine)
    yield app
    app.server.extensions["gridwatch.listener"].stop()  # started by a successful connect


@pytest.fixture
def client(gridwatch: Dash) -> FlaskClient:
    """A fresh browser: its own cookie jar."""
    return gridwatch.server.test_client()


@pytest.fixture(scope="module")
def case_id(demo_engine: Engine, demo_users: dict) -> int:
    """A fresh case (status ``reported``) in the street supervisor's street."""
    with demo_engine.begin() as conn:
        return new_case(conn, street_id=demo_users["supervisor"].area_id)


@pytest.fixture(scope="module")
def hotline_key(new_api_key: Callable[..., str]) -> str:
    return new_api_key("hotline")


@pytest.fixture(scope="module")
def spot(demo_engine: Engine) -> tuple[float, float]:
    return grid_points(demo_engine, limit=1, offset=321)[0]


def event(spot: tuple[float, float], **changes: object) -> dict:
    return {
        "channel": "hotline",
        "external_id": f"SEC-{uuid.uuid4().hex}",
        "category": "0101",
        "severity": 3,
        "lon": spot[0],
        "lat": spot[1],
        "reported_at": (DEMO_END + timedelta(days=200)).isoformat(),
        "description": "路灯不亮",
    } | changes


def store_counts(engine: Engine) -> tuple[int, int]:
    """(cases, case_events): what an attack must not change."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM case_events)")
        ).one()


def case_version(engine: Engine, case_id: int) -> tuple[int, str]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT version, status FROM cases WHERE id = :i"), {"i": case_id}
        ).one()


def new_session(engine: Engine, user_id: int, kind: str) -> str:
    with engine.begin() as conn:
        return open_session(conn, user_id, kind=kind, hours=1)


def expire(engine: Engine, token: str) -> None:
    """Move a session's expiry into the past, as if it had gone unused for hours."""
    with engine.begin() as conn:
        done = conn.execute(
            text(
                "UPDATE user_sessions SET expires_at = now() - interval '1 minute'"
                " WHERE token_hash = encode(sha256(convert_to(:t, 'UTF8')), 'hex')"
            ),
            {"t": token},
        ).rowcount
    assert done == 1


def cookie_for(token: str, secret: str) -> str:
    """A session cookie naming ``token``, signed with ``secret`` as Flask signs it."""
    signer = Flask("forger")
    signer.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(signer)
    assert serializer is not None
    return serializer.dumps({"token": token})


# -- security headers ---------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(client: FlaskClient, bearer: Callable) -> None:
    for path, headers in (
        ("/login", {}),
        ("/healthz", {}),
        ("/_dash-layout", bearer("operator")),
        ("/api/v1/cases/1", {}),  # a refusal too
        ("/nowhere", {}),
    ):
        response = client.get(path, headers=headers)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        script = next(d for d in csp.split("; ") if d.startswith("script-src"))
        assert "unsafe-inline" not in script and "unsafe-eval" not in script
        assert "'sha256-" in script  # Dash's inline bootstrap, allowed by its hash only
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_only_a_configured_basemap_host_is_added() -> None:
    plain = content_security_policy([], None)
    assert "http" not in plain
    tiles = content_security_policy([], "http://tiles.intranet:8080/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: http://tiles.intranet:8080" in tiles
    assert "javascript" not in content_security_policy([], "javascript:alert(1)")


def test_no_route_grants_another_origin_cors(
    client: FlaskClient, bearer: Callable, hotline_key: str
) -> None:
    evil = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    for method, path, headers in (
        ("OPTIONS", "/api/v1/events", evil),
        ("OPTIONS", "/_dash-update-component", evil),
        ("GET", "/api/v1/cases/1", evil | bearer("operator")),
        ("GET", "/live/feed?since=0", evil | bearer("operator")),
        ("GET", "/api/v1/categories", evil),
    ):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code < 500
        assert "Access-Control-Allow-Origin" not in response.headers, path
        assert "Access-Control-Allow-Credentials" not in response.headers, path


# -- deeply nested JSON -------------------------------------------------------------------

DEEP_BODIES = {
    "arrays_unclosed": "[" * 100_000,
    "objects_50000": '{"a":' * 50_000 + "0" + "}" * 50_000,
    "arrays_closed_20000": "[" * 20_000 + "]" * 20_000,
    "objects_300_parseable": '{"a":' * 300 + "0" + "}" * 300,  # parses: a deep dict
}


def _json_routes(case_id: int, key: str, token_header: dict) -> list[tuple[str, dict]]:
    return [
        ("/api/v1/events", {"X-API-Key": key}),
        ("/api/v1/events/batch", {"X-API-Key": key}),
        (f"/api/v1/cases/{case_id}/actions/accept", token_header),
        ("/api/v1/auth/token", {}),
        ("/_dash-update-component", token_header),
        ("/open311/v2/requests.json", {}),
    ]


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
def test_deeply_nested_json_is_refused_with_a_reason_on_every_json_route(
    client: FlaskClient,
    demo_engine: Engine,
    bearer: Callable,
    hotline_key: str,
    case_id: int,
    shape: str,
) -> None:
    body = DEEP_BODIES[shape]
    assert len(body.encode()) < 4 * 1024 * 1024  # within the size limit: not a 413
    before = store_counts(demo_engine)
    version = case_version(demo_engine, case_id)
    for path, headers in _json_routes(case_id, hotline_key, bearer("operator")):
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        assert 400 <= response.status_code < 500 and response.status_code != 413, (
            path,
            response.status_code,
            response.get_data(True)[:300],
        )
        answer = response.get_json()
        assert answer, path  # a JSON reason, not an HTML page
        reason = answer[0]["description"] if isinstance(answer, list) else answer["message"]
        assert reason, path
    assert store_counts(demo_engine) == before
    assert case_version(demo_engine, case_id) == version


def test_deeply_nested_field_values_are_refused_not_stored(
    client: FlaskClient, demo_engine: Engine, hotline_key: str, spot: tuple
) -> None:
    nested = json.loads('{"a":' * 300 + "0" + "}" * 300)
    before = store_counts(demo_engine)
    for field in ("description", "reporter_name", "lon", "reported_at", "external_id"):
        response = client.post(
            "/api/v1/events",
            json=event(spot, **{field: nested}),
            headers={"X-API-Key": hotline_key},
        )
        assert response.status_code == 422, field
        assert [d["field"] for d in response.get_json()["details"]] == [field]
    batch = client.post(
        "/api/v1/events/batch",
        json={"events": [event(spot, description=nested), nested]},
        headers={"X-API-Key": hotline_key},
    )
    assert batch.status_code == 200
    assert [r["code"] for r in batch.get_json()["results"]] == [422, 422]
    assert store_counts(demo_engine) == before


def _callback(**changes: object) -> dict:
    return page_request("/map") | changes


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "output names no callback"),
        ([], "must be a JSON object"),
        ("page", "must be a JSON object"),
        (_callback(output="nowhere.children"), "output names no callback"),
        (_callback(output=["page.children"]), "output names no callback"),
        (_callback(inputs="x"), "inputs must be a list"),
        (_callback(inputs=[1, 2]), "inputs must be a list"),
        (_callback(inputs=[{"id": "url"}]), "inputs must be a list"),
        (_callback(state={"a": 1}), "state must be a list"),
        (_callback(outputs="page"), "outputs must be"),
        (_callback(changedPropIds=[None]), "changedPropIds"),
    ],
)
def test_a_callback_request_that_is_not_a_callback_is_refused_with_a_reason(
    client: FlaskClient, bearer: Callable, body: object, reason: str
) -> None:
    response = client.post("/_dash-update-component", json=body, headers=bearer("operator"))
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_callback"
    assert reason in response.get_json()["message"]


@pytest.mark.parametrize(
    ("path", "search"),
    [
        ("/map", "?area=%00"),
        ("/map", "?area=510108%00../../etc/passwd"),
        ("/ops", "?area=510108%00"),
        ("/ops", "?category=E0101%00"),
        ("/summary", "?area=%00"),
        ("/wall", "?area=%00"),
        ("/map", "?area=510108\x00"),
    ],
)
def test_nul_in_a_page_url_is_refused_not_a_server_error(
    client: FlaskClient, bearer: Callable, path: str, search: str
) -> None:
    response = client.post(
        "/_dash-update-component", json=page_request(path, search), headers=bearer("operator")
    )
    assert response.status_code == 400, response.get_data(True)[:300]
    assert response.get_json()["error"] == "nul_character"
    fine = client.post(
        "/_dash-update-component",
        json=page_request(path, search.replace("%00", "").replace("\x00", "")),
        headers=bearer("operator"),
    )
    assert fine.status_code == 200  # the same page without the NUL opens


# -- sessions and bearer tokens -----------------------------------------------------------

CREDENTIALS = [
    "none",
    "cookie_signed_with_another_key",
    "cookie_garbage",
    "cookie_unknown_token",
    "cookie_expired",
    "cookie_revoked_by_logout",
    "bearer_garbage",
    "bearer_unknown_token",
    "bearer_expired",
    "bearer_revoked",
    "bearer_oversized",
    "bearer_empty",
    "basic_auth_password",
]


def _credential(
    kind: str, client: FlaskClient, gridwatch: Dash, engine: Engine, operator_id: int
) -> dict[str, str]:
    """Put the credential ``kind`` on ``client``; returns the headers to send with it.
    Credentials that were real are shown to work before they are spoiled."""
    secret = gridwatch.server.secret_key
    if kind == "none":
        return {}
    if kind == "cookie_signed_with_another_key":
        live = new_session(engine, operator_id, "browser")  # a live token, badly signed
        client.set_cookie("gridwatch_session", cookie_for(live, secret + "-not"))
        return {}
    if kind == "cookie_garbage":
        client.set_cookie("gridwatch_session", "eyJ0b2tlbiI6ImZvcmdlZCJ9.garbage.garbage")
        return {}
    if kind == "cookie_unknown_token":
        client.set_cookie("gridwatch_session", cookie_for(uuid.uuid4().hex * 2, secret))
        return {}
    if kind == "cookie_expired":
        token = new_session(engine, operator_id, "browser")
        client.set_cookie("gridwatch_session", cookie_for(token, secret))
        assert client.get("/_dash-layout").status_code == 200
        expire(engine, token)
        return {}
    if kind == "cookie_revoked_by_logout":
        sign_in(client, "operator")
        copied = client.get_cookie("gridwatch_session").value
        assert client.get("/_dash-layout").status_code == 200
        assert client.post("/logout", headers={"Origin": ORIGIN}).status_code == 302
        client.set_cookie("gridwatch_session", copied)
        return {}
    if kind == "bearer_garbage":
        return {"Authorization": "Bearer ../../etc/passwd' OR '1'='1"}
    if kind == "bearer_unknown_token":
        return {"Authorization": f"Bearer {uuid.uuid4().hex}{uuid.uuid4().hex}"}
    token = new_session(engine, operator_id, "token")
    header = {"Authorization": f"Bearer {token}"}
    assert client.get("/_dash-layout", headers=header).status_code == 200
    if kind == "bearer_expired":
        expire(engine, token)
        return header
    if kind == "bearer_revoked":
        with engine.begin() as conn:
            close_session(conn, token)
        return header
    if kind == "bearer_oversized":
        return {"Authorization": f"Bearer {token}{'A' * 200}"}
    if kind == "bearer_empty":
        return {"Authorization": "Bearer "}
    assert kind == "basic_auth_password"
    return {"Authorization": "Basic b3BlcmF0b3I6Z3JpZC13YXRjaC10ZXN0LTE="}  # operator:TEST_PW


@pytest.mark.parametrize("kind", CREDENTIALS)
def test_forged_expired_revoked_or_missing_credentials_open_nothing(
    client: FlaskClient,
    gridwatch: Dash,
    demo_engine: Engine,
    demo_users: dict,
    case_id: int,
    kind: str,
) -> None:
    headers = _credential(kind, client, gridwatch, demo_engine, demo_users["operator"].id)
    version = case_version(demo_engine, case_id)
    page = client.get("/map", headers={"Accept": "text/html", **headers})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    writes = {"Origin": ORIGIN, **headers}  # our own origin: only the session is wrong
    for response in (
        client.get("/_dash-layout", headers=headers),
        client.get("/_dash-dependencies", headers=headers),
        client.post("/_dash-update-component", json=page_request("/map"), headers=writes),
        client.get(f"/api/v1/cases/{case_id}", headers=headers),
        client.get(f"/api/v1/cases/{case_id}/nearby", headers=headers),
        client.post(
            f"/api/v1/cases/{case_id}/actions/accept", json={"version": version[0]}, headers=writes
        ),
        client.get("/live/feed?since=0", headers=headers),
        client.get("/export/rankings.csv", headers=headers),
    ):
        assert response.status_code == 401, (kind, response.request.path)
        assert response.get_json()["error"] == "unauthenticated"
        assert "13812345678" not in response.get_data(True)
    assert case_version(demo_engine, case_id) == version


def test_a_live_session_opens_every_route_the_refusals_are_about(
    client: FlaskClient, demo_engine: Engine, case_id: int, bearer: Callable
) -> None:
    """The positive control of the test above: the same requests with a real session."""
    sign_in(client, "operator")
    assert client.get("/map", headers={"Accept": "text/html"}).status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/_dash-dependencies").status_code == 200
    page = client.post(
        "/_dash-update-component", json=page_request("/map"), headers={"Origin": ORIGIN}
    )
    assert page.status_code == 200
    for path in (f"/api/v1/cases/{case_id}", "/live/feed?since=0", "/export/rankings.csv"):
        assert client.get(path).status_code == 200, path
        assert client.get(path, headers=bearer("operator")).status_code == 200, path


SOCKET_CREDENTIALS = [
    "cookie_signed_with_another_key",
    "cookie_unknown_token",
    "cookie_expired",
    "cookie_revoked_by_logout",
    "bearer_expired",
    "bearer_revoked",
    "bearer_oversized",
]


@pytest.mark.parametrize("kind", SOCKET_CREDENTIALS)
def test_socket_connect_with_a_forged_or_dead_session_is_refused(
    client: FlaskClient, gridwatch: Dash, demo_engine: Engine, demo_users: dict, kind: str
) -> None:
    headers = _credential(kind, client, gridwatch, demo_engine, demo_users["operator"].id)
    token = headers.get("Authorization", "").removeprefix("Bearer ") or None
    sio = gridwatch.server.extensions["socketio"]
    socket = sio.test_client(
        gridwatch.server, flask_test_client=client, auth={"token": token} if token else None
    )
    assert not socket.is_connected()
    assert [p["name"] for p in socket.queue] == []  # not even the hello with the feed position


def test_socket_connect_with_a_live_cookie_is_accepted(
    client: FlaskClient, gridwatch: Dash
) -> None:
    """The positive control: the same test client, signed in, connects."""
    sign_in(client, "operator")
    sio = gridwatch.server.extensions["socketio"]
    socket = sio.test_client(gridwatch.server, flask_test_client=client)
    try:
        assert socket.is_connected()
        assert [m["name"] for m in socket.get_received()] == ["hello"]
    finally:
        socket.disconnect()


# -- cross-site writes riding on the cookie ------------------------------------------------

FOREIGN_SOURCES = [
    {"Origin": "http://evil.example"},
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "http://localhost:8050"},  # another port is another origin
    {"Origin": "https://localhost"},  # and another scheme
    {"Origin": "null"},  # a sandboxed frame or a file: page
    {"Referer": "http://evil.example/localhost/"},
    {"Referer": "http://evil.example/?next=http://localhost/"},
    {},  # neither Origin nor Referer
]


@pytest.mark.parametrize("source", FOREIGN_SOURCES, ids=lambda s: json.dumps(s) or "none")
def test_cookie_writes_from_another_origin_are_refused(
    client: FlaskClient, demo_engine: Engine, case_id: int, source: dict
) -> None:
    sign_in(client, "operator")
    version = case_version(demo_engine, case_id)
    for response in (
        client.post("/_dash-update-component", json=page_request("/map"), headers=source),
        client.post(
            f"/api/v1/cases/{case_id}/actions/accept",
            json={"version": version[0], "note": "csrf"},
            headers=source,
        ),
        client.post("/logout", headers=source),
    ):
        assert response.status_code == 403, response.request.path
        assert response.get_json()["error"] == "cross_origin"
    assert case_version(demo_engine, case_id) == version
    assert client.get("/_dash-layout").status_code == 200  # the refused logout ended nothing


def test_cookie_writes_from_our_own_origin_pass_the_origin_check(
    client: FlaskClient, demo_engine: Engine, case_id: int
) -> None:
    """The positive control: the same writes from this server's pages get through."""
    sign_in(client, "operator")
    version = case_version(demo_engine, case_id)
    for source in ({"Origin": ORIGIN}, {"Referer": f"{ORIGIN}/ops?status=open"}):
        page = client.post("/_dash-update-component", json=page_request("/map"), headers=source)
        assert page.status_code == 200
        acted = client.post(
            f"/api/v1/cases/{case_id}/actions/escalate",  # illegal from 'reported': 422
            json={"version": version[0]},
            headers=source,
        )
        assert acted.status_code == 422 and acted.get_json()["error"] == "illegal_transition"
    assert case_version(demo_engine, case_id) == version


# -- API keys -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spoiled_keys(demo_engine: Engine, hotline_key: str) -> dict[str, str]:
    """Keys that must not work: disabled before first use, a wrong secret, the stored hash."""
    with demo_engine.begin() as conn:
        actor = system_actor(conn)
        name = f"sec-disabled-{uuid.uuid4().hex[:8]}"
        disabled = create_key(conn, name, "hotline", actor)
        assert disable_key(conn, name, actor)
    flipped = hotline_key[:-1] + ("A" if hotline_key[-1] != "A" else "B")
    return {
        "disabled": disabled,
        "wrong_secret": flipped,
        "truncated": hotline_key[:-4],
        "stored_hash": hash_key(hotline_key),  # a stolen database row is not a key
        "padded": f" {hotline_key}x ",
        "bearer_prefixed": f"Bearer {hotline_key}x",
        "oversized": "gw_" + "A" * 8000,
        "latin1": "gw_ÿÿÿ",
        "sql": "gw_' OR '1'='1",
    }


@pytest.mark.parametrize(
    "which",
    [
        "disabled",
        "wrong_secret",
        "truncated",
        "stored_hash",
        "padded",
        "bearer_prefixed",
        "oversized",
        "latin1",
        "sql",
    ],
)
def test_bad_api_keys_are_refused_with_a_reason_and_store_nothing(
    client: FlaskClient, demo_engine: Engine, spoiled_keys: dict, spot: tuple, which: str
) -> None:
    key = spoiled_keys[which]
    before = store_counts(demo_engine)
    for path, body in (
        ("/api/v1/events", event(spot)),
        ("/api/v1/events/batch", {"events": [event(spot)]}),
    ):
        response = client.post(path, json=body, headers={"X-API-Key": key})
        assert response.status_code == 401, (which, path)
        answer = response.get_json()
        assert answer["error"] == "invalid_api_key" and "unknown or disabled" in answer["message"]
        assert key.strip() not in response.get_data(True)
    open311 = client.post(
        "/open311/v2/requests.json",
        data={"api_key": key, "service_code": "0101", "lat": spot[1], "long": spot[0]},
    )
    assert open311.status_code == 403, which
    assert "invalid api_key" in open311.get_json()[0]["description"]
    assert store_counts(demo_engine) == before


def test_open311_without_a_key_is_refused(
    client: FlaskClient, demo_engine: Engine, spot: tuple
) -> None:
    before = store_counts(demo_engine)
    for key in (None, "", "   "):
        form = {"service_code": "0101", "lat": spot[1], "long": spot[0]}
        response = client.post(
            "/open311/v2/requests.json", data=form | ({} if key is None else {"api_key": key})
        )
        assert response.status_code == 403
        assert "api_key is required" in response.get_json()[0]["description"]
    assert store_counts(demo_engine) == before


def test_a_replayed_event_answers_200_with_the_first_case_even_with_a_changed_body(
    client: FlaskClient, demo_engine: Engine, hotline_key: str, spot: tuple
) -> None:
    key = {"X-API-Key": hotline_key}
    first = event(spot, category="0102")
    before = store_counts(demo_engine)
    created = client.post("/api/v1/events", json=first, headers=key)
    assert created.status_code == 201
    case = created.get_json()["case_id"]
    after_first = store_counts(demo_engine)
    assert after_first[0] == before[0] + 1
    changed = first | {
        "category": "0104",
        "severity": 1,
        "description": "篡改的描述",
        "lon": spot[0] + 0.001,
        "reporter_phone": "13900000000",
    }
    for body in (first, changed):
        replay = client.post("/api/v1/events", json=body, headers=key)
        assert replay.status_code == 200
        assert replay.get_json()["case_id"] == case
    batch = client.post("/api/v1/events/batch", json={"events": [changed]}, headers=key)
    assert batch.get_json()["results"][0] | {"index": 0} == {
        "index": 0,
        "code": 200,
        "case_id": case,
        "status": "reported",
    }
    assert batch.get_json()["stored"] == 0
    assert store_counts(demo_engine) == after_first  # no second case, no audit event
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT category_code, severity, description, reporter_phone FROM cases"
                " WHERE id = :i"
            ),
            {"i": case},
        ).one()
    assert tuple(stored) == ("0102", 3, "路灯不亮", None)  # the replay changed nothing


def test_a_key_cannot_report_for_another_channel_in_a_batch_or_over_open311(
    client: FlaskClient, demo_engine: Engine, hotline_key: str, spot: tuple
) -> None:
    before = store_counts(demo_engine)
    other = event(spot, channel="wechat", category="0118")
    batch = client.post(
        "/api/v1/events/batch",
        json={"events": [other], "atomic": False},
        headers={"X-API-Key": hotline_key},
    )
    assert batch.status_code == 200
    result = batch.get_json()["results"][0]
    assert result["code"] == 422
    assert result["details"] == [
        {"field": "channel", "reason": "this key may only report for hotline"}
    ]
    assert store_counts(demo_engine) == before
    # Open311 takes the channel from the key; a channel field is ignored, not obeyed.
    created = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": hotline_key,
            "service_code": "0210",
            "lat": spot[1],
            "long": spot[0] + 0.002,
            "channel": "wechat",
        },
    )
    assert created.status_code == 201
    with demo_engine.connect() as conn:
        channel = conn.execute(
            text("SELECT channel FROM cases WHERE id = :i"),
            {"i": int(created.get_json()[0]["service_request_id"])},
        ).scalar()
    assert channel == "hotline"


# -- path traversal -----------------------------------------------------------------------

OUTSIDE_MARKERS = ("root:x:0", "[tool.ruff]", "SECRET_KEY", "import ")


@pytest.mark.parametrize(
    "area",
    [
        "../../etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/etc/passwd",
        "510108\x00",
        "510108\x00../../etc/passwd",
        "\x00",
        "510108/../510108001",
        "C:\\Windows\\win.ini",
    ],
)
def test_export_area_that_is_a_path_is_refused(
    client: FlaskClient, bearer: Callable, area: str
) -> None:
    response = client.get(
        "/export/rankings.csv", query_string={"area": area}, headers=bearer("leader")
    )
    assert response.status_code in (400, 404), (area, response.get_data(True)[:300])
    expected = "nul_character" if "\x00" in area else "unknown_area"
    assert response.get_json()["error"] == expected
    assert not any(m in response.get_data(True) for m in OUTSIDE_MARKERS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("date", "../../etc/passwd"),
        ("date", "/etc/passwd"),
        ("lang", "../../etc/passwd"),
        ("table", "../../etc/passwd"),
    ],
)
def test_export_parameters_that_are_paths_are_ignored(
    client: FlaskClient, bearer: Callable, name: str, value: str
) -> None:
    response = client.get(
        "/export/rankings.csv",
        query_string={"area": "510108", name: value},
        headers=bearer("leader"),
    )
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="summary-rankings-510108-')
    assert "/" not in disposition and ".." not in disposition
    assert response.get_data(True).startswith("\ufeff区域代码,")  # the ordinary table
    assert not any(m in response.get_data(True) for m in OUTSIDE_MARKERS)


@pytest.mark.parametrize("name", ["area", "date", "lang", "table"])
def test_export_parameters_with_nul_are_refused(
    client: FlaskClient, bearer: Callable, name: str
) -> None:
    response = client.get(
        "/export/rankings.csv",
        query_string={"area": "510108", name: "2026-10-01\x00../../etc/passwd"},
        headers=bearer("leader"),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "nul_character"


@pytest.mark.parametrize(
    "path",
    [
        "/export/rankings%00.csv",
        "/export/%00.csv",
        "/export/rankings.csv%00.txt",
        "/export/%2fetc%2fpasswd.csv",
        "/export//etc/passwd.csv",
        "/export/rankings.csv/../../../pyproject.toml",
    ],
)
def test_export_names_with_nul_or_absolute_paths_are_refused(
    client: FlaskClient, bearer: Callable, path: str
) -> None:
    response = client.get(path, headers=bearer("leader"))
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert "text/csv" not in response.content_type
    assert not any(m in response.get_data(True) for m in OUTSIDE_MARKERS)


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../../../../etc/passwd",
        "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/assets/%2e%2e/%2e%2e/pyproject.toml",
        "/assets/..%5c..%5cpyproject.toml",
        "/assets//etc/passwd",
        "/assets/base.css%00.js",
        "/_dash-component-suites/dash/../../../../../../etc/passwd",
        "/_dash-component-suites/dash/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/_dash-component-suites/dash/%2e%2e/%2e%2e/dash.py",
        "/_dash-component-suites/dash/deps/..%2f..%2fdash.py",
        "/_dash-component-suites/os/path.py",
        "/_dash-component-suites/dash/dash.py",
    ],
)
def test_static_files_never_serve_a_file_outside_their_folder(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)
    assert not any(m in response.get_data(True) for m in OUTSIDE_MARKERS)
    if path == "/assets//etc/passwd":  # no static rule matches: Dash's page shell, no data
        assert response.status_code == 200 and "react-entry-point" in response.get_data(True)
        return
    assert 400 <= response.status_code < 500, (path, response.status_code)


@pytest.fixture
def cli(engine: Engine) -> Callable[..., tuple[int, str, BaseException | None]]:
    """``gridwatch`` on this session's (empty, migrated) test database."""
    env = {"GRIDWATCH_DATABASE_URL": engine.url.render_as_string(hide_password=False)}

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, BaseException | None]:
        result = CliRunner().invoke(main, list(args), env=env, input=stdin, prog_name="gridwatch")
        return result.exit_code, result.output, result.exception

    return invoke


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/etc",
        "../../../../../../etc/passwd.csv",
        "%2e%2e%2fetc%2fpasswd.csv",
        "/dev/zero.csv",
        "",
    ],
)
def test_etl_load_reads_only_the_local_file_it_is_named_and_refuses_the_rest(
    cli: Callable, engine: Engine, path: str
) -> None:
    with engine.connect() as conn:
        loads = conn.execute(text("SELECT count(*) FROM data_loads")).scalar()
    code, output, exc = cli("etl", "load", "cases", path)
    assert code == 2 and isinstance(exc, SystemExit), output  # a message, not a traceback
    assert "error:" in output and "Traceback" not in output
    assert "root:x:0" not in output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM data_loads")).scalar() == loads


# -- secrets never logged -----------------------------------------------------------------

NOISY_LOGGERS = (
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "werkzeug",
    "flask",
    "engineio",
    "socketio",
    "psycopg",
    "app",
    "geo_data",
    "etl",
)


def _texts(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(record.exc_text or "")
        parts.append(repr({k: v for k, v in vars(record).items() if k not in ("args", "msg")}))
    return "\n".join(parts)


def test_passwords_keys_and_tokens_are_never_logged_or_echoed(
    gridwatch: Dash,
    demo_engine: Engine,
    case_id: int,
    spot: tuple,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    username = f"sec{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    env = {"GRIDWATCH_DATABASE_URL": demo_engine.url.render_as_string(hide_password=False)}
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["users", "add", username, "--role", "operator"],
        input=f"{password}\n{password}\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert password not in added.output  # hidden input
    made = runner.invoke(
        main, ["keys", "add", "--name", f"sec-{username}", "--channel", "hotline"], env=env
    )
    assert made.exit_code == 0, made.output
    api_key = re.search(r"gw_[A-Za-z0-9_\-]+", made.output).group()

    client = gridwatch.server.test_client()
    answers: list[str] = []

    def keep(response: TestResponse) -> TestResponse:
        answers.append(response.get_data(True))
        return response

    assert keep(sign_in(client, username, wrong)).status_code == 401
    assert keep(sign_in(client, username, password)).status_code == 302
    denied = keep(client.post("/api/v1/auth/token", json={"username": username, "password": wrong}))
    assert denied.status_code == 401
    issued = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert issued.status_code == 200
    token = issued.get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    version = case_version(demo_engine, case_id)[0]
    assert keep(client.get(f"/api/v1/cases/{case_id}", headers=bearer)).status_code == 200
    acted = client.post(
        f"/api/v1/cases/{case_id}/actions/escalate",  # illegal from 'reported': 422
        json={"version": version, "note": password},
        headers=bearer,
    )
    assert keep(acted).status_code == 422
    posted = client.post("/api/v1/events", json=event(spot), headers={"X-API-Key": api_key})
    assert keep(posted).status_code == 201
    echoed = client.post(
        "/api/v1/events",
        json=event(spot, external_id=f"{api_key}/..", reporter_phone=password),
        headers={"X-API-Key": api_key},
    )
    assert keep(echoed).status_code == 422
    wrong_key = keep(client.post("/api/v1/events", json={}, headers={"X-API-Key": api_key + "x"}))
    assert wrong_key.status_code == 401
    socket = gridwatch.server.extensions["socketio"].test_client(
        gridwatch.server, auth={"token": token}
    )
    assert socket.is_connected()
    socket.disconnect()

    logged = _texts(caplog.records)
    assert caplog.records  # the capture works: SQL and the CLI's work were logged
    assert hash_key(api_key) in logged  # what may be logged: the hash, never the secret
    for secret in (password, wrong, api_key, token):
        assert secret not in logged
        assert not any(secret in answer for answer in answers)
