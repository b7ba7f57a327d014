"""The demo-city and case generators: counts, determinism, geometry and workflow rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from etl.demo import DEFAULT_SEED, DemoCity, generate_cases, generate_city
from etl.demo.cases import CASE_COLUMNS, CHANNEL_SHARES, REPORTER_CHANNELS
from etl.demo.geom import lonlat_to_xy, to_utm
from etl.demo.names import RING_ROADS

END = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
CHENGHUA = "510108"
UTM = "EPSG:32648"
OPEN = {"reported", "accepted", "dispatched", "in_progress", "handled", "verified"}
STATUSES = OPEN | {"closed", "rejected", "merged"}
STAMPS = ["reported_at", "accepted_at", "dispatched_at", "handled_at", "closed_at"]


def fake_categories() -> pd.DataFrame:
    """Six categories with SLAs from one hour (urgent) to a week (routine)."""
    return pd.DataFrame(
        {
            "code": ["SR01", "SR02", "EN01", "PS01", "TR01", "FS01"],
            "name_zh": ["占道经营", "乱堆乱放", "噪音扰民", "井盖缺失", "非法停车", "消防通道堵塞"],
            "demo_weight": [5.0, 4.0, 3.0, 1.0, 3.0, 0.5],
            "sla_hours_s1": [2.0, 2.0, 2.0, 1.0, 1.0, 1.0],
            "sla_hours_s2": [8.0, 8.0, 6.0, 4.0, 4.0, 2.0],
            "sla_hours_s3": [24.0, 48.0, 24.0, 24.0, 12.0, 8.0],
            "sla_hours_s4": [72.0, 120.0, 72.0, 72.0, 48.0, 24.0],
            "severity_weights": [
                (0.02, 0.1, 0.5, 0.38),
                (0.02, 0.08, 0.4, 0.5),
                (0.05, 0.2, 0.5, 0.25),
                (0.3, 0.4, 0.2, 0.1),
                (0.02, 0.1, 0.6, 0.28),
                (0.4, 0.4, 0.15, 0.05),
            ],
        }
    )


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate_city()


@pytest.fixture(scope="module")
def cases(city: DemoCity) -> pd.DataFrame:
    return generate_cases(city, fake_categories(), END)


@pytest.fixture(scope="module")
def utm_areas(city: DemoCity) -> gpd.GeoDataFrame:
    return city.areas.to_crs(UTM).set_index("code", drop=False)


def level(areas: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    return areas[areas["level"] == name]


# -- counts -------------------------------------------------------------------------------


def test_chenghua_counts_match_the_reference_district(city: DemoCity) -> None:
    stats = city.stats()
    assert (stats["city"], stats["district"], stats["street"]) == (1, 20, 14)
    assert (stats["community"], stats["grid"]) == (110, 1794)
    assert 1_000 <= stats["courtyard"] <= 1_300
    assert 13_500 <= stats["buildings"] <= 15_500
    assert 4_800 <= stats["cameras"] <= 5_100
    assert stats["workers_tier1"] == 1794
    assert 2_700 <= stats["workers_tier2"] <= 3_100
    assert 1_500 <= stats["workers_tier3"] <= 1_900
    assert stats["areas"] == len(city.areas)


def test_chenghua_keeps_its_real_street_names(city: DemoCity) -> None:
    streets = level(city.areas, "street").set_index("code")
    assert streets.at["510108001", "name_zh"] == "猛追湾街道"
    assert streets.at["510108004", "name_en"] == "Jianshelu Subdistrict"
    assert streets.at["510108014", "name_zh"] == "驷马桥街道"


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="scale"):
        generate_city("province")  # type: ignore[arg-type]


# -- determinism --------------------------------------------------------------------------


def test_same_seed_gives_the_same_city_and_cases(city: DemoCity, cases: pd.DataFrame) -> None:
    again = generate_city(seed=DEFAULT_SEED)
    for name in ("areas", "buildings", "cameras", "workers", "roads", "water", "landuse"):
        a, b = getattr(city, name), getattr(again, name)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
        sample = np.arange(0, len(a), 97)
        assert list(shapely.to_wkb(a.geometry.to_numpy()[sample])) == list(
            shapely.to_wkb(b.geometry.to_numpy()[sample])
        )
    pd.testing.assert_frame_equal(cases, generate_cases(again, fake_categories(), END))


def test_another_seed_gives_another_city(city: DemoCity) -> None:
    other = generate_city(seed=DEFAULT_SEED + 1)
    grids = level(city.areas, "grid").geometry.to_numpy()
    other_grids = level(other.areas, "grid").geometry.to_numpy()
    assert not shapely.equals(grids, other_grids).all()


# -- areas --------------------------------------------------------------------------------


def test_areas_are_valid_multipolygons_with_well_formed_codes(city: DemoCity) -> None:
    areas = city.areas
    geoms = areas.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert (areas.geom_type == "MultiPolygon").all()
    assert areas["code"].is_unique
    digits = {"city": 6, "district": 6, "street": 9, "community": 12, "grid": 15, "courtyard": 17}
    assert (areas["code"].str.len() == areas["level"].map(digits)).all()
    child = areas[areas["level"].isin(["street", "community", "grid", "courtyard"])]
    assert all(c.startswith(p) for c, p in zip(child["code"], child["parent_code"], strict=True))
    assert areas.loc[areas["level"] == "city", "parent_code"].tolist() == [None]


def test_every_child_lies_within_its_parent(utm_areas: gpd.GeoDataFrame) -> None:
    child = utm_areas[utm_areas["level"] != "city"]
    parent = utm_areas.loc[child["parent_code"]].geometry.to_numpy()
    geoms = child.geometry.to_numpy()
    outside = shapely.area(shapely.difference(geoms, parent)) / shapely.area(geoms)
    assert outside.max() < 0.001, child["code"].to_numpy()[outside.argmax()]


@pytest.mark.parametrize("parent_level", ["district", "street", "community"])
def test_children_tile_their_parent(utm_areas: gpd.GeoDataFrame, parent_level: str) -> None:
    child_level = {"district": "street", "street": "community", "community": "grid"}[parent_level]
    children = level(utm_areas, child_level)
    parents = level(utm_areas, parent_level)
    parents = parents[parents["code"].isin(children["parent_code"])]
    for code, group in children.groupby("parent_code"):
        parent_area = parents.at[code, "geometry"].area
        union = shapely.union_all(group.geometry.to_numpy()).area
        assert abs(union - parent_area) / parent_area < 0.001, f"gap under {code}"
        assert abs(group.area.sum() - union) / parent_area < 0.001, f"overlap under {code}"
    assert len(parents) == children["parent_code"].nunique() > 0


def test_population_and_households_add_up_exactly(city: DemoCity) -> None:
    areas = city.areas.set_index("code")
    for child_level in ("district", "street", "community", "grid"):
        rows = areas[areas["level"] == child_level]
        sums = rows.groupby("parent_code")[["population", "households"]].sum()
        expected = areas.loc[sums.index, ["population", "households"]]
        pd.testing.assert_frame_equal(sums, expected, check_names=False, check_dtype=False)
    assert areas.at[CHENGHUA, "population"] == 940_800


def test_grids_hold_a_few_hundred_households_and_are_smaller_inside(
    utm_areas: gpd.GeoDataFrame,
) -> None:
    grids = level(utm_areas, "grid")
    households = grids["households"].astype(float)
    assert 120 <= households.median() <= 350
    assert households.min() >= 20 and households.max() <= 1_000
    tianfu = shapely.Point(*(c[0] for c in lonlat_to_xy(np.array([104.0657]), np.array([30.6598]))))
    distance = grids.centroid.distance(tianfu)
    assert grids.area[distance < 7_000].median() < 0.7 * grids.area[distance > 11_000].median()


# -- buildings, courtyards, workers, cameras ------------------------------------------------


def containing_grid(geoms: np.ndarray, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Code of the single grid holding each geometry; None when none or several do."""
    grid_geoms = grids.geometry.to_numpy()
    src, hit = shapely.STRtree(grid_geoms).query(geoms, predicate="intersects")
    share = shapely.area(shapely.intersection(geoms[src], grid_geoms[hit])) / shapely.area(
        geoms[src]
    )
    overlapping = share > 1e-6
    src, hit, share = src[overlapping], hit[overlapping], share[overlapping]
    count = np.bincount(src, minlength=len(geoms))
    out = np.full(len(geoms), None, dtype=object)
    single = (count[src] == 1) & (share > 0.999999)
    out[src[single]] = grids["code"].to_numpy()[hit[single]]
    return out


