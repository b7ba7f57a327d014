"""Cameras of the four-level video system: district, street, community, courtyard.

District cameras watch road intersections, street cameras stand along roads,
community cameras beside public and commercial buildings, courtyard cameras
inside compounds. Every camera lies inside the district.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from etl.demo.blocks import Blocks
from etl.demo.buildings import Buildings
from etl.demo.courtyards import Courtyards
from etl.demo.density import DensityField
from etl.demo.geom import random_points_in

TIER_SHARES = {"district": 0.15, "street": 0.25, "community": 0.30, "courtyard": 0.30}
STATUS_SHARES = {"online": 0.92, "offline": 0.05, "fault": 0.03}
STREAM_URL = "rtsp://video.gridwatch.local/cam/{code}"
_SPOTS = ("东门", "南门", "西门", "北门", "中庭", "停车场入口", "单元入口", "围墙")


def _weighted_pick(
    weights: np.ndarray, n: int, rng: np.random.Generator, replace: bool = False
) -> np.ndarray:
    """`n` indices drawn in proportion to `weights` (without replacement unless asked)."""
    if replace or n > len(weights):
        return rng.choice(len(weights), n, p=weights / weights.sum())
    keys = rng.exponential(size=len(weights)) / weights
    return np.argsort(keys, kind="stable")[:n]


def _intersections(blocks: Blocks) -> pd.DataFrame:
    """Unique road intersections at the corners of the blocks (UTM, with road names)."""
    corners = pd.DataFrame(
        {
            "street": np.repeat(blocks.street, 4),
            "i": (blocks.i[:, None] + np.array([0, 1, 0, 1])).ravel(),
            "j": (blocks.j[:, None] + np.array([0, 0, 1, 1])).ravel(),
        }
    ).drop_duplicates(ignore_index=True)
    x, y, name = np.empty(len(corners)), np.empty(len(corners)), []
    for s, idx in corners.groupby("street").indices.items():
        r = blocks.roads[s]
        i, j = corners["i"].to_numpy()[idx], corners["j"].to_numpy()[idx]
        x[idx], y[idx] = r.to_world(r.u_roads[i], r.v_roads[j])
    for s, i, j in corners.itertuples(index=False):
        r = blocks.roads[s]
        name.append(f"{r.u_names[i][0]}与{r.v_names[j][0]}交叉口")
    return corners.assign(x=x, y=y, name=name)


def _district_tier(
    blocks: Blocks,
    district: shapely.Geometry,
    n: int,
    density: DensityField,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """At road intersections, busier (denser) ones first."""
    cross = _intersections(blocks)
    x, y = cross["x"].to_numpy(), cross["y"].to_numpy()
    inside = shapely.contains_xy(district, x, y)
    cross = cross[inside]
    pick = _weighted_pick(density(x[inside], y[inside]) ** 2, n, rng)
    chosen = cross.iloc[pick]
    return pd.DataFrame({"x": chosen["x"], "y": chosen["y"], "name_zh": chosen["name"]})


def _street_tier(
    blocks: Blocks,
    district: shapely.Geometry,
    n: int,
    density: DensityField,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Poles on the kerb of a random side of random blocks."""
    m = 3 * n + 50
    b = _weighted_pick(density(blocks.x, blocks.y), m, rng, replace=True)
    side = rng.integers(0, 4, m)
    t = rng.uniform(-0.45, 0.45, m)
    half_w, half_h = blocks.width[b] / 2 + 3, blocks.height[b] / 2 + 3
    du = np.select([side == 0, side == 1], [-half_w, half_w], t * 2 * half_w)
    dv = np.select([side == 2, side == 3], [-half_h, half_h], t * 2 * half_h)
    ang = blocks.angle[b]
    x = blocks.x[b] + du * np.cos(ang) - dv * np.sin(ang)
    y = blocks.y[b] + du * np.sin(ang) + dv * np.cos(ang)
    road_names = []
    for k in range(m):
        r = blocks.roads[blocks.street[b[k]]]
        i, j = blocks.i[b[k]], blocks.j[b[k]]
        road = [r.u_names[i], r.u_names[i + 1], r.v_names[j], r.v_names[j + 1]][side[k]]
        pole = int((t[k] + 0.5) * 20) + 1 + 20 * (blocks.j[b[k]] if side[k] < 2 else blocks.i[b[k]])
        road_names.append(f"{road[0]}{pole}号杆")
    inside = np.flatnonzero(shapely.contains_xy(district, x, y))[:n]
    return pd.DataFrame({"x": x[inside], "y": y[inside], "name_zh": np.array(road_names)[inside]})


def _community_tier(
    buildings: Buildings, district: shapely.Geometry, n: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Beside buildings, mostly public and commercial ones."""
    w = np.select([buildings.use == "public", buildings.use == "commercial"], [6.0, 3.0], 1.0)
    m = 2 * n + 50
    b = _weighted_pick(w, m, rng, replace=True)
    ring = shapely.boundary(shapely.buffer(buildings.geometry[b], 6.0, quad_segs=2))
    pts = shapely.line_interpolate_point(ring, rng.random(m), normalized=True)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    inside = np.flatnonzero(shapely.contains_xy(district, x, y))[:n]
    return pd.DataFrame({"x": x[inside], "y": y[inside], "name_zh": buildings.name_zh[b][inside]})


def _courtyard_tier(
    courtyards: Courtyards, names_zh: list[str], n: int, rng: np.random.Generator
) -> pd.DataFrame:
    if not len(courtyards):
        return pd.DataFrame({"x": [], "y": [], "name_zh": []})
    c = np.sort(_weighted_pick(shapely.area(courtyards.geometry), n, rng, replace=True))
    x, y = random_points_in(courtyards.geometry[c], rng)
    spot = pd.Series(c).groupby(c).cumcount().to_numpy()
    label = [f"{names_zh[k]}{_SPOTS[s % len(_SPOTS)]}" for k, s in zip(c, spot, strict=True)]
    return pd.DataFrame({"x": x, "y": y, "name_zh": label})


def build_cameras(
    district_code: str,
    district: shapely.Geometry,
    blocks: Blocks,
    buildings: Buildings,
    courtyards: Courtyards,
    courtyard_names_zh: list[str],
    target: int,
    density: DensityField,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """About `target` cameras (UTM x, y) with code, name_zh, tier, status and stream URL."""
    shapely.prepare(district)
    n = {tier: round(share * target) for tier, share in TIER_SHARES.items()}
    n["courtyard"] = target - n["district"] - n["street"] - n["community"]
    tiers = {
        "district": _district_tier(blocks, district, n["district"], density, rng),
        "street": _street_tier(blocks, district, n["street"], density, rng),
        "community": _community_tier(buildings, district, n["community"], rng),
        "courtyard": _courtyard_tier(courtyards, courtyard_names_zh, n["courtyard"], rng),
    }
    frame = pd.concat([t.assign(tier=name) for name, t in tiers.items()], ignore_index=True)
    frame["name_zh"] = frame["name_zh"] + "监控"
    frame["code"] = [f"CAM-{district_code}-{k + 1:06d}" for k in range(len(frame))]
    status = list(STATUS_SHARES)
    frame["status"] = np.array(status)[
        rng.choice(len(status), len(frame), p=list(STATUS_SHARES.values()))
    ]
    frame["stream_url"] = [STREAM_URL.format(code=c) for c in frame["code"]]
    return frame[["code", "name_zh", "tier", "status", "stream_url", "x", "y"]]
