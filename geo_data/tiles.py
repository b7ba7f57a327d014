"""Vector tiles (Mapbox Vector Tile) cut by PostGIS: one statement per layer.

Each layer is one SQL statement in the way Martin and pg_tileserv treat a PostGIS
function as a tile source: ``ST_TileEnvelope`` gives the tile, the rows in it (plus the
buffer) are found by the spatial index on their WGS-84 geometry, ``ST_AsMVTGeom``
projects, clips and quantises them to the tile's 4096 grid, and ``ST_AsMVT`` encodes
the layer. No feature passes through Python.

The viewer's area is a parameter of every statement (``:area_id``, NULL for the
jurisdiction-wide roles): located rows are kept by their stored area ids, areas by
their ancestor ids, and the basemap (which carries no area ids) is clipped to the
area's outline, so a supervisor's tile never holds a feature of another area, whatever
tile is asked for. Personal fields (worker names and phones) are columns of the
statement only for viewers who may see them; reporters never appear in tiles.

Per layer: a zoom range, a feature limit per zoom (the most important features first),
and a simplification tolerance of about one tile pixel at the zoom (``:tol``, degrees).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from geo_data.models import CAMERA_TIERS, CLOSED_STATUSES, LEVELS

EXTENT = 4096
BUFFER = 64
MARGIN = BUFFER / EXTENT  # ST_TileEnvelope's margin: the buffer as a share of the tile
WORLD_DEGREES = 360.0

# Area levels drawn at each zoom (inclusive bands): districts at low zoom, deeper below.
AREA_LEVELS_BY_ZOOM: tuple[tuple[int, tuple[str, ...]], ...] = (
    (6, ("district",)),
    (12, ("street",)),
    (14, ("community",)),
    (15, ("grid",)),
    (16, ("grid", "courtyard")),
)
# Road kinds drawn from each zoom on (the main roads first, every street close up).
ROAD_KINDS_BY_ZOOM: tuple[tuple[int, tuple[str, ...]], ...] = (
    (8, ("motorway", "trunk")),
    (11, ("motorway", "trunk", "primary")),
    (12, ("motorway", "trunk", "primary", "secondary")),
    (13, ("motorway", "trunk", "primary", "secondary", "tertiary")),
    (14, ("motorway", "trunk", "primary", "secondary", "tertiary", "residential", "service")),
)
# Below z14 only the upper tiers: the paid grid workers (then volunteers), and the
# district and street cameras (then community ones); everyone close up.
WORKER_MAX_TIER_BY_ZOOM: tuple[tuple[int, int], ...] = ((12, 1), (13, 2), (14, 3))
CAMERA_MAX_TIER_BY_ZOOM: tuple[tuple[int, str], ...] = (
    (12, "street"),
    (13, "community"),
    (14, "courtyard"),
)
WATER_KINDS_BY_ZOOM: tuple[tuple[int, tuple[str, ...]], ...] = (
    (8, ("river", "canal", "lake")),
    (13, ("river", "canal", "lake", "pond")),
)

OPEN_SQL = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))
_AREA = "CAST(:area_id AS integer)"
# A located row lies in the viewer's area (a street or a community), or no area is set.
_IN_AREA = f"({_AREA} IS NULL OR {_AREA} IN ({{t}}.street_id, {{t}}.community_id))"
_TIER_RANK = (
    "CASE {t}.tier "
    + " ".join(f"WHEN '{tier}' THEN {rank}" for rank, tier in enumerate(CAMERA_TIERS))
    + " END"
)

_BOUNDS = f"""
bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {MARGIN}), 4326) AS box
)"""
# The viewer's area, for the statements that clip or pick levels by it (no row: none).
_SCOPE = f"""
scope AS (SELECT a.level_rank, a.geom FROM areas a WHERE a.id = {_AREA})"""


def _mvt_geom(expr: str) -> str:
    return f"ST_AsMVTGeom(ST_Transform({expr}, 3857), b.tile, {EXTENT}, {BUFFER}, true)"


def _encode(layer: str, body: str, *, scope: bool = False) -> str:
    ctes = _BOUNDS + ("," + _SCOPE if scope else "")
    return (
        f"WITH {ctes},\nmvt AS ({body}\n)\n"
        f"SELECT ST_AsMVT(mvt.*, '{layer}', {EXTENT}, 'geom', 'fid') FROM mvt"
        " WHERE mvt.geom IS NOT NULL"
    )


def _clipped(table: str, kind: int) -> str:
    """A basemap geometry, clipped to the viewer's outline when there is one (``kind``:
    2 lines, 3 polygons), simplified to the zoom."""
    return (
        f"ST_Simplify(CASE WHEN s.geom IS NULL THEN {table}.geom"
        f" ELSE ST_CollectionExtract(ST_Intersection({table}.geom, s.geom), {kind}) END,"
        " :tol, true)"
    )


_BASEMAP_WHERE = (
    "{t}.geom && b.box AND {t}.kind = ANY(:kinds)"
    f" AND ({_AREA} IS NULL OR ST_Intersects({{t}}.geom, s.geom))"
)


@dataclass(frozen=True)
class TileLayer:
    """One tile layer: its statement, zooms, limits and the fields its features carry."""

    name: str
    description: str
    minzoom: int
    maxzoom: int
    live: bool  # changes with the case feed (else only with data loads)
    fields: Mapping[str, str]  # property -> TileJSON type: String, Number or Boolean
    body: str  # the SELECT feeding ST_AsMVT; ``{personal}`` where personal columns go
    limits: tuple[tuple[int, int], ...]  # (from zoom, most features in a tile)
    personal_fields: Mapping[str, str] = field(default_factory=dict)
    personal_columns: str = ""
    uses_scope: bool = False  # needs the ``scope`` CTE (basemap clip, area levels)

    def statement(self, personal: bool) -> str:
        """The SQL cutting one tile; personal columns only when ``personal``."""
        columns = self.personal_columns if personal and self.personal_fields else ""
        return _encode(self.name, self.body.format(personal=columns), scope=self.uses_scope)

    @property
    def version(self) -> str:
        """Changes whenever the statements change, so cached tiles of older code are never
        served."""
        sql = self.statement(True) + self.statement(False) + repr(self.limits)
        return hashlib.blake2b(sql.encode(), digest_size=4).hexdigest()

    def limit(self, z: int) -> int:
        return _band(self.limits, z)

    def has_zoom(self, z: int) -> bool:
        return self.minzoom <= z <= self.maxzoom

    def tilejson_fields(self, personal: bool) -> dict[str, str]:
        return {**self.fields, **(self.personal_fields if personal else {})}


def _band(bands: tuple[tuple[int, Any], ...], z: int) -> Any:
    """The value of the last band starting at or below ``z``."""
    chosen = bands[0][1]
    for start, value in bands:
        if z >= start:
            chosen = value
    return chosen


def area_levels(z: int) -> tuple[str, ...]:
    """The area levels the ``areas`` layer holds at zoom ``z``."""
    return _band(AREA_LEVELS_BY_ZOOM, z)


def _basemap_area(name: str, alias: str, description: str, *, minzoom: int) -> TileLayer:
    """A basemap polygon layer (water, landuse): the largest first, the smallest left out
    by zoom, clipped to a supervisor's area."""
    return TileLayer(
        name=name,
        description=description,
        minzoom=minzoom,
        maxzoom=16,
        live=False,
        fields={"kind": "String", "name_zh": "String", "name_en": "String"},
        uses_scope=True,
        body=f"""
    SELECT {_mvt_geom(_clipped(alias, 3))} AS geom,
           {alias}.id AS fid, {alias}.kind, {alias}.name_zh, {alias}.name_en
    FROM {name} {alias} CROSS JOIN bounds b LEFT JOIN scope s ON true
    WHERE {_BASEMAP_WHERE.format(t=alias)} AND ST_Area({alias}.geom) >= :min_area
    ORDER BY ST_Area({alias}.geom) DESC
    LIMIT :limit""",
        limits=((minzoom, 5000),),
    )


