"""What the simulated case-worker of the demo reads: the cases it may work, a nearby
original to merge a report into, and the operator it acts as.

Its writes go through :func:`geo_data.workflow.act` like a screen's; only the reads live
here (see :mod:`etl.feeds.lifecycle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from geo_data.actors import Actor, UnknownActorError, actor_by_username
from geo_data.case_store import OPEN_SQL

DEMO_OPERATOR = "operator"
SIMULATOR_USERNAME = "simulator"


@dataclass(frozen=True)
class WorkableCase:
    """A case as the case-worker's policy sees it: where it stands and since when.

    ``changed_at`` is the time of its last audit event (the import dates the generated
    history's), so a case someone else just acted on starts its next wait afresh.
    """

    id: int
    status: str
    version: int
    category_code: str
    severity: int
    handling_level: str
    reported_at: datetime
    due_at: datetime
    changed_at: datetime
    assignee_id: int | None = None


_COLUMNS = """c.id, c.status, c.version, c.category_code, c.severity, c.handling_level,
           c.reported_at, c.due_at, coalesce(e.at, c.updated_at) AS changed_at, c.assignee_id"""
_IN_AREA = (
    "(CAST(:area AS integer) IS NULL OR CAST(:area AS integer) IN"
    " (c.district_id, c.street_id, c.community_id, c.grid_id))"
)
_LAST_EVENT = (
    "LEFT JOIN LATERAL (SELECT max(at) AS at FROM case_events WHERE case_id = c.id) e ON true"
)
# Two branches, so each reads its own index: the open cases' partial index (its predicate
# is OPEN_SQL verbatim) and the closing times'.
_WORKABLE_SQL = text(
    f"""
    (SELECT {_COLUMNS} FROM cases c {_LAST_EVENT}
     WHERE c.{OPEN_SQL} AND {_IN_AREA}
     ORDER BY c.id LIMIT :limit)
    UNION ALL
    (SELECT {_COLUMNS} FROM cases c {_LAST_EVENT}
     WHERE c.status = 'closed' AND c.closed_at >= :closed_since AND {_IN_AREA}
     ORDER BY c.closed_at DESC LIMIT :limit)
    """
)


def workable_cases(
    conn: Connection,
    *,
    closed_since: datetime,
    area_id: int | None = None,
    limit: int = 5000,
) -> list[WorkableCase]:
    """The open cases (in ``area_id`` when given; up to ``limit``, oldest ids first) and
    those closed at ``closed_since`` or later (a resident may still reopen them)."""
    rows = conn.execute(
        _WORKABLE_SQL, {"closed_since": closed_since, "area": area_id, "limit": limit}
    ).all()
    return [WorkableCase(*row) for row in rows]


def open_case_count(conn: Connection, *, area_id: int | None = None) -> int:
    """How many cases are open now (in ``area_id`` when given)."""
    return conn.execute(
        text(f"SELECT count(*) FROM cases c WHERE c.{OPEN_SQL} AND {_IN_AREA}"), {"area": area_id}
    ).scalar_one()


# KNN on the open originals' partial GiST index (its predicate verbatim), then the
# geodesic radius on the few rows found.
_MERGE_ORIGINAL_SQL = text(
    f"""
    WITH me AS (SELECT id, geom, category_code, reported_at FROM cases WHERE id = :id),
    near AS (
        SELECT o.id, o.geom FROM cases o, me
        WHERE o.{OPEN_SQL} AND o.duplicate_of_id IS NULL AND o.id <> me.id
          AND o.category_code = me.category_code AND o.reported_at <= me.reported_at
        ORDER BY o.geom <-> me.geom, o.id
        LIMIT 5
    )
    SELECT near.id FROM near, me
    WHERE ST_DWithin(near.geom::geography, me.geom::geography, :radius)
    ORDER BY ST_Distance(near.geom::geography, me.geom::geography), near.id
    LIMIT 1
    """
)


def merge_original(conn: Connection, case_id: int, *, radius_m: float = 1000.0) -> int | None:
    """The nearest open original (not itself a duplicate) of the same category reported
    no later than case ``case_id`` and within ``radius_m`` metres of it, or None."""
    return conn.execute(_MERGE_ORIGINAL_SQL, {"id": case_id, "radius": radius_m}).scalar()


def simulated_operator(conn: Connection) -> Actor:
    """Whom the case-worker acts as: the demo's ``operator``, else the first active
    operator, else a ``simulator`` operator created for it (no password: it cannot sign
    in), so the audit log names a dispatcher, never the system user."""
    try:
        return actor_by_username(conn, DEMO_OPERATOR)
    except UnknownActorError:
        pass
    username = conn.execute(
        text("SELECT username FROM users WHERE role = 'operator' AND active ORDER BY id LIMIT 1")
    ).scalar()
    if username is None:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role) VALUES (:u, :d, 'operator')"
                " ON CONFLICT (username) DO NOTHING"
            ),
            {"u": SIMULATOR_USERNAME, "d": "模拟值班员"},
        )
        username = SIMULATOR_USERNAME
    return actor_by_username(conn, username)
