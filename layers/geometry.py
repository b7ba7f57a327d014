"""GeoJSON helpers shared by the layers; they build new objects and change none."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import h3


def feature_collection(ids: Iterable[object], geometries: Iterable[dict]) -> dict[str, Any]:
    """A FeatureCollection whose features carry ``id`` for ``featureidkey="id"``."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": str(i), "properties": {}, "geometry": g}
            for i, g in zip(ids, geometries, strict=True)
        ],
    }


def hex_digits(cell: str) -> int:
    """Decimal places a cell's corners need: about a hundredth of its edge.

    Resolution 7 and 8 cells (1.2 km and 460 m edges, drawn for a city or a district) to
    4 places (a corner moves 6 m at most), 9 and 10 to 5, finer to 6. Neighbours round
    the same corner alike, so no gap opens, and a city's hexagons shed a third of their
    bytes.
    """
    resolution = h3.get_resolution(cell)
    return 4 if resolution <= 8 else 5 if resolution <= 10 else 6


def hexagon(cell: str, digits: int | None = None) -> dict[str, Any]:
    """The polygon of an H3 cell as GeoJSON (lon, lat), rounded to ``digits`` (by default
    as its resolution needs)."""
    digits = hex_digits(cell) if digits is None else digits
    ring = [[round(lng, digits), round(lat, digits)] for lat, lng in h3.cell_to_boundary(cell)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def hex_collection(cells: Iterable[str]) -> dict[str, Any]:
    cells = list(cells)
    return feature_collection(cells, (hexagon(c) for c in cells))


def rings(geometry: dict) -> list[list[list[float]]]:
    """Every ring (outer and holes) of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    raise ValueError(f"not a polygon: {geometry['type']}")


def line_coordinates(geometries: Iterable[dict]) -> tuple[list[float | None], list[float | None]]:
    """Lon and lat lists of every ring, separated by None, for one line trace."""
    lons: list[float | None] = []
    lats: list[float | None] = []
    for geometry in geometries:
        for ring in rings(geometry):
            if lons:
                lons.append(None)
                lats.append(None)
            lons.extend(p[0] for p in ring)
            lats.extend(p[1] for p in ring)
    return lons, lats
