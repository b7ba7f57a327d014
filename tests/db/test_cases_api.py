"""``/api/v1/cases``: the REST face of the workflow, with the same checks and answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from app import create_app
from app.settings import Settings
from tests.support import new_case


@pytest.fixture(scope="module")
def client(settings: Settings, demo_engine: Engine, demo_users: dict) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


@pytest.fixture
def own_case(demo_engine: Engine, demo_users: dict) -> int:
    """A committed fresh case in the demo supervisor's street."""
    with demo_engine.begin() as conn:
        return new_case(conn, street_id=demo_users["supervisor"].area_id)


@pytest.fixture
def other_case(demo_engine: Engine, demo_users: dict) -> int:
    """A committed fresh case in a street that is not the supervisor's."""
    with demo_engine.begin() as conn:
        street = conn.execute(
            text("SELECT id FROM areas WHERE level='street' AND id <> :i ORDER BY code LIMIT 1"),
            {"i": demo_users["supervisor"].area_id},
        ).scalar()
        return new_case(conn, street_id=street)


def act(client: FlaskClient, headers: dict, case_id: int, action: str, **body):
    return client.post(f"/api/v1/cases/{case_id}/actions/{action}", json=body, headers=headers)


def free_worker(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM workers WHERE status = 'available' ORDER BY id LIMIT 1")
        ).scalar_one()


def test_operator_takes_a_case_from_report_to_closed_over_rest(
    client: FlaskClient, bearer: Callable, own_case: int, demo_engine: Engine
) -> None:
    h = bearer("operator")
    worker = free_worker(demo_engine)
    steps = [
        ("accept", {}),
        ("dispatch", {"worker_id": worker, "note": "nearest tier-1"}),
        ("start", {}),
        ("handle", {"note": "cleared the pavement"}),
        ("verify", {}),
        ("close", {"confirmed_by_resident": True, "confirmation_channel": "hotline"}),
    ]
    version = 1
    for action, extra in steps:
        response = act(client, h, own_case, action, version=version, **extra)
        assert response.status_code == 200, response.get_json()
        version = response.get_json()["version"]
    got = client.get(f"/api/v1/cases/{own_case}", headers=h).get_json()
    assert got["status"] == "closed" and got["satisfied"] is True
    assert [e["action"] for e in got["timeline"]] == ["report"] + [a for a, _ in steps]
    assert got["timeline"][-1]["data"]["confirmation"]["channel"] == "hotline"
    assert got["reporter_phone"] == "13812345678"  # a dispatcher sees whom to call
    assert got["allowed_actions"] == ["reopen"]


def test_stale_version_is_a_conflict_with_the_current_state(
    client: FlaskClient, bearer: Callable, own_case: int
) -> None:
    h = bearer("operator")
    assert act(client, h, own_case, "accept", version=1).status_code == 200
    stale = act(client, h, own_case, "reject", version=1, note="not ours")
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["error"] == "conflict" and body["version"] == 2 and body["status"] == "accepted"


def test_illegal_transition_names_the_allowed_ones(
    client: FlaskClient, bearer: Callable, own_case: int
) -> None:
    response = act(client, bearer("operator"), own_case, "close", version=1)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "illegal_transition"
    assert body["allowed"] == ["accept", "reject", "merge"]
    assert "allowed: accept, reject, merge" in body["message"]


def test_missing_note_and_bad_bodies_are_4xx_with_reasons(
    client: FlaskClient, bearer: Callable, own_case: int
) -> None:
    h = bearer("operator")
    missing = act(client, h, own_case, "reject", version=1)
    assert missing.status_code == 422 and missing.get_json()["field"] == "note"
    for body in ({"version": "1"}, {"version": 0}, {}, {"version": 1, "sneaky": True}):
        bad = client.post(f"/api/v1/cases/{own_case}/actions/accept", json=body, headers=h)
        assert bad.status_code == 422 and bad.get_json()["details"]
    not_json = client.post(f"/api/v1/cases/{own_case}/actions/accept", data="x", headers=h)
    assert not_json.status_code == 415
    listy = client.post(f"/api/v1/cases/{own_case}/actions/accept", json=[1], headers=h)
    assert listy.status_code == 400
    assert act(client, h, own_case, "teleport", version=1).status_code == 404
    assert act(client, h, 10**12, "accept", version=1).status_code == 404
    with client.application.extensions["gridwatch"].engine.connect() as conn:
        status = conn.execute(
            text("SELECT status, version FROM cases WHERE id=:i"), {"i": own_case}
        )
        assert tuple(status.one()) == ("reported", 1)  # nothing half-written


def test_leader_and_admin_may_read_but_not_act_and_see_masked_data(
    client: FlaskClient, bearer: Callable, own_case: int
) -> None:
    for role in ("leader", "admin"):
        h = bearer(role)
        refused = act(client, h, own_case, "accept", version=1)
        assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
        got = client.get(f"/api/v1/cases/{own_case}", headers=h).get_json()
        assert got["reporter_phone"] == "138****5678" and got["reporter_name"] == "王**"
        assert got["allowed_actions"] == []
        nearby = client.get(f"/api/v1/cases/{own_case}/nearby", headers=h).get_json()
        assert all("****" in w["phone"] for w in nearby["workers"] if w["phone"])


def test_supervisor_cannot_see_or_act_on_another_streets_case(
    client: FlaskClient, bearer: Callable, own_case: int, other_case: int
) -> None:
    h = bearer("supervisor")
    assert client.get(f"/api/v1/cases/{own_case}", headers=h).status_code == 200
    for path in (f"/api/v1/cases/{other_case}", f"/api/v1/cases/{other_case}/nearby"):
        response = client.get(path, headers=h)
        assert response.status_code == 404
        assert str(other_case) in response.get_json()["message"]
    refused = act(client, h, other_case, "accept", version=1)
    assert refused.status_code == 404
    assert act(client, h, own_case, "accept", version=1).status_code == 200
    # The community supervisor of another street sees neither.
    c = bearer("community")
    assert client.get(f"/api/v1/cases/{own_case}", headers=c).status_code == 404


def test_nearby_lists_ranked_workers_and_cameras(
    client: FlaskClient, bearer: Callable, own_case: int
) -> None:
    response = client.get(f"/api/v1/cases/{own_case}/nearby?limit=3", headers=bearer("operator"))
    body = response.get_json()
    assert response.status_code == 200
    distances = [w["distance_m"] for w in body["workers"]]
    assert len(distances) == 3 and distances == sorted(distances)
    assert all(w["status"] == "available" and w["tier"] in (1, 2) for w in body["workers"])
    assert len(body["cameras"]) == 3
    for bad in ("0", "51", "x"):
        assert (
            client.get(
                f"/api/v1/cases/{own_case}/nearby?limit={bad}", headers=bearer("operator")
            ).status_code
            == 400
        )


def test_actions_need_a_session_and_cookie_writes_need_our_origin(
    client: FlaskClient, own_case: int
) -> None:
    assert (
        client.post(f"/api/v1/cases/{own_case}/actions/accept", json={"version": 1}).status_code
        == 401
    )


def test_actions_are_in_the_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    path = doc["paths"]["/api/v1/cases/{case_id}/actions/{action}"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(path["responses"])
    assert "Action" in doc["components"]["schemas"]
