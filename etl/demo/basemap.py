"""The demo's basemap: the street grids' roads, ring roads, rivers, lakes and green land.

Rivers, the canal and the ring roads follow fixed courses across Chengdu (roughly where
the real ones run) with a seeded meander, so each continues from one district into the
next. :func:`plan_basemap` gives what blocks must keep clear of (the water, its banks and
the ring roads) before buildings are laid out; :func:`build_basemap` then draws the
roads of every street's grid (arterials bridge the rivers, local roads stop at the bank),
the banks as green belts, the blocks left as parks (ponds and a lake in the larger ones)
and the empty outer blocks as farmland and wooded farmsteads. Everything is in UTM
metres until the city converts it to WGS-84; the same seed gives the same basemap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import shapely

from etl.demo import names
from etl.demo.blocks import ARTERIAL_HALF_WIDTH_M, Blocks, StreetRoads
from etl.demo.courtyards import Courtyards
from etl.demo.density import TIANFU_SQUARE, DensityField
from etl.demo.geom import lonlat_to_xy

COLUMNS = ["kind", "name_zh", "name_en", "geometry"]
MIN_ROAD_PIECE_M = 25.0  # slivers where a grid line grazes its street's edge
MAX_BRIDGE_M = 250.0  # arterials bridge water up to this long; a longer overlap runs along it
PARK_POND_M2 = 30_000.0  # parks from 3 ha may have a pond
POND_SHARE = 0.5
OUTER_DENSITY = 0.3  # empty blocks beyond this density (about 10 km out) are fields
FOREST_SHARE = 0.2
RIVER_STEP_M = 40.0


@dataclass(frozen=True)
class Course:
    """A river or canal: a fixed course (lon, lat) widened to a channel with green banks."""

    key: str  # into names.RIVERS
    kind: str  # river | canal
    half_width: float  # of the channel, metres
    bank: float  # green belt beyond the channel on each side, metres
    meander: float  # amplitude of the seeded wander off the course, metres
    lonlat: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Ring:
    """A ring road around Tianfu Square."""

    name: names.NamePair
    kind: str
    radius: float  # metres
    half_width: float  # of the carriageway and its verges, metres


COURSES: tuple[Course, ...] = (
    Course("fu", "river", 30.0, 80.0, 50.0, (
        (104.000, 30.790), (104.030, 30.755), (104.050, 30.725), (104.066, 30.700),
        (104.080, 30.683), (104.091, 30.668), (104.089, 30.656), (104.084, 30.650),
    )),
    Course("nan", "river", 25.0, 60.0, 40.0, (
        (103.950, 30.660), (104.000, 30.662), (104.040, 30.652), (104.065, 30.645),
        (104.084, 30.650),
    )),
    Course("jin", "river", 40.0, 90.0, 60.0, (
        (104.084, 30.650), (104.098, 30.636), (104.108, 30.622), (104.115, 30.600),
        (104.110, 30.560), (104.095, 30.500),
    )),
    Course("sha", "river", 18.0, 70.0, 60.0, (
        (104.085, 30.790), (104.098, 30.745), (104.105, 30.715), (104.112, 30.690),
        (104.122, 30.668), (104.128, 30.648), (104.126, 30.630), (104.114, 30.601),
    )),
    Course("dongfeng", "canal", 10.0, 30.0, 12.0, (
        (104.060, 30.780), (104.110, 30.745), (104.150, 30.725), (104.175, 30.700),
        (104.185, 30.665), (104.175, 30.630), (104.160, 30.590),
    )),
)  # fmt: skip
RINGS: tuple[Ring, ...] = (
    Ring(names.RING_ROADS[0], "primary", 2_600.0, 18.0),
    Ring(names.RING_ROADS[1], "trunk", 4_600.0, 25.0),
    Ring(names.RING_ROADS[2], "trunk", 8_000.0, 35.0),
    Ring(names.RING_ROADS[3], "motorway", 11_500.0, 30.0),
)


@dataclass
class Plan:
    """The fixed features inside one district (UTM), and what blocks must keep clear of."""

    water: list[tuple[Course, shapely.Geometry]]  # channel polygons, clipped to the district
    banks: list[tuple[Course, shapely.Geometry]]  # green belts, clipped, without the water
    rings: list[tuple[Ring, shapely.Geometry]]  # centre lines, clipped
    keep_clear: shapely.Geometry


@dataclass
class Basemap:
    """One district's basemap rows (kind, name_zh, name_en, geometry in UTM)."""

    roads: pd.DataFrame
    water: pd.DataFrame
    landuse: pd.DataFrame