LAYERS: dict[str, TileLayer] = {
    layer.name: layer
    for layer in (
        TileLayer(
            name="areas",
            description=(
                "Administrative areas of one level by zoom: districts z6-11, streets"
                " z12-13, communities z14, grids z15, grids and courtyards z16; never"
                " above the viewer's own area"
            ),
            minzoom=6,
            maxzoom=16,
            live=False,
            fields={"code": "String", "level": "String", "name_zh": "String", "name_en": "String"},
            uses_scope=True,
            body=f"""
    SELECT {_mvt_geom("ST_Simplify(a.geom, :tol, true)")} AS geom,
           a.id AS fid, a.code, a.level, a.name_zh, a.name_en
    FROM areas a CROSS JOIN bounds b
    WHERE a.geom && b.box
      AND a.level_rank BETWEEN GREATEST(:rank_lo, coalesce((SELECT level_rank FROM scope), 0))
                           AND GREATEST(:rank_hi, coalesce((SELECT level_rank FROM scope), 0))
      AND {_IN_AREA.format(t="a")}
    ORDER BY a.level_rank, a.code
    LIMIT :limit""",
            limits=((6, 5000),),
        ),
        TileLayer(
            name="buildings",
            description="Building footprints (the largest first when a tile is full)",
            minzoom=14,
            maxzoom=16,
            live=False,
            fields={
                "code": "String",
                "name_zh": "String",
                "name_en": "String",
                "floors": "Number",
                "use": "String",
            },
            body=f"""
    SELECT {_mvt_geom("ST_Simplify(bu.geom, :tol, true)")} AS geom,
           bu.id AS fid, bu.code, bu.name_zh, bu.name_en, bu.floors, bu.use
    FROM buildings bu CROSS JOIN bounds b
    WHERE bu.geom && b.box AND {_IN_AREA.format(t="bu")}
    ORDER BY ST_Area(bu.geom) DESC, bu.id
    LIMIT :limit""",
            limits=((14, 6000), (15, 10000)),
        ),
        TileLayer(
            name="cameras",
            description=(
                "Cameras by tier and status: district and street tiers from z12, community"
                " z13, courtyard z14"
            ),
            minzoom=12,
            maxzoom=16,
            live=False,
            fields={"code": "String", "name_zh": "String", "tier": "String", "status": "String"},
            body=f"""
    SELECT {_mvt_geom("cam.geom")} AS geom,
           cam.id AS fid, cam.code, cam.name_zh, cam.tier, cam.status
    FROM cameras cam CROSS JOIN bounds b
    WHERE cam.geom && b.box AND {_TIER_RANK.format(t="cam")} <= :max_tier
      AND {_IN_AREA.format(t="cam")}
    ORDER BY {_TIER_RANK.format(t="cam")}, cam.id
    LIMIT :limit""",
            limits=((12, 1500), (14, 6000)),
        ),
        TileLayer(
            name="workers",
            description=(
                "Grid workers at their last position, by status: tier 1 from z12, tier 2"
                " z13, tier 3 z14"
            ),
            minzoom=12,
            maxzoom=16,
            live=True,
            fields={
                "code": "String",
                "tier": "Number",
                "status": "String",
                "last_seen_at": "String",
            },
            personal_fields={"name_zh": "String", "phone": "String"},
            personal_columns=", w.name_zh, w.phone",
            body=f"""
    SELECT {_mvt_geom("w.geom")} AS geom,
           w.id AS fid, w.code, w.tier, w.status,
           to_char(w.last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
               AS last_seen_at{{personal}}
    FROM workers w CROSS JOIN bounds b
    WHERE w.geom && b.box AND w.tier <= :max_tier AND {_IN_AREA.format(t="w")}
    ORDER BY w.tier, w.id
    LIMIT :limit""",
            limits=((12, 2000), (14, 6000)),
        ),
        TileLayer(
            name="cases",
            description="Open cases: severity, status, overdue, category (most urgent first)",
            minzoom=10,
            maxzoom=16,
            live=True,
            fields={
                "id": "Number",
                "severity": "Number",
                "status": "String",
                "overdue": "Boolean",
                "category": "String",
            },
            # Open cases are never duplicates (a merged case is closed); saying so lets
            # the partial spatial index over open originals find them.
            body=f"""
    SELECT {_mvt_geom("c.geom")} AS geom,
           c.id AS fid, c.id, c.severity, c.status, c.due_at < now() AS overdue,
           c.category_code AS category
    FROM cases c CROSS JOIN bounds b
    WHERE c.geom && b.box AND c.{OPEN_SQL} AND c.duplicate_of_id IS NULL
      AND {_IN_AREA.format(t="c")}
    ORDER BY c.severity, c.due_at, c.id
    LIMIT :limit""",
            limits=((10, 3000), (13, 5000)),
        ),
        TileLayer(
            name="roads",
            description=(
                "Roads by kind: motorway and trunk from z8, primary z11, secondary z12,"
                " tertiary z13, residential and service z14"
            ),
            minzoom=8,
            maxzoom=16,
            live=False,
            fields={"kind": "String", "name_zh": "String", "name_en": "String"},
            uses_scope=True,
            body=f"""
    SELECT {_mvt_geom(_clipped("r", 2))} AS geom,
           r.id AS fid, r.kind, r.name_zh, r.name_en
    FROM roads r CROSS JOIN bounds b LEFT JOIN scope s ON true
    WHERE {_BASEMAP_WHERE.format(t="r")}
    ORDER BY array_position(CAST(:kinds AS text[]), r.kind), r.id
    LIMIT :limit""",
            limits=((8, 10000),),
        ),
        _basemap_area("water", "wa", "Rivers, canals and lakes; ponds from z13", minzoom=8),
        _basemap_area("landuse", "lu", "Parks, green space, forest and farmland", minzoom=10),
    )
}
LANDUSE_KINDS = ("park", "green", "forest", "farmland")