def test_buildings_lie_each_in_one_grid(city: DemoCity, utm_areas: gpd.GeoDataFrame) -> None:
    buildings = city.buildings
    assert buildings["code"].is_unique
    assert (buildings.geom_type == "Polygon").all()
    assert set(buildings["use"]) == {"residential", "commercial", "public", "industrial"}
    grid = containing_grid(to_utm(buildings.geometry.to_numpy()), level(utm_areas, "grid"))
    assert (grid == buildings["code"].str[4:19].to_numpy()).all()
    floors = buildings["floors"]
    assert floors.between(1, 45).all() and (floors >= 18).any() and (floors <= 4).any()


def test_courtyards_lie_in_their_grid_and_hold_most_homes(
    city: DemoCity, utm_areas: gpd.GeoDataFrame
) -> None:
    courtyards = level(utm_areas, "courtyard")
    grid = containing_grid(courtyards.geometry.to_numpy(), level(utm_areas, "grid"))
    assert (grid == courtyards["parent_code"].to_numpy()).all()
    side = np.sqrt(courtyards.area)
    assert side.between(80, 400).all()
    assert courtyards.groupby("parent_code").size().max() <= 2
    homes = city.buildings[city.buildings["use"] == "residential"]
    hits = gpd.sjoin(homes, city.areas[city.areas["level"] == "courtyard"], predicate="within")
    assert hits.index.nunique() > 0.6 * len(homes)


