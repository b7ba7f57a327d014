"""Street, community and grid areas of one detailed district (UTM metres).

Streets tile the district, communities their street and grids their community;
population and households are split so every level sums exactly to its parent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from etl.demo import names
from etl.demo.density import DensityField
from etl.demo.geom import lonlat_to_xy
from etl.demo.outline import CHENGHUA_CODE, CHENGHUA_POPULATION
from etl.demo.tessellate import apportion, voronoi_partition

PERSONS_PER_HOUSEHOLD = 2.6
CHENGHUA_STREETS = 14
CHENGHUA_COMMUNITIES = 110
CHENGHUA_GRIDS = 1_794

#: Approximate centres of Chenghua's street offices, in code order (lon, lat).
_CHENGHUA_STREET_CENTRES = np.array(
    [
        (104.098, 30.664), (104.112, 30.652), (104.098, 30.685), (104.112, 30.672),
        (104.125, 30.650), (104.132, 30.662), (104.085, 30.708), (104.128, 30.690),
        (104.140, 30.640), (104.148, 30.628), (104.130, 30.728), (104.195, 30.705),
        (104.150, 30.660), (104.105, 30.705),
    ]
)  # fmt: skip

AREA_COLUMNS = ["code", "parent_code", "level", "name_zh", "name_en", "population",
                "households", "geometry"]  # fmt: skip


@dataclass(frozen=True)
class District:
    """A district to detail: its code, population and UTM outline."""

    code: str
    population: int
    geometry: shapely.Geometry

    @property
    def scale(self) -> float:
        """Population relative to Chenghua, the reference for all counts."""
        return self.population / CHENGHUA_POPULATION

    def count(self, chenghua: int) -> int:
        """A Chenghua count scaled to this district (at least 1)."""
        return max(1, round(chenghua * self.scale))


def households(population: int) -> int:
    """Households for a population at Chengdu's average household size."""
    return round(population / PERSONS_PER_HOUSEHOLD)


def _children(
    parent: shapely.Geometry,
    n: int,
    density: DensityField,
    rng: np.random.Generator,
    seeds: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`n` cells tiling `parent` and their relative resident weights."""
    x, y = seeds if seeds is not None else density.sample(parent, n, rng)
    cells = voronoi_partition(parent, x, y, iterations=1 if seeds is not None else 2)
    return cells, density.at_geoms(cells) * shapely.area(cells)


def _street_seeds(district: District, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Real street-office positions for Chenghua (when they fall inside the outline)."""
    if district.code != CHENGHUA_CODE or n != CHENGHUA_STREETS:
        return None
    x, y = lonlat_to_xy(_CHENGHUA_STREET_CENTRES[:, 0], _CHENGHUA_STREET_CENTRES[:, 1])
    if not shapely.contains_xy(district.geometry, x, y).all():
        return None
    return x, y


def build_hierarchy(
    district: District, density: DensityField, rng: np.random.Generator
) -> pd.DataFrame:
    """Street, community and grid rows (AREA_COLUMNS, UTM geometry) for `district`."""
    pool = names.NamePool(rng)
    n_streets = district.count(CHENGHUA_STREETS)
    n_communities = max(n_streets, district.count(CHENGHUA_COMMUNITIES))
    n_grids = max(n_communities, district.count(CHENGHUA_GRIDS))

    streets, weight = _children(
        district.geometry, n_streets, density, rng, _street_seeds(district, n_streets)
    )
    pop = apportion(district.population, weight)
    hh = apportion(households(district.population), pop)
    comm_per_street = apportion(n_communities, pop, minimum=1)
    grids_per_street = apportion(n_grids, pop, minimum=comm_per_street)
    if district.code == CHENGHUA_CODE and n_streets == CHENGHUA_STREETS:
        street_names = [names.street_name(s) for s in names.CHENGHUA_STREETS]
    else:
        street_names = [names.street_name(s) for s in pool.take(n_streets)]

    rows: list[tuple] = []
    for s in range(n_streets):
        s_code = f"{district.code}{s + 1:03d}"
        rows.append((s_code, district.code, "street", *street_names[s], pop[s], hh[s], streets[s]))
        comms, c_weight = _children(streets[s], comm_per_street[s], density, rng)
        c_pop = apportion(pop[s], c_weight)
        c_hh = apportion(hh[s], c_pop)
        g_count = apportion(grids_per_street[s], c_pop, minimum=1)
        for c, stem in enumerate(pool.take(len(comms))):
            c_code = f"{s_code}{c + 1:03d}"
            c_name = names.community_name(stem)
            rows.append((c_code, s_code, "community", *c_name, c_pop[c], c_hh[c], comms[c]))
            grids, g_weight = _children(comms[c], g_count[c], density, rng)
            g_pop = apportion(c_pop[c], g_weight)
            g_hh = apportion(c_hh[c], g_pop)
            for g in range(len(grids)):
                g_name = names.grid_name(c_name, g + 1)
                rows.append(
                    (f"{c_code}{g + 1:03d}", c_code, "grid", *g_name, g_pop[g], g_hh[g], grids[g])
                )
    return pd.DataFrame(rows, columns=AREA_COLUMNS)
