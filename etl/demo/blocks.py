"""A plausible road grid per street and the city blocks between its roads.

Each street gets its own rectangular road pattern (spacing 150-300 m, rotated
0-25 degrees); buildings, courtyards and roadside cameras are laid out on it, and the
basemap (``etl.demo.basemap``) keeps its roads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from etl.demo import names
from etl.demo.density import DensityField
from etl.demo.geom import rectangles

MIN_SPACING_M = 150.0
MAX_SPACING_M = 300.0
MAX_ANGLE_DEG = 25.0
ARTERIAL_HALF_WIDTH_M = 15.0
LOCAL_HALF_WIDTH_M = 7.0


@dataclass
class StreetRoads:
    """One street's road grid in its local frame (u along `angle`, v across)."""

    origin: np.ndarray  # (2,) UTM x, y of the local frame's origin
    angle: float  # radians
    u_roads: np.ndarray  # positions of roads running along v (constant u)
    v_roads: np.ndarray  # positions of roads running along u (constant v)
    u_half_width: np.ndarray
    v_half_width: np.ndarray
    u_names: list[names.NamePair]
    v_names: list[names.NamePair]

    def to_world(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local (u, v) to UTM (x, y)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        return self.origin[0] + u * c - v * s, self.origin[1] + u * s + v * c


@dataclass
class Blocks:
    """City blocks of a district, with the road grids they sit in."""

    roads: list[StreetRoads]  # one per street, in street order
    street: np.ndarray  # street index of each block
    i: np.ndarray  # the block lies between u_roads[i] and u_roads[i + 1]
    j: np.ndarray  # ... and between v_roads[j] and v_roads[j + 1]
    u: np.ndarray  # local centre
    v: np.ndarray
    width: np.ndarray  # extent along u
    height: np.ndarray  # extent along v
    angle: np.ndarray
    x: np.ndarray  # UTM centre
    y: np.ndarray
    geometry: np.ndarray  # rectangles, UTM

    def __len__(self) -> int:
        return len(self.street)

    def subset(self, keep: np.ndarray) -> Blocks:
        """The blocks selected by a boolean mask or index array."""
        fields = ("street", "i", "j", "u", "v", "width", "height", "angle", "x", "y", "geometry")
        return Blocks(self.roads, **{f: getattr(self, f)[keep] for f in fields})


def _road_positions(lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """Road centre lines covering [lo, hi] with irregular 150-300 m spacing."""
    n = int((hi - lo) / MIN_SPACING_M) + 3
    gaps = rng.uniform(MIN_SPACING_M, MAX_SPACING_M, n)
    pos = lo - rng.uniform(0, MIN_SPACING_M) + np.concatenate([[0.0], np.cumsum(gaps)])
    last = int(np.searchsorted(pos, hi)) + 1
    return pos[: last + 1]


def _half_widths(n: int, rng: np.random.Generator) -> np.ndarray:
    """Every few roads is an arterial."""
    return np.where(rng.random(n) < 0.25, ARTERIAL_HALF_WIDTH_M, LOCAL_HALF_WIDTH_M)


def _street_roads(
    street: shapely.Geometry, rng: np.random.Generator, pool: names.NamePool
) -> StreetRoads:
    angle = np.deg2rad(rng.uniform(0, MAX_ANGLE_DEG))
    centre = shapely.centroid(street)
    origin = np.array([centre.x, centre.y])
    xy = shapely.get_coordinates(street) - origin
    c, s = np.cos(angle), np.sin(angle)
    u = xy[:, 0] * c + xy[:, 1] * s
    v = -xy[:, 0] * s + xy[:, 1] * c
    u_roads = _road_positions(u.min(), u.max(), rng)
    v_roads = _road_positions(v.min(), v.max(), rng)
    u_half_width = _half_widths(len(u_roads), rng)
    v_half_width = _half_widths(len(v_roads), rng)
    u_arterial = u_half_width == ARTERIAL_HALF_WIDTH_M
    v_arterial = v_half_width == ARTERIAL_HALF_WIDTH_M
    return StreetRoads(
        origin=origin,
        angle=float(angle),
        u_roads=u_roads,
        v_roads=v_roads,
        u_half_width=u_half_width,
        v_half_width=v_half_width,
        u_names=names.road_names(rng, pool.take(len(u_roads)), u_arterial),
        v_names=names.road_names(rng, pool.take(len(v_roads)), v_arterial),
    )


def lay_out_roads(streets: np.ndarray, rng: np.random.Generator) -> list[StreetRoads]:
    """Each street's road grid, in street order."""
    pool = names.NamePool(rng)
    return [_street_roads(s, rng, pool) for s in streets]


def build_blocks(
    streets: np.ndarray,
    density: DensityField,
    rng: np.random.Generator,
    max_blocks: int,
    roads: list[StreetRoads] | None = None,
    keep_clear: shapely.Geometry | None = None,
) -> Blocks:
    """Blocks whose centre lies inside a street and that stay clear of ``keep_clear``
    (rivers, their banks, ring roads); thinned (denser areas first) to `max_blocks`.

    ``roads`` are the streets' grids from :func:`lay_out_roads` on the same ``rng``
    (laid out here when not given).
    """
    if roads is None:
        roads = lay_out_roads(streets, rng)
    parts = []
    for k, (street, r) in enumerate(zip(streets, roads, strict=True)):
        ii, jj = np.meshgrid(np.arange(len(r.u_roads) - 1), np.arange(len(r.v_roads) - 1))
        ii, jj = ii.ravel(), jj.ravel()
        lo_u = r.u_roads[ii] + r.u_half_width[ii]
        hi_u = r.u_roads[ii + 1] - r.u_half_width[ii + 1]
        lo_v = r.v_roads[jj] + r.v_half_width[jj]
        hi_v = r.v_roads[jj + 1] - r.v_half_width[jj + 1]
        u, v = (lo_u + hi_u) / 2, (lo_v + hi_v) / 2
        x, y = r.to_world(u, v)
        inside = shapely.contains_xy(street, x, y)
        parts.append(
            (np.full(inside.sum(), k), ii[inside], jj[inside], u[inside], v[inside],
             (hi_u - lo_u)[inside], (hi_v - lo_v)[inside], x[inside], y[inside])
        )  # fmt: skip
    street, i, j, u, v, w, h, x, y = (np.concatenate(c) for c in zip(*parts, strict=True))
    angle = np.array([r.angle for r in roads])[street]
    blocks = Blocks(roads, street, i, j, u, v, w, h, angle, x, y, rectangles(x, y, w, h, angle))
    if keep_clear is not None and not shapely.is_empty(keep_clear):
        shapely.prepare(keep_clear)
        blocks = blocks.subset(~shapely.intersects(keep_clear, blocks.geometry))
    if len(blocks) > max_blocks:
        keys = rng.exponential(size=len(blocks)) / density(blocks.x, blocks.y) ** 2
        blocks = blocks.subset(np.sort(np.argsort(keys, kind="stable")[:max_blocks]))
    return blocks