# -- the fixed courses -------------------------------------------------------------------


def _meander(line: shapely.LineString, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Points along ``line`` pushed sideways by a smooth seeded wave (three sinusoids)."""
    along = np.append(np.arange(0.0, line.length, RIVER_STEP_M), line.length)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    tangent = np.gradient(xy, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    wavelength = rng.uniform(900.0, 2_600.0, 3)
    phase = rng.uniform(0.0, 2 * np.pi, 3)
    weight = rng.dirichlet(np.ones(3))
    offset = amplitude * (weight * np.sin(2 * np.pi * along[:, None] / wavelength + phase)).sum(1)
    return xy + normal * offset[:, None]


@functools.cache
def _course_lines(seed: int) -> tuple[dict[str, shapely.LineString], list[shapely.LineString]]:
    """Every river's and ring's centre line (UTM) for ``seed``: the same in every district."""
    rivers = {}
    for k, course in enumerate(COURSES):
        lon, lat = np.array(course.lonlat).T
        x, y = lonlat_to_xy(lon, lat)
        line = shapely.LineString(np.column_stack([x, y]))
        rng = np.random.default_rng([seed, 9_000, k])
        rivers[course.key] = shapely.LineString(_meander(line, rng, course.meander)).simplify(2.0)
    cx, cy = lonlat_to_xy(np.array([TIANFU_SQUARE[0]]), np.array([TIANFU_SQUARE[1]]))
    theta = np.linspace(0.0, 2 * np.pi, 721)
    rings = []
    for k, ring in enumerate(RINGS):
        rng = np.random.default_rng([seed, 9_100, k])
        wobble = sum(
            rng.uniform(0.01, 0.035) * np.sin(h * theta + rng.uniform(0, 2 * np.pi)) for h in (2, 3)
        )
        r = ring.radius * (1.0 + wobble)
        xy = np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)])
        rings.append(shapely.LineString(xy))
    return rivers, rings


def plan_basemap(district: shapely.Geometry, seed: int) -> Plan:
    """The rivers, banks and ring roads inside ``district`` (UTM), and the ground blocks
    must keep clear of."""
    rivers, rings = _course_lines(seed)
    shapely.prepare(district)
    water, banks, clear = [], [], []
    for course in COURSES:
        line = rivers[course.key]
        corridor = line.buffer(course.half_width + course.bank)
        if not district.intersects(corridor):
            continue
        channel = line.buffer(course.half_width)
        water.append((course, channel.intersection(district)))
        banks.append((course, corridor.difference(channel).intersection(district)))
        clear.append(corridor)
    inside_rings = []
    for ring, line in zip(RINGS, rings, strict=True):
        piece = line.intersection(district)
        if piece.is_empty:
            continue
        inside_rings.append((ring, piece))
        clear.append(line.buffer(ring.half_width + 4.0))
    return Plan(water, banks, inside_rings, shapely.union_all(clear))


def name_main_roads(roads: list[StreetRoads], street_names_zh: list[str]) -> list[StreetRoads]:
    """A street office named after its main road (府青路街道) gets that road: the arterial
    nearest its centre (made one if it has none) takes the real name."""
    out = []
    for r, street in zip(roads, street_names_zh, strict=True):
        pair = names.NAMED_ROADS.get(street.removesuffix("街道"))
        if pair is None:
            out.append(r)
            continue
        arterial = [
            (abs(float(p)), axis, i)
            for axis in ("u", "v")
            for i, p in enumerate(getattr(r, f"{axis}_roads"))
            if getattr(r, f"{axis}_half_width")[i] == ARTERIAL_HALF_WIDTH_M
        ]
        every = [
            (abs(float(p)), axis, i)
            for axis in ("u", "v")
            for i, p in enumerate(getattr(r, f"{axis}_roads"))
        ]
        _, axis, i = min(arterial or every)
        road_names = list(getattr(r, f"{axis}_names"))
        road_names[i] = pair
        widths = getattr(r, f"{axis}_half_width").copy()
        widths[i] = ARTERIAL_HALF_WIDTH_M
        out.append(replace(r, **{f"{axis}_names": road_names, f"{axis}_half_width": widths}))
    return out


# -- the district's basemap --------------------------------------------------------------


def _frame(kind: list[str], pairs: list[names.NamePair | None], geoms: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": kind,
            "name_zh": [p[0] if p else None for p in pairs],
            "name_en": [p[1] if p else None for p in pairs],
            "geometry": geoms,
        },
        columns=COLUMNS,
    )


def _grid_lines(
    r: StreetRoads, street: shapely.Geometry
) -> tuple[np.ndarray, np.ndarray, list[names.NamePair]]:
    """Every road of a street's grid as a line across the street, clipped to it."""
    u0, u1 = r.u_roads[0], r.u_roads[-1]
    v0, v1 = r.v_roads[0], r.v_roads[-1]
    nu, nv = len(r.u_roads), len(r.v_roads)
    lu = np.concatenate([r.u_roads, r.u_roads, np.full(nv, u0), np.full(nv, u1)])
    lv = np.concatenate([np.full(nu, v0), np.full(nu, v1), r.v_roads, r.v_roads])
    x, y = r.to_world(lu, lv)
    start = np.column_stack(
        [
            np.concatenate([x[:nu], x[2 * nu : 2 * nu + nv]]),
            np.concatenate([y[:nu], y[2 * nu : 2 * nu + nv]]),
        ]
    )
    end = np.column_stack([np.concatenate([x[nu : 2 * nu], x[2 * nu + nv :]]),
                           np.concatenate([y[nu : 2 * nu], y[2 * nu + nv :]])])  # fmt: skip
    lines = shapely.linestrings(np.stack([start, end], axis=1))
    widths = np.concatenate([r.u_half_width, r.v_half_width])
    return shapely.intersection(lines, street), widths, [*r.u_names, *r.v_names]


def _cut_at_water(
    lines: np.ndarray, bridging: np.ndarray, water: shapely.Geometry | None
) -> np.ndarray:
    """Roads without the stretches over water; ``bridging`` roads keep short crossings."""
    if water is None:
        return lines
    shapely.prepare(water)
    wet = shapely.intersects(water, lines)
    if not wet.any():
        return lines
    out = lines.copy()
    dry = shapely.difference(lines[wet], water)
    over = shapely.intersection(lines[wet], water)
    for k, idx in enumerate(np.flatnonzero(wet)):
        if bridging[idx]:
            parts = shapely.get_parts(over[k])
            short = parts[shapely.length(parts) <= MAX_BRIDGE_M]
            if len(short):
                out[idx] = shapely.line_merge(shapely.union_all([dry[k], *short]))
                continue
        out[idx] = dry[k]
    return out


def _multilines(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MultiLineStrings of each geometry's line parts longer than MIN_ROAD_PIECE_M, and the
    indices of the geometries that kept any."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) >= MIN_ROAD_PIECE_M)
    parts, owner = parts[keep], owner[keep]
    kept = np.unique(owner)
    if not len(kept):
        return np.empty(0, dtype=object), kept
    return shapely.multilinestrings(parts, indices=np.searchsorted(kept, owner)), kept


def _roads(
    streets: np.ndarray, roads: list[StreetRoads], plan: Plan, water: shapely.Geometry | None,
    rng: np.random.Generator,
) -> pd.DataFrame:  # fmt: skip
    """The streets' grid roads by kind (arterials primary or secondary, local roads
    tertiary or residential, named main roads primary) and the ring roads."""
    lines, widths, pairs = [], [], []
    for street, r in zip(streets, roads, strict=True):
        g, w, p = _grid_lines(r, street)
        lines.append(g)
        widths.append(w)
        pairs += p
    geoms = np.concatenate(lines) if lines else np.empty(0, dtype=object)
    arterial = np.concatenate(widths) == ARTERIAL_HALF_WIDTH_M if widths else np.empty(0, bool)
    named = np.isin([p[0] for p in pairs], [v[0] for v in names.NAMED_ROADS.values()])
    draw = rng.random(len(geoms))
    kind = np.where(
        arterial,
        np.where(named | (draw < 0.35), "primary", "secondary"),
        np.where(draw < 0.15, "tertiary", "residential"),
    ).astype(object)
    geoms = _cut_at_water(geoms, arterial, water)
    ring_geoms = np.array([line for _, line in plan.rings], dtype=object)
    ring_geoms = _cut_at_water(ring_geoms, np.ones(len(ring_geoms), bool), water)
    geoms = np.concatenate([geoms, ring_geoms])
    kind = np.concatenate([kind, np.array([ring.kind for ring, _ in plan.rings], dtype=object)])
    pairs = pairs + [ring.name for ring, _ in plan.rings]
    multi, kept = _multilines(geoms)
    return _frame(list(kind[kept]), [pairs[k] for k in kept], list(multi))


def _ellipses(
    cx: np.ndarray, cy: np.ndarray, a: np.ndarray, b: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, 33)
    px, py = a[:, None] * np.cos(t), b[:, None] * np.sin(t)
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, y = cx[:, None] + px * c - py * s, cy[:, None] + px * s + py * c
    return shapely.polygons(np.stack([x, y], -1))


def _built_blocks(blocks: Blocks, building_geoms: np.ndarray) -> np.ndarray:
    """Whether each block holds a building (by the building's centre)."""
    built = np.zeros(len(blocks), dtype=bool)
    if len(building_geoms):
        centres = shapely.centroid(building_geoms)
        _, hit = shapely.STRtree(blocks.geometry).query(centres, predicate="within")
        built[hit] = True
    return built


def build_basemap(
    district: shapely.Geometry,
    streets: np.ndarray,
    blocks: Blocks,
    kinds: np.ndarray,
    building_geoms: np.ndarray,
    courtyards: Courtyards,
    plan: Plan,
    density: DensityField,
    rng: np.random.Generator,
) -> Basemap:
    """One district's roads, water and green land (UTM) for the blocks it was built on
    (clipped to ``district``: a block on its edge may reach past it)."""
    shapely.prepare(district)
    park = np.flatnonzero(kinds == "park")
    stems = names.NamePool(rng).take(len(park) + len(blocks))
    park_geoms = shapely.intersection(blocks.geometry[park], district)
    park_area = shapely.area(park_geoms)

    # Ponds in some larger parks; the largest park of the district has a lake.
    has_pond = (park_area >= PARK_POND_M2) & (rng.random(len(park)) < POND_SHARE)
    lake = int(np.argmax(park_area)) if len(park) and park_area.max() >= PARK_POND_M2 else -1
    if lake >= 0:
        has_pond[lake] = True
    pond = np.flatnonzero(has_pond)
    size = rng.uniform(0.28, 0.4, (len(pond), 2))
    size[pond == lake] = 0.42
    pb = park[pond]
    pond_geoms = _ellipses(
        blocks.x[pb], blocks.y[pb], blocks.width[pb] * size[:, 0], blocks.height[pb] * size[:, 1],
        blocks.angle[pb],
    )  # fmt: skip
    pond_geoms = shapely.intersection(pond_geoms, district)
    named_pond = rng.random(len(pond)) < 0.6
    pond_pairs = [
        names.lake_name(stems[p]) if p == lake else names.lake_name(stems[p], pond=True)
        for p in pond
    ]
    pond_pairs = [
        pair if p == lake or n else None
        for pair, p, n in zip(pond_pairs, pond, named_pond, strict=True)
    ]
    water_rows = _frame(
        [c.kind for c, _ in plan.water] + ["lake" if p == lake else "pond" for p in pond],
        [names.RIVERS[c.key] for c, _ in plan.water] + pond_pairs,
        [g for _, g in plan.water] + list(pond_geoms),
    )
    water = shapely.union_all([g for _, g in plan.water]) if plan.water else None
    road_rows = _roads(streets, blocks.roads, plan, water, rng)

    # Fields and wooded farmsteads on the outer blocks nothing was built on.
    empty = ~_built_blocks(blocks, building_geoms)
    empty[park] = False
    empty[courtyards.block] = False
    empty &= density(blocks.x, blocks.y) < OUTER_DENSITY
    outer = np.flatnonzero(empty)
    forest = outer[rng.random(len(outer)) < FOREST_SHARE]
    fields = np.setdiff1d(outer, forest)
    field_geoms: list[shapely.Geometry] = []
    if len(fields):
        # Neighbouring fields merge across the local roads between them (drawn on top).
        merged = shapely.union_all(shapely.buffer(blocks.geometry[fields], 8.0, join_style="mitre"))
        merged = shapely.buffer(merged, -8.0, join_style="mitre").intersection(district)
        field_geoms = [g for g in shapely.get_parts(merged) if g.area > 0]
    forest_stems = stems[len(park) : len(park) + len(forest)]
    landuse_rows = _frame(
        ["park"] * len(park) + ["green"] * len(plan.banks) + ["forest"] * len(forest)
        + ["farmland"] * len(field_geoms),
        [names.park_name(stems[k]) for k in range(len(park))]
        + [names.greenway_name(names.RIVERS[c.key]) for c, _ in plan.banks]
        + [names.linpan_name(s) for s in forest_stems] + [None] * len(field_geoms),
        list(park_geoms) + [g for _, g in plan.banks]
        + list(shapely.intersection(blocks.geometry[forest], district)) + field_geoms,
    )  # fmt: skip
    return Basemap(roads=road_rows, water=_with_area(water_rows), landuse=_with_area(landuse_rows))


def _with_area(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose clipped polygon kept some area (a block may lie just outside)."""
    return frame[shapely.area(frame["geometry"].to_numpy()) > 1.0].reset_index(drop=True)
