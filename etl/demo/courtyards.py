"""Courtyards (院落): residential compounds carved out of blocks, each inside one grid.

A courtyard is the part of a block that lies in the grid holding the block's
centre, shrunk away from the grid edge so it never crosses into a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from etl.demo import names
from etl.demo.blocks import Blocks
from etl.demo.density import DensityField
from etl.demo.geom import largest_parts

GRID_MARGIN_M = 4.0
MIN_AREA_M2 = 9_000.0
MIN_HALF_WIDTH_M = 30.0
MAX_PER_GRID = 2


@dataclass
class Courtyards:
    """Chosen courtyards: polygon (UTM), the block it came from and its grid."""

    geometry: np.ndarray
    block: np.ndarray
    grid: np.ndarray  # index into the district's grid array
    code: np.ndarray  # grid code + 2 digits

    def __len__(self) -> int:
        return len(self.block)


def block_grids(blocks: Blocks, grids: np.ndarray) -> np.ndarray:
    """Index of the grid holding each block centre (-1 when on an edge or outside)."""
    out = np.full(len(blocks), -1)
    tree = shapely.STRtree(grids)
    src, hit = tree.query(shapely.points(blocks.x, blocks.y), predicate="within")
    out[src] = hit
    return out


def choose_courtyards(
    blocks: Blocks,
    grids: np.ndarray,
    grid_codes: np.ndarray,
    target: int,
    density: DensityField,
    rng: np.random.Generator,
) -> Courtyards:
    """About `target` courtyards, at most two per grid, favouring dense areas."""
    grid_of = block_grids(blocks, grids)
    ok = grid_of >= 0
    shrunk = shapely.buffer(grids, -GRID_MARGIN_M, join_style="mitre")
    cand = np.full(len(blocks), None, dtype=object)
    cand[ok] = largest_parts(shapely.intersection(blocks.geometry[ok], shrunk[grid_of[ok]]))
    ok &= ~shapely.is_missing(cand)
    ok[ok] &= shapely.area(cand[ok]) >= MIN_AREA_M2
    ok[ok] &= ~shapely.is_empty(shapely.buffer(cand[ok], -MIN_HALF_WIDTH_M))
    idx = np.flatnonzero(ok)
    keys = rng.exponential(size=idx.size) / density(blocks.x[idx], blocks.y[idx])
    idx = idx[np.argsort(keys, kind="stable")]
    rank = pd.Series(grid_of[idx]).groupby(grid_of[idx]).cumcount().to_numpy()
    idx = idx[rank < MAX_PER_GRID][:target]
    idx = idx[np.lexsort((blocks.x[idx], grid_of[idx]))]  # stable codes: by grid, west first
    grid = grid_of[idx]
    serial = pd.Series(grid).groupby(grid).cumcount().to_numpy() + 1
    codes = np.array([f"{grid_codes[g]}{n:02d}" for g, n in zip(grid, serial, strict=True)])
    return Courtyards(geometry=cand[idx].astype(object), block=idx, grid=grid, code=codes)


def name_courtyards(
    courtyards: Courtyards, blocks: Blocks, rng: np.random.Generator
) -> list[names.NamePair]:
    """Estate names (锦绣花园) or addresses on the block's western road (…号院)."""
    b = courtyards.block
    roads = [blocks.roads[s].u_names[i] for s, i in zip(blocks.street[b], blocks.i[b], strict=True)]
    first_v = np.array([blocks.roads[s].v_roads[0] for s in blocks.street[b]])
    numbers = 2 * ((blocks.v[b] - first_v) // 20).astype(int) + 1
    stems = names.NamePool(rng).take(len(courtyards))
    return names.courtyard_names(rng, stems, roads, numbers.tolist())