def test_workers_stand_in_their_home_grid(city: DemoCity) -> None:
    workers = city.workers
    assert workers["code"].is_unique
    grids = level(city.areas, "grid").set_index("code")
    home = grids.loc[workers["home_grid_code"]].geometry.to_numpy()
    assert shapely.contains(home, workers.geometry.to_numpy()).all()
    tier1 = workers[workers["tier"] == 1]
    assert sorted(tier1["home_grid_code"]) == sorted(grids.index)
    courtyard_grids = set(level(city.areas, "courtyard")["parent_code"])
    assert set(workers.loc[workers["tier"] == 2, "home_grid_code"]) <= courtyard_grids
    assert workers["phone"].str.fullmatch(r"1\d{10}").all()
    assert workers["last_seen_at"].dt.tz is not None
    assert 0.65 < (workers["status"] == "available").mean() < 0.75


def test_cameras_cover_four_tiers_inside_the_district(city: DemoCity) -> None:
    cams = city.cameras
    assert cams["code"].is_unique and cams["code"].str.fullmatch(r"CAM-510108-\d{6}").all()
    share = cams["tier"].value_counts(normalize=True)
    expected = {"district": 0.15, "street": 0.25, "community": 0.30, "courtyard": 0.30}
    for tier, p in expected.items():
        assert abs(share[tier] - p) < 0.03
    assert 0.89 < (cams["status"] == "online").mean() < 0.95
    assert (cams["stream_url"] == "rtsp://video.gridwatch.local/cam/" + cams["code"]).all()
    outline = level(city.areas, "district").set_index("code").at[CHENGHUA, "geometry"]
    assert shapely.contains(outline, cams.geometry.to_numpy()).all()


# -- basemap ------------------------------------------------------------------------------


def test_basemap_has_a_road_hierarchy_with_chinese_and_english_names(city: DemoCity) -> None:
    roads = city.roads
    kinds = roads["kind"].value_counts()
    assert set(kinds.index) >= {"motorway", "trunk", "primary", "secondary", "tertiary"}
    assert kinds["residential"] > kinds["primary"] > 10  # many local roads, a few arterials
    assert roads["name_zh"].notna().all() and roads["name_en"].notna().all()
    names_zh = set(roads["name_zh"])
    assert {"二环路", "三环路", "绕城高速", "府青路", "建设路"} <= names_zh
    assert roads.loc[roads["name_zh"] == "建设路", "name_en"].iloc[0] == "Jianshe Road"
    grid = roads[~roads["name_zh"].isin([ring[0] for ring in RING_ROADS])]
    assert grid["name_zh"].str.contains("[路街巷道]$").all()
    assert grid["name_en"].str.fullmatch(r"[A-Z][a-z']+ (?:\w+ )?(?:Road|Street|Lane|Avenue)").all()
    arterial = grid["kind"].isin(["primary", "secondary"])
    assert not grid.loc[arterial, "name_zh"].str.endswith("巷").any()  # no arterial is a lane