def pixel_degrees(z: int) -> float:
    """One pixel of a tile's 4096 grid at zoom ``z``, in degrees of longitude."""
    return WORLD_DEGREES / (2**z) / EXTENT


def tile_params(layer: TileLayer, z: int, x: int, y: int, area_id: int | None) -> dict[str, Any]:
    """The parameters of ``layer``'s statement for tile z/x/y seen from ``area_id``."""
    params: dict[str, Any] = {
        "z": z,
        "x": x,
        "y": y,
        "area_id": area_id,
        "limit": layer.limit(z),
        "tol": pixel_degrees(z),
    }
    if layer.name == "areas":
        ranks = [LEVELS.index(level) for level in area_levels(z)]
        params |= {"rank_lo": min(ranks), "rank_hi": max(ranks)}
    elif layer.name == "workers":
        params["max_tier"] = _band(WORKER_MAX_TIER_BY_ZOOM, z)
    elif layer.name == "cameras":
        params["max_tier"] = CAMERA_TIERS.index(_band(CAMERA_MAX_TIER_BY_ZOOM, z))
    elif layer.name == "roads":
        params["kinds"] = list(_band(ROAD_KINDS_BY_ZOOM, z))
    elif layer.name == "water":
        params["kinds"] = list(_band(WATER_KINDS_BY_ZOOM, z))
    elif layer.name == "landuse":
        params["kinds"] = list(LANDUSE_KINDS)
    if layer.name in ("water", "landuse"):
        params["min_area"] = (4 * pixel_degrees(z)) ** 2  # smaller than 4x4 px: left out
    return params


