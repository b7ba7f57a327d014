"""The map's queries: an area, its children, H3 density and what lies in the area.

Every count is a ``GROUP BY`` in PostGIS on the stored area-id or H3 columns, so a view
reads a few hundred rows however many cases the store holds. Functions take a
Connection and return plain data or pandas frames for ``layers/``.

"now" is always a parameter: the demo city's cases end when it was loaded, and tests
need a fixed reference time. Which cases are open is the store's current status; "now"
is the reference for ages, windows and overdue flags.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import h3
import pandas as pd
from sqlalchemy import Connection, text

from geo_data import localtime
from geo_data.h3cells import to_h3
from geo_data.models import CAMERA_STATUSES, CAMERA_TIERS, CLOSED_STATUSES, LEVELS, WORKER_STATUSES

LOCAL_TZ = localtime.ZONE_NAME  # SQL day boundaries; the zone itself lives in localtime
DEFAULT_AREA_CODE = "510108"  # Chenghua, the demo city's detailed district
WINDOWS: dict[str, timedelta | None] = {
    "live": None,
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
METRICS = ("open", "overdue", "per_1000")
HEX_RESOLUTION = {
    "city": 6,  # rolled up from the stored resolution 7: ~36 km² cells for a whole city
    "district": 8,
    "street": 9,
    "community": 10,
    "grid": 11,
    "courtyard": 12,
}
STORED_RESOLUTIONS = range(7, 13)  # the h3_r7 .. h3_r12 columns of cases and cameras
CHILD_LEVEL = dict(pairwise(LEVELS))
# Simplification tolerance (degrees) and GeoJSON digits by the level drawn: finer levels are
# seen closer, so they keep more detail. 1e-5 degrees is about a metre.
SIMPLIFY_TOLERANCE = {
    "city": 0.0005,
    "district": 0.0003,
    "street": 0.0001,
    "community": 0.00003,
    "grid": 0.00001,
    "courtyard": 0.000005,
}
GEOJSON_DIGITS = {"city": 4, "district": 5, "street": 5, "community": 6, "grid": 6, "courtyard": 6}
BUILDING_LEVELS = ("community", "grid", "courtyard")
FIGURES_DAYS = 30

_OPEN = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))
_MASKED_PHONE = (
    "CASE WHEN {p} IS NULL OR {p} = '' THEN NULL "
    "WHEN length({p}) >= 8 THEN left({p}, 3) || '****' || right({p}, 4) "
    "ELSE '****' END"
)


class UnknownAreaError(LookupError):
    """No area has the code asked for."""


@dataclass(frozen=True)
class AreaRef:
    """An area as the breadcrumb shows it."""

    code: str
    level: str
    name_zh: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class AreaInfo:
    """One area with its ancestors (from the top down, ending with itself) and extent."""

    id: int
    code: str
    level: str
    name_zh: str
    name_en: str
    population: int | None
    area_m2: float
    chain: tuple[AreaRef, ...]
    bbox: tuple[float, float, float, float]  # west, south, east, north
    centre: tuple[float, float]  # lon, lat of the label point
    # The districts a city's located rows are found by (rows carry ids from district down).
    district_ids: tuple[int, ...] = ()

    @property
    def child_level(self) -> str | None:
        return CHILD_LEVEL.get(self.level)

    @property
    def parent(self) -> AreaRef | None:
        return self.chain[-2] if len(self.chain) > 1 else None

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


# -- areas -----------------------------------------------------------------------------


def area_info(conn: Connection, code: str) -> AreaInfo | None:
    """The area with ``code`` and its ancestors, or None when no area has it."""
    row = (
        conn.execute(
            text(
                """
                SELECT id, code, level, name_zh, name_en, population, area_m2,
                       ST_XMin(geom) AS west, ST_YMin(geom) AS south,
                       ST_XMax(geom) AS east, ST_YMax(geom) AS north,
                       ST_X(coalesce(label_point, ST_PointOnSurface(geom))) AS lon,
                       ST_Y(coalesce(label_point, ST_PointOnSurface(geom))) AS lat
                FROM areas WHERE code = :code
                """
            ),
            {"code": str(code)},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    chain = conn.execute(
        text(
            """
            WITH RECURSIVE up AS (
                SELECT id, parent_id, code, level, level_rank, name_zh, name_en
                FROM areas WHERE id = :id
                UNION ALL
                SELECT a.id, a.parent_id, a.code, a.level, a.level_rank, a.name_zh, a.name_en
                FROM areas a JOIN up ON a.id = up.parent_id
            )
            SELECT code, level, name_zh, name_en FROM up ORDER BY level_rank
            """
        ),
        {"id": row["id"]},
    )
    district_ids: tuple[int, ...] = ()
    if row["level"] == "city":
        district_ids = tuple(
            conn.execute(
                text(
                    "SELECT id FROM areas WHERE parent_id = :id AND level = 'district' ORDER BY id"
                ),
                {"id": row["id"]},
            ).scalars()
        )
    return AreaInfo(
        id=int(row["id"]),
        code=row["code"],
        level=row["level"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        population=row["population"],
        area_m2=float(row["area_m2"]),
        chain=tuple(AreaRef(*r) for r in chain),
        bbox=(row["west"], row["south"], row["east"], row["north"]),
        centre=(row["lon"], row["lat"]),
        district_ids=district_ids,
    )


def require_area(conn: Connection, code: str) -> AreaInfo:
    """Like ``area_info`` but raises ``UnknownAreaError`` naming the code."""
    area = area_info(conn, code)
    if area is None:
        raise UnknownAreaError(f"no area has the code {code!r}")
    return area


def default_area_code(conn: Connection, preferred: str = DEFAULT_AREA_CODE) -> str | None:
    """``preferred`` when loaded, else the topmost area (None when no area is loaded)."""
    return conn.execute(
        text(
            """
            SELECT code FROM areas
            ORDER BY code = :preferred DESC, level_rank, code
            LIMIT 1
            """
        ),
        {"preferred": preferred},
    ).scalar_one_or_none()


def _scope(area: AreaInfo, alias: str = "") -> str:
    """SQL condition: a located row (cases, cameras, ...) lies in ``area``.

    Located rows carry their area ids from district down; a city is the union of its
    districts. Bind the parameters with ``_params(area)``.
    """
    prefix = f"{alias}." if alias else ""
    if area.level == "city":
        return f"{prefix}district_id = ANY(:district_ids)"
    if area.level not in LEVELS:
        raise ValueError(f"unknown area level {area.level!r}")
    return f"{prefix}{area.level}_id = :area_id"


def _params(area: AreaInfo, **extra: object) -> dict[str, object]:
    return {"area_id": area.id, "district_ids": list(area.district_ids), **extra}


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return now


def _since(window: str, now: datetime) -> datetime | None:
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; one of {', '.join(WINDOWS)}")
    span = WINDOWS[window]
    return None if span is None else now - span


def _in_window_sql(window: str) -> str:
    """Cases a window counts: open now (live), or reported in the window (not duplicates)."""
    if WINDOWS[window] is None:
        return f"({_OPEN} AND reported_at <= :now)"
    return "(reported_at > :since AND reported_at <= :now AND status <> 'merged')"


# -- boundary cache ----------------------------------------------------------------------


class _BoundaryCache:
    """Simplified boundaries per (database, area, kind): they do not change during a run."""

    def __init__(self, maxsize: int = 512) -> None:
        self._items: OrderedDict[tuple[str, int, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def get(self, key: tuple[str, int, str, str], load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_boundaries = _BoundaryCache()


def clear_boundary_cache() -> None:
    """Forget cached boundaries (after areas are reloaded)."""
    _boundaries.clear()


def _cache_key(conn: Connection, area: AreaInfo, kind: str) -> tuple[str, int, str, str]:
    return (conn.engine.url.render_as_string(hide_password=True), area.id, area.code, kind)


def area_outline(conn: Connection, area: AreaInfo) -> dict[str, Any]:
    """The area's own boundary as a GeoJSON geometry, simplified for its level (cached)."""

    def load() -> str:
        return conn.execute(
            text(
                "SELECT ST_AsGeoJSON(ST_Simplify(geom, :tol, true), :digits) "
                "FROM areas WHERE id = :id"
            ),
            {
                "id": area.id,
                "tol": SIMPLIFY_TOLERANCE[area.level],
                "digits": GEOJSON_DIGITS[area.level],
            },
        ).scalar_one()

    return json.loads(_boundaries.get(_cache_key(conn, area, "outline"), load))


