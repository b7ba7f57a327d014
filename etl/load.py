"""Read a file and hand it to the store's bulk loader for its kind."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from etl.readers import Kind, read_layer
from geo_data import loaders
from geo_data.actors import Actor

LOADERS = {
    "areas": loaders.load_areas,
    "buildings": loaders.load_buildings,
    "cameras": loaders.load_cameras,
    "workers": loaders.load_workers,
    "cases": loaders.load_cases,
    "roads": loaders.load_roads,
    "water": loaders.load_water,
    "landuse": loaders.load_landuse,
}


def load_file(
    conn: Connection,
    kind: Kind,
    path: Path,
    actor: Actor,
    *,
    crs: str | None = None,
    level: str | None = None,
    timezone: str = "Asia/Shanghai",
    tolerance: float = 0.01,
) -> tuple[loaders.LoadResult, list[str]]:
    """Read ``path`` as ``kind`` and load it on ``conn`` (the caller's transaction)."""
    read = read_layer(path, kind, crs=crs, level=level, timezone=timezone)
    if kind == "areas":
        result = loaders.load_areas(conn, read.frame, actor, str(path), tolerance=tolerance)
    else:
        result = LOADERS[kind](conn, read.frame, actor, str(path))
    return result, read.notes
