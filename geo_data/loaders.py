"""Bulk loads into the store: COPY into a staging table, then set-based SQL.

Each ``load_*`` function runs inside the caller's transaction and raises
:class:`LoadError` (naming the rows at fault) before anything is committed, so a bad
file leaves the database as it was. Points are resolved to their areas by PostGIS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo_data.actors import Actor
from geo_data.h3cells import h3_columns
from geo_data.models import LANDUSE_KINDS, LEVELS, ROAD_KINDS, WATER_KINDS

MAX_LISTED = 20
PARENT_LEVEL = {
    "district": ("city",),
    "street": ("district",),
    "community": ("street",),
    "grid": ("community",),
    "courtyard": ("grid",),
}


class LoadError(ValueError):
    """A load refused; ``problems`` lists each offending row with its reason."""

    def __init__(self, source: str, summary: str, problems: Sequence[str] = ()) -> None:
        self.source = source
        self.summary = summary
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems[:MAX_LISTED])
        more = len(self.problems) - MAX_LISTED
        if more > 0:
            listed += f"\n  ... and {more} more"
        super().__init__(f"{source}: {summary}" + (f"\n{listed}" if listed else ""))


@dataclass
class LoadResult:
    kind: str
    source: str
    rows: int
    notes: list[str] = field(default_factory=list)


# -- helpers ---------------------------------------------------------------------------


def _none(value: object) -> object:
    """pandas' missing values (NaN, NaT, NA) as None, numpy scalars as Python ones."""
    if value is None:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """COPY ``rows`` into ``table`` on the caller's transaction."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row([_none(v) for v in row])


def _row_numbers(frame: pd.DataFrame) -> np.ndarray:
    if "row" in frame.columns:
        return frame["row"].to_numpy()
    return np.arange(1, len(frame) + 1)


def _problems(conn: Connection, sql: str, params: dict | None = None) -> list[str]:
    return [r[0] for r in conn.execute(text(sql), params or {})]


# What a load writes: the tables the map, summary and dispatch read right after it.
LOADED_TABLES = (
    "areas",
    "buildings",
    "cameras",
    "workers",
    "cases",
    "case_events",
    "case_feed",
    "roads",
    "water",
    "landuse",
)


def vacuum_after_load(engine: Engine, tables: Sequence[str] = LOADED_TABLES) -> None:
    """VACUUM (ANALYZE) the tables a committed load wrote.

    ANALYZE alone leaves a bulk-loaded table's visibility map empty until autovacuum
    comes round, and until then PostgreSQL will not use the covering indexes for
    index-only scans: the city's 30-day figures read 61,000 heap rows (95 ms) instead.
    VACUUM cannot run in a transaction, hence after the load's commit, on its own
    connection.
    """
    unknown = sorted(set(tables) - set(LOADED_TABLES))
    if unknown:
        raise ValueError(f"not a loaded table: {', '.join(unknown)}")
    with engine.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))


def _record_load(conn: Connection, actor: Actor, kind: str, source: str, rows: int) -> None:
    """Audit the load, and refresh the planner's statistics of the table just written
    (later loads in the same transaction join against it)."""
    conn.execute(text(f"ANALYZE {kind}"))
    conn.execute(
        text("INSERT INTO data_loads (actor_id, kind, source, rows) VALUES (:a, :k, :s, :n)"),
        {"a": actor.id, "k": kind, "s": source, "n": rows},
    )


# -- areas -----------------------------------------------------------------------------


def load_areas(
    conn: Connection,
    areas: gpd.GeoDataFrame,
    actor: Actor,
    source: str,
    tolerance: float = 0.01,
) -> LoadResult:
    """Load areas of any levels; parents may be in the same frame or already stored.

    Refuses duplicate or existing codes, missing parents, wrong parent levels, and any
    child whose share of area outside its parent exceeds ``tolerance``.
    """
    conn.execute(
        text(
            """
            DROP TABLE IF EXISTS stage_areas;
            CREATE TEMP TABLE stage_areas (
                row_no int, code text, parent_code text, level text, name_zh text,
                name_en text, population int, households int, wkb bytea, geom geometry
            ) ON COMMIT DROP
            """
        )
    )
    cols = ["code", "parent_code", "level", "name_zh", "name_en", "population", "households"]
    wkb = shapely.to_wkb(areas.geometry.to_numpy())
    rows = zip(_row_numbers(areas), *(areas[c].to_numpy() for c in cols), wkb, strict=True)
    copy_rows(conn, "stage_areas", ["row_no", *cols, "wkb"], rows)
    conn.execute(text("UPDATE stage_areas SET geom = ST_Multi(ST_GeomFromWKB(wkb, 4326))"))

    problems = _problems(
        conn,
        """
        SELECT 'code ' || code || ' appears more than once (rows '
               || string_agg(row_no::text, ', ' ORDER BY row_no) || ')'
        FROM stage_areas GROUP BY code HAVING count(*) > 1
        UNION ALL
        SELECT 'row ' || s.row_no || ': area ' || s.code || ' is already loaded'
        FROM stage_areas s JOIN areas a ON a.code = s.code
        """,
    )
    if problems:
        raise LoadError(source, "area codes must be new and unique", problems)

    parent_rules = " ".join(
        f"WHEN '{child}' THEN p.level IN ({', '.join(repr(x) for x in parents)})"
        for child, parents in PARENT_LEVEL.items()
    )
    problems = _problems(
        conn,
        f"""
        WITH known AS (
            SELECT code, level FROM stage_areas UNION ALL SELECT code, level FROM areas
        )
        SELECT 'row ' || s.row_no || ': ' || s.level || ' ' || s.code ||
               CASE WHEN s.parent_code IS NULL THEN ' has no parent_code'
                    WHEN p.code IS NULL THEN ' names parent ' || s.parent_code
                         || ', which is neither in the file nor loaded'
                    ELSE ' cannot have the ' || p.level || ' ' || p.code || ' as parent'
               END
        FROM stage_areas s LEFT JOIN known p ON p.code = s.parent_code
        WHERE (s.level = 'city' AND s.parent_code IS NOT NULL)
           OR (s.level NOT IN ('city', 'district') AND s.parent_code IS NULL)
           OR (s.parent_code IS NOT NULL AND (p.code IS NULL OR NOT (CASE s.level {parent_rules}
                                                                 ELSE false END)))
        ORDER BY s.row_no
        """,
    )
    if problems:
        raise LoadError(source, "parents are missing or at the wrong level", problems)

    level_order = ", ".join(f"'{lv}'" for lv in LEVELS)
    conn.execute(
        text(
            f"""
            INSERT INTO areas (code, level, name_zh, name_en, population, households,
                               area_m2, geom, label_point)
            SELECT code, level, name_zh, coalesce(name_en, name_zh), population, households,
                   ST_Area(geom::geography), geom, ST_PointOnSurface(geom)
            FROM stage_areas
            ORDER BY array_position(ARRAY[{level_order}], level), row_no
            """
        )
    )
    conn.execute(
        text(
            """
            UPDATE areas a SET parent_id = p.id
            FROM stage_areas s JOIN areas p ON p.code = s.parent_code
            WHERE a.code = s.code
            """
        )
    )
    problems = _problems(
        conn,
        """
        SELECT 'row ' || s.row_no || ': ' || c.level || ' ' || c.code || ' lies '
               || round((100 * outside)::numeric, 1) || '% outside its parent ' || p.code
        FROM stage_areas s
        JOIN areas c ON c.code = s.code
        JOIN areas p ON p.id = c.parent_id
        CROSS JOIN LATERAL (
            SELECT CASE WHEN ST_CoveredBy(c.geom, p.geom) THEN 0
                        ELSE ST_Area(ST_Difference(c.geom, p.geom)) / nullif(ST_Area(c.geom), 0)
                   END AS outside
        ) o
        WHERE o.outside > :tolerance
        ORDER BY s.row_no
        """,
        {"tolerance": tolerance},
    )
    if problems:
        raise LoadError(
            source, f"children lie outside their parents (tolerance {tolerance:.1%})", problems
        )
    _fill_ancestors(conn)
    _record_load(conn, actor, "areas", source, len(areas))
    counts = areas["level"].value_counts()
    notes = [f"{counts.get(lv, 0)} {lv}" for lv in LEVELS if counts.get(lv, 0)]
    return LoadResult("areas", source, len(areas), notes)


def _fill_ancestors(conn: Connection) -> None:
    """Set each area's ancestor id at every level, top-down, from its parent's."""
    own = ", ".join(
        f"{lv}_id = CASE WHEN level = '{lv}' THEN id ELSE {lv}_id END"
        for lv in ("city", "district", "street", "community", "grid")
    )
    for rank in range(len(LEVELS)):
        conn.execute(
            text(
                """
                UPDATE areas c SET city_id = p.city_id, district_id = p.district_id,
                       street_id = p.street_id, community_id = p.community_id,
                       grid_id = p.grid_id
                FROM areas p WHERE c.parent_id = p.id AND c.level_rank = :rank
                """
            ),
            {"rank": rank},
        )
        conn.execute(text(f"UPDATE areas SET {own} WHERE level_rank = :rank"), {"rank": rank})


# -- located things --------------------------------------------------------------------

AREA_REFS = "district_id, street_id, community_id, grid_id, courtyard_id"


def _resolve(conn: Connection, stage: str) -> None:
    """Fill the staged rows' area ids at every level from their point, in PostGIS.

    Grids tile the jurisdiction, so one small-polygon lookup usually settles every
    level (grids carry their ancestors); only points outside any grid fall back to the
    deepest coarser area. Courtyards are looked up separately since they do not tile.
    """
    conn.execute(
        text(
            f"""
            ALTER TABLE {stage} ADD COLUMN district_id int, ADD COLUMN street_id int,
                ADD COLUMN community_id int, ADD COLUMN grid_id int, ADD COLUMN courtyard_id int;
            UPDATE {stage} s SET district_id = a.district_id, street_id = a.street_id,
                   community_id = a.community_id, grid_id = a.grid_id
            FROM areas a
            WHERE a.level = 'grid' AND s.pt IS NOT NULL AND ST_Intersects(a.geom, s.pt);
            UPDATE {stage} s SET district_id = r.district_id, street_id = r.street_id,
                   community_id = r.community_id
            FROM {stage} s2 CROSS JOIN LATERAL (
                SELECT a.district_id, a.street_id, a.community_id FROM areas a
                WHERE a.level_rank BETWEEN 1 AND 3 AND ST_Intersects(a.geom, s2.pt)
                ORDER BY a.level_rank DESC LIMIT 1
            ) r
            WHERE s.row_no = s2.row_no AND s2.grid_id IS NULL AND s2.pt IS NOT NULL;
            UPDATE {stage} s SET courtyard_id = c.id
            FROM areas c
            WHERE c.level = 'courtyard' AND s.pt IS NOT NULL AND ST_Intersects(c.geom, s.pt);
            """
        )
    )


def _stage(conn: Connection, name: str, columns: dict[str, str], frame: pd.DataFrame) -> None:
    """A temp table ``name`` holding ``frame[columns]`` plus row numbers and WKB geometry."""
    spec = ", ".join(f"{c} {t}" for c, t in columns.items())
    conn.execute(
        text(
            f"DROP TABLE IF EXISTS {name}; CREATE TEMP TABLE {name}"
            f" (row_no int, {spec}, wkb bytea, geom geometry, pt geometry) ON COMMIT DROP"
        )
    )
    geoms = frame.geometry.to_numpy() if isinstance(frame, gpd.GeoDataFrame) else None
    wkb = shapely.to_wkb(geoms) if geoms is not None else [None] * len(frame)
    data = [frame[c].to_numpy() for c in columns]
    copy_rows(
        conn,
        name,
        ["row_no", *columns, "wkb"],
        zip(_row_numbers(frame), *data, wkb, strict=True),
    )
    conn.execute(
        text(
            f"UPDATE {name} SET geom = ST_GeomFromWKB(wkb, 4326) WHERE wkb IS NOT NULL;"
            f" UPDATE {name} SET pt = CASE GeometryType(geom) WHEN 'POINT' THEN geom"
            "  ELSE ST_PointOnSurface(geom) END WHERE geom IS NOT NULL;"
            f" ANALYZE {name}"
        )
    )


def _refuse_existing(conn: Connection, table: str, stage: str, source: str) -> None:
    problems = _problems(
        conn,
        f"""
        SELECT 'code ' || code || ' appears more than once (rows '
               || string_agg(row_no::text, ', ' ORDER BY row_no) || ')'
        FROM {stage} GROUP BY code HAVING count(*) > 1
        UNION ALL
        SELECT 'row ' || s.row_no || ': ' || s.code || ' is already loaded'
        FROM {stage} s JOIN {table} t ON t.code = s.code
        """,
    )
    if problems:
        raise LoadError(source, "codes must be new and unique", problems)


def _refuse_unresolved(conn: Connection, stage: str, source: str, what: str) -> None:
    """Resolve the staged points and refuse those outside every loaded area."""
    _resolve(conn, stage)
    problems = _problems(
        conn,
        f"""
        SELECT 'row ' || s.row_no || ': ' || '{what} at ('
               || trim_scale(round(ST_X(s.pt)::numeric, 6)) || ', '
               || trim_scale(round(ST_Y(s.pt)::numeric, 6))
               || ') lies outside every loaded area'
        FROM {stage} s WHERE s.district_id IS NULL
        ORDER BY s.row_no
        """,
    )
    if problems:
        raise LoadError(source, f"{len(problems)} {what}s lie outside the jurisdiction", problems)


def load_buildings(
    conn: Connection, frame: gpd.GeoDataFrame, actor: Actor, source: str
) -> LoadResult:
    """Building footprints; each is placed by a point on its surface."""
    cols = {"code": "text", "name_zh": "text", "name_en": "text", "floors": "int", "use": "text"}
    _stage(conn, "stage_buildings", cols, frame)
    _refuse_existing(conn, "buildings", "stage_buildings", source)
    _refuse_unresolved(conn, "stage_buildings", source, "building")
    conn.execute(
        text(
            f"""
            INSERT INTO buildings (code, name_zh, name_en, floors, use, geom,
                                   district_id, street_id, community_id, grid_id, courtyard_id)
            SELECT s.code, s.name_zh, s.name_en, s.floors, s.use, ST_Multi(s.geom),
                   {AREA_REFS}
            FROM stage_buildings s
            """
        )
    )
    _record_load(conn, actor, "buildings", source, len(frame))
    return LoadResult("buildings", source, len(frame))


def _with_h3(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    cells = h3_columns(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    for name, values in cells.items():
        out[name] = values
    return out


H3_STAGE = {f"h3_r{r}": "bigint" for r in range(7, 13)}
H3_LIST = ", ".join(H3_STAGE)


def load_cameras(
    conn: Connection, frame: gpd.GeoDataFrame, actor: Actor, source: str
) -> LoadResult:
    cols = {
        "code": "text",
        "name_zh": "text",
        "tier": "text",
        "status": "text",
        "stream_url": "text",
    } | H3_STAGE
    _stage(conn, "stage_cameras", cols, _with_h3(frame))
    _refuse_existing(conn, "cameras", "stage_cameras", source)
    _refuse_unresolved(conn, "stage_cameras", source, "camera")
    conn.execute(
        text(
            f"""
            INSERT INTO cameras (code, name_zh, tier, status, stream_url, geom, {H3_LIST},
                                 district_id, street_id, community_id, grid_id, courtyard_id)
            SELECT s.code, s.name_zh, s.tier, s.status, s.stream_url, s.geom, {H3_LIST},
                   {AREA_REFS}
            FROM stage_cameras s
            """
        )
    )
    _record_load(conn, actor, "cameras", source, len(frame))
    return LoadResult("cameras", source, len(frame))


def load_workers(
    conn: Connection, frame: gpd.GeoDataFrame, actor: Actor, source: str
) -> LoadResult:
    """Grid workers; their areas are those of their home grid."""
    cols = {
        "code": "text",
        "name_zh": "text",
        "tier": "int",
        "home_grid_code": "text",
        "status": "text",
        "phone": "text",
        "last_seen_at": "timestamptz",
    }
    _stage(conn, "stage_workers", cols, frame)
    _refuse_existing(conn, "workers", "stage_workers", source)
    problems = _problems(
        conn,
        """
        SELECT 'row ' || s.row_no || ': home grid ' || s.home_grid_code || ' is not a loaded grid'
        FROM stage_workers s
        LEFT JOIN areas g ON g.code = s.home_grid_code AND g.level = 'grid'
        WHERE g.id IS NULL ORDER BY s.row_no
        """,
    )
    if problems:
        raise LoadError(source, "workers name unknown home grids", problems)
    conn.execute(
        text(
            """
            INSERT INTO workers (code, name_zh, tier, home_grid_id, status, phone, last_seen_at,
                                 geom, district_id, street_id, community_id, grid_id,
                                 courtyard_id)
            SELECT s.code, s.name_zh, s.tier, g.id, s.status, s.phone, s.last_seen_at, s.geom,
                   g.district_id, g.street_id, g.community_id, g.grid_id, cy.id
            FROM stage_workers s
            JOIN areas g ON g.code = s.home_grid_code AND g.level = 'grid'
            LEFT JOIN LATERAL (
                SELECT c.id FROM areas c
                WHERE c.level = 'courtyard' AND c.parent_id = g.id
                  AND s.pt IS NOT NULL AND ST_Intersects(c.geom, s.pt) LIMIT 1
            ) cy ON true
            """
        )
    )
    _record_load(conn, actor, "workers", source, len(frame))
    return LoadResult("workers", source, len(frame))


# -- the basemap -----------------------------------------------------------------------

BASEMAP_KINDS = {"roads": ROAD_KINDS, "water": WATER_KINDS, "landuse": LANDUSE_KINDS}
_LINES = {"LineString", "MultiLineString"}
_POLYGONS = {"Polygon", "MultiPolygon"}


def _load_basemap(
    conn: Connection, table: str, frame: gpd.GeoDataFrame, actor: Actor, source: str
) -> LoadResult:
    """COPY ``frame`` (kind, name_zh, name_en, geometry) into a basemap table after
    checking every row; nothing here joins, so the checks need no staging table."""
    kinds = BASEMAP_KINDS[table]
    wanted = _LINES if table == "roads" else _POLYGONS
    rows = _row_numbers(frame)
    geoms = frame.geometry.to_numpy()
    problems = []
    types = np.array(
        [None if g is None or g.is_empty else g.geom_type for g in geoms], dtype=object
    )
    for row, kind, kind_type in zip(rows, frame["kind"].to_numpy(), types, strict=True):
        if kind not in kinds:
            problems.append(f"row {row}: kind {kind!r} is not one of {', '.join(kinds)}")
        if kind_type not in wanted:
            problems.append(
                f"row {row}: geometry is {kind_type or 'missing'}, expected "
                + " or ".join(sorted(wanted))
            )
    if not problems:
        invalid = ~shapely.is_valid(geoms)
        problems += [
            f"row {row}: invalid geometry ({reason})"
            for row, reason in zip(
                rows[invalid], shapely.is_valid_reason(geoms[invalid]), strict=True
            )
        ]
    if problems:
        raise LoadError(source, f"{table} rows are not {table} of the basemap", problems)
    multi = np.array(
        [
            g
            if g.geom_type.startswith("Multi")
            else (shapely.MultiLineString([g]) if table == "roads" else shapely.MultiPolygon([g]))
            for g in shapely.force_2d(geoms)
        ],
        dtype=object,
    )
    ewkb = shapely.to_wkb(shapely.set_srid(multi, 4326), hex=True, include_srid=True)
    columns = ["kind", "name_zh", "name_en"]
    data = [frame[c].to_numpy() if c in frame.columns else [None] * len(frame) for c in columns]
    copy_rows(conn, table, [*columns, "geom"], zip(*data, ewkb, strict=True))
    _record_load(conn, actor, table, source, len(frame))
    counts = pd.Series(frame["kind"]).value_counts()
    notes = [f"{counts[k]} {k}" for k in kinds if counts.get(k, 0)]
    return LoadResult(table, source, len(frame), notes)


def load_roads(conn: Connection, frame: gpd.GeoDataFrame, actor: Actor, source: str) -> LoadResult:
    """Roads of the basemap (lines), drawn by kind."""
    return _load_basemap(conn, "roads", frame, actor, source)


def load_water(conn: Connection, frame: gpd.GeoDataFrame, actor: Actor, source: str) -> LoadResult:
    """Rivers, canals, lakes and ponds of the basemap (polygons)."""
    return _load_basemap(conn, "water", frame, actor, source)


def load_landuse(
    conn: Connection, frame: gpd.GeoDataFrame, actor: Actor, source: str
) -> LoadResult:
    """Parks, green belts, forest and farmland of the basemap (polygons)."""
    return _load_basemap(conn, "landuse", frame, actor, source)


# -- cases -----------------------------------------------------------------------------

CASE_STAGE = {
    "external_id": "text",
    "channel": "text",
    "category_code": "text",
    "severity": "int",
    "status": "text",
    "reported_at": "timestamptz",
    "accepted_at": "timestamptz",
    "dispatched_at": "timestamptz",
    "handled_at": "timestamptz",
    "closed_at": "timestamptz",
    "satisfied": "boolean",
    "description": "text",
    "reporter_name": "text",
    "reporter_phone": "text",
    "duplicate_of_channel": "text",
    "duplicate_of_external_id": "text",
    "assignee_code": "text",
} | H3_STAGE

# One audit event per workflow timestamp a historical case carries.
HISTORY_EVENTS = (
    ("report", "reported_at", "NULL", "'reported'"),
    ("accept", "accepted_at", "'reported'", "'accepted'"),
    ("dispatch", "dispatched_at", "'accepted'", "'dispatched'"),
    ("handle", "handled_at", "'dispatched'", "'handled'"),
    (
        "close",
        "closed_at",
        "CASE WHEN c.handled_at IS NULL THEN 'accepted' ELSE 'handled' END",
        "c.status",
    ),
)


def load_cases(
    conn: Connection,
    frame: gpd.GeoDataFrame,
    actor: Actor,
    source: str,
    *,
    assign_grid_worker: bool = False,
) -> LoadResult:
    """Import historical cases, resolving areas and due times in PostGIS.

    Rows whose (channel, external_id) is already stored are skipped, so importing the
    same file twice is harmless. Duplicates link to their original by (channel,
    external_id); the original counts the reports it gathered. Each case gets audit
    events for the workflow steps it carries, by ``actor``. With
    ``assign_grid_worker``, dispatched cases without an assignee get their grid's
    tier-1 worker.
    """
    frame = frame.copy()
    for column in CASE_STAGE:
        if column not in frame.columns and not column.startswith("h3_"):
            frame[column] = None
    _stage(conn, "stage_cases", CASE_STAGE, _with_h3(frame))
    problems = _problems(
        conn,
        """
        SELECT 'channel ' || channel || ', external_id ' || external_id
               || ' appears more than once (rows '
               || string_agg(row_no::text, ', ' ORDER BY row_no) || ')'
        FROM stage_cases GROUP BY channel, external_id HAVING count(*) > 1
        UNION ALL
        SELECT 'row ' || s.row_no || ': unknown category ' || s.category_code
        FROM stage_cases s LEFT JOIN categories k ON k.code = s.category_code
        WHERE k.code IS NULL
        UNION ALL
        SELECT 'row ' || s.row_no || ': unknown assignee ' || s.assignee_code
        FROM stage_cases s LEFT JOIN workers w ON w.code = s.assignee_code
        WHERE s.assignee_code IS NOT NULL AND w.id IS NULL
        UNION ALL
        SELECT 'row ' || s.row_no || ': duplicate_of ' || s.duplicate_of_channel || '/'
               || s.duplicate_of_external_id || ' is neither in the file nor stored'
        FROM stage_cases s
        WHERE s.duplicate_of_external_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM stage_cases o
                          WHERE o.channel = s.duplicate_of_channel
                            AND o.external_id = s.duplicate_of_external_id)
          AND NOT EXISTS (SELECT 1 FROM cases o
                          WHERE o.channel = s.duplicate_of_channel
                            AND o.external_id = s.duplicate_of_external_id)
        """,
    )
    if problems:
        raise LoadError(source, "cases refer to unknown things", problems)
    _refuse_unresolved(conn, "stage_cases", source, "case")

    skipped = conn.execute(
        text(
            "DELETE FROM stage_cases s USING cases c"
            " WHERE c.channel = s.channel AND c.external_id = s.external_id"
        )
    ).rowcount
    conn.execute(
        text(
            f"""
            INSERT INTO cases (
                channel, external_id, category_code, severity, status, geom, {H3_LIST},
                district_id, street_id, community_id, grid_id, courtyard_id,
                reported_at, accepted_at, dispatched_at, handled_at, closed_at, due_at,
                satisfied, description, reporter_name, reporter_phone, assignee_id
            )
            SELECT s.channel, s.external_id, s.category_code, s.severity, s.status, s.pt,
                   {", ".join("s." + c for c in H3_STAGE)},
                   s.district_id, s.street_id, s.community_id, s.grid_id, s.courtyard_id,
                   s.reported_at, s.accepted_at, s.dispatched_at, s.handled_at, s.closed_at,
                   s.reported_at + make_interval(secs => 3600 * CASE s.severity
                       WHEN 1 THEN k.sla_hours_s1 WHEN 2 THEN k.sla_hours_s2
                       WHEN 3 THEN k.sla_hours_s3 ELSE k.sla_hours_s4 END),
                   s.satisfied, coalesce(s.description, ''), s.reporter_name, s.reporter_phone,
                   w.id
            FROM stage_cases s
            JOIN categories k ON k.code = s.category_code
            LEFT JOIN workers w ON w.code = s.assignee_code
            ORDER BY s.reported_at
            """
        )
    )
    conn.execute(
        text(
            """
            DROP TABLE IF EXISTS new_cases;
            CREATE TEMP TABLE new_cases ON COMMIT DROP AS
            SELECT c.id, s.duplicate_of_channel, s.duplicate_of_external_id
            FROM stage_cases s JOIN cases c
              ON c.channel = s.channel AND c.external_id = s.external_id;
            UPDATE cases c SET duplicate_of_id = o.id
            FROM new_cases n JOIN cases o
              ON o.channel = n.duplicate_of_channel AND o.external_id = n.duplicate_of_external_id
            WHERE c.id = n.id;
            UPDATE cases o SET report_count = 1 + d.n
            FROM (SELECT duplicate_of_id AS id, count(*) AS n FROM cases
                  WHERE duplicate_of_id IN (SELECT o2.id FROM cases o2 JOIN cases d2
                                            ON d2.duplicate_of_id = o2.id
                                            JOIN new_cases n2 ON n2.id = d2.id)
                  GROUP BY duplicate_of_id) d
            WHERE o.id = d.id;
            """
        )
    )
    if assign_grid_worker:
        conn.execute(
            text(
                """
                UPDATE cases c SET assignee_id = w.id
                FROM new_cases n, workers w
                WHERE c.id = n.id AND c.assignee_id IS NULL AND c.dispatched_at IS NOT NULL
                  AND w.home_grid_id = c.grid_id AND w.tier = 1
                """
            )
        )
    events = " UNION ALL ".join(
        f"SELECT c.id, c.{column}, '{action}', {from_status}, {to_status} FROM cases c"
        f" JOIN new_cases n ON n.id = c.id WHERE c.{column} IS NOT NULL"
        for action, column, from_status, to_status in HISTORY_EVENTS
    )
    conn.execute(
        text(
            f"""
            INSERT INTO case_events (case_id, at, action, from_status, to_status,
                                     actor_id, actor_name, note)
            SELECT e.*, :actor_id, :actor_name, :note
            FROM ({events}) e(case_id, at, action, from_status, to_status)
            ORDER BY e.at
            """
        ),
        {"actor_id": actor.id, "actor_name": actor.label, "note": f"imported from {source}"},
    )
    loaded = len(frame) - skipped
    _record_load(conn, actor, "cases", source, loaded)
    notes = [f"{skipped} already stored, skipped"] if skipped else []
    return LoadResult("cases", source, loaded, notes)
