"""Helpers shared by the tests and benchmarks that talk to a running server over HTTP."""

from __future__ import annotations

import itertools
import json
import urllib.request
import uuid
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from geo_data.users import UserInfo


def grid_points(
    engine: Engine, *, limit: int | None = None, offset: int = 0, last_first: bool = False
) -> list[tuple[float, float]]:
    """Label points (lon, lat) of grids in code order: places inside a grid and the
    jurisdiction, for events that must resolve to an area."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
                f" ORDER BY code {'DESC' if last_first else 'ASC'} LIMIT :limit OFFSET :offset"
            ),
            {"limit": limit, "offset": offset},
        ).all()
    return [(float(x), float(y)) for x, y in rows]


def post_event(base: str, key: str, body: dict, expect: tuple[int, ...] = (201,)) -> int:
    """POST one event to ``base``'s ingest API with ``key``; returns the case id."""
    request = urllib.request.Request(
        base + "/api/v1/events",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in expect, response.status
        return json.load(response)["case_id"]


def viewer(role: str = "operator", area: tuple[int, str, str] | None = None) -> UserInfo:
    """A signed-in user as pages see one (no database row needed): ``area`` is
    (id, code, level) for a supervisor."""
    area_id, code, level = area or (None, None, None)
    return UserInfo(0, f"test-{role}", f"Test {role}", role, area_id, code, code, code, level, True)


OPERATOR = viewer()


_SPOTS = itertools.count()


def new_case(
    conn: Connection,
    *,
    street_id: int | None = None,
    community_id: int | None = None,
    offset: int | None = None,
    reported_at: datetime | None = None,
) -> int:
    """Report a fresh case (status ``reported``) at a grid's label point, in ``street_id``
    when given; returns its id. Each call takes another grid unless ``offset`` is given,
    so committed cases are never merged as duplicates of each other."""
    if offset is None:
        offset = next(_SPOTS)
    from datetime import timedelta

    from geo_data.actors import system_actor
    from geo_data.case_store import CaseReport, report_case
    from tests.conftest import DEMO_END

    x, y = conn.execute(
        text(
            "WITH g AS (SELECT code, label_point FROM areas WHERE level = 'grid'"
            " AND (CAST(:s AS integer) IS NULL OR street_id = :s)"
            " AND (CAST(:m AS integer) IS NULL OR community_id = :m))"
            " SELECT ST_X(label_point), ST_Y(label_point) FROM g ORDER BY code LIMIT 1"
            " OFFSET :n % (SELECT count(*) FROM g)"
        ),
        {"s": street_id, "m": community_id, "n": offset},
    ).one()
    report = CaseReport(
        channel="hotline",
        external_id=f"T-{uuid.uuid4().hex}",
        category_code="E0201",
        severity=3,
        lon=x,
        lat=y,
        reported_at=reported_at or DEMO_END + timedelta(days=150, minutes=offset),
        reporter_name="王小明",
        reporter_phone="13812345678",
    )
    return report_case(conn, report, system_actor(conn)).case_id