def area_cells(conn: Connection, area: AreaInfo, resolution: int) -> list[str]:
    """Every H3 cell at ``resolution`` that overlaps the area (cached): the hexagons a
    live map may light up as cases arrive."""

    def load() -> list[str]:
        shape = h3.geo_to_h3shape(area_outline(conn, area))
        try:
            cells = h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap")
        except AttributeError:  # an h3 without the experimental call: centres inside
            cells = h3.h3shape_to_cells(shape, resolution)
        return sorted(cells)

    return _boundaries.get(_cache_key(conn, area, f"cells-{resolution}"), load)


def _child_shapes(conn: Connection, area: AreaInfo) -> list[tuple[Any, ...]]:
    level = area.child_level
    if level is None:
        return []

    def load() -> list[tuple[Any, ...]]:
        rows = conn.execute(
            text(
                """
                SELECT id, code, name_zh, name_en, population,
                       ST_AsGeoJSON(ST_Simplify(geom, :tol, true), :digits) AS geojson
                FROM areas WHERE parent_id = :area_id ORDER BY code
                """
            ),
            {
                "area_id": area.id,
                "tol": SIMPLIFY_TOLERANCE[level],
                "digits": GEOJSON_DIGITS[level],
            },
        )
        return [tuple(r) for r in rows]

    return _boundaries.get(_cache_key(conn, area, "children"), load)


