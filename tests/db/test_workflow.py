"""The case workflow in the store: transitions, roles, versions, audit, feed."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from geo_data.actors import Actor, system_actor
from geo_data.case_store import CaseReport, report_case
from geo_data.models import CASE_STATUSES
from geo_data.workflow import (
    TRANSITIONS,
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    MissingInputError,
    act,
    allowed_actions,
)
from tests.conftest import DEMO_END


def _new_case(conn: Connection, offset: int = 0) -> int:
    x, y = conn.execute(
        text(
            "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
            " ORDER BY code LIMIT 1 OFFSET :n"
        ),
        {"n": 300 + offset},
    ).one()
    report = CaseReport(
        channel="hotline",
        external_id=f"WF-{uuid.uuid4().hex}",
        category_code="E0201",
        severity=3,
        lon=x,
        lat=y,
        reported_at=DEMO_END + timedelta(days=120, minutes=offset),
    )
    return report_case(conn, report, system_actor(conn)).case_id


def _operator(conn: Connection, role: str = "operator", area_id: int | None = None) -> Actor:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    user_id = conn.execute(
        text(
            "INSERT INTO users (username, display_name, role, area_id)"
            " VALUES (:n, :n, :r, :a) RETURNING id"
        ),
        {"n": name, "r": role, "a": area_id},
    ).scalar_one()
    return Actor(user_id, name, role, area_id)


def _worker(conn: Connection) -> int:
    return conn.execute(
        text("SELECT id FROM workers WHERE tier = 1 AND status = 'available' ORDER BY id LIMIT 1")
    ).scalar_one()


def _state(conn: Connection, case_id: int) -> tuple[str, int]:
    row = conn.execute(text("SELECT status, version FROM cases WHERE id = :id"), {"id": case_id})
    return tuple(row.one())


def test_a_case_goes_from_report_to_closed_with_its_audit_trail(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    worker = _worker(demo)
    steps = [
        ("accept", {}),
        ("dispatch", {"worker_id": worker}),
        ("start", {}),
        ("handle", {"note": "已清理"}),
        ("verify", {}),
        ("close", {"confirmed_by_resident": True, "confirmation_channel": "hotline"}),
    ]
    for version, (action, params) in enumerate(steps, start=1):
        result = act(demo, case_id, action, operator, version=version, **params)
        assert result.version == version + 1
    assert _state(demo, case_id) == ("closed", 7)
    events = demo.execute(
        text(
            "SELECT action, from_status, to_status, actor_name FROM case_events"
            " WHERE case_id = :id ORDER BY id"
        ),
        {"id": case_id},
    ).all()
    assert [e.action for e in events] == ["report", *(a for a, _ in steps)]
    assert all(e.actor_name == operator.username for e in events[1:])
    assert [e.to_status for e in events[1:]] == [
        "accepted",
        "dispatched",
        "in_progress",
        "handled",
        "verified",
        "closed",
    ]
    satisfied, closed_at = demo.execute(
        text("SELECT satisfied, closed_at FROM cases WHERE id = :id"), {"id": case_id}
    ).one()
    assert satisfied is True and closed_at is not None
    kinds = (
        demo.execute(
            text("SELECT kind FROM case_feed WHERE case_id = :id ORDER BY seq"), {"id": case_id}
        )
        .scalars()
        .all()
    )
    assert kinds == ["new", "accept", "dispatch", "start", "handle", "verify", "close"]
    status = demo.execute(text("SELECT status FROM workers WHERE id = :w"), {"w": worker})
    assert status.scalar() == "available"  # handled freed the worker


def test_worker_goes_en_route_then_on_site_then_is_freed(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    worker = _worker(demo)

    def worker_status() -> str:
        return demo.execute(
            text("SELECT status FROM workers WHERE id = :w"), {"w": worker}
        ).scalar()

    act(demo, case_id, "accept", operator, version=1)
    act(demo, case_id, "dispatch", operator, version=2, worker_id=worker)
    assert worker_status() == "en_route"
    act(demo, case_id, "start", operator, version=3)
    assert worker_status() == "on_site"
    act(demo, case_id, "handle", operator, version=4, note="done")
    assert worker_status() == "available"


def test_resident_not_satisfied_reopens_against_the_handler(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    worker = _worker(demo)
    act(demo, case_id, "accept", operator, version=1)
    act(demo, case_id, "dispatch", operator, version=2, worker_id=worker)
    act(demo, case_id, "handle", operator, version=3, note="done")
    act(demo, case_id, "verify", operator, version=4)
    act(demo, case_id, "close", operator, version=5, confirmed_by_resident=True,
        confirmation_channel="hotline")  # fmt: skip
    act(demo, case_id, "reopen", operator, version=6, note="居民回访不满意")
    satisfied, status = demo.execute(
        text("SELECT satisfied, status FROM cases WHERE id = :id"), {"id": case_id}
    ).one()
    assert (satisfied, status) == (False, "reopened")
    data = demo.execute(
        text("SELECT data FROM case_events WHERE case_id = :id AND action = 'reopen'"),
        {"id": case_id},
    ).scalar()
    assert data["handler_id"] == worker


def _params(action: str, demo: Connection, case_id: int) -> dict:
    other = _new_case(demo, offset=1)
    return {
        "reject": {"note": "不属实"},
        "handle": {"note": "完成"},
        "reopen": {"note": "不满意"},
        "escalate": {"note": "社区无法处置"},
        "dispatch": {"worker_id": _worker(demo)},
        "reassign": {"worker_id": _worker(demo)},
        "close": {"note": "群众无法联系，值班长同意结案"},
        "merge": {"duplicate_of": other},
    }.get(action, {})


@pytest.mark.parametrize("status", [s for s in CASE_STATUSES if s != "reported"] + ["reported"])
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_every_transition_is_allowed_exactly_from_its_sources(
    demo: Connection, status: str, action: str
) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    demo.execute(text("UPDATE cases SET status = :s WHERE id = :id"), {"s": status, "id": case_id})
    params = _params(action, demo, case_id)
    if status in TRANSITIONS[action].sources:
        result = act(demo, case_id, action, operator, version=1, **params)
        assert result.status == TRANSITIONS[action].target
    else:
        with pytest.raises(IllegalTransitionError) as refused:
            act(demo, case_id, action, operator, version=1, **params)
        allowed = allowed_actions(status, "operator")
        assert f"cannot {action} a case that is {status}" in str(refused.value)
        assert refused.value.details["allowed"] == allowed
        assert _state(demo, case_id) == (status, 1)


def test_leaders_and_admins_may_not_act_and_supervisors_only_in_their_area(
    demo: Connection,
) -> None:
    case_id = _new_case(demo)
    street, other_street = demo.execute(
        text(
            "SELECT c.street_id, (SELECT id FROM areas WHERE level = 'street'"
            " AND id <> c.street_id LIMIT 1) FROM cases c WHERE c.id = :id"
        ),
        {"id": case_id},
    ).one()
    for role in ("leader", "admin"):
        with pytest.raises(ForbiddenError):
            act(demo, case_id, "accept", _operator(demo, role), version=1)
    with pytest.raises(ForbiddenError, match="outside your area"):
        act(demo, case_id, "accept", _operator(demo, "supervisor", other_street), version=1)
    assert allowed_actions("reported", "leader") == []
    result = act(demo, case_id, "accept", _operator(demo, "supervisor", street), version=1)
    assert result.status == "accepted"


def test_stale_version_is_a_conflict_and_writes_nothing(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    act(demo, case_id, "accept", operator, version=1)
    events = demo.execute(
        text("SELECT count(*) FROM case_events WHERE case_id = :id"), {"id": case_id}
    ).scalar()
    with pytest.raises(ConflictError, match="changed since you saw it") as conflict:
        act(demo, case_id, "reject", operator, version=1, note="重复")
    assert conflict.value.details == {"version": 2, "status": "accepted"}
    assert _state(demo, case_id) == ("accepted", 2)
    assert (
        demo.execute(
            text("SELECT count(*) FROM case_events WHERE case_id = :id"), {"id": case_id}
        ).scalar()
        == events
    )


def test_missing_inputs_are_named(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    with pytest.raises(MissingInputError, match="needs a note"):
        act(demo, case_id, "reject", operator, version=1, note="   ")
    act(demo, case_id, "accept", operator, version=1)
    with pytest.raises(MissingInputError, match="worker"):
        act(demo, case_id, "dispatch", operator, version=2)
    demo.execute(text("UPDATE cases SET status = 'verified' WHERE id = :id"), {"id": case_id})
    with pytest.raises(MissingInputError, match="confirmation or an override reason"):
        act(demo, case_id, "close", operator, version=2)
    result = act(demo, case_id, "close", operator, version=2, note="居民电话停机，值班长批准")
    assert result.status == "closed"


def test_not_satisfied_reopens_and_escalation_climbs_to_the_district(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    demo.execute(text("UPDATE cases SET status = 'closed' WHERE id = :id"), {"id": case_id})
    act(demo, case_id, "reopen", operator, version=1, note="居民不满意")
    satisfied = demo.execute(text("SELECT satisfied FROM cases WHERE id = :id"), {"id": case_id})
    assert satisfied.scalar() is False
    version, levels = 2, []
    for _ in range(2):
        act(demo, case_id, "escalate", operator, version=version, note="本级无法处置")
        act(demo, case_id, "dispatch", operator, version=version + 1, worker_id=_worker(demo))
        version += 2
        levels.append(
            demo.execute(
                text("SELECT handling_level FROM cases WHERE id = :id"), {"id": case_id}
            ).scalar()
        )
    assert levels == ["street", "district"]
    with pytest.raises(IllegalTransitionError, match="the top"):
        act(demo, case_id, "escalate", operator, version=version, note="再上报")


def test_merge_links_the_duplicate_and_counts_it_on_the_original(demo: Connection) -> None:
    operator = _operator(demo)
    original, duplicate = _new_case(demo), _new_case(demo, offset=40)
    act(demo, duplicate, "merge", operator, version=1, duplicate_of=original)
    row = demo.execute(
        text(
            "SELECT d.status, d.duplicate_of_id, o.report_count FROM cases d"
            " JOIN cases o ON o.id = d.duplicate_of_id WHERE d.id = :id"
        ),
        {"id": duplicate},
    ).one()
    assert tuple(row) == ("merged", original, 2)
    with pytest.raises(MissingInputError):
        act(demo, original, "merge", operator, version=2, duplicate_of=original)


def test_fifty_parallel_conflicting_actions_one_wins(demo_engine: Engine) -> None:
    with demo_engine.begin() as conn:
        case_id = _new_case(conn, offset=77)
        operator = _operator(conn)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def attempt(i: int) -> None:
        action, params = ("accept", {}) if i % 2 else ("reject", {"note": f"无效 {i}"})
        start.wait(10)
        try:
            with demo_engine.begin() as conn:
                act(conn, case_id, action, operator, version=1, **params)
            outcome = action
        except ConflictError:
            outcome = "conflict"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [o for o in outcomes if o != "conflict"]
    assert len(outcomes) == 50
    assert len(winners) == 1
    with demo_engine.connect() as conn:
        status, version = _state(conn, case_id)
        actions = (
            conn.execute(
                text("SELECT action FROM case_events WHERE case_id = :id ORDER BY id"),
                {"id": case_id},
            )
            .scalars()
            .all()
        )
    assert version == 2
    assert actions == ["report", winners[0]]
    assert status == TRANSITIONS[winners[0]].target
