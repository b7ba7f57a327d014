"""A year of synthetic cases for the detailed districts of a demo city.

Arrivals follow daily and weekly rhythms, cluster around hot spots (markets,
stations, schools) and homes, and pass through the case workflow with closure
times around each category's SLA. About 6% are repeat reports of an earlier
case through another channel, already merged into it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import shapely

from etl.demo import names
from etl.demo.city import DEFAULT_SEED, DemoCity
from etl.demo.geom import lonlat_to_xy, to_utm, xy_to_lonlat
from etl.demo.outline import CHENGHUA_POPULATION

CHANNEL_SHARES = {
    "hotline": 0.35, "web": 0.05, "app": 0.10, "wechat": 0.12,
    "grid_worker": 0.25, "iot_sensor": 0.05, "video_ai": 0.05, "walk_in": 0.03,
}  # fmt: skip
CHANNEL_PREFIX = {
    "hotline": "HL", "web": "WB", "app": "AP", "wechat": "WX",
    "grid_worker": "GW", "iot_sensor": "IOT", "video_ai": "VA", "walk_in": "WI",
}  # fmt: skip
CHANNEL_LEAD = {
    "hotline": "市民来电反映", "web": "市民网上留言反映", "app": "市民通过App上报",
    "wechat": "市民通过微信反映", "grid_worker": "网格员巡查发现",
    "iot_sensor": "物联感知设备告警", "video_ai": "视频智能分析发现", "walk_in": "群众来访反映",
}  # fmt: skip
REPORTER_CHANNELS = ("hotline", "web", "app", "wechat", "walk_in")
SEVERITY_ASK = {1: "情况紧急，请立即处置。", 2: "影响较大，请尽快处理。",
                3: "请及时处理。", 4: "请安排处理。"}  # fmt: skip
CASE_COLUMNS = [
    "external_id", "channel", "category_code", "severity", "status", "lon", "lat",
    "reported_at", "accepted_at", "dispatched_at", "handled_at", "closed_at", "satisfied",
    "description", "reporter_name", "reporter_phone", "duplicate_of_channel",
    "duplicate_of_external_id",
]  # fmt: skip
CATEGORY_COLUMNS = ["code", "demo_weight", "sla_hours_s1", "sla_hours_s2", "sla_hours_s3",
                    "sla_hours_s4", "severity_weights"]  # fmt: skip

LOCAL_OFFSET = pd.Timedelta(hours=8)  # China Standard Time, no daylight saving
HOUR_WEIGHTS = {
    False: [0.15, 0.1, 0.07, 0.06, 0.06, 0.1, 0.3, 0.7, 1.3, 1.9, 2.0, 1.8,
            1.2, 1.1, 1.7, 1.9, 1.8, 1.5, 1.0, 0.8, 0.7, 0.6, 0.4, 0.25],
    True: [0.2, 0.15, 0.1, 0.07, 0.06, 0.08, 0.2, 0.45, 0.8, 1.2, 1.4, 1.4,
           1.2, 1.1, 1.3, 1.4, 1.3, 1.2, 1.0, 0.9, 0.8, 0.65, 0.45, 0.3],
}  # fmt: skip
WEEKDAY_WEIGHTS = np.array([1.08, 1.02, 1.0, 1.0, 0.97, 0.72, 0.68])  # Monday first
HOTSPOTS_CHENGHUA = 25
HOTSPOT_SIGMA_M = 150.0
HOME_SIGMA_M = 20.0
MODE_SHARES = (0.30, 0.55, 0.15)  # hot spot, near a home, anywhere
DUPLICATE_SHARE = 0.06
DUPLICATE_RADIUS_M = 75.0  # stays within the 80 m a repeat report may be apart
DUPLICATE_WINDOW_S = 2 * 3600
ON_TIME_Z = 1.15  # P(close within SLA) = Phi(1.15) ~ 0.875
CLOSE_SIGMA = 0.5
REJECT_SHARE = 0.03
SATISFIED_SHARE = 0.92
MAX_OPEN_DAYS = 9.5  # nearly every case closes within this; a few stay overdue
OVERDUE_SHARE = 0.015  # stuck cases: they stay open long past their SLA


@dataclass
class _Place:
    """What a district's cases are placed on (UTM) and how places are named."""

    code: str
    outline: shapely.Geometry  # lon/lat
    outline_utm: shapely.Geometry
    homes: np.ndarray  # (n, 2) residential building centroids
    home_weight: np.ndarray
    spots: np.ndarray  # (n, 2) public/commercial building centroids
    buildings: np.ndarray  # UTM footprints, for the nearest address
    building_names: np.ndarray
    scale: float