def cut_tile(
    conn: Connection,
    layer: TileLayer,
    z: int,
    x: int,
    y: int,
    *,
    area_id: int | None,
    personal: bool,
) -> bytes:
    """The MVT bytes of one layer's tile (empty when nothing lies in it)."""
    data = conn.execute(
        text(layer.statement(personal)), tile_params(layer, z, x, y, area_id)
    ).scalar()
    return bytes(data or b"")


@dataclass(frozen=True)
class TileState:
    """What a cached tile depends on besides its address: the database it came from
    (a reloaded database gets a new oid), the last data load and the feed position."""

    database: str
    load_id: int
    feed_seq: int

    def generation(self, live: bool) -> str:
        return f"l{self.load_id}-f{self.feed_seq}" if live else f"l{self.load_id}"


def tile_state(conn: Connection) -> TileState:
    """One indexed read per request: the last data load and the last feed entry."""
    row = conn.execute(
        text(
            "SELECT d.oid, current_database() AS name,"
            " (SELECT coalesce(max(id), 0) FROM data_loads) AS load_id,"
            " (SELECT coalesce(max(seq), 0) FROM case_feed) AS feed_seq"
            " FROM pg_database d WHERE d.datname = current_database()"
        )
    ).one()
    return TileState(f"{row.name}-{row.oid}", int(row.load_id), int(row.feed_seq))


def tile_bounds(conn: Connection, area_id: int | None) -> tuple[list[float], list[float]]:
    """([west, south, east, north], [lon, lat]) of the viewer's area, or of the
    jurisdiction (the districts holding grids) for the jurisdiction-wide roles."""
    where = (
        "a.id = CAST(:area_id AS integer)"
        if area_id is not None
        else "a.level = 'district' AND EXISTS"
        " (SELECT 1 FROM areas g WHERE g.level = 'grid' AND g.district_id = a.id)"
    )
    row = conn.execute(
        text(
            "SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n"
            f" FROM (SELECT ST_Extent(a.geom) AS e FROM areas a WHERE {where}) x"
        ),
        {"area_id": area_id},
    ).one()
    if row.w is None:
        return [-180.0, -85.0511, 180.0, 85.0511], [0.0, 0.0]
    bounds = [round(float(v), 6) for v in (row.w, row.s, row.e, row.n)]
    centre = [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6)]
    return bounds, centre


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The (x, y) of the zoom-``z`` tile holding a WGS-84 point (XYZ scheme)."""
    n = 2**z
    lat = max(min(lat, 85.0511), -85.0511)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_covering(bounds: list[float] | tuple[float, ...], z: int) -> list[tuple[int, int]]:
    """Every (x, y) of zoom ``z`` meeting ``[west, south, east, north]``."""
    x0, y0 = tile_of(bounds[0], bounds[3], z)
    x1, y1 = tile_of(bounds[2], bounds[1], z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
