"""Constraints the database itself enforces."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError

SQUARE = "SRID=4326;MULTIPOLYGON(((104.1 30.7,104.11 30.7,104.11 30.71,104.1 30.71,104.1 30.7)))"


def _case(conn: Connection, external_id: str, channel: str = "hotline") -> int:
    area_id = conn.execute(
        text(
            "INSERT INTO areas (code, level, name_zh, name_en, area_m2, geom)"
            " VALUES (:code, 'district', '测试区', 'Test', 1e6, ST_GeomFromEWKT(:g))"
            " ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh RETURNING id"
        ),
        {"code": "T01", "g": SQUARE},
    ).scalar_one()
    return conn.execute(
        text(
            """
            INSERT INTO cases (channel, external_id, category_code, severity, status, geom,
                               h3_r7, h3_r8, h3_r9, h3_r10, h3_r11, h3_r12,
                               district_id, reported_at, due_at)
            VALUES (:channel, :ext, (SELECT min(code) FROM categories), 3, 'reported',
                    ST_SetSRID(ST_MakePoint(104.105, 30.705), 4326), 1, 2, 3, 4, 5, 6,
                    :area, now(), now() + interval '1 day')
            RETURNING id
            """
        ),
        {"channel": channel, "ext": external_id, "area": area_id},
    ).scalar_one()


def test_external_id_is_unique_per_channel(conn: Connection) -> None:
    _case(conn, "A-1", "hotline")
    _case(conn, "A-1", "wechat")  # same id through another channel is another report
    with pytest.raises(IntegrityError, match="case_external_id_per_channel"), conn.begin_nested():
        _case(conn, "A-1", "hotline")


def test_case_events_reject_update_and_delete(conn: Connection, system) -> None:
    case_id = _case(conn, "LOG-1")
    event_id = conn.execute(
        text(
            "INSERT INTO case_events (case_id, actor_id, actor_name, action, to_status)"
            " VALUES (:c, :a, 'system', 'report', 'reported') RETURNING id"
        ),
        {"c": case_id, "a": system.id},
    ).scalar_one()
    for statement in (
        "UPDATE case_events SET note = 'rewritten' WHERE id = :e",
        "DELETE FROM case_events WHERE id = :e",
        "TRUNCATE case_events CASCADE",
    ):
        with pytest.raises(DBAPIError, match="append-only"), conn.begin_nested():
            conn.execute(text(statement), {"e": event_id})
    note = conn.execute(text("SELECT note FROM case_events WHERE id = :e"), {"e": event_id})
    assert note.scalar_one() == ""


def test_case_with_events_cannot_be_deleted(conn: Connection, system) -> None:
    case_id = _case(conn, "LOG-2")
    conn.execute(
        text(
            "INSERT INTO case_events (case_id, actor_id, actor_name, action)"
            " VALUES (:c, :a, 'system', 'report')"
        ),
        {"c": case_id, "a": system.id},
    )
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(text("DELETE FROM cases WHERE id = :c"), {"c": case_id})


def test_version_must_be_positive_and_severity_in_range(conn: Connection) -> None:
    case_id = _case(conn, "V-1")
    with pytest.raises(IntegrityError, match="case_version_positive"), conn.begin_nested():
        conn.execute(text("UPDATE cases SET version = 0 WHERE id = :c"), {"c": case_id})
    with pytest.raises(IntegrityError, match="case_severity_range"), conn.begin_nested():
        conn.execute(text("UPDATE cases SET severity = 5 WHERE id = :c"), {"c": case_id})


def test_unknown_status_and_channel_are_refused(conn: Connection) -> None:
    case_id = _case(conn, "S-1")
    with pytest.raises(IntegrityError, match="case_status_known"), conn.begin_nested():
        conn.execute(text("UPDATE cases SET status = 'lost' WHERE id = :c"), {"c": case_id})
    with pytest.raises(IntegrityError, match="case_channel_known"), conn.begin_nested():
        _case(conn, "S-2", channel="fax")


def test_schema_matches_models(engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from geo_data.models import Base

    def include(obj, name, type_, reflected, compare_to) -> bool:
        return not (type_ == "table" and name == "spatial_ref_sys")

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include})
        assert compare_metadata(context, Base.metadata) == []
