"""The case store's report path: resolution, idempotency, duplicates, audit, feed."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import h3
import psycopg
import pytest
from sqlalchemy import Connection, Engine, text

from geo_data.actors import Actor, system_actor
from geo_data.case_store import CaseReport, report_case, report_cases
from geo_data.h3cells import to_h3
from tests.conftest import DEMO_END


def _spot(conn: Connection) -> tuple[float, float, str]:
    """A point well inside some courtyard-free grid of the demo city, and the grid code."""
    row = conn.execute(
        text(
            "SELECT ST_X(label_point) x, ST_Y(label_point) y, code FROM areas"
            " WHERE level = 'grid' ORDER BY code LIMIT 1"
        )
    ).one()
    return row.x, row.y, row.code


def _report(lon: float, lat: float, **kw: object) -> CaseReport:
    fields = {
        "channel": "hotline",
        "external_id": f"T-{uuid.uuid4().hex[:12]}",
        "category_code": "0101",
        "severity": 2,
        "lon": lon,
        "lat": lat,
        "reported_at": DEMO_END + timedelta(days=30),  # no demo case is this recent
        "description": "井盖缺失 <script>alert(1)</script>",
        "reporter_phone": "13812345678",
    }
    return CaseReport(**(fields | kw))


def test_report_resolves_areas_due_time_h3_and_audit(demo: Connection) -> None:
    actor = system_actor(demo)
    x, y, grid = _spot(demo)
    outcome = report_case(demo, _report(x, y), actor)
    assert outcome.created and outcome.status == "reported" and outcome.error is None
    row = demo.execute(
        text(
            """
            SELECT g.code AS grid, c.h3_r9, c.description,
                   extract(epoch FROM c.due_at - c.reported_at) / 3600 AS sla_h,
                   k.sla_hours_s2, c.street_id = g.street_id AS same_street,
                   (SELECT array_agg(action) FROM case_events e WHERE e.case_id = c.id) AS acts
            FROM cases c JOIN areas g ON g.id = c.grid_id
            JOIN categories k ON k.code = c.category_code WHERE c.id = :id
            """
        ),
        {"id": outcome.case_id},
    ).one()
    assert row.grid == grid and row.same_street
    assert to_h3(row.h3_r9) == h3.latlng_to_cell(y, x, 9)
    assert row.sla_h == pytest.approx(row.sla_hours_s2)
    assert row.description == "井盖缺失 <script>alert(1)</script>"  # stored verbatim
    assert row.acts == ["report"]


def test_repeated_external_id_returns_the_same_case(demo: Connection) -> None:
    actor = system_actor(demo)
    x, y, _ = _spot(demo)
    report = _report(x, y)
    first = report_case(demo, report, actor)
    second = report_case(demo, report, actor)
    assert second.case_id == first.case_id
    assert (first.created, second.created) == (True, False)
    n = demo.execute(
        text("SELECT count(*) FROM cases WHERE external_id = :e"), {"e": report.external_id}
    )
    assert n.scalar() == 1


def test_nearby_report_of_same_category_is_merged_into_the_open_case(demo: Connection) -> None:
    actor = system_actor(demo)
    x, y, _ = _spot(demo)
    original = report_case(demo, _report(x, y), actor)
    later = _report(x + 0.0003, y, channel="wechat")  # ~29 m east, same time
    duplicate = report_case(demo, later, actor)
    other_kind = report_case(demo, _report(x, y, category_code="0102"), actor)
    far = report_case(demo, _report(x + 0.003, y), actor)  # ~290 m: another incident
    assert duplicate.status == "merged" and duplicate.duplicate_of == original.case_id
    assert other_kind.duplicate_of is None and far.duplicate_of is None
    count, version = demo.execute(
        text("SELECT report_count, version FROM cases WHERE id = :id"), {"id": original.case_id}
    ).one()
    assert (count, version) == (2, 2)


def test_point_outside_every_grid_is_refused_and_nothing_written(demo: Connection) -> None:
    before = demo.execute(text("SELECT count(*) FROM cases")).scalar()
    x, y, _ = _spot(demo)
    outcomes = report_cases(demo, [_report(116.40, 39.90), _report(x, y)], system_actor(demo))
    assert outcomes[0].case_id is None and "outside the jurisdiction" in outcomes[0].error
    assert outcomes[1].created
    assert demo.execute(text("SELECT count(*) FROM cases")).scalar() == before + 1


def test_feed_entries_carry_no_personal_data_and_increase(demo: Connection) -> None:
    actor = system_actor(demo)
    x, y, _ = _spot(demo)
    start = demo.execute(text("SELECT coalesce(max(seq), 0) FROM case_feed")).scalar()
    a = report_case(demo, _report(x, y), actor)
    b = report_case(demo, _report(x, y, channel="app"), actor)  # merges into a
    rows = demo.execute(
        text("SELECT seq, case_id, kind, payload FROM case_feed WHERE seq > :s ORDER BY seq"),
        {"s": start},
    ).all()
    assert [(r.case_id, r.kind) for r in rows] == [
        (a.case_id, "new"),
        (b.case_id, "new"),
        (a.case_id, "reports"),
    ]
    assert rows[0].seq < rows[1].seq < rows[2].seq
    assert rows[2].payload["report_count"] == 2
    assert "reporter_phone" not in rows[0].payload
    assert "13812345678" not in str(rows[0].payload)


def _commit_report(engine: Engine, report: CaseReport, actor: Actor, out: list, i: int) -> None:
    with engine.begin() as conn:
        out[i] = report_case(conn, report, actor)


def test_concurrent_retries_create_one_case(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        actor = system_actor(conn)
        x, y, _ = _spot(conn)
    report = _report(x + 0.01, y + 0.01, external_id=f"RACE-{uuid.uuid4().hex}")
    outcomes: list = [None] * 8
    threads = [
        threading.Thread(target=_commit_report, args=(demo_engine, report, actor, outcomes, i))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ids = {o.case_id for o in outcomes}
    assert len(ids) == 1 and None not in ids
    assert sum(o.created for o in outcomes) == 1
    with demo_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM cases WHERE external_id = :e"),
            {"e": report.external_id},
        ).scalar()
    assert n == 1


def test_commit_is_announced_by_notify(demo_engine: Engine) -> None:
    url = demo_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN case_feed")
        with demo_engine.begin() as conn:
            x, y, _ = _spot(conn)
            report_case(
                conn, _report(x, y, external_id=f"N-{uuid.uuid4().hex}"), system_actor(conn)
            )
            seq = conn.execute(text("SELECT max(seq) FROM case_feed")).scalar()
        notices = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.payload for n in notices] == [str(seq)]
