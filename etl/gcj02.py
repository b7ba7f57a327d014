"""GCJ-02 <-> WGS-84 conversion for coordinates taken from Chinese consumer maps.

Amap/Gaode and Tencent maps publish and accept GCJ-02 ("Mars coordinates"), a datum
shifted by a deliberately obscure, non-linear offset of a few hundred metres. GridWatch
stores WGS-84 (SRID 4326), so every point picked on, or geocoded by, those maps passes
through here on its way in, and back out when a link to them is built.

The forward transform is the de facto public formula (Krasovsky ellipsoid constants)
shared by coordtransform, eviltransform and gcoord. It has no closed-form inverse, and
the common one-step approximation is 1-2 m off, more than a courtyard gate; so the
inverse here iterates to centimetre level.

Both functions take scalars or array-likes of longitude and latitude in degrees (lon
first, like GeoJSON and PostGIS), broadcast them together and return arrays of that
shape (NumPy scalars for scalar input). Points outside the rough mainland-China
bounding box, and NaNs, are returned unchanged, as the reference implementations do.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["gcj02_to_wgs84", "in_china", "wgs84_to_gcj02"]

#: Krasovsky 1940 semi-major axis (m) and first eccentricity squared, as the formula uses.
A = 6378245.0
EE = 0.00669342162296594323

#: The rough bounding box all the reference implementations use for "in China".
LON_MIN, LON_MAX = 72.004, 137.8347
LAT_MIN, LAT_MAX = 0.8293, 55.8271

_M_PER_DEG = 111_319.49  # metres per degree along a meridian (and the equator), near enough

Coords = NDArray[np.float64] | np.float64


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points fall in the rough China box where GCJ-02 applies (False for NaN)."""
    lon_a, lat_a = _as_arrays(lon, lat)
    return (lon_a >= LON_MIN) & (lon_a <= LON_MAX) & (lat_a >= LAT_MIN) & (lat_a <= LAT_MAX)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Coords, Coords]:
    """Convert WGS-84 lon/lat to GCJ-02, e.g. to place a GPS report on an Amap base map."""
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    out_lon, out_lat = lon_a.copy(), lat_a.copy()
    d_lon, d_lat = _offset(lon_a[inside], lat_a[inside])
    out_lon[inside] += d_lon
    out_lat[inside] += d_lat
    return _unwrap(out_lon), _unwrap(out_lat)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, tol_m: float = 0.01, max_iter: int = 20
) -> tuple[Coords, Coords]:
    """Convert GCJ-02 lon/lat to WGS-84 exactly, so ``wgs84_to_gcj02`` maps it back within 1 cm.

    Solves ``forward(w) = g`` by fixed-point iteration from the one-step approximation,
    stopping for each point once its correction is below ``tol_m`` metres (the offset's
    slope is under 0.01, so the error left is under 1 % of that last correction). Two or
    three rounds suffice anywhere in the box; points still moving after ``max_iter``
    rounds keep their latest estimate. A GCJ-02 point just inside the edge of the box
    whose WGS-84 original lies just outside it (open sea or far borderland, never a city)
    has no exact inverse: it gets the iterated point, which the forward transform leaves
    as is.
    """
    if not tol_m > 0:
        raise ValueError(f"tol_m must be positive, got {tol_m!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter!r}")
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    g_lon, g_lat = lon_a[inside], lat_a[inside]

    # The offset is applied without the box test while iterating: near the edge of the
    # box a trial point may step just outside it, and the identity there would stall.
    d_lon, d_lat = _offset(g_lon, g_lat)
    w_lon, w_lat = g_lon - d_lon, g_lat - d_lat
    active = np.flatnonzero(np.ones(g_lon.shape, dtype=bool))
    for _ in range(max_iter):
        f_lon, f_lat = _offset(w_lon[active], w_lat[active])
        r_lon = w_lon[active] + f_lon - g_lon[active]
        r_lat = w_lat[active] + f_lat - g_lat[active]
        w_lon[active] -= r_lon
        w_lat[active] -= r_lat
        step_m = _M_PER_DEG * np.hypot(r_lon * np.cos(np.radians(w_lat[active])), r_lat)
        active = active[step_m >= tol_m]
        if active.size == 0:
            break

    out_lon, out_lat = lon_a.copy(), lat_a.copy()
    out_lon[inside] = w_lon
    out_lat[inside] = w_lat
    return _unwrap(out_lon), _unwrap(out_lat)


def _offset(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The GCJ-02 shift (degrees) at WGS-84 ``lon``/``lat``, without the box test."""
    x = lon - 105.0
    y = lat - 35.0
    # Terms shared by both axes: a sinusoid in longitude.
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    t_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    t_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = np.radians(lat)
    magic = 1.0 - EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (t_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (t_lon * 180.0) / (A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Broadcast lon/lat to float64 arrays of one shape (fresh, writable copies)."""
    lon_b, lat_b = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_b.copy(), lat_b.copy()


def _unwrap(values: NDArray[np.float64]) -> Coords:
    """Return 0-d results as NumPy scalars so scalar callers get scalars back."""
    return values[()] if values.ndim == 0 else values
