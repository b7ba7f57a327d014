"""H3 cells of points at the resolutions the store indexes (7 to 12)."""

from __future__ import annotations

import h3
import numpy as np
from h3.api import basic_int

from geo_data.models import H3_RESOLUTIONS


def h3_columns(lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
    """``{"h3_r7": ..., ..., "h3_r12": ...}`` as signed 64-bit ints (PostgreSQL bigint).

    Each resolution locates the point itself: H3 cells do not nest exactly, so the
    parent of the fine cell is not always the coarse cell that contains the point.
    """
    xs = np.asarray(lon, dtype=float).tolist()
    ys = np.asarray(lat, dtype=float).tolist()
    locate = basic_int.latlng_to_cell
    return {
        f"h3_r{res}": np.fromiter(
            (locate(y, x, res) for x, y in zip(xs, ys, strict=True)), dtype=np.uint64, count=len(xs)
        ).view(np.int64)
        for res in H3_RESOLUTIONS
    }


def to_h3(cell: int) -> str:
    """The H3 string of a stored (signed) cell id."""
    return h3.int_to_str(int(cell) & 0xFFFFFFFFFFFFFFFF)
