"""The authorization matrix over HTTP: each role against each data route, and a
supervisor reaching for another street's case by id, by API and by callback.

(Socket.IO rooms are in tests/realtime/test_feed.py; pages in tests/db/test_auth.py.)
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from app import create_app, ids
from app.settings import Settings
from tests.support import new_case

ROLES = ("operator", "supervisor", "community", "leader", "admin")


@pytest.fixture(scope="module")
def client(settings: Settings, demo_engine: Engine, demo_users: dict) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


@pytest.fixture(scope="module")
def cases(demo_engine: Engine, demo_users: dict) -> dict[str, int]:
    """A fresh case in the street supervisor's street, and one in the community
    supervisor's community (another street)."""
    with demo_engine.begin() as conn:
        in_street = new_case(conn, street_id=demo_users["supervisor"].area_id)
        in_community = new_case(conn, community_id=demo_users["community"].area_id)
    return {"street": in_street, "community": in_community}


def panel(client: FlaskClient, headers: dict, case_id: int) -> str:
    """The case panel callback, as the browser calls it."""
    body = {
        "output": f"..{ids.CASE_BODY}.children...{ids.CASE_PANEL}.className..",
        "outputs": [
            {"id": ids.CASE_BODY, "property": "children"},
            {"id": ids.CASE_PANEL, "property": "className"},
        ],
        "inputs": [{"id": ids.CASE_SELECTED, "property": "data", "value": {"id": case_id}}],
        "changedPropIds": [f"{ids.CASE_SELECTED}.data"],
        "state": [{"id": ids.URL, "property": "search", "value": ""}],
    }
    response = client.post("/_dash-update-component", json=body, headers=headers)
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


# who may see which case: the jurisdiction-wide roles see both, each supervisor their own
SEES = {
    "operator": {"street", "community"},
    "leader": {"street", "community"},
    "admin": {"street", "community"},
    "supervisor": {"street"},
    "community": {"community"},
}
ACTS = {"operator", "supervisor", "community"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("where", ["street", "community"])
def test_read_a_case_by_id_via_api_and_callback(
    client: FlaskClient, bearer: Callable, cases: dict, role: str, where: str
) -> None:
    case_id = cases[where]
    allowed = where in SEES[role]
    api = client.get(f"/api/v1/cases/{case_id}", headers=bearer(role))
    nearby = client.get(f"/api/v1/cases/{case_id}/nearby", headers=bearer(role))
    assert api.status_code == nearby.status_code == (200 if allowed else 404)
    shown = panel(client, bearer(role), case_id)
    assert (f"#{case_id}" in shown) is allowed
    assert ("13812345678" in shown) is (allowed and role in ACTS)  # masked for the others
    if not allowed:
        assert "13812345678" not in api.get_data(True) + shown


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("where", ["street", "community"])
def test_act_on_a_case_via_api(
    client: FlaskClient, bearer: Callable, demo_engine: Engine, cases: dict, role: str, where: str
) -> None:
    case_id = cases[where]
    with demo_engine.connect() as conn:
        version = conn.execute(
            text("SELECT version FROM cases WHERE id=:i"), {"i": case_id}
        ).scalar()
    response = client.post(
        f"/api/v1/cases/{case_id}/actions/escalate",  # illegal from 'reported': nothing changes
        json={"version": version, "note": "matrix"},
        headers=bearer(role),
    )
    if where not in SEES[role]:
        expected = 404
    elif role not in ACTS:
        expected = 403
    else:
        expected = 422  # allowed to try; the state refuses it
    assert response.status_code == expected, response.get_json()
    with demo_engine.connect() as conn:
        after = conn.execute(text("SELECT version FROM cases WHERE id=:i"), {"i": case_id}).scalar()
    assert after == version


@pytest.mark.parametrize("role", ROLES)
def test_live_catch_up_is_scoped(
    client: FlaskClient, bearer: Callable, demo_users: dict, demo_engine: Engine, role: str
) -> None:
    body = client.get("/live/feed?since=0", headers=bearer(role)).get_json()
    own = demo_users[role].area_id
    if own is None or not body["entries"]:
        return
    ids_ = [e["case"]["id"] for e in body["entries"]]
    with demo_engine.connect() as conn:
        outside = conn.execute(
            text(
                "SELECT count(*) FROM cases WHERE id = ANY(:ids)"
                " AND :own NOT IN (street_id, community_id)"
            ),
            {"ids": ids_, "own": own},
        ).scalar()
    assert outside == 0


@pytest.mark.parametrize(
    "path",
    ["/_dash-layout", "/live/feed?since=0", "/api/v1/cases/1", "/api/v1/cases/1/nearby"],
)
def test_no_session_no_data(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer forged-token"}).status_code == 401
