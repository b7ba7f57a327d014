"""Grid workers in three tiers, each placed inside their home grid.

Tier 1: one paid worker per grid. Tier 2: courtyard volunteers, so only grids
with courtyards have them. Tier 3: a sample of building and unit heads.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import shapely

from etl.demo import names
from etl.demo.buildings import Buildings
from etl.demo.courtyards import Courtyards
from etl.demo.geom import random_points_in

#: Fixed "now" for last_seen_at, so the demo city does not depend on the clock.
REFERENCE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
STATUS_SHARES = {"available": 0.70, "en_route": 0.10, "on_site": 0.12, "off_duty": 0.08}
WORKER_COLUMNS = ["code", "name_zh", "tier", "home_grid_code", "status", "phone",
                  "last_seen_at", "x", "y"]  # fmt: skip


def _tier2_counts(courtyards: Courtyards, n: int, rng: np.random.Generator) -> np.ndarray:
    """Volunteers per courtyard: at least one each, the rest by courtyard size."""
    k = len(courtyards)
    if k == 0 or n == 0:
        return np.zeros(k, dtype=int)
    if n < k:
        return np.bincount(rng.choice(k, n, replace=False), minlength=k)
    area = shapely.area(courtyards.geometry)
    return 1 + rng.multinomial(n - k, area / area.sum())


def _serials(keys: np.ndarray) -> np.ndarray:
    """1, 2, 3... within each key, in order of appearance."""
    return pd.Series(keys).groupby(keys).cumcount().to_numpy() + 1


def build_workers(
    grids: np.ndarray,
    grid_codes: np.ndarray,
    courtyards: Courtyards,
    buildings: Buildings,
    n_tier2: int,
    n_tier3: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Workers with UTM x, y (WORKER_COLUMNS)."""
    x1, y1 = random_points_in(grids, rng)
    tier1 = pd.DataFrame(
        {"code": [f"W1-{c}" for c in grid_codes], "tier": 1, "home_grid_code": grid_codes,
         "x": x1, "y": y1}
    )  # fmt: skip

    per_cy = _tier2_counts(courtyards, n_tier2, rng)
    cy = np.repeat(np.arange(len(courtyards)), per_cy)
    x2, y2 = random_points_in(courtyards.geometry[cy], rng)
    home2 = grid_codes[courtyards.grid[cy]]
    tier2 = pd.DataFrame(
        {"code": [f"W2-{g}-{s:02d}" for g, s in zip(home2, _serials(home2), strict=True)],
         "tier": 2, "home_grid_code": home2, "x": x2, "y": y2}
    )  # fmt: skip

    residential = np.flatnonzero(buildings.use == "residential")
    weight = np.where(buildings.courtyard[residential] >= 0, 3.0, 1.0)
    keys = rng.exponential(size=len(residential)) / weight
    chosen = np.sort(residential[np.argsort(keys, kind="stable")[:n_tier3]])
    home3 = grid_codes[buildings.grid[chosen]]
    centre = shapely.centroid(buildings.geometry[chosen])
    tier3 = pd.DataFrame(
        {"code": [f"W3-{g}-{s:03d}" for g, s in zip(home3, _serials(home3), strict=True)],
         "tier": 3, "home_grid_code": home3,
         "x": shapely.get_x(centre), "y": shapely.get_y(centre)}
    )  # fmt: skip

    frame = pd.concat([tier1, tier2, tier3], ignore_index=True)
    n = len(frame)
    frame["name_zh"] = names.person_names(rng, n)
    frame["phone"] = names.phone_numbers(rng, n)
    status = np.array(list(STATUS_SHARES), dtype=object)
    frame["status"] = status[rng.choice(len(status), n, p=list(STATUS_SHARES.values()))]
    minutes = np.where(
        frame["status"] == "off_duty", rng.exponential(8 * 60, n), rng.exponential(3, n)
    )
    frame["last_seen_at"] = pd.Timestamp(REFERENCE_TIME) - pd.to_timedelta(
        np.round(minutes * 60), unit="s"
    )
    frame["tier"] = frame["tier"].astype(np.int64)
    return frame[WORKER_COLUMNS]
