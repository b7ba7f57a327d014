"""SLA escalation in the store: which overdue cases climb a level, as whom, and only once."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

import geo_data.sla
from etl.load import load_file
from geo_data.actors import system_actor
from geo_data.case_store import CaseReport, report_case
from geo_data.catalogue import sla_hours
from geo_data.cluster import Cluster
from geo_data.models import CASE_STATUSES
from geo_data.sla import escalate_overdue, overdue_for_escalation
from geo_data.workflow import TRANSITIONS, ForbiddenError, act
from tests.conftest import fresh_database, session_name

CATEGORY, SEVERITY = "E0201", 3
HOUR = timedelta(hours=1)
SQUARE = [[[104, 30.6], [104.1, 30.6], [104.1, 30.7], [104, 30.7], [104, 30.6]]]
LEVELS = (("Q1", "district", None), ("Q1001", "street", "Q1"),
          ("Q1001001", "community", "Q1001"), ("Q1001001001", "grid", "Q1001001"))  # fmt: skip
_spots = count()  # each case on its own spot, 190 m or more apart: none is a duplicate


def small_city(conn: Connection, folder: Path) -> None:
    """One district down to one grid, all on the same square (enough to place cases)."""
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "level": level, "parent_code": parent, "name_zh": code},
            "geometry": {"type": "Polygon", "coordinates": SQUARE},
        }
        for code, level, parent in LEVELS
    ]
    path = folder / "small-city.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    load_file(conn, "areas", path, system_actor(conn))


def overdue_case(
    conn: Connection,
    overdue: timedelta,
    *,
    status: str = "dispatched",
    level: str = "community",
) -> int:
    """A case in the small city whose deadline passed ``overdue`` ago (negative: not yet)."""
    spot = next(_spots) % 1600
    report = CaseReport(
        channel="hotline",
        external_id=f"SLA-{uuid.uuid4().hex}",
        category_code=CATEGORY,
        severity=SEVERITY,
        lon=104.01 + 0.002 * (spot % 40),
        lat=30.61 + 0.002 * (spot // 40),
        reported_at=datetime.now(UTC) - overdue - timedelta(hours=sla_hours(CATEGORY, SEVERITY)),
    )
    case_id = report_case(conn, report, system_actor(conn)).case_id
    conn.execute(
        text(
            "UPDATE cases SET status = :s, handling_level = :l, due_at = now() - :o WHERE id = :id"
        ),
        {"s": status, "l": level, "o": overdue, "id": case_id},
    )
    return case_id


def case_row(conn: Connection, case_id: int):
    return conn.execute(
        text(
            "SELECT status, handling_level, version, due_at,"
            " extract(epoch FROM due_at - now()) / 3600 AS hours_left FROM cases WHERE id = :id"
        ),
        {"id": case_id},
    ).one()


def events(conn: Connection, case_id: int) -> list:
    return conn.execute(
        text(
            "SELECT e.action, e.actor_name, u.username, e.note, e.data, e.to_status"
            " FROM case_events e JOIN users u ON u.id = e.actor_id"
            " WHERE e.case_id = :id ORDER BY e.id"
        ),
        {"id": case_id},
    ).all()


@pytest.fixture
def city(conn: Connection, tmp_path: Path) -> Connection:
    """The empty test database with the small city, rolled back after the test."""
    small_city(conn, tmp_path)
    return conn


def test_case_overdue_beyond_grace_climbs_one_level_as_the_system(city: Connection) -> None:
    case_id = overdue_case(city, 2 * HOUR)
    before = case_row(city, case_id)
    results = escalate_overdue(city, grace=HOUR, limit=10)
    assert [(r.case_id, r.action, r.from_status, r.status) for r in results] == [
        (case_id, "escalate", "dispatched", "escalated")
    ]
    after = case_row(city, case_id)
    assert (after.status, after.handling_level, after.version) == ("escalated", "street", 2)
    # A fresh deadline at the new level: now plus the catalogue's hours for the severity.
    assert float(after.hours_left) == pytest.approx(sla_hours(CATEGORY, SEVERITY), abs=1e-6)
    escalation = events(city, case_id)[-1]
    assert escalation.action == "escalate" and escalation.to_status == "escalated"
    assert escalation.actor_name == escalation.username == "system"
    assert escalation.note.startswith("overdue at community level since ")
    assert escalation.note.endswith("escalated automatically")
    assert escalation.data["handling_level"] == "street"
    assert escalation.data["due_at"] == {
        "from": before.due_at.isoformat(),
        "to": after.due_at.isoformat(),
    }
    feed = city.execute(
        text("SELECT kind, payload FROM case_feed WHERE case_id = :id ORDER BY seq DESC LIMIT 1"),
        {"id": case_id},
    ).one()
    assert feed.kind == "escalate"
    assert feed.payload["handling_level"] == "street" and feed.payload["status"] == "escalated"


def test_case_overdue_within_grace_waits(city: Connection) -> None:
    case_id = overdue_case(city, timedelta(minutes=30))
    not_due = overdue_case(city, -HOUR)
    assert escalate_overdue(city, grace=HOUR, limit=10) == []
    assert case_row(city, case_id).handling_level == "community"
    assert [r.case_id for r in escalate_overdue(city, grace=timedelta(0), limit=10)] == [case_id]
    assert case_row(city, not_due).handling_level == "community"


def test_district_level_case_is_at_the_top_and_stays(city: Connection) -> None:
    top = overdue_case(city, 5 * HOUR, level="district")
    street = overdue_case(city, 5 * HOUR, level="street")
    assert [r.case_id for r in escalate_overdue(city, grace=HOUR, limit=10)] == [street]
    assert case_row(city, street).handling_level == "district"
    assert (case_row(city, top).handling_level, case_row(city, top).version) == ("district", 1)


@pytest.mark.parametrize("status", CASE_STATUSES)
def test_only_cases_being_worked_escalate(city: Connection, status: str) -> None:
    case_id = overdue_case(city, 5 * HOUR, status=status)
    escalated = [r.case_id for r in escalate_overdue(city, grace=HOUR, limit=10)]
    if status in TRANSITIONS["escalate"].sources:
        assert escalated == [case_id]
    else:  # reported (not yet accepted), handled, verified, closed, merged, ...
        assert escalated == []
        assert case_row(city, case_id).version == 1


def test_limit_takes_the_oldest_deadlines_first(city: Connection) -> None:
    five, three, four = (overdue_case(city, h * HOUR) for h in (5, 3, 4))
    found = overdue_for_escalation(city, grace=HOUR, limit=2)
    assert [c.id for c in found] == [five, four]
    assert [r.case_id for r in escalate_overdue(city, grace=HOUR, limit=2)] == [five, four]
    assert case_row(city, three).handling_level == "community"


def test_system_may_escalate_but_take_no_other_action(city: Connection) -> None:
    system = system_actor(city)
    case_id = overdue_case(city, HOUR, status="accepted")
    for action in TRANSITIONS:
        if action == "escalate":
            continue
        with pytest.raises(ForbiddenError, match=f"the system may not {action}"):
            act(city, case_id, action, system, version=1, note="x", worker_id=1)
    assert case_row(city, case_id).version == 1
    assert [e.action for e in events(city, case_id)] == ["report"]
    result = act(city, case_id, "escalate", system, version=1, note="by hand")
    assert result.status == "escalated"


def test_a_failing_case_is_skipped_and_the_others_kept(
    city: Connection, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = overdue_case(city, 3 * HOUR), overdue_case(city, 2 * HOUR)
    real_act = geo_data.sla.act

    def act_then_fail(conn: Connection, case_id: int, *args, **kwargs):
        result = real_act(conn, case_id, *args, **kwargs)
        if case_id == broken:  # fail after writing: the savepoint must undo it all
            raise RuntimeError("boom")
        return result

    monkeypatch.setattr(geo_data.sla, "act", act_then_fail)
    with caplog.at_level(logging.ERROR, logger="geo_data.sla"):
        results = escalate_overdue(city, grace=HOUR, limit=10)
    assert [r.case_id for r in results] == [fine]
    assert (case_row(city, broken).handling_level, case_row(city, broken).version) == (
        "community",
        1,
    )
    assert [e.action for e in events(city, broken)] == ["report"]
    assert case_row(city, fine).handling_level == "street"
    assert f"could not escalate overdue case {broken}" in caplog.text


# -- committed work on a database of its own ------------------------------------------------


@pytest.fixture(scope="module")
def sla_engine(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own with the small city, for tests that commit."""
    engine = fresh_database(cluster, "gridwatch_sla_test")
    with engine.begin() as conn:
        small_city(conn, tmp_path_factory.mktemp("sla"))
    yield engine
    engine.dispose()
    cluster.drop_database(session_name("gridwatch_sla_test"))


