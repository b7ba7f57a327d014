"""The deterministic demo city: Chengdu's real outlines, synthetic everything inside.

With scale="district" only Chenghua is detailed (streets down to buildings);
with scale="city" all 20 districts are. Each district draws from its own
random stream, so Chenghua is identical at both scales.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl.demo.areas import AREA_COLUMNS, District, build_hierarchy, households
from etl.demo.basemap import build_basemap, name_main_roads, plan_basemap
from etl.demo.blocks import build_blocks, lay_out_roads
from etl.demo.buildings import block_kinds, build_buildings
from etl.demo.cameras import build_cameras
from etl.demo.courtyards import Courtyards, choose_courtyards, name_courtyards
from etl.demo.density import DensityField
from etl.demo.geom import WGS84, as_multipolygons, to_utm, to_wgs84, xy_to_lonlat
from etl.demo.names import NamePair
from etl.demo.outline import CHENGDU_CODE, CHENGHUA_CODE, load_districts
from etl.demo.workers import WORKER_COLUMNS, build_workers

DEFAULT_SEED = 510108
LEVELS = ("city", "district", "street", "community", "grid", "courtyard")
CHENGHUA_COURTYARDS = 1_152
CHENGHUA_BUILDINGS = 15_000
CHENGHUA_CAMERAS = 5_000
CHENGHUA_TIER2 = 2_900
CHENGHUA_TIER3 = 1_700
BUILDINGS_PER_BLOCK = 4  # sparse outer areas: keep enough blocks to reach the target

Progress = Callable[[str], None]


@dataclass
class DemoCity:
    """The generated city: areas, buildings, cameras and workers, and the basemap's roads,
    water and landuse (all EPSG:4326)."""

    areas: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    cameras: gpd.GeoDataFrame
    workers: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    landuse: gpd.GeoDataFrame

    def stats(self) -> dict[str, int]:
        """Row counts per table, per area level and per worker tier."""
        out = {
            "areas": len(self.areas),
            "buildings": len(self.buildings),
            "cameras": len(self.cameras),
            "workers": len(self.workers),
            "roads": len(self.roads),
            "water": len(self.water),
            "landuse": len(self.landuse),
        }
        levels = self.areas["level"].value_counts()
        out |= {level: int(levels.get(level, 0)) for level in LEVELS}
        tiers = self.workers["tier"].value_counts()
        out |= {f"workers_tier{t}": int(tiers.get(t, 0)) for t in (1, 2, 3)}
        return out


@dataclass
class _Detail:
    """One detailed district's rows, geometry still in UTM."""

    areas: pd.DataFrame
    buildings: pd.DataFrame
    cameras: pd.DataFrame
    workers: pd.DataFrame
    roads: pd.DataFrame
    water: pd.DataFrame
    landuse: pd.DataFrame


def _rng(seed: int, code: str, step: int) -> np.random.Generator:
    """An independent random stream per (seed, district, generation step)."""
    return np.random.default_rng([seed, int(code), step])


def _courtyard_rows(
    courtyards: Courtyards, names_: list[NamePair], grid_rows: pd.DataFrame
) -> pd.DataFrame:
    """Courtyard areas with a population estimate that never exceeds their grid's."""
    g = grid_rows.iloc[courtyards.grid]
    in_grid = np.bincount(courtyards.grid, minlength=len(grid_rows))[courtyards.grid]
    share = np.minimum(
        1.5 * shapely.area(courtyards.geometry) / shapely.area(g["geometry"].to_numpy()),
        0.9 / in_grid,
    )
    return pd.DataFrame(
        {
            "code": courtyards.code,
            "parent_code": g["code"].to_numpy(),
            "level": "courtyard",
            "name_zh": [n[0] for n in names_],
            "name_en": [n[1] for n in names_],
            "population": np.floor(g["population"].to_numpy() * share).astype(np.int64),
            "households": np.floor(g["households"].to_numpy() * share).astype(np.int64),
            "geometry": courtyards.geometry,
        }
    )