def _check_categories(categories: pd.DataFrame) -> None:
    missing = [c for c in CATEGORY_COLUMNS if c not in categories.columns]
    if missing:
        raise ValueError(f"categories lack columns {missing}")
    if not len(categories):
        raise ValueError("categories is empty")


def _places(city: DemoCity) -> list[_Place]:
    """One entry per detailed district (a district with streets)."""
    areas = city.areas
    detailed = sorted(set(areas.loc[areas["level"] == "street", "parent_code"]))
    b_district = city.buildings["code"].str[4:10].to_numpy()
    b_utm = to_utm(city.buildings.geometry.to_numpy())
    centre = shapely.centroid(b_utm)
    cxy = np.column_stack([shapely.get_x(centre), shapely.get_y(centre)])
    floors = city.buildings["floors"].to_numpy()
    use = city.buildings["use"].to_numpy()
    out = []
    for code in detailed:
        row = areas[areas["code"] == code].iloc[0]
        mine = b_district == code
        home = mine & (use == "residential")
        spot = mine & np.isin(use, ["public", "commercial"])
        if not spot.any():
            spot = mine
        out.append(
            _Place(
                code=code,
                outline=row.geometry,
                outline_utm=to_utm([row.geometry])[0],
                homes=cxy[home],
                home_weight=shapely.area(b_utm[home]) * floors[home],
                spots=cxy[spot],
                buildings=b_utm[mine],
                building_names=city.buildings["name_zh"].to_numpy()[mine],
                scale=int(row["population"]) / CHENGHUA_POPULATION,
            )
        )
    return out


def _times(n: int, end: pd.Timestamp, rng: np.random.Generator) -> pd.DatetimeIndex:
    """`n` report times in the year before `end`, with daily and weekly rhythm."""
    start = end - pd.Timedelta(days=365)
    span = (end - start).total_seconds()
    hours = np.array([HOUR_WEIGHTS[False], HOUR_WEIGHTS[True]])
    top = hours.max() * WEEKDAY_WEIGHTS.max() * 1.1
    picked: list[np.ndarray] = []
    got = 0
    while got < n:
        offset = rng.random(3 * (n - got) + 64) * span
        local = start + LOCAL_OFFSET + pd.to_timedelta(offset, unit="s")
        dow = local.day_of_week.to_numpy()
        season = 1 + 0.1 * np.cos(2 * np.pi * (local.day_of_year.to_numpy() - 200) / 365)
        w = hours[(dow >= 5).astype(int), local.hour.to_numpy()] * WEEKDAY_WEIGHTS[dow] * season
        ok = offset[rng.random(offset.size) * top < w]
        picked.append(ok)
        got += ok.size
    offset = np.sort(np.concatenate(picked)[:n])
    return start + pd.to_timedelta(np.floor(offset), unit="s")


