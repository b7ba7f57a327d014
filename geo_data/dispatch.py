"""The dispatch panel's reads: one case in full, its log, its merged reports, and the
workers and cameras nearest to it.

Distances are geodesic metres on the WGS84 spheroid (``geography``), never planar
degrees: at Chengdu's latitude a degree of longitude is about 0.87 of a degree of
latitude, so ranking by ``<->`` alone would send the wrong worker. The nearest-neighbour
search still starts from the GiST index (see :func:`_nearest_sql` for why the result is
exactly the geodesic ranking).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from geo_data.models import CLOSED_STATUSES, LEVELS
from geo_data.workflow import CaseNotFoundError

_OPEN = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))
AREA_LEVELS = LEVELS[1:]  # the levels a case refers to (no city column)

# WGS84, for bounding how far in degrees a point at a given geodesic distance can lie.
_A = 6378137.0
_E2 = 0.00669437999014  # first eccentricity squared
# The meridian's radius of curvature is smallest at the equator: a (1 - e^2) metres per
# radian, so no degree of latitude is shorter than this many metres.
_MIN_METRES_PER_DEGREE_LAT = _A * (1 - _E2) * math.pi / 180
# Slack on the search radius so float rounding in ST_Distance can never leave a row out.
_RELATIVE_SLACK = 1e-6
_ABSOLUTE_SLACK_M = 0.01


class CaseNotFound(CaseNotFoundError, LookupError):  # noqa: N818 - the dispatch API's name
    """No case has the id asked for (a workflow ``not_found`` and a ``LookupError``)."""


AreaName = tuple[str, str]  # (name_zh, name_en)


@dataclass(frozen=True)
class CaseDetail:
    """A case as the dispatch panel shows it, with its category, assignee and areas."""

    id: int
    status: str
    version: int
    severity: int
    category_code: str
    category_zh: str
    category_en: str
    channel: str
    external_id: str
    handling_level: str
    reported_at: datetime
    accepted_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    due_at: datetime
    closed_at: datetime | None
    overdue: bool
    description: str
    reporter_name: str | None
    reporter_phone: str | None
    media_url: str | None
    satisfied: bool | None
    assignee_id: int | None
    assignee_name: str | None
    assignee_phone: str | None
    duplicate_of_id: int | None
    report_count: int
    lon: float
    lat: float
    district: AreaName | None
    street: AreaName | None
    community: AreaName | None
    grid: AreaName | None
    courtyard: AreaName | None
    district_id: int | None
    street_id: int | None
    community_id: int | None
    grid_id: int | None
    courtyard_id: int | None


@dataclass(frozen=True)
class TimelineEntry:
    """One event of a case's audit log."""

    at: datetime
    actor_name: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str
    data: dict[str, Any]


@dataclass(frozen=True)
class MergedReport:
    """A report merged into a case as its duplicate."""

    id: int
    channel: str
    external_id: str
    reported_at: datetime
    description: str


@dataclass(frozen=True)
class NearbyWorker:
    """A worker near a case, with how many open cases they already carry."""

    id: int
    code: str
    name: str
    tier: int
    status: str
    phone: str | None
    distance_m: float
    open_load: int
    lon: float
    lat: float


@dataclass(frozen=True)
class NearbyCamera:
    """A camera near a case."""

    id: int
    code: str
    name: str | None
    tier: str
    status: str
    stream_url: str | None
    distance_m: float
    lon: float
    lat: float


