"""Vectorised geometry helpers shared by the demo generators.

All generation happens in UTM 48N metres (EPSG:32648); frames are converted to
WGS-84 only at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyproj
import shapely

UTM = "EPSG:32648"
WGS84 = "EPSG:4326"

_TO_UTM = pyproj.Transformer.from_crs(WGS84, UTM, always_xy=True)
_TO_WGS84 = pyproj.Transformer.from_crs(UTM, WGS84, always_xy=True)
_POLYGON = 3
_COLLECTIONS = (4, 5, 6, 7)


def to_utm(geoms: np.ndarray | Sequence[shapely.Geometry]) -> np.ndarray:
    """Lon/lat geometries to UTM 48N metres."""
    return shapely.transform(np.asarray(geoms, dtype=object), _xy(_TO_UTM))


def to_wgs84(geoms: np.ndarray | Sequence[shapely.Geometry]) -> np.ndarray:
    """UTM 48N geometries to lon/lat."""
    return shapely.transform(np.asarray(geoms, dtype=object), _xy(_TO_WGS84))


def xy_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTM coordinates to lon/lat arrays."""
    lon, lat = _TO_WGS84.transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def lonlat_to_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat arrays to UTM coordinates."""
    x, y = _TO_UTM.transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def _xy(transformer: pyproj.Transformer) -> Callable[[np.ndarray], np.ndarray]:
    """A shapely.transform callback applying `transformer` to (n, 2) coordinates."""

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return apply


def polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every non-empty Polygon inside `geoms`, with the index of its owner (sorted)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    while True:
        nested = np.isin(shapely.get_type_id(parts), _COLLECTIONS)
        if not nested.any():
            break
        sub, sub_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        owner = np.concatenate([owner[~nested], owner[nested][sub_owner]])
    keep = (shapely.get_type_id(parts) == _POLYGON) & (shapely.area(parts) > 0)
    parts, owner = parts[keep], owner[keep]
    order = np.argsort(owner, kind="stable")
    return parts[order], owner[order]


def as_multipolygons(
    geoms: np.ndarray | Sequence[shapely.Geometry], min_part_area: float = 0.0
) -> np.ndarray:
    """Valid MultiPolygons keeping only polygonal parts.

    Parts smaller than `min_part_area` (clipping slivers) are dropped unless a
    geometry has nothing larger.
    """
    arr = np.asarray(geoms, dtype=object)
    invalid = ~shapely.is_valid(arr)
    if invalid.any():
        arr = arr.copy()
        arr[invalid] = shapely.make_valid(arr[invalid])
    parts, owner = polygon_parts(arr)
    if min_part_area > 0 and len(parts):
        area = shapely.area(parts)
        largest = np.zeros(len(arr))
        np.maximum.at(largest, owner, area)
        keep = (area >= min_part_area) | (area >= largest[owner])
        parts, owner = parts[keep], owner[keep]
    missing = np.setdiff1d(np.arange(len(arr)), owner)
    if missing.size:
        raise ValueError(f"{missing.size} geometries have no polygonal part (first {missing[0]})")
    return shapely.multipolygons(parts, indices=owner)


def largest_parts(geoms: np.ndarray) -> np.ndarray:
    """The largest Polygon of each geometry (None where there is none)."""
    out = np.full(len(geoms), None, dtype=object)
    parts, owner = polygon_parts(np.asarray(geoms, dtype=object))
    if not len(parts):
        return out
    area = shapely.area(parts)
    order = np.lexsort((-area, owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    out[owner[order][first]] = parts[order][first]
    return out


def rectangles(
    cx: np.ndarray, cy: np.ndarray, length: np.ndarray, depth: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    """Rectangles centred at (cx, cy), `length` along the direction `angle` (radians)."""
    hl, hd = np.asarray(length) / 2, np.asarray(depth) / 2
    local = np.stack(
        [
            np.stack([-hl, -hd], -1),
            np.stack([hl, -hd], -1),
            np.stack([hl, hd], -1),
            np.stack([-hl, hd], -1),
            np.stack([-hl, -hd], -1),
        ],
        axis=1,
    )  # (n, 5, 2)
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x = cx[:, None] + local[..., 0] * cos - local[..., 1] * sin
    y = cy[:, None] + local[..., 0] * sin + local[..., 1] * cos
    return shapely.polygons(np.stack([x, y], -1))


def random_points_in(
    geoms: np.ndarray, rng: np.random.Generator, rounds: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """One uniform random point inside each geometry (rejection sampling, vectorised).

    Geometries that reject every draw (slivers) fall back to a point on their surface.
    """
    geoms = np.asarray(geoms, dtype=object)
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    x, y = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    todo = np.arange(len(geoms))
    for _ in range(rounds):
        if not todo.size:
            break
        b = bounds[todo]
        px = b[:, 0] + rng.random(todo.size) * (b[:, 2] - b[:, 0])
        py = b[:, 1] + rng.random(todo.size) * (b[:, 3] - b[:, 1])
        ok = shapely.contains_xy(geoms[todo], px, py)
        x[todo[ok]], y[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
    if todo.size:
        fallback = shapely.point_on_surface(geoms[todo])
        x[todo], y[todo] = shapely.get_x(fallback), shapely.get_y(fallback)
    return x, y
