"""The map's queries on the demo city, checked against independent SQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import h3
import pytest
from sqlalchemy import Connection, event, text

from geo_data import views
from geo_data.views import AreaInfo
from tests.conftest import DEMO_END

# Open as of the demo's end: cases other tests post later (dated after it) do not exist
# yet from the views' point of view ("now" is DEMO_END).
OPEN = f"status NOT IN ('closed', 'rejected', 'merged') AND reported_at <= '{DEMO_END.isoformat()}'"


def area(conn: Connection, code: str) -> AreaInfo:
    found = views.area_info(conn, code)
    assert found is not None, code
    return found


def first_code(conn: Connection, level: str, where: str = "true") -> str:
    return conn.execute(
        text(f"SELECT code FROM areas WHERE level = :level AND {where} ORDER BY code LIMIT 1"),
        {"level": level},
    ).scalar_one()


def busiest(conn: Connection, level: str) -> str:
    """The area of ``level`` with the most cases (so figures are not trivially zero)."""
    return conn.execute(
        text(
            f"""
            SELECT a.code FROM areas a JOIN cases c ON c.{level}_id = a.id
            GROUP BY a.code ORDER BY count(*) DESC, a.code LIMIT 1
            """
        )
    ).scalar_one()


def positions(coordinates: list) -> int:
    """How many coordinate pairs a GeoJSON coordinates array holds."""
    if coordinates and isinstance(coordinates[0], int | float):
        return 1
    return sum(positions(c) for c in coordinates)


def to_signed(cell: str) -> int:
    value = h3.str_to_int(cell)
    return value - (1 << 64) if value >= 1 << 63 else value


def test_area_info_gives_the_chain_from_the_city_down(demo: Connection) -> None:
    code = busiest(demo, "courtyard")
    yard = area(demo, code)
    assert yard.level == "courtyard"
    assert [ref.level for ref in yard.chain] == [
        "city",
        "district",
        "street",
        "community",
        "grid",
        "courtyard",
    ]
    assert yard.chain[0].code == "510100" and yard.chain[1].code == "510108"
    assert yard.chain[-1].code == code
    for parent, child in zip(yard.chain, yard.chain[1:], strict=False):
        assert child.code.startswith(parent.code) or parent.level == "city"
    west, south, east, north = yard.bbox
    assert west < yard.centre[0] < east and south < yard.centre[1] < north


def test_unknown_area_code_is_none_or_a_clear_error(demo: Connection) -> None:
    assert views.area_info(demo, "999999") is None
    with pytest.raises(views.UnknownAreaError, match="999999"):
        views.require_area(demo, "999999")


def test_default_area_is_chenghua(demo: Connection) -> None:
    assert views.default_area_code(demo) == "510108"
    assert views.default_area_code(demo, preferred="nowhere") == "510100"  # the topmost


@pytest.mark.parametrize(
    ("level", "expected"),
    [("city", 20), ("district", 14)],
)
def test_children_of_the_top_levels(demo: Connection, level: str, expected: int) -> None:
    code = {"city": "510100", "district": "510108"}[level]
    frame = views.child_areas(demo, area(demo, code), now=DEMO_END)
    assert len(frame) == expected
    assert frame["level"].unique().tolist() == [views.CHILD_LEVEL[level]]


def test_children_at_every_level_match_the_parent_links(demo: Connection) -> None:
    streets = views.child_areas(demo, area(demo, "510108"), now=DEMO_END)
    communities = sum(
        len(views.child_areas(demo, area(demo, code), now=DEMO_END)) for code in streets["code"]
    )
    assert communities == 110
    for level in ("community", "grid"):
        code = busiest(demo, level)
        expected = demo.execute(
            text(
                "SELECT count(*) FROM areas "
                "WHERE parent_id = (SELECT id FROM areas WHERE code = :c)"
            ),
            {"c": code},
        ).scalar_one()
        frame = views.child_areas(demo, area(demo, code), now=DEMO_END)
        assert len(frame) == expected
        assert all(c.startswith(code) for c in frame["code"])
    yard = views.child_areas(demo, area(demo, busiest(demo, "courtyard")), now=DEMO_END)
    assert yard.empty and list(yard.columns) == views.CHILD_COLUMNS


def test_child_geometry_is_simplified_geojson(demo: Connection) -> None:
    frame = views.child_areas(demo, area(demo, "510108"), now=DEMO_END)
    text_ = json.dumps(frame["geometry"].tolist())
    assert {g["type"] for g in frame["geometry"]} <= {"Polygon", "MultiPolygon"}
    decimals = [len(d) for d in re.findall(r"\d+\.(\d+)", text_)]
    assert decimals and max(decimals) <= views.GEOJSON_DIGITS["street"]
    stored = demo.execute(
        text("SELECT sum(ST_NPoints(geom)) FROM areas WHERE parent_id = :id"),
        {"id": area(demo, "510108").id},
    ).scalar_one()
    assert sum(positions(g["coordinates"]) for g in frame["geometry"]) <= stored


def test_child_figures_equal_a_direct_count(demo: Connection) -> None:
    frame = views.child_areas(demo, area(demo, "510108"), "overdue", "7d", now=DEMO_END)
    expected = {
        code: (open_, overdue, week, pop)
        for code, open_, overdue, week, pop in demo.execute(
            text(
                f"""
                SELECT s.code,
                  (SELECT count(*) FROM cases c WHERE c.street_id = s.id AND c.{OPEN}),
                  (SELECT count(*) FROM cases c WHERE c.street_id = s.id AND c.{OPEN}
                     AND c.due_at < :now),
                  (SELECT count(*) FROM cases c WHERE c.street_id = s.id
                     AND c.status <> 'merged' AND c.reported_at > :week AND c.reported_at <= :now),
                  s.population
                FROM areas s WHERE s.parent_id = (SELECT id FROM areas WHERE code = '510108')
                """
            ),
            {"now": DEMO_END, "week": DEMO_END - timedelta(days=7)},
        )
    }
    got = {
        row.code: (row.open, row.overdue, row.in_window, row.population)
        for row in frame.itertuples()
    }
    assert got == expected
    assert sum(v[0] for v in got.values()) > 0 and sum(v[1] for v in got.values()) > 0
    assert frame["value"].tolist() == frame["overdue"].tolist()
    for row in frame.itertuples():
        assert row.per_1000 == pytest.approx(row.in_window * 1000 / row.population, abs=1e-3)


def test_unknown_metric_or_window_is_refused(demo: Connection) -> None:
    district = area(demo, "510108")
    with pytest.raises(ValueError, match="metric"):
        views.child_areas(demo, district, "busiest", now=DEMO_END)
    with pytest.raises(ValueError, match="window"):
        views.hex_density(demo, district, window="1y", now=DEMO_END)


def test_boundaries_are_read_once_per_area(demo: Connection) -> None:
    district = area(demo, "510108")
    views.child_areas(demo, district, now=DEMO_END)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(demo.engine, "before_cursor_execute", record)
    try:
        again = views.child_areas(demo, district, now=DEMO_END)
    finally:
        event.remove(demo.engine, "before_cursor_execute", record)
    assert len(again) == 14
    assert statements and not any("ST_AsGeoJSON" in s for s in statements)


@pytest.mark.parametrize("window", ["live", "24h", "7d", "30d"])
def test_hex_counts_equal_a_direct_count(demo: Connection, window: str) -> None:
    district = area(demo, "510108")
    frame = views.hex_density(demo, district, window=window, now=DEMO_END)
    if window == "live":
        where, params = f"{OPEN}", {}
    else:
        where = "status <> 'merged' AND reported_at > :since AND reported_at <= :now"
        params = {"since": DEMO_END - views.WINDOWS[window], "now": DEMO_END}
    total = demo.execute(
        text(f"SELECT count(*) FROM cases WHERE district_id = :id AND {where}"),
        {"id": district.id, **params},
    ).scalar_one()
    assert total > 0
    assert frame["count"].sum() == total
    assert frame["h3"].is_unique
    assert {h3.get_resolution(c) for c in frame["h3"]} == {8}
    top = frame.iloc[0]
    in_top = demo.execute(
        text(f"SELECT count(*) FROM cases WHERE h3_r8 = :cell AND district_id = :id AND {where}"),
        {"cell": to_signed(top["h3"]), "id": district.id, **params},
    ).scalar_one()
    assert top["count"] == in_top == frame["count"].max()


def test_a_city_draws_resolution_6_hexagons_rolled_up_from_7(demo: Connection) -> None:
    code = demo.execute(text("SELECT code FROM areas WHERE level = 'city'")).scalar_one()
    city = area(demo, code)
    frame = views.hex_density(demo, city, window="30d", now=DEMO_END)
    assert {h3.get_resolution(c) for c in frame["h3"]} == {6}
    fine = views.hex_density(demo, city, resolution=7, window="30d", now=DEMO_END)
    assert len(frame) < len(fine)
    assert frame["count"].sum() == fine["count"].sum()
    parents: dict[str, int] = {}
    for cell, n in zip(fine["h3"], fine["count"], strict=True):
        parent = h3.cell_to_parent(cell, 6)
        parents[parent] = parents.get(parent, 0) + n
    assert dict(zip(frame["h3"], frame["count"], strict=True)) == parents
    assert list(frame["count"]) == sorted(frame["count"], reverse=True)
    with pytest.raises(ValueError, match="not drawn"):
        views.hex_density(demo, city, resolution=5)


@pytest.mark.parametrize("level", ["street", "community", "grid", "courtyard"])
def test_hex_resolution_follows_the_level(demo: Connection, level: str) -> None:
    where = area(demo, busiest(demo, level))
    frame = views.hex_density(demo, where, window="30d", now=DEMO_END)
    assert not frame.empty
    assert {h3.get_resolution(c) for c in frame["h3"]} == {views.HEX_RESOLUTION[level]}
    direct = demo.execute(
        text(
            f"SELECT count(*) FROM cases WHERE {level}_id = :id AND status <> 'merged' "
            "AND reported_at > :since AND reported_at <= :now"
        ),
        {"id": where.id, "since": DEMO_END - timedelta(days=30), "now": DEMO_END},
    ).scalar_one()
    assert frame["count"].sum() == direct


def test_city_counts_are_the_sum_of_its_districts(demo: Connection) -> None:
    city = views.hex_density(demo, area(demo, "510100"), window="30d", now=DEMO_END)
    district = views.hex_density(demo, area(demo, "510108"), 6, window="30d", now=DEMO_END)
    assert sorted(zip(city["h3"], city["count"], strict=True)) == sorted(
        zip(district["h3"], district["count"], strict=True)
    )


def test_area_figures_equal_independent_sql(demo: Connection) -> None:
    district = area(demo, "510108")
    figures = views.area_figures(demo, district, DEMO_END)
    since = DEMO_END - timedelta(days=30)
    rows = demo.execute(
        text(
            "SELECT status, reported_at, due_at, closed_at, category_code FROM cases "
            "WHERE district_id = :id AND reported_at <= :now"
        ),
        {"id": district.id, "now": DEMO_END},
    ).all()
    open_ = [r for r in rows if r.status not in ("closed", "rejected", "merged")]
    received = [
        r
        for r in rows
        if since < r.reported_at <= DEMO_END and r.status not in ("merged", "rejected")
    ]
    closed = [r for r in received if r.status == "closed"]
    on_time = [r for r in closed if r.closed_at <= r.due_at]
    assert figures["open"] == len(open_) > 0
    assert figures["overdue"] == sum(r.due_at < DEMO_END for r in open_) > 0
    assert figures["closure_rate"] == pytest.approx(len(closed) / len(received), abs=1e-4)
    assert figures["on_time_rate"] == pytest.approx(len(on_time) / len(closed), abs=1e-4)
    assert 0 < figures["on_time_rate"] < 1
    local_midnight = demo.execute(
        text(
            "SELECT date_trunc('day', :now AT TIME ZONE 'Asia/Shanghai') "
            "AT TIME ZONE 'Asia/Shanghai'"
        ),
        {"now": DEMO_END},
    ).scalar_one()
    assert figures["new_today"] == sum(
        local_midnight <= r.reported_at <= DEMO_END and r.status != "merged" for r in rows
    )
    counts: dict[str, int] = {}
    for r in rows:
        if since < r.reported_at <= DEMO_END and r.status != "merged":
            counts[r.category_code] = counts.get(r.category_code, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [(c["code"], c["count"]) for c in figures["top_categories"]] == top
    assert all(c["name_zh"] and c["name_en"] for c in figures["top_categories"])


def test_figures_depend_on_now_not_the_clock(demo: Connection) -> None:
    district = area(demo, "510108")
    earlier = views.area_figures(demo, district, DEMO_END - timedelta(days=60))
    later = views.area_figures(demo, district, DEMO_END)
    assert earlier != later
    assert views.area_figures(demo, district, DEMO_END) == later


def test_open_incidents_carry_what_the_hover_shows(demo: Connection) -> None:
    district = area(demo, "510108")
    frame = views.open_incidents(demo, district, now=DEMO_END)
    direct = demo.execute(
        text(f"SELECT count(*) FROM cases WHERE district_id = :id AND {OPEN}"), {"id": district.id}
    ).scalar_one()
    assert len(frame) == direct == frame["total"].iloc[0]
    assert frame["severity"].is_monotonic_increasing
    assert (frame["overdue"] == (frame["due_at"] < DEMO_END)).all()
    assert frame["overdue"].any() and not frame["overdue"].all()
    assert frame["assignee"].notna().any()
    gathered = dict(
        demo.execute(
            text(f"SELECT id, report_count FROM cases WHERE district_id = :id AND {OPEN}"),
            {"id": district.id},
        ).all()
    )
    assert dict(zip(frame["id"], frame["report_count"], strict=True)) == gathered
    assert max(gathered.values()) >= 2  # some open case gathered repeat reports
    assert (frame["age_hours"] >= 0).all()
    assert frame["category_zh"].notna().all()
    limited = views.open_incidents(demo, district, now=DEMO_END, limit=5)
    assert len(limited) == 5 and limited["total"].iloc[0] == direct
    assert limited["id"].tolist() == frame["id"].head(5).tolist()


def test_worker_phones_are_masked_in_sql(demo: Connection) -> None:
    street = area(demo, busiest(demo, "street"))
    frame = views.workers_in(demo, street)
    assert "count" not in frame.columns and len(frame) > 100
    phones = frame["phone"].dropna()
    assert len(phones) and phones.map(lambda p: bool(re.fullmatch(r"\d{3}\*{4}\d{4}", p))).all()
    full = {
        p
        for (p,) in demo.execute(
            text("SELECT phone FROM workers WHERE street_id = :id"), {"id": street.id}
        )
    }
    assert not full & set(phones)


def test_workers_are_grouped_per_community_above_max_points(demo: Connection) -> None:
    district = area(demo, "510108")
    frame = views.workers_in(demo, district, max_points=2000)
    assert len(frame) == 110
    total = demo.execute(
        text("SELECT count(*) FROM workers WHERE district_id = :id AND geom IS NOT NULL"),
        {"id": district.id},
    ).scalar_one()
    assert frame["count"].sum() == total
    assert (
        frame[["available", "en_route", "on_site", "off_duty"]].sum(axis=1) == frame["count"]
    ).all()
    assert "phone" not in frame.columns


def test_cameras_are_points_or_hexagons_by_tier_and_status(demo: Connection) -> None:
    district = area(demo, "510108")
    grouped = views.cameras_in(demo, district, max_points=3000)
    assert "h3" in grouped.columns
    assert grouped["count"].sum() == 5000
    assert (grouped[["online", "offline", "fault"]].sum(axis=1) == grouped["count"]).all()
    tiers = [c for c in grouped.columns if c.startswith("tier_")]
    assert (grouped[tiers].sum(axis=1) == grouped["count"]).all()
    street = area(demo, busiest(demo, "street"))
    points = views.cameras_in(demo, street)
    direct = demo.execute(
        text("SELECT count(*) FROM cameras WHERE street_id = :id"), {"id": street.id}
    ).scalar_one()
    assert len(points) == direct and set(points.columns) == set(views.CAMERA_COLUMNS)
    assert "h3" in views.cameras_in(demo, street, max_points=10).columns


def test_buildings_from_community_level_with_courtyard_names(demo: Connection) -> None:
    assert views.buildings_in(demo, area(demo, "510108")).empty
    community = area(demo, busiest(demo, "community"))
    frame = views.buildings_in(demo, community)
    direct = demo.execute(
        text("SELECT count(*), count(courtyard_id) FROM buildings WHERE community_id = :id"),
        {"id": community.id},
    ).one()
    assert len(frame) == direct[0] and frame["courtyard_zh"].notna().sum() == direct[1]
    assert frame["geometry"].map(lambda g: g["type"]).isin(["Polygon", "MultiPolygon"]).all()


def test_a_hexagon_leads_to_the_child_covering_it(demo: Connection) -> None:
    district = area(demo, "510108")
    cells = views.hex_density(demo, district, window="30d", now=DEMO_END)["h3"]
    for cell in cells.head(10):
        code = views.child_at_cell(demo, district, cell)
        assert code is not None and code.startswith("510108") and len(code) == 9
    lat, lng = h3.cell_to_latlng(cells.iloc[0])
    inside = demo.execute(
        text(
            "SELECT code FROM areas WHERE parent_id = :id "
            "AND ST_Contains(geom, ST_SetSRID(ST_Point(:lng, :lat), 4326))"
        ),
        {"id": district.id, "lng": lng, "lat": lat},
    ).scalar_one()
    assert views.child_at_cell(demo, district, cells.iloc[0]) == inside
    assert views.child_at_cell(demo, district, "not-a-cell") is None