def _locations(place: _Place, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Case points (lon, lat) inside the district: near hot spots, near homes or anywhere."""
    n_spots = max(3, round(HOTSPOTS_CHENGHUA * place.scale))
    spots = place.spots[rng.choice(len(place.spots), n_spots, replace=len(place.spots) < n_spots)]
    spot_p = rng.lognormal(0, 0.6, n_spots)
    spot_p /= spot_p.sum()
    home_p = place.home_weight / place.home_weight.sum()
    minx, miny, maxx, maxy = place.outline_utm.bounds
    mode = rng.choice(3, n, p=MODE_SHARES)[:, None]
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    todo = np.arange(n)
    for _ in range(30):
        m = todo.size
        if not m:
            break
        jitter = rng.normal(0, 1, (m, 2))
        near_spot = spots[rng.choice(n_spots, m, p=spot_p)] + HOTSPOT_SIGMA_M * jitter
        near_home = place.homes[rng.choice(len(home_p), m, p=home_p)] + HOME_SIGMA_M * jitter
        anywhere = np.column_stack(
            [minx + rng.random(m) * (maxx - minx), miny + rng.random(m) * (maxy - miny)]
        )
        xy = np.where(mode[todo] == 0, near_spot, np.where(mode[todo] == 1, near_home, anywhere))
        px, py = xy_to_lonlat(xy[:, 0], xy[:, 1])
        ok = shapely.contains_xy(place.outline, px, py)
        lon[todo[ok]], lat[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
    if todo.size:  # practically never: the home building itself
        px, py = xy_to_lonlat(place.homes[: todo.size, 0], place.homes[: todo.size, 1])
        lon[todo], lat[todo] = px, py
    return lon, lat


def _lifecycle(
    reported: pd.DatetimeIndex,
    sla_hours: np.ndarray,
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Status, workflow timestamps and satisfaction as seen at `end`."""
    n = len(reported)
    rep = reported.tz_localize(None).to_numpy(dtype="datetime64[us]")
    mu = -ON_TIME_Z * CLOSE_SIGMA
    close_h = sla_hours * np.exp(rng.normal(mu, CLOSE_SIGMA, n))
    capped = rng.random(n) >= OVERDUE_SHARE
    stuck_h = sla_hours * rng.uniform(1.5, 40.0, n)
    close_h = np.where(capped, np.minimum(close_h, MAX_OPEN_DAYS * 24), stuck_h)
    close_h = np.maximum(close_h, 0.25)
    accept_h = np.minimum(rng.lognormal(np.log(5 / 60), 0.8, n), 0.1 * close_h)
    dispatch_h = accept_h + np.minimum(rng.lognormal(np.log(15 / 60), 0.8, n), 0.2 * close_h)
    handle_h = close_h * rng.uniform(0.55, 0.9, n)

    def at(hours: np.ndarray) -> np.ndarray:
        return rep + np.round(hours * 3600).astype("timedelta64[s]")

    t_acc, t_dis, t_han, t_clo = at(accept_h), at(dispatch_h), at(handle_h), at(close_h)
    now = end.tz_localize(None).to_datetime64()
    status = np.select(
        [
            t_clo <= now,
            t_han + (t_clo - t_han) / 2 <= now,
            t_han <= now,
            t_dis + (t_han - t_dis) * 0.3 <= now,
            t_dis <= now,
            t_acc <= now,
        ],
        ["closed", "verified", "handled", "in_progress", "dispatched", "accepted"],
        "reported",
    ).astype(object)
    rejected = rng.random(n) < REJECT_SHARE
    t_rej = at(accept_h + rng.lognormal(np.log(2.0), 0.7, n))
    status[rejected] = np.where(t_rej[rejected] <= now, "rejected", "reported")
    nat = np.datetime64("NaT")
    t_acc = np.where(rejected, nat, t_acc)
    t_dis = np.where(rejected, nat, t_dis)
    t_han = np.where(rejected, nat, t_han)
    t_clo = np.where(rejected, t_rej, t_clo)
    satisfied = np.where(status == "closed", rng.random(n) < SATISFIED_SHARE, None)
    return {
        "status": status,
        "accepted_at": np.where(t_acc <= now, t_acc, nat),
        "dispatched_at": np.where(t_dis <= now, t_dis, nat),
        "handled_at": np.where(t_han <= now, t_han, nat),
        "closed_at": np.where(t_clo <= now, t_clo, nat),
        "satisfied": satisfied,
    }


def _other_channel(
    original: np.ndarray, channels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A channel per row drawn from the usual mix but never equal to `original`."""
    p = np.array(list(CHANNEL_SHARES.values()))
    out = channels[rng.choice(len(channels), len(original), p=p)]
    same = out == original
    while same.any():
        out[same] = channels[rng.choice(len(channels), same.sum(), p=p)]
        same = out == original
    return out


def _district_cases(
    place: _Place,
    categories: pd.DataFrame,
    end: pd.Timestamp,
    n: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Originals and their merged repeat reports for one district (no ids yet)."""
    channels = np.array(list(CHANNEL_SHARES), dtype=object)
    n_dup = round(DUPLICATE_SHARE * n)
    n_orig = n - n_dup
    reported = _times(n_orig, end, rng)
    weight = categories["demo_weight"].to_numpy(float)
    cat = rng.choice(len(categories), n_orig, p=weight / weight.sum())
    sev_w = np.array([list(w) for w in categories["severity_weights"]], dtype=float)
    sev_cum = np.cumsum(sev_w / sev_w.sum(1, keepdims=True), axis=1)
    severity = (rng.random(n_orig)[:, None] > sev_cum[cat]).sum(1).clip(0, 3) + 1
    sla = categories[[f"sla_hours_s{s}" for s in range(1, 5)]].to_numpy(float)
    lon, lat = _locations(place, n_orig, rng)
    orig = pd.DataFrame(
        {
            "channel": channels[rng.choice(len(channels), n_orig, p=list(CHANNEL_SHARES.values()))],
            "cat": cat,
            "severity": severity,
            "lon": lon,
            "lat": lat,
            "reported_at": reported,
            "dup_of": -1,
        }
    )
    for column, values in _lifecycle(reported, sla[cat, severity - 1], end, rng).items():
        orig[column] = values

    src = np.sort(rng.choice(n_orig, n_dup, replace=True))
    delay = rng.uniform(120, DUPLICATE_WINDOW_S, n_dup)
    limit = (end - reported[src]).total_seconds().to_numpy() - 1
    delay = np.floor(np.clip(np.minimum(delay, limit), 0, None))
    x, y = lonlat_to_xy(lon[src], lat[src])
    r = DUPLICATE_RADIUS_M * np.sqrt(rng.random(n_dup))
    a = rng.uniform(0, 2 * np.pi, n_dup)
    dlon, dlat = xy_to_lonlat(x + r * np.cos(a), y + r * np.sin(a))
    inside = shapely.contains_xy(place.outline, dlon, dlat)
    nat = pd.NaT
    dup = pd.DataFrame(
        {
            "channel": _other_channel(orig["channel"].to_numpy()[src], channels, rng),
            "cat": cat[src],
            "severity": severity[src],
            "lon": np.where(inside, dlon, lon[src]),
            "lat": np.where(inside, dlat, lat[src]),
            "reported_at": reported[src] + pd.to_timedelta(delay, unit="s"),
            "dup_of": src,
            "status": "merged",
            "accepted_at": nat,
            "dispatched_at": nat,
            "handled_at": nat,
            "closed_at": nat,
            "satisfied": None,
        }
    )
    frame = pd.concat([orig, dup], ignore_index=True)
    frame["district"] = place.code
    return frame


def _describe(frame: pd.DataFrame, places: list[_Place], categories: pd.DataFrame) -> np.ndarray:
    """Chinese text naming the channel's source, the nearest address and the category."""
    label = (
        categories["name_zh"] if "name_zh" in categories.columns else categories["code"]
    ).to_numpy()
    address = np.empty(len(frame), dtype=object)
    for place in places:
        idx = np.flatnonzero(frame["district"].to_numpy() == place.code)
        x, y = lonlat_to_xy(frame["lon"].to_numpy()[idx], frame["lat"].to_numpy()[idx])
        tree = shapely.STRtree(place.buildings)
        _, nearest = tree.query_nearest(shapely.points(x, y), all_matches=False)
        address[idx] = place.building_names[nearest]
    return np.array(
        [
            f"{CHANNEL_LEAD[ch]}：{addr}附近{label[c]}。{SEVERITY_ASK[int(s)]}"
            for ch, addr, c, s in zip(
                frame["channel"], address, frame["cat"], frame["severity"], strict=True
            )
        ],
        dtype=object,
    )


def _reporters(
    frame: pd.DataFrame, city: DemoCity, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Citizens for public channels, the grid's tier-1 worker for grid-worker reports."""
    n = len(frame)
    channel = frame["channel"].to_numpy()
    citizen = np.isin(channel, REPORTER_CHANNELS) & (rng.random(n) >= 0.05)
    name = np.full(n, None, dtype=object)
    phone = np.full(n, None, dtype=object)
    name[citizen] = names.person_names(rng, int(citizen.sum()))
    phone[citizen] = names.phone_numbers(rng, int(citizen.sum()))

    worker = np.flatnonzero(channel == "grid_worker")
    grids = city.areas[city.areas["level"] == "grid"]
    tier1 = city.workers[city.workers["tier"] == 1].set_index("home_grid_code")["name_zh"]
    pts = shapely.points(frame["lon"].to_numpy()[worker], frame["lat"].to_numpy()[worker])
    src, hit = shapely.STRtree(grids.geometry.to_numpy()).query(pts, predicate="intersects")
    first = np.unique(src, return_index=True)[1]
    codes = grids["code"].to_numpy()[hit[first]]
    name[worker[src[first]]] = tier1.reindex(codes).to_numpy()
    return name, phone


def _external_ids(frame: pd.DataFrame) -> np.ndarray:
    """CHANNEL-YYYYMMDD-NNNNN, numbered per channel and local day in report order."""
    day = (frame["reported_at"] + LOCAL_OFFSET).dt.strftime("%Y%m%d")
    seq = frame.groupby([frame["channel"], day], sort=False).cumcount() + 1
    prefix = frame["channel"].map(CHANNEL_PREFIX)
    return (prefix + "-" + day + "-" + seq.map("{:05d}".format)).to_numpy(dtype=object)


def generate_cases(
    city: DemoCity,
    categories: pd.DataFrame,
    end: datetime,
    seed: int = DEFAULT_SEED,
    per_year_chenghua: int = 40_000,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One year of cases up to `end` for every detailed district of `city`.

    Chenghua gets `per_year_chenghua` cases (repeat reports included); other
    detailed districts scale by population. Same inputs and seed, same frame.
    """
    _check_categories(categories)
    say = progress or (lambda _message: None)
    end_ts = pd.Timestamp(end)
    end_ts = end_ts.tz_localize("UTC") if end_ts.tzinfo is None else end_ts.tz_convert("UTC")
    end_ts = end_ts.as_unit("us")
    categories = categories.reset_index(drop=True)
    places = _places(city)
    if not places:
        raise ValueError("the city has no detailed district to place cases in")
    parts = []
    for place in places:
        say(f"{place.code}: cases")
        rng = np.random.default_rng([seed, int(place.code), 100])
        n = round(per_year_chenghua * place.scale)
        parts.append(_district_cases(place, categories, end_ts, n, rng))
    frame = pd.concat(parts, ignore_index=True)
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    frame["dup_of"] = np.where(
        frame["dup_of"] >= 0,
        frame["dup_of"] + np.repeat(offsets, [len(p) for p in parts]),
        -1,
    )

    say("naming places and reporters")
    rng = np.random.default_rng([seed, 101])
    frame["description"] = _describe(frame, places, categories)
    frame["reporter_name"], frame["reporter_phone"] = _reporters(frame, city, rng)
    frame = frame.sort_values(["reported_at", "dup_of"], kind="stable")
    frame["external_id"] = _external_ids(frame)
    by_row = frame["external_id"]
    dup = frame["dup_of"].to_numpy()
    has = dup >= 0
    frame["duplicate_of_external_id"] = np.where(has, by_row.reindex(dup).to_numpy(), None)
    frame["duplicate_of_channel"] = np.where(has, frame["channel"].reindex(dup).to_numpy(), None)
    frame["category_code"] = categories["code"].to_numpy()[frame["cat"].to_numpy()]
    return _typed(frame.reset_index(drop=True))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The output columns with stable dtypes (nullable where the schema allows NULL)."""
    out = frame[CASE_COLUMNS].copy()
    out["severity"] = out["severity"].astype(np.int64)
    for column in ("accepted_at", "dispatched_at", "handled_at", "closed_at", "reported_at"):
        out[column] = pd.to_datetime(out[column], utc=True).dt.as_unit("us")
    out["satisfied"] = out["satisfied"].astype("boolean")
    for column in ("reporter_name", "reporter_phone", "duplicate_of_channel",
                   "duplicate_of_external_id"):  # fmt: skip
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out
