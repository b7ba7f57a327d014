"""Generate the demo city and load it through the same bulk loaders as real data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine
from tqdm import tqdm

from geo_data import loaders
from geo_data.actors import system_actor
from geo_data.catalogue import categories_frame
from geo_data.stats import load_stats

STEPS = (
    "generate city",
    "generate cases",
    "load areas",
    "load buildings",
    "load cameras",
    "load workers",
    "load roads",
    "load water",
    "load landuse",
    "load cases",
    "vacuum",
)


def load_demo(
    engine: Engine,
    *,
    scale: str = "district",
    seed: int | None = None,
    end: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Generate (seeded) and load the demo city in one transaction; returns row counts.

    The year of cases ends at ``end`` (default: now, to the minute) so the demo's
    "today" has open and overdue cases.
    """
    from etl.demo import DEFAULT_SEED, generate_cases, generate_city

    seed = DEFAULT_SEED if seed is None else seed
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    source = f"demo:{scale}:seed={seed}"

    def say(message: str) -> None:
        if progress:
            tqdm.write(f"  {message}")

    with tqdm(total=len(STEPS), unit="step", disable=progress is None, leave=False) as bar:

        def step(name: str) -> None:
            bar.set_description(name)

        step("generate city")
        city = generate_city(scale=scale, seed=seed, progress=say)
        # The generator dates worker positions from a fixed epoch; move them to ``end``.
        seen = city.workers["last_seen_at"]
        city.workers["last_seen_at"] = seen + (end - seen.max())
        bar.update()
        step("generate cases")
        cases = generate_cases(city, categories_frame(), end=end, seed=seed, progress=say)
        bar.update()
        with engine.begin() as conn:
            actor = system_actor(conn)
            for name, frame, loader in (
                ("areas", city.areas, loaders.load_areas),
                ("buildings", city.buildings, loaders.load_buildings),
                ("cameras", city.cameras, loaders.load_cameras),
                ("workers", city.workers, loaders.load_workers),
                ("roads", city.roads, loaders.load_roads),
                ("water", city.water, loaders.load_water),
                ("landuse", city.landuse, loaders.load_landuse),
            ):
                step(f"load {name}")
                result = loader(conn, frame, actor, source)
                say(f"{name}: {result.rows:,}")
                bar.update()
            step("load cases")
            geo_cases = _as_points(cases)
            result = loaders.load_cases(conn, geo_cases, actor, source, assign_grid_worker=True)
            say(f"cases: {result.rows:,}")
            bar.update()
        step("vacuum")
        loaders.vacuum_after_load(engine)
        bar.update()
    with engine.connect() as conn:
        figures = load_stats(conn)
    plural = {"city": "cities", "community": "communities"}
    return figures["tables"] | {
        plural.get(level, f"{level}s"): n for level, n in figures["areas_by_level"].items()
    }


def _as_points(cases: pd.DataFrame) -> gpd.GeoDataFrame:
    frame = cases.drop(columns=["lon", "lat"])
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(cases["lon"], cases["lat"]), crs=4326
    )