def test_basemap_has_rivers_lakes_and_green_land(city: DemoCity) -> None:
    water, landuse = city.water, city.landuse
    rivers = water[water["kind"] == "river"]
    assert {"沙河", "府河"} <= set(rivers["name_zh"])
    assert rivers.loc[rivers["name_zh"] == "沙河", "name_en"].iloc[0] == "Sha River"
    assert {"river", "canal", "lake", "pond"} <= set(water["kind"])
    assert {"park", "green", "forest", "farmland"} <= set(landuse["kind"])
    assert (landuse["kind"] == "park").sum() > 20
    greenways = landuse.loc[landuse["kind"] == "green", "name_zh"]
    assert "沙河绿道" in set(greenways)
    parks = landuse[landuse["kind"] == "park"]
    assert (
        parks["name_zh"].str.endswith("公园").all() and parks["name_en"].str.endswith(" Park").all()
    )
    sha = to_utm(rivers.loc[rivers["name_zh"] == "沙河"].geometry.to_numpy())[0]
    assert 10_000 < sha.area / 36 < 20_000  # a 36 m wide channel 10-20 km long in Chenghua


def test_basemap_geometry_is_valid_and_inside_the_district(city: DemoCity) -> None:
    outline = level(city.areas, "district").set_index("code").at[CHENGHUA, "geometry"]
    grown = outline.buffer(1e-5)  # a metre: clipped in UTM, then turned into lon/lat
    for frame, kind in ((city.roads, "MultiLineString"), (city.water, "MultiPolygon"),
                        (city.landuse, "MultiPolygon")):  # fmt: skip
        geoms = frame.geometry.to_numpy()
        assert (frame.geom_type == kind).all()
        assert shapely.is_valid(geoms).all() and not shapely.is_empty(geoms).any()
        assert shapely.covered_by(geoms, grown).all()


def test_nothing_is_built_in_the_water_or_on_the_ring_roads(city: DemoCity) -> None:
    buildings = shapely.union_all(to_utm(city.buildings.geometry.to_numpy()))
    rivers = city.water[city.water["kind"].isin(["river", "canal"])]
    assert not shapely.intersects(buildings, shapely.union_all(to_utm(rivers.geometry.to_numpy())))
    rings = city.roads[city.roads["kind"].isin(["motorway", "trunk"])]
    carriageway = shapely.buffer(shapely.union_all(to_utm(rings.geometry.to_numpy())), 20)
    assert not shapely.intersects(buildings, carriageway)


def test_local_roads_stop_at_the_river_and_arterials_bridge_it(city: DemoCity) -> None:
    rivers = city.water[city.water["kind"] == "river"]
    channel = shapely.buffer(shapely.union_all(to_utm(rivers.geometry.to_numpy())), -1.0)
    roads = city.roads.assign(geometry=to_utm(city.roads.geometry.to_numpy()))
    local = roads[roads["kind"].isin(["residential", "tertiary"])]
    assert not shapely.intersects(channel, local.geometry.to_numpy()).any()
    arterial = roads[roads["kind"].isin(["primary", "secondary"])]
    assert shapely.intersects(channel, arterial.geometry.to_numpy()).sum() >= 3


# -- cases --------------------------------------------------------------------------------


def test_cases_have_the_expected_shape_and_volume(cases: pd.DataFrame) -> None:
    assert list(cases.columns) == CASE_COLUMNS
    assert 38_000 <= len(cases) <= 42_000
    assert set(cases["status"]) <= STATUSES
    assert cases["severity"].between(1, 4).all()
    for channel, group in cases.groupby("channel"):
        assert group["external_id"].is_unique
        assert abs(len(group) / len(cases) - CHANNEL_SHARES[channel]) < 0.02
    assert cases["external_id"].str.fullmatch(r"[A-Z]{2,3}-\d{8}-\d{5}").all()
    assert cases["reported_at"].between(END - pd.Timedelta(days=365), END).all()


def test_case_points_lie_inside_the_district(city: DemoCity, cases: pd.DataFrame) -> None:
    outline = level(city.areas, "district").set_index("code").at[CHENGHUA, "geometry"]
    lon, lat = cases["lon"].to_numpy(), cases["lat"].to_numpy()
    assert shapely.contains_xy(outline, lon, lat).all()


def test_case_timestamps_follow_the_workflow(cases: pd.DataFrame) -> None:
    for earlier, later in itertools.pairwise(STAMPS):
        both = cases[earlier].notna() & cases[later].notna()
        assert (cases.loc[both, earlier] <= cases.loc[both, later]).all(), (earlier, later)
    assert (cases[STAMPS].max(axis=1) <= END).all()
    closed = cases["status"] == "closed"
    assert cases.loc[closed, STAMPS].notna().all().all()
    assert cases.loc[cases["status"].isin(OPEN), "closed_at"].isna().all()
    assert cases.loc[closed, "satisfied"].notna().all()
    assert cases.loc[~closed, "satisfied"].isna().all()
    assert 0.88 < cases.loc[closed, "satisfied"].mean() < 0.96


