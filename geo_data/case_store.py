"""The case store: every write to a case goes through here, with the acting user.

Each write also appends to the audit log (``case_events``) and to the live feed
(``case_feed``) in the same transaction, so a change is announced only once it is
committed and never without its audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, DOUBLE_PRECISION, INTEGER, TEXT, TIMESTAMP

from geo_data.actors import Actor
from geo_data.h3cells import h3_columns
from geo_data.models import CLOSED_STATUSES, H3_RESOLUTIONS

DUPLICATE_RADIUS_M = 80.0
DUPLICATE_WINDOW_HOURS = 2.0
FEED_LOCK = 7_231_001  # advisory lock id serialising feed appends (seq order = commit order)
OPEN_SQL = "status NOT IN (" + ", ".join(f"'{s}'" for s in CLOSED_STATUSES) + ")"

# What every screen may see of a case: no personal data.
FEED_PAYLOAD_SQL = """
    json_build_object(
        'id', c.id, 'lon', round(ST_X(c.geom)::numeric, 6), 'lat', round(ST_Y(c.geom)::numeric, 6),
        'category', c.category_code, 'severity', c.severity, 'status', c.status,
        'channel', c.channel, 'reported_at', c.reported_at, 'due_at', c.due_at,
        'closed_at', c.closed_at, 'report_count', c.report_count, 'version', c.version,
        'duplicate_of', c.duplicate_of_id, 'assignee_id', c.assignee_id,
        'handling_level', c.handling_level,
        'district_id', c.district_id, 'street_id', c.street_id,
        'community_id', c.community_id, 'grid_id', c.grid_id, 'courtyard_id', c.courtyard_id,
        'h3', json_build_array(to_hex(c.h3_r7), to_hex(c.h3_r8), to_hex(c.h3_r9),
                               to_hex(c.h3_r10), to_hex(c.h3_r11), to_hex(c.h3_r12))
    )