_AREA_COLUMNS = ",\n".join(
    f"a_{level}.name_zh AS {level}_zh, a_{level}.name_en AS {level}_en" for level in AREA_LEVELS
)
_AREA_JOINS = "\n".join(
    f"LEFT JOIN areas a_{level} ON a_{level}.id = c.{level}_id" for level in AREA_LEVELS
)
_CASE_DETAIL_SQL = f"""
    SELECT c.id, c.status, c.version, c.severity, c.category_code,
           k.name_zh AS category_zh, k.name_en AS category_en,
           c.channel, c.external_id, c.handling_level, c.reported_at, c.accepted_at,
           c.dispatched_at, c.handled_at, c.due_at, c.closed_at,
           (c.{_OPEN} AND c.due_at < coalesce(CAST(:now AS timestamptz), now())) AS overdue,
           c.description, c.reporter_name, c.reporter_phone, c.media_url, c.satisfied,
           c.assignee_id, w.name_zh AS assignee_name, w.phone AS assignee_phone,
           c.duplicate_of_id, c.report_count, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
           {_AREA_COLUMNS},
           {", ".join(f"c.{level}_id" for level in AREA_LEVELS)}
    FROM cases c
    JOIN categories k ON k.code = c.category_code
    LEFT JOIN workers w ON w.id = c.assignee_id
    {_AREA_JOINS}
    WHERE c.id = :id
"""


def case_detail(
    conn: Connection, case_id: int, *, now: datetime | None = None
) -> CaseDetail | None:
    """The case ``case_id`` in full, or None when there is none.

    ``overdue`` means open and past its due time at ``now`` (the database's clock unless
    given, as in :mod:`geo_data.views`). Personal data (reporter, assignee phone) is
    returned unmasked: the panel is for dispatchers who call them.
    """
    row = conn.execute(text(_CASE_DETAIL_SQL), {"id": case_id, "now": now}).mappings().first()
    if row is None:
        return None
    fields = dict(row)
    for level in AREA_LEVELS:
        zh, en = fields.pop(f"{level}_zh"), fields.pop(f"{level}_en")
        fields[level] = None if zh is None else (zh, en)
    return CaseDetail(**fields)


def timeline(conn: Connection, case_id: int) -> list[TimelineEntry]:
    """Every event of the case's log, oldest first (empty for an unknown case)."""
    rows = conn.execute(
        text(
            "SELECT at, actor_name, action, from_status, to_status, note, data"
            " FROM case_events WHERE case_id = :id ORDER BY at, id"
        ),
        {"id": case_id},
    ).all()
    return [TimelineEntry(**(r._asdict() | {"data": r.data or {}})) for r in rows]


def merged_reports(conn: Connection, case_id: int) -> list[MergedReport]:
    """The reports merged into the case as duplicates, oldest first."""
    rows = conn.execute(
        text(
            "SELECT id, channel, external_id, reported_at, description FROM cases"
            " WHERE duplicate_of_id = :id ORDER BY reported_at, id"
        ),
        {"id": case_id},
    ).all()
    return [MergedReport(*r) for r in rows]


def _nearest_sql(table: str, columns: str, where: str, *, also: str = "", join: str = "") -> str:
    """The exact geodesic k-nearest rows of ``table`` to the point (:lon, :lat).

    1. KNN: the :k rows nearest in planar degrees (``<->`` walks the GiST index); the
       largest geodesic distance among them, g, bounds the true k-th nearest distance
       (any k rows do).
    2. Every row within g metres lies in a box of half-sides g / M_min degrees of
       latitude (no degree of latitude is shorter than M_min metres, the meridian's
       curvature at the equator) and g / r degrees of longitude, r being the length of a
       degree of longitude on the parallel farthest from the equator that a path of g
       metres can reach. The box is searched with ``&&`` on the same index and its rows
       ranked by (geodesic distance, id): the same result as ranking every row.

    Paths across the antimeridian are not considered (no city straddles it). ``also``
    adds output columns and ``join`` joins to the k rows found (``r.id``), after the limit.
    """
    return f"""
        WITH pt AS (
            SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS p
        ), knn AS (
            SELECT ST_Distance(t.geom::geography, (SELECT p FROM pt)::geography) AS d
            FROM {table} t
            WHERE t.geom IS NOT NULL AND {where}
            ORDER BY t.geom <-> (SELECT p FROM pt)
            LIMIT :k
        ), bound AS (
            SELECT g, radians(least(abs(:lat) + g / :m_lat, 90.0)) AS phi
            FROM (SELECT max(d) * (1 + :rel_slack) + :abs_slack AS g FROM knn) s
        ), box AS (
            SELECT ST_Expand(
                (SELECT p FROM pt),
                least(g / greatest(:a * cos(phi) / sqrt(1 - :e2 * sin(phi) ^ 2)
                                   * pi() / 180, 1e-9), 360.0),
                g / :m_lat
            ) AS b
            FROM bound
        ), ranked AS (
            SELECT t.id,
                   ST_Distance(t.geom::geography, (SELECT p FROM pt)::geography) AS distance_m
            FROM {table} t
            WHERE t.geom IS NOT NULL AND {where} AND t.geom && (SELECT b FROM box)
            ORDER BY distance_m, t.id
            LIMIT :k
        )
        SELECT {columns}, r.distance_m, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat{also}
        FROM ranked r
        JOIN {table} t ON t.id = r.id
        {join}
        ORDER BY r.distance_m, r.id
    """


