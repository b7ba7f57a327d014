"""A synthetic residential density field for Chengdu, used to place seeds and cases.

Density falls off with distance from Tianfu Square, so inner grids are smaller
and busier; outer counties get a bump around their main town.
"""

from __future__ import annotations

import numpy as np
import shapely

from etl.demo.geom import lonlat_to_xy

TIANFU_SQUARE = (104.0657, 30.6598)
_CORE_SCALE_M = 7_000.0
_TOWN_SIGMA_M = 2_500.0
_TOWN_MIN_DISTANCE_M = 15_000.0
_FLOOR = 0.06


class DensityField:
    """Relative resident density (dimensionless, about 0.06-1) at UTM coordinates."""

    def __init__(self, towns_xy: np.ndarray | None = None) -> None:
        cx, cy = lonlat_to_xy(np.array([TIANFU_SQUARE[0]]), np.array([TIANFU_SQUARE[1]]))
        self.centre = np.array([cx[0], cy[0]])
        towns = np.empty((0, 2)) if towns_xy is None else np.asarray(towns_xy, float)
        far = np.hypot(*(towns - self.centre).T) > _TOWN_MIN_DISTANCE_M
        self.towns = towns[far]

    @classmethod
    def for_districts(cls, districts_utm: np.ndarray) -> DensityField:
        """A field with a town bump at each outer district's representative point."""
        pts = shapely.point_on_surface(districts_utm)
        return cls(np.column_stack([shapely.get_x(pts), shapely.get_y(pts)]))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Density at the given coordinates."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        d = _FLOOR + np.exp(-np.hypot(x - self.centre[0], y - self.centre[1]) / _CORE_SCALE_M)
        for tx, ty in self.towns:
            d = d + 0.6 * np.exp(-((x - tx) ** 2 + (y - ty) ** 2) / (2 * _TOWN_SIGMA_M**2))
        return d

    def at_geoms(self, geoms: np.ndarray) -> np.ndarray:
        """Density at each geometry's centroid."""
        c = shapely.centroid(geoms)
        return self(shapely.get_x(c), shapely.get_y(c))

    def sample(
        self, area: shapely.Geometry, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """`n` random points inside `area`, denser where the field is higher."""
        minx, miny, maxx, maxy = area.bounds
        gx, gy = np.meshgrid(np.linspace(minx, maxx, 40), np.linspace(miny, maxy, 40))
        dmax = float(self(gx, gy).max()) * 1.05
        shapely.prepare(area)
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        got = 0
        while got < n:
            m = max(4 * (n - got), 256)
            px = minx + rng.random(m) * (maxx - minx)
            py = miny + rng.random(m) * (maxy - miny)
            ok = (rng.random(m) * dmax < self(px, py)) & shapely.contains_xy(area, px, py)
            xs.append(px[ok])
            ys.append(py[ok])
            got += int(ok.sum())
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]