CHILD_COLUMNS = [
    "code",
    "level",
    "name_zh",
    "name_en",
    "population",
    "open",
    "overdue",
    "in_window",
    "per_1000",
    "value",
    "geometry",
    "id",  # the child's area id: live counts are keyed by it
]


def child_areas(
    conn: Connection,
    area: AreaInfo,
    metric: str = "open",
    window: str = "live",
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The area's children with simplified GeoJSON geometry and their case figures.

    Per child: ``open`` and ``overdue`` open cases now, ``in_window`` cases (open now for
    ``live``, else reported in the window, duplicates not counted), ``per_1000`` of them
    per 1,000 residents, and ``value``: the column ``metric`` names. Courtyards have no
    children: the frame is then empty.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    now = _now(now)
    since = _since(window, now) or now
    shapes = _child_shapes(conn, area)
    if not shapes:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CHILD_COLUMNS})
    level = area.child_level
    counts = {
        row.area_id: row
        for row in conn.execute(
            text(
                f"""
                SELECT {level}_id AS area_id,
                       count(*) FILTER (WHERE {_OPEN}) AS open,
                       count(*) FILTER (WHERE {_OPEN} AND due_at < :now) AS overdue,
                       count(*) FILTER (WHERE {_in_window_sql(window)}) AS in_window
                FROM cases
                WHERE {_scope(area)} AND {level}_id IS NOT NULL AND reported_at <= :now
                  AND ({_OPEN} OR reported_at > :since)
                GROUP BY {level}_id
                """
            ),
            _params(area, now=now, since=since),
        )
    }
    records = []
    for area_id, code, name_zh, name_en, population, geojson in shapes:
        row = counts.get(area_id)
        in_window = int(row.in_window) if row else 0
        per_1000 = round(in_window * 1000 / population, 3) if population else None
        figures = {
            "open": int(row.open) if row else 0,
            "overdue": int(row.overdue) if row else 0,
            "in_window": in_window,
            "per_1000": per_1000,
        }
        records.append(
            {
                "code": code,
                "level": level,
                "name_zh": name_zh,
                "name_en": name_en,
                "population": population,
                **figures,
                "value": figures[metric],
                "geometry": json.loads(geojson),
                "id": area_id,
            }
        )
    return pd.DataFrame.from_records(records, columns=CHILD_COLUMNS)


def child_at_cell(conn: Connection, area: AreaInfo, cell: str) -> str | None:
    """The code of the child of ``area`` that covers most of the H3 ``cell``, if any."""
    if area.child_level is None or not h3.is_valid_cell(cell):
        return None
    ring = [[round(lng, 7), round(lat, 7)] for lat, lng in h3.cell_to_boundary(cell)]
    hexagon = json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
    return conn.execute(
        text(
            """
            WITH hex AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:hexagon), 4326) AS g)
            SELECT a.code FROM areas a, hex
            WHERE a.parent_id = :area_id AND ST_Intersects(a.geom, hex.g)
            ORDER BY ST_Area(ST_Intersection(a.geom, hex.g)) DESC, a.code
            LIMIT 1
            """
        ),
        {"area_id": area.id, "hexagon": hexagon},
    ).scalar_one_or_none()