def _detail(district: District, density: DensityField, seed: int, say: Progress) -> _Detail:
    """Streets down to buildings, cameras and workers for one district."""
    code = district.code
    say(f"{code}: streets, communities and grids")
    areas = build_hierarchy(district, density, _rng(seed, code, 1))
    streets = areas[areas["level"] == "street"]
    grid_rows = areas[areas["level"] == "grid"].reset_index(drop=True)
    grids = grid_rows["geometry"].to_numpy()
    grid_codes = grid_rows["code"].to_numpy()
    street_codes = streets["code"].to_numpy().astype(str)
    grid_street = np.searchsorted(street_codes, np.array([c[:9] for c in grid_codes]))

    say(f"{code}: roads, courtyards and buildings")
    n_buildings = district.count(CHENGHUA_BUILDINGS)
    street_geoms = streets["geometry"].to_numpy()
    road_rng = _rng(seed, code, 2)
    roads = name_main_roads(lay_out_roads(street_geoms, road_rng), streets["name_zh"].tolist())
    plan = plan_basemap(district.geometry, seed)
    blocks = build_blocks(
        street_geoms, density, road_rng,
        max_blocks=max(n_buildings // BUILDINGS_PER_BLOCK, district.count(CHENGHUA_COURTYARDS)),
        roads=roads, keep_clear=plan.keep_clear,
    )  # fmt: skip
    courtyards = choose_courtyards(
        blocks, grids, grid_codes, district.count(CHENGHUA_COURTYARDS), density,
        _rng(seed, code, 3),
    )  # fmt: skip
    cy_names = name_courtyards(courtyards, blocks, _rng(seed, code, 4))
    kinds = block_kinds(blocks, courtyards, density, _rng(seed, code, 5))
    buildings = build_buildings(
        blocks, kinds, grids, grid_codes, grid_street, courtyards, cy_names, n_buildings,
        density, _rng(seed, code, 6),
    )  # fmt: skip

    say(f"{code}: cameras and workers")
    cameras = build_cameras(
        code, district.geometry, blocks, buildings, courtyards, [n[0] for n in cy_names],
        district.count(CHENGHUA_CAMERAS), density, _rng(seed, code, 7),
    )  # fmt: skip
    workers = build_workers(
        grids, grid_codes, courtyards, buildings, district.count(CHENGHUA_TIER2),
        district.count(CHENGHUA_TIER3), _rng(seed, code, 8),
    )  # fmt: skip
    say(f"{code}: basemap")
    basemap = build_basemap(
        district.geometry, street_geoms, blocks, kinds, buildings.geometry, courtyards, plan,
        density, _rng(seed, code, 9),
    )  # fmt: skip
    building_rows = pd.DataFrame(
        {
            "code": buildings.code,
            "name_zh": buildings.name_zh,
            "name_en": buildings.name_en,
            "floors": buildings.floors,
            "use": buildings.use,
            "geometry": buildings.geometry,
        }
    )
    return _Detail(
        areas=pd.concat([areas, _courtyard_rows(courtyards, cy_names, grid_rows)]),
        buildings=building_rows,
        cameras=cameras,
        workers=workers,
        roads=basemap.roads,
        water=basemap.water,
        landuse=basemap.landuse,
    )


def _top_rows(districts: gpd.GeoDataFrame) -> pd.DataFrame:
    """The city row and the 20 district rows (lon/lat geometry)."""
    population = districts["population"].to_numpy()
    city = {
        "code": CHENGDU_CODE,
        "parent_code": None,
        "level": "city",
        "name_zh": "成都市",
        "name_en": "Chengdu",
        "population": int(population.sum()),
        "households": sum(households(int(p)) for p in population),
        "geometry": shapely.union_all(districts.geometry.to_numpy()),
    }
    rows = pd.DataFrame(
        {
            "code": districts["code"].to_numpy(),
            "parent_code": CHENGDU_CODE,
            "level": "district",
            "name_zh": districts["name_zh"].to_numpy(),
            "name_en": districts["name_en"].to_numpy(),
            "population": population,
            "households": [households(int(p)) for p in population],
            "geometry": districts.geometry.to_numpy(),
        }
    )
    return pd.concat([pd.DataFrame([city]), rows], ignore_index=True)


def _points(frame: pd.DataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    lon, lat = xy_to_lonlat(frame["x"].to_numpy(), frame["y"].to_numpy())
    return gpd.GeoDataFrame(
        frame[columns].reset_index(drop=True), geometry=shapely.points(lon, lat), crs=WGS84
    )


def _finish_areas(top: pd.DataFrame, detail: list[pd.DataFrame]) -> gpd.GeoDataFrame:
    """Lon/lat MultiPolygons, nullable integer counts, rows ordered by level then code."""
    parts = [top]
    for frame in detail:
        parts.append(frame.assign(geometry=to_wgs84(frame["geometry"].to_numpy())))
    areas = pd.concat(parts, ignore_index=True)
    areas["geometry"] = as_multipolygons(areas["geometry"].to_numpy())
    areas["parent_code"] = areas["parent_code"].astype(object)
    areas["population"] = areas["population"].astype("Int64")
    areas["households"] = areas["households"].astype("Int64")
    rank = areas["level"].map({level: k for k, level in enumerate(LEVELS)})
    order = np.lexsort((areas["code"].to_numpy(), rank.to_numpy()))
    areas = areas.iloc[order].reset_index(drop=True)
    areas["parent_code"] = areas["parent_code"].where(areas["parent_code"].notna(), None)
    return gpd.GeoDataFrame(areas[AREA_COLUMNS], geometry="geometry", crs=WGS84)


def generate_city(
    scale: Literal["district", "city"] = "district",
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> DemoCity:
    """Build the demo city for a seed; same seed, same city.

    `scale="district"` details only Chenghua (the reference district, ~15,000
    buildings); `scale="city"` details all 20 districts with counts scaled by
    population.
    """
    if scale not in ("district", "city"):
        raise ValueError(f"scale must be 'district' or 'city', not {scale!r}")
    say: Progress = progress or (lambda _message: None)
    districts = load_districts()
    utm = to_utm(districts.geometry.to_numpy())
    density = DensityField.for_districts(utm)
    codes = [CHENGHUA_CODE] if scale == "district" else districts["code"].tolist()
    details = []
    for code in codes:
        k = districts.index[districts["code"] == code][0]
        district = District(code, int(districts.at[k, "population"]), utm[k])
        details.append(_detail(district, density, seed, say))

    say("converting to WGS-84")
    buildings = pd.concat([d.buildings for d in details], ignore_index=True)
    roads = pd.concat([d.roads for d in details], ignore_index=True)
    water = pd.concat([d.water for d in details], ignore_index=True)
    landuse = pd.concat([d.landuse for d in details], ignore_index=True)
    return DemoCity(
        areas=_finish_areas(_top_rows(districts), [d.areas for d in details]),
        buildings=gpd.GeoDataFrame(
            buildings.drop(columns="geometry"),
            geometry=to_wgs84(buildings["geometry"].to_numpy()),
            crs=WGS84,
        ),
        cameras=_points(
            pd.concat([d.cameras for d in details], ignore_index=True),
            ["code", "name_zh", "tier", "status", "stream_url"],
        ),
        workers=_points(
            pd.concat([d.workers for d in details], ignore_index=True), WORKER_COLUMNS[:-2]
        ),
        roads=_lonlat(roads),
        water=_lonlat(water, polygons=True),
        landuse=_lonlat(landuse, polygons=True),
    )


def _lonlat(frame: pd.DataFrame, *, polygons: bool = False) -> gpd.GeoDataFrame:
    """Basemap rows in lon/lat; polygons as valid MultiPolygons (clipping leaves some
    collections)."""
    geoms = to_wgs84(frame["geometry"].to_numpy())
    if polygons:
        geoms = as_multipolygons(geoms)
    return gpd.GeoDataFrame(
        frame.drop(columns="geometry").reset_index(drop=True), geometry=geoms, crs=WGS84
    )
