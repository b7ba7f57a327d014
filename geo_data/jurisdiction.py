"""The jurisdiction: where this deployment's grids are."""

from __future__ import annotations

import shapely
from sqlalchemy import Connection, text


def jurisdiction_outline(conn: Connection, tolerance: float = 0.0002) -> shapely.Geometry:
    """The union of the districts that hold grids (simplified), as a WGS-84 geometry."""
    wkb = conn.execute(
        text(
            """
            SELECT ST_AsBinary(ST_SimplifyPreserveTopology(ST_Union(d.geom), :tol))
            FROM areas d
            WHERE d.level = 'district'
              AND EXISTS (SELECT 1 FROM areas g WHERE g.level = 'grid' AND g.district_id = d.id)
            """
        ),
        {"tol": tolerance},
    ).scalar()
    if wkb is None:
        raise LookupError("no grids are loaded: load areas (or the demo city) first")
    return shapely.from_wkb(bytes(wkb))


def area_within(conn: Connection, area_id: int, ancestor_id: int) -> bool:
    """Whether area ``area_id`` is ``ancestor_id`` or lies inside it."""
    return bool(
        conn.execute(
            text(
                "SELECT :anc IN (id, city_id, district_id, street_id, community_id, grid_id)"
                " FROM areas WHERE id = :id"
            ),
            {"id": area_id, "anc": ancestor_id},
        ).scalar()
    )