# -- cases -----------------------------------------------------------------------------


def hex_density(
    conn: Connection,
    area: AreaInfo,
    resolution: int | None = None,
    window: str = "live",
    *,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Cases per H3 cell in the area: ``h3`` (cell string) and ``count``.

    ``live`` counts open cases; other windows count cases reported in them (duplicates
    not counted). The resolution defaults to the one for the area's level; 6 (a city's)
    is rolled up from the stored 7 by each cell's parent.
    """
    resolution = HEX_RESOLUTION[area.level] if resolution is None else int(resolution)
    if not 6 <= resolution <= STORED_RESOLUTIONS[-1]:
        raise ValueError(f"H3 resolution {resolution} is not drawn (6 to 12)")
    stored = max(resolution, STORED_RESOLUTIONS[0])
    now = _now(now)
    since = _since(window, now)
    rows = conn.execute(
        text(
            f"""
            SELECT h3_r{stored} AS cell, count(*) AS count
            FROM cases
            WHERE {_scope(area)} AND {_in_window_sql(window)}
            GROUP BY h3_r{stored}
            ORDER BY count(*) DESC, h3_r{stored}
            """
        ),
        _params(area, now=now, since=since),
    ).all()
    counts: dict[str, int] = {}
    for r in rows:  # coarser than stored: each parent sums its seven children
        cell = to_h3(r.cell)
        if resolution < stored:
            cell = h3.cell_to_parent(cell, resolution)
        counts[cell] = counts.get(cell, 0) + int(r.count)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return pd.DataFrame(
        {"h3": [c for c, _ in ordered], "count": [n for _, n in ordered]},
        columns=["h3", "count"],
    )


INCIDENT_COLUMNS = [
    "id",
    "category_code",
    "category_zh",
    "category_en",
    "severity",
    "status",
    "reported_at",
    "age_hours",
    "due_at",
    "overdue",
    "assignee",
    "lon",
    "lat",
    "report_count",
    "total",
]


def open_incidents(
    conn: Connection,
    area: AreaInfo,
    *,
    now: datetime | None = None,
    limit: int = 2000,
) -> pd.DataFrame:
    """Open cases in the area, most severe and most urgent first (at most ``limit``).

    ``total`` on every row is the number of open cases before the limit.
    """
    now = _now(now)
    rows = conn.execute(
        text(
            f"""
            SELECT c.id, c.category_code, cat.name_zh AS category_zh,
                   cat.name_en AS category_en, c.severity, c.status, c.reported_at,
                   round((extract(epoch FROM (:now - c.reported_at)) / 3600)::numeric, 1)::float8
                       AS age_hours,
                   c.due_at, c.due_at < :now AS overdue, w.name_zh AS assignee,
                   round(ST_X(c.geom)::numeric, 6)::float8 AS lon,
                   round(ST_Y(c.geom)::numeric, 6)::float8 AS lat, c.report_count,
                   count(*) OVER () AS total
            FROM cases c
            JOIN categories cat ON cat.code = c.category_code
            LEFT JOIN workers w ON w.id = c.assignee_id
            WHERE {_scope(area, "c")} AND c.{_OPEN} AND c.reported_at <= :now
            ORDER BY c.severity, c.due_at, c.id
            LIMIT :limit
            """
        ),
        _params(area, now=now, limit=int(limit)),
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=INCIDENT_COLUMNS)
    for column in ("lon", "lat", "age_hours"):
        frame[column] = frame[column].astype(float)
    for column in ("id", "severity", "report_count", "total"):
        frame[column] = frame[column].astype("int64")
    frame["overdue"] = frame["overdue"].astype(bool)
    return frame


def area_figures(conn: Connection, area: AreaInfo, now: datetime | None = None) -> dict[str, Any]:
    """The side panel's figures for the area, each computed in SQL.

    ``open``/``overdue``: open cases now (overdue: past due). ``new_today``: reported
    since local midnight (the configured zone), duplicates not counted. Over the last 30 days,
    of the cases received (not duplicates, not rejected): ``closure_rate`` the share
    closed, ``on_time_rate`` the share of those closed by their due time. ``top_categories``:
    the five most reported categories in the last 30 days.
    """
    now = _now(now)
    params = _params(area, now=now, since=now - timedelta(days=FIGURES_DAYS), tz=LOCAL_TZ)
    # Within the window's scan (its WHERE holds the dates): received, and closed by now.
    received = "status NOT IN ('merged', 'rejected')"
    closed = "status = 'closed' AND closed_at <= :now"
    # Two disjoint scans, each served by its own index: open cases by the partial
    # open-case indexes, the 30-day window by the covering index on reported_at (one OR
    # over both made PostgreSQL read the whole window from the heap). The window is
    # scanned once, by category: the totals and the top five both come from it.
    rows = conn.execute(
        text(
            f"""
            WITH o AS (
              SELECT count(*) AS open, count(*) FILTER (WHERE due_at < :now) AS overdue
              FROM cases WHERE {_scope(area)} AND {_OPEN} AND reported_at <= :now
            ), w AS (
              SELECT
                category_code,
                count(*) FILTER (WHERE status <> 'merged') AS reported,
                count(*) FILTER (
                  WHERE status <> 'merged'
                    AND reported_at >= (date_trunc('day', :now AT TIME ZONE :tz)
                                        AT TIME ZONE :tz)
                ) AS new_today,
                count(*) FILTER (WHERE {received}) AS received,
                count(*) FILTER (WHERE {closed}) AS closed,
                count(*) FILTER (WHERE {closed} AND closed_at <= due_at) AS on_time
              FROM cases
              WHERE {_scope(area)} AND reported_at > :since AND reported_at <= :now
              GROUP BY category_code
            )
            SELECT o.open, o.overdue, w.*, cat.name_zh, cat.name_en
            FROM o LEFT JOIN w ON true LEFT JOIN categories cat ON cat.code = w.category_code
            """
        ),
        params,
    ).all()
    first = rows[0]  # one row at least: the open counts, left-joined to the window
    window = [r for r in rows if r.category_code is not None]

    def total(column: str) -> int:
        return sum(int(getattr(r, column)) for r in window)

    received_n, closed_n, on_time_n = total("received"), total("closed"), total("on_time")
    top = sorted((r for r in window if r.reported), key=lambda r: (-r.reported, r.category_code))
    return {
        "open": int(first.open),
        "overdue": int(first.overdue),
        "new_today": total("new_today"),
        "received_30d": received_n,
        "closed_30d": closed_n,
        "on_time_30d": on_time_n,
        "closure_rate": round(closed_n / received_n, 4) if received_n else None,
        "on_time_rate": round(on_time_n / closed_n, 4) if closed_n else None,
        "top_categories": [
            {
                "code": r.category_code,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "count": int(r.reported),
            }
            for r in top[:5]
        ],
    }


# -- things in the area ------------------------------------------------------------------

BUILDING_COLUMNS = [
    "code",
    "name_zh",
    "name_en",
    "floors",
    "use",
    "courtyard_zh",
    "courtyard_en",
    "geometry",
]


def buildings_in(conn: Connection, area: AreaInfo, *, limit: int = 5000) -> pd.DataFrame:
    """Building footprints (GeoJSON) in a community, grid or courtyard; empty above."""
    if area.level not in BUILDING_LEVELS:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in BUILDING_COLUMNS})
    rows = conn.execute(
        text(
            f"""
            SELECT b.code, b.name_zh, b.name_en, b.floors, b.use,
                   yard.name_zh AS courtyard_zh, yard.name_en AS courtyard_en,
                   ST_AsGeoJSON(b.geom, 6) AS geojson
            FROM buildings b LEFT JOIN areas yard ON yard.id = b.courtyard_id
            WHERE {_scope(area, "b")}
            ORDER BY b.code
            LIMIT :limit
            """
        ),
        _params(area, limit=int(limit)),
    ).all()
    return pd.DataFrame(
        [(*r[:-1], json.loads(r[-1])) for r in rows],
        columns=BUILDING_COLUMNS,
    )


CAMERA_COLUMNS = ["code", "name_zh", "tier", "status", "lon", "lat"]
CAMERA_HEX_COLUMNS = [
    "h3",
    "count",
    *CAMERA_STATUSES,
    *(f"tier_{t}" for t in CAMERA_TIERS),
]


def cameras_in(conn: Connection, area: AreaInfo, max_points: int = 3000) -> pd.DataFrame:
    """Cameras in the area as points, or per H3 cell when there are more than ``max_points``.

    Aggregated frames have ``h3`` and ``count`` plus a count per status and per tier
    (``tier_district``...); point frames have ``code, name_zh, tier, status, lon, lat``.
    """
    params = _params(area)
    n = conn.execute(
        text(f"SELECT count(*) FROM cameras WHERE {_scope(area)}"), params
    ).scalar_one()
    if n <= max_points:
        rows = conn.execute(
            text(
                f"""
                SELECT code, name_zh, tier, status,
                       round(ST_X(geom)::numeric, 6) AS lon, round(ST_Y(geom)::numeric, 6) AS lat
                FROM cameras WHERE {_scope(area)} ORDER BY code
                """
            ),
            params,
        ).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=CAMERA_COLUMNS)
        return frame.astype({"lon": float, "lat": float})
    resolution = max(HEX_RESOLUTION[area.level], STORED_RESOLUTIONS[0])
    by_status = ", ".join(f"count(*) FILTER (WHERE status = '{s}') AS {s}" for s in CAMERA_STATUSES)
    by_tier = ", ".join(f"count(*) FILTER (WHERE tier = '{t}') AS tier_{t}" for t in CAMERA_TIERS)
    rows = conn.execute(
        text(
            f"""
            SELECT h3_r{resolution} AS cell, count(*) AS count, {by_status}, {by_tier}
            FROM cameras WHERE {_scope(area)}
            GROUP BY h3_r{resolution} ORDER BY h3_r{resolution}
            """
        ),
        params,
    ).all()
    return pd.DataFrame(
        [(to_h3(r[0]), *(int(v) for v in r[1:])) for r in rows], columns=CAMERA_HEX_COLUMNS
    )


WORKER_COLUMNS = ["code", "name_zh", "tier", "status", "phone", "lon", "lat", "last_seen_at"]
WORKER_GROUP_COLUMNS = ["code", "name_zh", "name_en", "lon", "lat", "count", *WORKER_STATUSES]


def workers_in(conn: Connection, area: AreaInfo, max_points: int = 2000) -> pd.DataFrame:
    """Workers with a known position in the area, phone masked in SQL (138****1234).

    When more than ``max_points``, one row per community at its label point with a
    ``count`` and a count per status instead.
    """
    params = _params(area)
    where = f"{_scope(area)} AND geom IS NOT NULL"
    n = conn.execute(text(f"SELECT count(*) FROM workers WHERE {where}"), params).scalar_one()
    if n <= max_points:
        rows = conn.execute(
            text(
                f"""
                SELECT code, name_zh, tier, status, {_MASKED_PHONE.format(p="phone")} AS phone,
                       round(ST_X(geom)::numeric, 6) AS lon, round(ST_Y(geom)::numeric, 6) AS lat,
                       last_seen_at
                FROM workers WHERE {where} ORDER BY code
                """
            ),
            params,
        ).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=WORKER_COLUMNS)
        return frame.astype({"lon": float, "lat": float})
    by_status = ", ".join(
        f"count(*) FILTER (WHERE w.status = '{s}') AS {s}" for s in WORKER_STATUSES
    )
    rows = conn.execute(
        text(
            f"""
            SELECT a.code, a.name_zh, a.name_en,
                   round(ST_X(a.label_point)::numeric, 6) AS lon,
                   round(ST_Y(a.label_point)::numeric, 6) AS lat,
                   count(*) AS count, {by_status}
            FROM workers w JOIN areas a ON a.id = w.community_id
            WHERE {_scope(area, "w")} AND w.geom IS NOT NULL
            GROUP BY a.code, a.name_zh, a.name_en, a.label_point
            ORDER BY a.code
            """
        ),
        params,
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=WORKER_GROUP_COLUMNS)
    return frame.astype({"lon": float, "lat": float})