"""


@dataclass(frozen=True)
class CaseReport:
    """A report as it arrives from a channel (already validated at the edge)."""

    channel: str
    external_id: str
    category_code: str
    severity: int
    lon: float
    lat: float
    reported_at: datetime
    description: str = ""
    reporter_name: str | None = None
    reporter_phone: str | None = None
    media_url: str | None = None


@dataclass(frozen=True)
class ReportOutcome:
    """What became of one report: a new case, a known one (idempotent retry) or none."""

    case_id: int | None
    created: bool
    status: str | None = None
    duplicate_of: int | None = None
    error: str | None = None


_ARRAYS = {
    "channel": ARRAY(TEXT),
    "external_id": ARRAY(TEXT),
    "category_code": ARRAY(TEXT),
    "severity": ARRAY(INTEGER),
    "lon": ARRAY(DOUBLE_PRECISION),
    "lat": ARRAY(DOUBLE_PRECISION),
    "reported_at": ARRAY(TIMESTAMP(timezone=True)),
    "description": ARRAY(TEXT),
    "reporter_name": ARRAY(TEXT),
    "reporter_phone": ARRAY(TEXT),
    "media_url": ARRAY(TEXT),
} | {f"h3_r{r}": ARRAY(BIGINT) for r in H3_RESOLUTIONS}
_COLUMNS = list(_ARRAYS)
_H3 = [f"h3_r{r}" for r in H3_RESOLUTIONS]

_REPORT_SQL = text(
    f"""
    WITH s AS (
        SELECT * FROM unnest({", ".join(f":{c}" for c in _COLUMNS)})
            WITH ORDINALITY AS t({", ".join(_COLUMNS)}, ord)
    ), r AS (
        SELECT s.*, pt.geom, g.district_id, g.street_id, g.community_id, g.grid_id,
               cy.id AS courtyard_id, dup.id AS duplicate_of_id,
               s.reported_at + make_interval(secs => 3600 * CASE s.severity
                   WHEN 1 THEN k.sla_hours_s1 WHEN 2 THEN k.sla_hours_s2
                   WHEN 3 THEN k.sla_hours_s3 ELSE k.sla_hours_s4 END) AS due_at
        FROM s
        JOIN categories k ON k.code = s.category_code
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom) pt
        LEFT JOIN LATERAL (
            SELECT a.district_id, a.street_id, a.community_id, a.grid_id FROM areas a
            WHERE a.level = 'grid' AND ST_Intersects(a.geom, pt.geom) LIMIT 1
        ) g ON true
        LEFT JOIN LATERAL (
            SELECT a.id FROM areas a
            WHERE a.level = 'courtyard' AND ST_Intersects(a.geom, pt.geom) LIMIT 1
        ) cy ON true
        LEFT JOIN LATERAL (
            SELECT c.id FROM cases c
            WHERE c.category_code = s.category_code AND c.duplicate_of_id IS NULL
              AND c.{OPEN_SQL}
              AND c.reported_at BETWEEN s.reported_at - make_interval(secs => :dup_hours * 3600)
                                    AND s.reported_at + make_interval(secs => :dup_hours * 3600)
              AND ST_DWithin(c.geom, pt.geom, :dup_degrees)
              AND ST_DWithin(c.geom::geography, pt.geom::geography, :dup_metres)
              AND NOT (c.channel = s.channel AND c.external_id = s.external_id)
            ORDER BY c.geom <-> pt.geom LIMIT 1
        ) dup ON true
    ), ins AS (
        INSERT INTO cases (
            channel, external_id, category_code, severity, status, geom, {", ".join(_H3)},
            district_id, street_id, community_id, grid_id, courtyard_id,
            reported_at, due_at, duplicate_of_id, description, reporter_name, reporter_phone,
            media_url
        )
        SELECT channel, external_id, category_code, severity,
               CASE WHEN duplicate_of_id IS NULL THEN 'reported' ELSE 'merged' END, geom,
               {", ".join(_H3)}, district_id, street_id, community_id, grid_id, courtyard_id,
               reported_at, due_at, duplicate_of_id, coalesce(description, ''), reporter_name,
               reporter_phone, media_url
        FROM r WHERE grid_id IS NOT NULL
        ORDER BY ord
        ON CONFLICT (channel, external_id) DO NOTHING
        RETURNING id, channel, external_id, status, duplicate_of_id
    ), events AS (
        INSERT INTO case_events (case_id, actor_id, actor_name, action, to_status, note, data)
        SELECT i.id, :actor_id, :actor_name, 'report', i.status,
               CASE WHEN i.duplicate_of_id IS NULL THEN ''
                    ELSE 'merged into case ' || i.duplicate_of_id END,
               json_build_object('channel', i.channel, 'external_id', i.external_id)
        FROM ins i
        UNION ALL
        SELECT i.duplicate_of_id, :actor_id, :actor_name, 'duplicate_report', NULL,
               'another report of this case: ' || i.id, json_build_object('case_id', i.id)
        FROM ins i WHERE i.duplicate_of_id IS NOT NULL
        RETURNING 1
    ), counted AS (
        UPDATE cases o SET report_count = o.report_count + d.n, version = o.version + 1,
                           updated_at = now()
        FROM (SELECT duplicate_of_id AS id, count(*) AS n FROM ins
              WHERE duplicate_of_id IS NOT NULL GROUP BY 1) d
        WHERE o.id = d.id
        RETURNING o.id
    )
    SELECT r.ord, coalesce(i.id, old.id) AS case_id, i.id IS NOT NULL AS created,
           coalesce(i.status, old.status) AS status,
           coalesce(i.duplicate_of_id, old.duplicate_of_id) AS duplicate_of_id,
           r.grid_id IS NOT NULL AS inside
    FROM r
    LEFT JOIN ins i ON i.channel = r.channel AND i.external_id = r.external_id
    LEFT JOIN cases old ON i.id IS NULL AND old.channel = r.channel
                       AND old.external_id = r.external_id
    ORDER BY r.ord
    """
).bindparams(*(bindparam(c, type_=t) for c, t in _ARRAYS.items()))


class UnknownCategoryError(ValueError):
    """A report names a category the catalogue does not have."""


def report_cases(
    conn: Connection, reports: Sequence[CaseReport], actor: Actor
) -> list[ReportOutcome]:
    """Store reports as cases in one statement; outcomes in input order.

    A (channel, external_id) already stored returns that case (``created=False``), so
    retries are harmless even when concurrent. A report of the same category within
    80 m and 2 hours of an open case is stored as ``merged`` into it, and the original
    counts the report. A point in no grid is refused (``error``). Unknown categories
    raise: the edge validates them before calling.
    """
    if not reports:
        return []
    lon = np.array([r.lon for r in reports], dtype=float)
    lat = np.array([r.lat for r in reports], dtype=float)
    params: dict[str, object] = {
        c: [getattr(r, c) for r in reports] for c in _COLUMNS if not c.startswith("h3_")
    }
    params |= {name: cells.tolist() for name, cells in h3_columns(lon, lat).items()}
    params |= {
        "actor_id": actor.id,
        "actor_name": actor.label,
        "dup_hours": DUPLICATE_WINDOW_HOURS,
        "dup_metres": DUPLICATE_RADIUS_M,
        "dup_degrees": DUPLICATE_RADIUS_M / 90_000,  # index prefilter, wider than needed
    }
    rows = conn.execute(_REPORT_SQL, params).all()
    if len(rows) != len(reports):
        known = {r[0] for r in conn.execute(text("SELECT code FROM categories"))}
        unknown = sorted({r.category_code for r in reports} - known)
        raise UnknownCategoryError(f"unknown categories: {', '.join(unknown)}")
    outcomes = [
        ReportOutcome(row.case_id, row.created, row.status, row.duplicate_of_id)
        if row.inside
        else ReportOutcome(None, False, error="outside the jurisdiction (in no grid)")
        for row in rows
    ]
    # A concurrent retry that committed after this statement's snapshot was taken made
    # ON CONFLICT skip the row without our snapshot seeing the winner: look again.
    for i, outcome in enumerate(outcomes):
        if outcome.case_id is None and outcome.error is None:
            winner = conn.execute(
                text(
                    "SELECT id, status, duplicate_of_id FROM cases"
                    " WHERE channel = :c AND external_id = :e"
                ),
                {"c": reports[i].channel, "e": reports[i].external_id},
            ).one()
            outcomes[i] = ReportOutcome(winner.id, False, winner.status, winner.duplicate_of_id)
    created = [o.case_id for o in outcomes if o.created]
    merged_into = {o.duplicate_of for o in outcomes if o.created and o.duplicate_of}
    if created:
        append_feed(conn, created, "new")
    if merged_into:
        append_feed(conn, sorted(merged_into), "reports")
    return outcomes


def report_case(conn: Connection, report: CaseReport, actor: Actor) -> ReportOutcome:
    """One report; see :func:`report_cases`."""
    return report_cases(conn, [report], actor)[0]


def append_feed(conn: Connection, case_ids: Sequence[int], kind: str) -> None:
    """Announce the current state of ``case_ids`` on the live feed (last step of a write).

    The advisory lock is held until commit, so feed entries get their seq in commit
    order: a reader that has seen seq N has seen every entry below N.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK})
    conn.execute(
        text(
            f"""
            INSERT INTO case_feed (case_id, kind, district_id, street_id, community_id,
                                   grid_id, payload)
            SELECT c.id, :kind, c.district_id, c.street_id, c.community_id, c.grid_id,
                   {FEED_PAYLOAD_SQL}
            FROM cases c WHERE c.id = ANY(:ids) ORDER BY c.id
            """
        ).bindparams(bindparam("ids", type_=ARRAY(BIGINT))),
        {"ids": list(case_ids), "kind": kind},
    )
