"""Building footprints laid out in blocks: slab rows, towers, low-rise and facilities.

Footprints are generated for whole blocks at once (numpy), then kept only when
they lie inside one grid and either inside one courtyard or clear of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from etl.demo import names
from etl.demo.blocks import Blocks
from etl.demo.courtyards import Courtyards
from etl.demo.density import DensityField
from etl.demo.geom import rectangles

EDGE_MARGIN_M = 0.5


@dataclass(frozen=True)
class Template:
    """How one kind of block is filled: a regular array of equal footprints."""

    use: str
    length: tuple[float, float]  # along the block's u axis, metres
    depth: tuple[float, float]
    gap_u: tuple[float, float]
    gap_v: tuple[float, float]
    margin: float
    floors: tuple[int, int]
    dropout: float  # share of slots left empty


TEMPLATES: dict[str, Template] = {
    "slab": Template("residential", (45, 65), (12, 14), (10, 18), (20, 28), 8, (6, 7), 0.0),
    "tower": Template("residential", (22, 28), (22, 28), (30, 45), (30, 45), 12, (18, 33), 0.0),
    "estate_slab": Template("residential", (40, 60), (12, 14), (8, 14), (16, 22), 6, (6, 7), 0.0),
    "estate_tower": Template(
        "residential", (22, 26), (22, 26), (20, 30), (22, 32), 8, (18, 33), 0.0
    ),
    "lowrise": Template("residential", (14, 22), (10, 14), (8, 14), (10, 16), 6, (2, 4), 0.55),
    "commercial": Template("commercial", (35, 70), (20, 35), (15, 30), (25, 40), 6, (3, 8), 0.1),
    "public": Template("public", (50, 80), (16, 24), (25, 35), (40, 70), 15, (3, 6), 0.4),
    "industrial": Template("industrial", (60, 110), (30, 50), (15, 25), (15, 30), 10, (1, 3), 0.1),
}
KINDS = ("slab", "tower", "lowrise", "commercial", "public", "industrial", "park")
ESTATE_KINDS = ("estate_slab", "estate_tower")
LEFTOVER_SPARE = 0.6  # share of estate-block footprints outside courtyards used only if short


@dataclass
class Buildings:
    """Kept footprints (UTM) with their attributes and where they lie."""

    geometry: np.ndarray
    code: np.ndarray
    name_zh: np.ndarray
    name_en: np.ndarray
    floors: np.ndarray
    use: np.ndarray
    grid: np.ndarray  # index into the district's grids
    courtyard: np.ndarray  # index into the courtyards, -1 outside

    def __len__(self) -> int:
        return len(self.code)


def block_kinds(
    blocks: Blocks, courtyards: Courtyards, density: DensityField, rng: np.random.Generator
) -> np.ndarray:
    """A kind per block: residential in courtyards, a density-dependent mix elsewhere."""
    urban = np.clip(density(blocks.x, blocks.y), 0, 1)[:, None]
    weights = np.hstack(
        [
            np.full_like(urban, 0.08),  # slab
            np.full_like(urban, 0.04),  # tower
            0.08 + 0.1 * (1 - urban),  # lowrise
            0.08 + 0.5 * urban,  # commercial
            np.full_like(urban, 0.12),  # public
            0.02 + 0.3 * (1 - urban) ** 2,  # industrial
            np.full_like(urban, 0.08),  # park
        ]
    )
    cum = np.cumsum(weights / weights.sum(1, keepdims=True), axis=1)
    pick = (rng.random(len(blocks))[:, None] > cum).sum(1).clip(0, len(KINDS) - 1)
    kinds = np.array(KINDS, dtype=object)[pick]
    kinds[courtyards.block] = np.array(ESTATE_KINDS, dtype=object)[
        (rng.random(len(courtyards)) >= 0.6).astype(int)
    ]
    return kinds


def _layout(blocks: Blocks, sel: np.ndarray, t: Template, rng: np.random.Generator) -> dict:
    """Footprints of template `t` filling blocks `sel` (vectorised over all of them)."""
    n = len(sel)
    length, depth = rng.uniform(*t.length, n), rng.uniform(*t.depth, n)
    gap_u, gap_v = rng.uniform(*t.gap_u, n), rng.uniform(*t.gap_v, n)
    nx = np.floor((blocks.width[sel] - 2 * t.margin + gap_u) / (length + gap_u)).astype(int)
    ny = np.floor((blocks.height[sel] - 2 * t.margin + gap_v) / (depth + gap_v)).astype(int)
    count = np.clip(nx, 0, None) * np.clip(ny, 0, None)
    b = np.repeat(np.arange(n), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    ix, iy = k % nx[b], k // nx[b]
    pitch_u, pitch_v = length[b] + gap_u[b], depth[b] + gap_v[b]
    du = (ix - (nx[b] - 1) / 2) * pitch_u
    dv = (iy - (ny[b] - 1) / 2) * pitch_v
    floors = rng.integers(t.floors[0], t.floors[1] + 1, len(b))
    if t.use == "commercial":
        tall = rng.random(len(b)) < 0.25
        floors[tall] = rng.integers(15, 41, tall.sum())
    keep = rng.random(len(b)) >= t.dropout
    return {
        "block": sel[b][keep],
        "du": du[keep],
        "dv": dv[keep],
        "length": length[b][keep],
        "depth": depth[b][keep],
        "floors": floors[keep],
        "use": np.full(keep.sum(), t.use, dtype=object),
    }


def _candidates(blocks: Blocks, kinds: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """All template footprints of all blocks, before any filtering."""
    parts = [
        pd.DataFrame(_layout(blocks, np.flatnonzero(kinds == kind), t, rng))
        for kind, t in TEMPLATES.items()
    ]
    frame = pd.concat(parts, ignore_index=True)
    bi = frame["block"].to_numpy()
    ang = blocks.angle[bi]
    du, dv = frame["du"].to_numpy(), frame["dv"].to_numpy()
    frame["x"] = blocks.x[bi] + du * np.cos(ang) - dv * np.sin(ang)
    frame["y"] = blocks.y[bi] + du * np.sin(ang) + dv * np.cos(ang)
    frame["geometry"] = rectangles(
        frame["x"].to_numpy(), frame["y"].to_numpy(), frame["length"].to_numpy(),
        frame["depth"].to_numpy(), ang,
    )  # fmt: skip
    return frame


def _place(
    frame: pd.DataFrame,
    blocks: Blocks,
    grids: np.ndarray,
    grid_street: np.ndarray,
    courtyards: Courtyards,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Keep footprints inside one grid of their block's street, inside one courtyard or
    outside all. Most footprints of estate blocks outside their courtyard are marked
    spare, so most homes are in courtyards unless the district needs them.
    """
    geoms = frame["geometry"].to_numpy()
    inner = shapely.buffer(grids, -EDGE_MARGIN_M, join_style="mitre")
    shapely.prepare(inner)
    src, hit = shapely.STRtree(grids).query(
        shapely.points(frame["x"].to_numpy(), frame["y"].to_numpy()), predicate="within"
    )
    bi = frame["block"].to_numpy()
    ok = shapely.within(geoms[src], inner[hit]) & (grid_street[hit] == blocks.street[bi[src]])
    grid = np.full(len(frame), -1)
    grid[src[ok]] = hit[ok]

    cy = np.full(len(frame), -1)
    straddle = np.zeros(len(frame), dtype=bool)
    if len(courtyards):
        shapely.prepare(courtyards.geometry)
        src, hit = shapely.STRtree(courtyards.geometry).query(geoms, predicate="intersects")
        inside = shapely.within(geoms[src], courtyards.geometry[hit])
        cy[src[inside]] = hit[inside]
        straddle[src[~inside]] = True
    estate = np.zeros(len(blocks), dtype=bool)
    estate[courtyards.block] = True
    spare = estate[bi] & (cy < 0) & (rng.random(len(frame)) < LEFTOVER_SPARE)
    frame = frame.assign(grid=grid, courtyard=cy, spare=spare)
    return frame[(grid >= 0) & ~straddle].reset_index(drop=True)