@pytest.fixture
def committed(sla_engine: Engine) -> Engine:
    """The module's database with no open case left by an earlier test."""
    with sla_engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'closed' WHERE status <> 'closed'"))
    return sla_engine


def test_two_schedulers_at_once_escalate_each_case_exactly_once(
    committed: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with committed.begin() as conn:
        ids = [overdue_case(conn, (2 + i / 60) * HOUR) for i in range(20)]
    real_act = geo_data.sla.act

    def slow_act(*args, **kwargs):
        result = real_act(*args, **kwargs)
        threading.Event().wait(0.02)  # hold the claimed rows while the other one runs
        return result

    monkeypatch.setattr(geo_data.sla, "act", slow_act)
    start = threading.Barrier(2)
    escalated: list[list[int]] = []

    def run() -> None:
        start.wait(10)
        with committed.begin() as conn:
            results = escalate_overdue(conn, grace=HOUR, limit=10)
        escalated.append([r.case_id for r in results])

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert sorted(len(batch) for batch in escalated) == [10, 10]
    assert sorted(escalated[0] + escalated[1]) == sorted(ids)
    assert "could not escalate" not in caplog.text  # claimed rows were skipped, not fought over
    with committed.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT c.handling_level, count(e.id) FROM cases c LEFT JOIN case_events e"
                " ON e.case_id = c.id AND e.action = 'escalate' WHERE c.id = ANY(:ids)"
                " GROUP BY c.id, c.handling_level"
            ),
            {"ids": ids},
        ).all()
    assert sorted(tuple(r) for r in counts) == [("street", 1)] * 20
