"""The simulated case-worker against the demo city: real cases through the whole cycle by
the store's actions, with their audit events and feed entries, and conflicts, refusals
and a lost database taken in its stride.

Everything runs in the ``demo`` fixture's transaction (one savepoint per action), so the
database's ``now()`` stands still at its start, ``t0``: every event of a test is stamped
``t0``. The worker's clock is virtual: each tick runs at ``t0`` + half a second, and the
policy runs ten million times faster than real life, so each tick every due case takes
its next step (the longest real wait, 336 hours, is 0.12 s here).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, text

from app.cli import main
from etl.feeds.lifecycle import (
    REOPEN_NOTE,
    CaseWorker,
    Decision,
    LifecyclePolicy,
    Shares,
    Shift,
)
from geo_data.actors import Actor
from geo_data.cluster import Cluster
from geo_data.dispatch import nearest_workers
from geo_data.lifecycle_queries import (
    SIMULATOR_USERNAME,
    WorkableCase,
    open_case_count,
    simulated_operator,
    workable_cases,
)
from geo_data.users import UserInfo
from geo_data.workflow import TRANSITIONS, act
from tests.conftest import DEMO_END, fresh_database, session_name
from tests.support import new_case

SPEED = 1e7
STRAIGHT = Shares(reject=0, merge=0, escalate_accepted=0, escalate_in_progress=0, reassign=0,
                  reopen=0, alone=0)  # fmt: skip
CYCLE = ["accept", "dispatch", "start", "handle", "verify", "close"]


@pytest.fixture
def t0(demo: Connection) -> datetime:
    return demo.execute(text("SELECT now()")).scalar_one()


@pytest.fixture
def make_worker(
    demo: Connection, demo_users: dict[str, UserInfo], t0: datetime
) -> Callable[..., CaseWorker]:
    """``make_worker(shares, area_id=..., **options)``: a worker on shift since ``t0``."""

    def make(shares: Shares = STRAIGHT, **options: object) -> CaseWorker:
        policy = LifecyclePolicy(SPEED, seed=7, shares=shares)
        return CaseWorker(demo, policy, shift=Shift(t0), **options)  # type: ignore[arg-type]

    return make


def _grid_of(conn: Connection, case_id: int) -> int:
    return conn.execute(text("SELECT grid_id FROM cases WHERE id = :id"), {"id": case_id}).one()[0]


def _events(conn: Connection, case_id: int) -> list:
    return conn.execute(
        text(
            "SELECT action, to_status, actor_name, note, data FROM case_events"
            " WHERE case_id = :id ORDER BY id"
        ),
        {"id": case_id},
    ).all()


def _feed_kinds(conn: Connection, case_id: int) -> list[str]:
    return list(
        conn.execute(
            text("SELECT kind FROM case_feed WHERE case_id = :id ORDER BY seq"), {"id": case_id}
        ).scalars()
    )


def _case(conn: Connection, case_id: int):
    return conn.execute(
        text(
            "SELECT status, version, assignee_id, satisfied, handling_level, duplicate_of_id,"
            " report_count FROM cases WHERE id = :id"
        ),
        {"id": case_id},
    ).one()


def _facts(conn: Connection, case_id: int, t0: datetime) -> WorkableCase:
    grid = _grid_of(conn, case_id)
    found = workable_cases(conn, closed_since=t0 - timedelta(hours=1), area_id=grid)
    return next(c for c in found if c.id == case_id)


def _work(worker: CaseWorker, now: datetime, ticks: int) -> None:
    for _ in range(ticks):
        worker.tick(now)


def _operator(conn: Connection, role: str = "operator") -> Actor:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    user_id = conn.execute(
        text("INSERT INTO users (username, display_name, role) VALUES (:n, :n, :r) RETURNING id"),
        {"n": name, "r": role},
    ).scalar_one()
    return Actor(user_id, name, role)


def test_worker_takes_a_new_case_through_the_cycle_with_audit_and_feed(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    case_id = new_case(demo, reported_at=t0)
    worker = make_worker(area_id=_grid_of(demo, case_id))
    now = t0 + timedelta(seconds=0.5)

    worker.tick(now)
    assert _case(demo, case_id).status == "accepted"
    nearest = nearest_workers(demo, case_id, limit=1)[0]
    worker.tick(now)
    assert _case(demo, case_id).assignee_id == nearest.id  # the nearest available worker
    _work(worker, now, 4)

    case = _case(demo, case_id)
    assert (case.status, case.version, case.satisfied) == ("closed", 7, True)
    events = _events(demo, case_id)
    assert [e.action for e in events] == ["report", *CYCLE]
    assert {e.actor_name for e in events[1:]} == {"operator"}  # the demo's operator
    assert events[2].data["worker_id"] == nearest.id
    assert events[4].note  # handling needs a note
    assert events[6].data["confirmation"]["channel"] in {"hotline", "wechat", "app", "walk_in"}
    assert _feed_kinds(demo, case_id) == ["new", *CYCLE]
    worker_status = demo.execute(
        text("SELECT status FROM workers WHERE id = :w"), {"w": nearest.id}
    ).scalar()
    assert worker_status == "available"  # handling freed them
    assert worker.tally.actions == dict.fromkeys(CYCLE, 1)
    _work(worker, now, 2)  # closed for good: nothing more happens
    assert len(_events(demo, case_id)) == 7


def test_a_case_reopened_by_the_resident_goes_round_again(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    case_id = new_case(demo, reported_at=t0)
    worker = make_worker(replace(STRAIGHT, reopen=1.0), area_id=_grid_of(demo, case_id))
    _work(worker, t0 + timedelta(seconds=0.5), 9)
    events = _events(demo, case_id)
    assert [e.action for e in events] == ["report", *CYCLE, "reopen", "dispatch", "start"]
    assert events[7].note == REOPEN_NOTE and "resident not satisfied" in REOPEN_NOTE
    assert _feed_kinds(demo, case_id)[7:] == ["reopen", "dispatch", "start"]


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ({"reject": 1.0}, ["reject"]),
        ({"escalate_accepted": 1.0}, ["accept", "escalate", *CYCLE[1:]]),
        (
            {"escalate_in_progress": 1.0},
            ["accept", "dispatch", "start", "escalate", "dispatch", "start", "escalate"],
        ),
    ],
    ids=["reject", "escalate-accepted", "escalate-on-site"],
)
def test_side_branches_take_their_actions_with_a_reason(
    demo: Connection,
    make_worker: Callable[..., CaseWorker],
    t0: datetime,
    shares: dict[str, float],
    expected: list[str],
) -> None:
    case_id = new_case(demo, reported_at=t0)
    worker = make_worker(replace(STRAIGHT, **shares), area_id=_grid_of(demo, case_id))
    _work(worker, t0 + timedelta(seconds=0.5), len(expected))
    events = _events(demo, case_id)[1:]
    assert [e.action for e in events] == expected
    assert all(e.note for e in events if e.action in ("reject", "escalate"))
    if "escalate" in expected:
        assert _case(demo, case_id).handling_level != "community"


def test_merge_goes_into_the_nearby_open_original_of_the_same_category(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    # The same spot three hours apart: too far apart in time to merge on arrival.
    original = new_case(demo, reported_at=t0 - timedelta(hours=3), offset=901)
    repeat = new_case(demo, reported_at=t0, offset=901)
    worker = make_worker()
    decision = Decision("merge", t0, note="重复上报", fallback="accept")
    assert worker.perform(_facts(demo, repeat, t0), decision, now=t0) == "done"
    case = _case(demo, repeat)
    assert (case.status, case.duplicate_of_id) == ("merged", original)
    assert _case(demo, original).report_count == 2
    assert _feed_kinds(demo, repeat)[-1] == "merge"
    assert _feed_kinds(demo, original)[-1] == "merge"


def test_merge_without_an_original_nearby_accepts_the_report_instead(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    lone = new_case(demo, reported_at=t0)
    worker = make_worker(merge_radius_m=1.0)
    decision = Decision("merge", t0, note="重复上报", fallback="accept")
    assert worker.perform(_facts(demo, lone, t0), decision, now=t0) == "done"
    assert _case(demo, lone).status == "accepted"
    assert _events(demo, lone)[-1].note == ""  # the merge's note is not the accept's


@pytest.mark.skipif("reassign" not in TRANSITIONS, reason="the workflow has no reassign yet")
def test_reassign_sends_another_worker(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    case_id = new_case(demo, reported_at=t0)
    worker = make_worker(area_id=_grid_of(demo, case_id))
    _work(worker, t0 + timedelta(seconds=0.5), 2)  # accepted, dispatched
    first = _case(demo, case_id).assignee_id
    decision = Decision("reassign", t0, note="改派", fallback="start")
    assert worker.perform(_facts(demo, case_id, t0), decision, now=t0) == "done"
    case = _case(demo, case_id)
    assert (case.status, case.assignee_id != first) == ("dispatched", True)
    assert _events(demo, case_id)[-1].data["previous_worker_id"] == first


def test_someone_acting_first_is_a_conflict_and_the_case_is_re_read_next_tick(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    case_id = new_case(demo, reported_at=t0)
    worker = make_worker(area_id=_grid_of(demo, case_id))
    now = t0 + timedelta(seconds=0.5)
    [(case, decision)] = [(c, d) for c, d in worker.plan(now) if c.id == case_id]
    assert decision.action == "accept"
    act(demo, case_id, "accept", _operator(demo), version=case.version)  # a screen, first

    assert worker.perform(case, decision, now=now) == "conflict"  # no exception escapes
    assert worker.tally.outcomes["conflict"] == 1
    worker.tick(now)  # re-read: accepted by the other, so it dispatches
    assert _case(demo, case_id).status == "dispatched"
    assert [e.action for e in _events(demo, case_id)] == ["report", "accept", "dispatch"]


def test_a_refused_action_is_counted_and_the_case_left_a_while(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    case_id = new_case(demo, reported_at=t0)
    worker = make_worker(area_id=_grid_of(demo, case_id), actor=_operator(demo, "leader"))
    now = t0 + timedelta(seconds=0.5)
    assert worker.tick(now)["refused"] >= 1  # a leader may not act on cases
    assert case_id not in {c.id for c, _ in worker.plan(now)}  # held back, not retried
    assert case_id in {c.id for c, _ in worker.plan(now + timedelta(minutes=1))}
    assert _case(demo, case_id).status == "reported"


def test_the_generated_years_open_cases_are_worked_too(
    demo: Connection, make_worker: Callable[..., CaseWorker], t0: datetime
) -> None:
    before = open_case_count(demo)
    assert before > 50
    worker = make_worker(max_actions=30)
    outcomes = worker.tick(t0 + timedelta(seconds=0.5))
    assert outcomes == {"done": 30}
    acted, generated = demo.execute(
        text(
            "SELECT count(DISTINCT e.case_id),"
            " count(DISTINCT e.case_id) FILTER (WHERE c.reported_at <= :end)"
            " FROM case_events e JOIN cases c ON c.id = e.case_id"
            " WHERE e.actor_name = 'operator' AND e.at = :t0"
        ),
        {"t0": t0, "end": DEMO_END},
    ).one()
    # Other tests of the session add cases of their own; the generated year's are among
    # those worked all the same.
    assert acted == 30 and generated > 0


def test_a_lost_database_never_kills_the_thread(caplog: pytest.LogCaptureFixture) -> None:
    from geo_data.db import make_engine

    nowhere = make_engine("postgresql+psycopg://nobody:x@127.0.0.1:9/none?connect_timeout=1")
    worker = CaseWorker(nowhere, LifecyclePolicy(SPEED), interval=0.02, max_backoff=0.05)
    with caplog.at_level(logging.WARNING, logger="etl.feeds.lifecycle"):
        thread = worker.start()
        try:
            deadline = time.monotonic() + 5
            while worker.tally.outcomes["tick failed"] < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert worker.tally.outcomes["tick failed"] >= 3
            assert thread.is_alive()
        finally:
            worker.stop()
            nowhere.dispose()
    assert not thread.is_alive()
    assert "tick failed" in caplog.text


def test_without_the_demo_operator_an_operator_is_found_or_made(demo: Connection) -> None:
    assert simulated_operator(demo).username == "operator"
    demo.execute(text("UPDATE users SET active = false WHERE username = 'operator'"))
    other = _operator(demo)
    assert simulated_operator(demo).role == "operator"
    demo.execute(text("UPDATE users SET active = false WHERE role = 'operator'"))
    made = simulated_operator(demo)
    assert (made.username, made.role, made.area_id) == (SIMULATOR_USERNAME, "operator", None)
    assert simulated_operator(demo) == made and other.username != made.username
    hashed = demo.execute(
        text("SELECT password_hash FROM users WHERE username = :u"), {"u": SIMULATOR_USERNAME}
    ).scalar()
    assert hashed is None  # it cannot sign in


def test_cli_feed_work_runs_for_its_duration_and_reports(cluster: Cluster) -> None:
    engine = fresh_database(cluster, "gridwatch_lifecycle_cli_test")
    try:
        env = {"GRIDWATCH_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
        result = CliRunner().invoke(
            main, ["feed", "work", "--duration", "0.5", "--rate", "0.5"], env=env
        )
        assert result.exit_code == 0, result.output
        assert "working 0 open cases at" in result.output
        assert "done: nothing yet" in result.output
    finally:
        engine.dispose()
        cluster.drop_database(session_name("gridwatch_lifecycle_cli_test"))