def _fit_target(
    frame: pd.DataFrame,
    blocks: Blocks,
    target: int,
    density: DensityField,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Courtyard buildings first, then whole blocks (denser first), then spares, up to
    `target`.
    """
    in_cy = frame["courtyard"].to_numpy() >= 0
    if in_cy.sum() >= target:
        keep = np.sort(rng.choice(np.flatnonzero(in_cy), target, replace=False))
        return frame.iloc[keep].reset_index(drop=True)
    keep = in_cy.copy()
    room = target - int(in_cy.sum())
    spare = frame["spare"].to_numpy()
    block = frame["block"].to_numpy()
    for pool in (~in_cy & ~spare, spare):
        per_block = pd.Series(block[pool]).value_counts().sort_index()
        bid = per_block.index.to_numpy()
        keys = rng.exponential(size=len(bid)) / density(blocks.x[bid], blocks.y[bid])
        order = np.argsort(keys, kind="stable")
        fits = np.cumsum(per_block.to_numpy()[order]) <= room
        keep |= pool & np.isin(block, bid[order][fits])
        room -= int(per_block.to_numpy()[order][fits].sum())
    return frame[keep].reset_index(drop=True)


def _name(
    frame: pd.DataFrame,
    blocks: Blocks,
    kinds: np.ndarray,
    courtyard_names: list[names.NamePair],
    rng: np.random.Generator,
) -> tuple[list[str], list[str]]:
    """Courtyard buildings by number, facilities by block, houses by street address."""
    in_cy = frame["courtyard"].to_numpy()
    bi = frame["block"].to_numpy()
    number = frame.groupby(np.where(in_cy >= 0, -1 - in_cy, bi)).cumcount().to_numpy() + 1
    stems = names.NamePool(rng).take(len(blocks))
    facility_kind = rng.integers(0, 5, len(blocks))
    du = frame["du"].to_numpy()
    dv = frame["dv"].to_numpy()
    zh, en = [], []
    for r in range(len(frame)):
        b = bi[r]
        use = frame["use"].iat[r]
        if in_cy[r] >= 0:
            pair = names.courtyard_building(courtyard_names[in_cy[r]], int(number[r]))
        elif use != "residential":
            pair = names.facility_building(stems[b], use, int(facility_kind[b]), int(number[r]))
        else:
            roads = blocks.roads[blocks.street[b]]
            side = 1 if du[r] > 0 else 0
            road = roads.u_names[blocks.i[b] + side]
            along = blocks.v[b] + dv[r] - roads.v_roads[0]
            pair = names.address(road, 2 * int(along // 20) + 1 + side)
        zh.append(pair[0])
        en.append(pair[1])
    return zh, en


def build_buildings(
    blocks: Blocks,
    kinds: np.ndarray,
    grids: np.ndarray,
    grid_codes: np.ndarray,
    grid_street: np.ndarray,
    courtyards: Courtyards,
    courtyard_names: list[names.NamePair],
    target: int,
    density: DensityField,
    rng: np.random.Generator,
) -> Buildings:
    """About `target` footprints (never more), each within one grid."""
    frame = _candidates(blocks, kinds, rng)
    frame = _place(frame, blocks, grids, grid_street, courtyards, rng)
    frame = _fit_target(frame, blocks, target, density, rng)
    frame = frame.sort_values(["grid", "block", "dv", "du"], kind="stable", ignore_index=True)
    zh, en = _name(frame, blocks, kinds, courtyard_names, rng)
    grid = frame["grid"].to_numpy()
    serial = frame.groupby("grid").cumcount().to_numpy() + 1
    codes = np.array(
        [f"BLD-{grid_codes[g]}-{s:03d}" for g, s in zip(grid, serial, strict=True)], dtype=object
    )
    return Buildings(
        geometry=frame["geometry"].to_numpy(),
        code=codes,
        name_zh=np.array(zh, dtype=object),
        name_en=np.array(en, dtype=object),
        floors=frame["floors"].to_numpy().astype(np.int64),
        use=frame["use"].to_numpy(),
        grid=grid,
        courtyard=frame["courtyard"].to_numpy(),
    )
