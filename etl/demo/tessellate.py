"""Partition a polygon into balanced cells and split integer totals among them."""

from __future__ import annotations

import numpy as np
import shapely

from etl.demo.geom import as_multipolygons

SLIVER_M2 = 1.0


def voronoi_partition(
    parent: shapely.Geometry, x: np.ndarray, y: np.ndarray, iterations: int = 2
) -> np.ndarray:
    """MultiPolygon cells tiling `parent`, one per seed, in seed order.

    Voronoi cells of the seeds clipped to the parent, after a few Lloyd
    relaxation steps so the cells are compact; seeds must lie inside `parent`.
    """
    if len(x) == 1:
        return as_multipolygons([parent])
    shapely.prepare(parent)
    minx, miny, maxx, maxy = parent.bounds
    pad = max(maxx - minx, maxy - miny)
    extent = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    x, y = np.asarray(x, float).copy(), np.asarray(y, float).copy()
    for step in range(iterations + 1):
        diagram = shapely.voronoi_polygons(
            shapely.multipoints(np.column_stack([x, y])), extend_to=extent, ordered=True
        )
        cells = shapely.get_parts(diagram)
        if len(cells) != len(x):
            raise ValueError("coincident Voronoi seeds")
        clipped = shapely.intersection(cells, parent)
        if step == iterations:
            break
        centre = shapely.centroid(clipped)
        cx, cy = shapely.get_x(centre), shapely.get_y(centre)
        outside = ~shapely.contains_xy(parent, cx, cy)
        if outside.any():
            surface = shapely.point_on_surface(clipped[outside])
            cx[outside], cy[outside] = shapely.get_x(surface), shapely.get_y(surface)
        x, y = cx, cy
    return as_multipolygons(clipped, min_part_area=SLIVER_M2)


def apportion(total: int, weights: np.ndarray, minimum: int | np.ndarray = 0) -> np.ndarray:
    """Split the integer `total` in proportion to `weights` (largest remainder).

    Each share is at least `minimum`; the shares always sum to `total` exactly.
    """
    w = np.asarray(weights, float)
    base = np.broadcast_to(np.asarray(minimum, dtype=np.int64), w.shape).copy()
    rest = int(total) - int(base.sum())
    if rest < 0:
        raise ValueError(f"cannot give {total} to {len(w)} shares of at least {minimum}")
    if not (w > 0).any():
        w = np.ones_like(w)
    w = np.clip(w, 0, None)
    quota = rest * w / w.sum()
    shares = np.floor(quota).astype(np.int64)
    left = rest - int(shares.sum())
    order = np.argsort(-(quota - shares), kind="stable")
    shares[order[:left]] += 1
    return base + shares