def test_old_cases_are_closed_mostly_on_time(cases: pd.DataFrame) -> None:
    originals = cases[cases["status"] != "merged"]
    old = originals[originals["reported_at"] < END - pd.Timedelta(days=10)]
    assert old["status"].isin(["closed", "rejected"]).mean() > 0.99
    assert 0.02 < (old["status"] == "rejected").mean() < 0.04
    recent = originals[originals["reported_at"] > END - pd.Timedelta(days=2)]
    assert recent["status"].isin(OPEN).any()
    sla = fake_categories().set_index("code")[[f"sla_hours_s{s}" for s in range(1, 5)]]
    closed = originals[originals["status"] == "closed"]
    limit = sla.to_numpy()[sla.index.get_indexer(closed["category_code"]), closed["severity"] - 1]
    hours = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600
    assert 0.83 < (hours <= limit).mean() < 0.92


def test_cases_follow_daily_and_weekly_rhythm(cases: pd.DataFrame) -> None:
    local = cases["reported_at"] + pd.Timedelta(hours=8)
    by_hour = local.dt.hour.value_counts()
    assert by_hour.loc[[9, 10, 15, 16]].min() > 4 * by_hour.loc[[1, 2, 3, 4]].max()
    per_day = local.dt.day_of_week.value_counts() / 52
    assert per_day.loc[[5, 6]].max() < 0.85 * per_day.loc[[0, 1, 2, 3, 4]].min()
    weights = fake_categories().set_index("code")["demo_weight"]
    share = cases["category_code"].value_counts(normalize=True)
    assert (abs(share - weights / weights.sum()) < 0.02).all()


def test_duplicates_point_at_a_nearby_earlier_original(cases: pd.DataFrame) -> None:
    dup = cases[cases["duplicate_of_external_id"].notna()]
    assert (dup["status"] == "merged").all()
    assert (cases.loc[cases["status"] == "merged", "duplicate_of_external_id"].notna()).all()
    assert 0.05 < len(dup) / len(cases) < 0.07
    keyed = cases.set_index(["channel", "external_id"])
    pairs = zip(dup["duplicate_of_channel"], dup["duplicate_of_external_id"], strict=True)
    orig = keyed.loc[list(pairs)]
    assert (orig["duplicate_of_external_id"].isna()).all()
    assert (orig["status"] != "merged").all()
    assert (orig["category_code"].to_numpy() == dup["category_code"].to_numpy()).all()
    assert (orig.index.get_level_values(0) != dup["channel"].to_numpy()).all()
    gap = dup["reported_at"].reset_index(drop=True) - orig["reported_at"].reset_index(drop=True)
    assert gap.between(pd.Timedelta(0), pd.Timedelta(hours=2)).all()
    x0, y0 = lonlat_to_xy(orig["lon"].to_numpy(), orig["lat"].to_numpy())
    x1, y1 = lonlat_to_xy(dup["lon"].to_numpy(), dup["lat"].to_numpy())
    assert np.hypot(x1 - x0, y1 - y0).max() <= 80


def test_reporters_only_on_citizen_channels(cases: pd.DataFrame) -> None:
    phone = cases["reporter_phone"]
    citizen = cases["channel"].isin(REPORTER_CHANNELS)
    assert phone[~citizen].isna().all()
    assert phone[citizen].notna().mean() > 0.9
    assert phone.dropna().str.fullmatch(r"1\d{10}").all()
    by_worker = cases.loc[cases["channel"] == "grid_worker", "reporter_name"]
    assert by_worker.notna().mean() > 0.99
    machine = cases["channel"].isin(["iot_sensor", "video_ai"])
    assert cases.loc[machine, "reporter_name"].isna().all()
    described = cases["description"]
    assert described.str.contains("附近").all()
    assert described.str.contains("占道经营").any()


def test_categories_without_required_columns_are_refused(city: DemoCity) -> None:
    with pytest.raises(ValueError, match="sla_hours_s4"):
        generate_cases(city, fake_categories().drop(columns="sla_hours_s4"), END)


@pytest.mark.slow
def test_city_scale_details_every_district_and_keeps_chenghua(city: DemoCity) -> None:
    full = generate_city("city")
    streets = level(full.areas, "street")
    assert streets["parent_code"].nunique() == 20
    chenghua = full.areas[full.areas["code"].str.startswith(CHENGHUA)]
    mine = city.areas[city.areas["code"].str.startswith(CHENGHUA)]
    assert chenghua["code"].tolist() == mine["code"].tolist()
    assert full.stats()["grid"] > 15 * city.stats()["grid"]