def _nearest_params(lon: float, lat: float, limit: int) -> dict[str, Any]:
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    return {
        "lon": lon,
        "lat": lat,
        "k": limit,
        "rel_slack": _RELATIVE_SLACK,
        "abs_slack": _ABSOLUTE_SLACK_M,
        "m_lat": _MIN_METRES_PER_DEGREE_LAT,
        "a": _A,
        "e2": _E2,
    }


def _case_point(conn: Connection, case_id: int) -> tuple[float, float]:
    row = conn.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = :id"), {"id": case_id}
    ).first()
    if row is None:
        raise CaseNotFound(f"no case {case_id}", case_id=case_id)
    return row[0], row[1]


_NEAREST_WORKERS_SQL = _nearest_sql(
    "workers",
    "t.id, t.code, t.name_zh AS name, t.tier, t.status, t.phone",
    "t.tier = ANY(:tiers) AND t.status = ANY(:statuses)",
    also=", load.open_load",
    join=(
        "CROSS JOIN LATERAL (SELECT count(*) AS open_load FROM cases c"
        f" WHERE c.assignee_id = r.id AND c.{_OPEN}) load"
    ),
)


def nearest_workers(
    conn: Connection,
    case_id: int,
    *,
    limit: int = 5,
    tiers: tuple[int, ...] = (1, 2),
    statuses: tuple[str, ...] = ("available",),
) -> list[NearbyWorker]:
    """The ``limit`` workers with a known position nearest to the case in geodesic
    metres (ties by id), among those of ``tiers`` and ``statuses``.

    Each carries ``open_load``, the open cases assigned to them, counted for the workers
    returned only. Fewer rows when fewer workers match; :class:`CaseNotFound` for an
    unknown case.
    """
    lon, lat = _case_point(conn, case_id)
    params = _nearest_params(lon, lat, limit)
    params |= {"tiers": list(tiers), "statuses": list(statuses)}
    return [NearbyWorker(**r) for r in conn.execute(text(_NEAREST_WORKERS_SQL), params).mappings()]


_CAMERA_COLUMNS = "t.id, t.code, t.name_zh AS name, t.tier, t.status, t.stream_url"
_NEAREST_CAMERAS_SQL = _nearest_sql("cameras", _CAMERA_COLUMNS, "true")
_NEAREST_CAMERAS_BY_STATUS_SQL = _nearest_sql(
    "cameras", _CAMERA_COLUMNS, "t.status = ANY(:statuses)"
)


def nearest_cameras(
    conn: Connection,
    case_id: int,
    *,
    limit: int = 5,
    statuses: tuple[str, ...] | None = None,
) -> list[NearbyCamera]:
    """The ``limit`` cameras nearest to the case in geodesic metres (ties by id), of any
    status or only of ``statuses``; :class:`CaseNotFound` for an unknown case."""
    lon, lat = _case_point(conn, case_id)
    params = _nearest_params(lon, lat, limit)
    sql = _NEAREST_CAMERAS_SQL
    if statuses is not None:
        sql = _NEAREST_CAMERAS_BY_STATUS_SQL
        params["statuses"] = list(statuses)
    return [NearbyCamera(**r) for r in conn.execute(text(sql), params).mappings()]
