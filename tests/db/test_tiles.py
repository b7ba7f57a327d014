"""Vector tiles on the demo city: what each layer's tiles hold (decoded), who sees what,
the cache and its invalidation, ETag/304, gzip, refusals and TileJSON."""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app import tile_cache as tile_cache_module
from app import tiles as tiles_module
from app.settings import Settings
from geo_data import tiles as tile_layers
from geo_data.actors import system_actor
from geo_data.db import make_engine
from geo_data.loaders import load_buildings
from geo_data.tiles import EXTENT, LAYERS, area_levels, tile_bounds, tile_of, tiles_covering
from tests.conftest import TEST_PASSWORD
from tests.support import new_case

ROLES = ("operator", "supervisor", "community", "leader", "admin")
SUPERVISORS = ("supervisor", "community")
LOCATED = {"buildings": "buildings", "cameras": "cameras", "workers": "workers", "cases": "cases"}
BASEMAP = ("roads", "water", "landuse")
TEST_ROAD = "瓦片测试主路"
OUTSIDE_ROAD = "瓦片测试外路"


# -- fixtures ---------------------------------------------------------------------------


def make_client(settings: Settings, engine: Engine, state_dir: Path) -> FlaskClient:
    """A client of a fresh app whose tile cache lives in ``state_dir``."""
    app = create_app(settings.model_copy(update={"state_dir": state_dir}), engine=engine)
    return app.server.test_client()


@pytest.fixture(scope="module")
def client(
    settings: Settings,
    demo_engine: Engine,
    demo_users: dict,
    basemap: dict,
    tmp_path_factory: pytest.TempPathFactory,
) -> FlaskClient:
    return make_client(settings, demo_engine, tmp_path_factory.mktemp("tiles"))


@pytest.fixture
def fresh(
    settings: Settings, demo_engine: Engine, demo_users: dict, basemap: dict, tmp_path: Path
) -> FlaskClient:
    """A client with an empty tile cache (for the cache tests)."""
    return make_client(settings, demo_engine, tmp_path / "state")


BASEMAP_DDL = """
CREATE TABLE roads (id bigserial PRIMARY KEY, kind text, name_zh text, name_en text,
                    geom geometry(MultiLineString, 4326));
CREATE TABLE water (id bigserial PRIMARY KEY, kind text, name_zh text, name_en text,
                    geom geometry(MultiPolygon, 4326));
CREATE TABLE landuse (id bigserial PRIMARY KEY, kind text, name_zh text, name_en text,
                      geom geometry(MultiPolygon, 4326));
CREATE INDEX ON roads USING gist (geom);
CREATE INDEX ON water USING gist (geom);
CREATE INDEX ON landuse USING gist (geom);
"""


@pytest.fixture(scope="module")
def basemap(demo_engine: Engine, demo_users: dict) -> Iterator[dict[str, Any]]:
    """Known basemap features around the street supervisor's street: a primary road from
    inside it into the community supervisor's street, and per layer one feature inside
    the street and one wholly in the other street. The tables are made here only when
    migration 0007 has not made them; the rows are removed afterwards."""
    inside = _label_point(demo_engine, demo_users["supervisor"].area_id)
    outside = _label_point(demo_engine, demo_users["community"].area_id)
    ix, iy = inside
    ox, oy = outside
    near_in = shapely.box(ix + 0.0002, iy + 0.0002, ix + 0.0012, iy + 0.0012)
    near_out = shapely.box(ox + 0.0002, oy + 0.0002, ox + 0.0012, oy + 0.0012)
    created = False
    ids: dict[str, dict[str, int]] = {}
    with demo_engine.begin() as conn:
        if conn.execute(text("SELECT to_regclass('roads') IS NULL")).scalar():
            conn.execute(text(BASEMAP_DDL))
            created = True
        ids["roads"] = {
            "crossing": _insert(
                conn, "roads", "primary", TEST_ROAD, shapely.LineString([inside, outside])
            ),
            "inside": _insert(conn, "roads", "residential", "瓦片测试内路",
                              shapely.LineString([(ix, iy), (ix + 0.0005, iy + 0.0003)])),
            "outside": _insert(conn, "roads", "residential", OUTSIDE_ROAD,
                               shapely.LineString([(ox, oy), (ox + 0.0005, oy + 0.0003)])),
        }  # fmt: skip
        ids["water"] = {
            "inside": _insert(conn, "water", "lake", "瓦片测试湖", near_in),
            "outside": _insert(conn, "water", "lake", "瓦片测试外湖", near_out),
        }
        ids["landuse"] = {
            "inside": _insert(conn, "landuse", "park", "瓦片测试公园", near_in),
            "outside": _insert(conn, "landuse", "park", "瓦片测试外公园", near_out),
        }
    yield {"inside": inside, "outside": outside, "ids": ids}
    with demo_engine.begin() as conn:
        if created:
            conn.execute(text("DROP TABLE roads, water, landuse"))
        else:
            for table, rows in ids.items():
                conn.execute(
                    text(f"DELETE FROM {table} WHERE id = ANY(:i)"), {"i": list(rows.values())}
                )


def _label_point(engine: Engine, area_id: int) -> tuple[float, float]:
    with engine.connect() as conn:
        x, y = conn.execute(
            text("SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE id = :i"),
            {"i": area_id},
        ).one()
    return float(x), float(y)


def _insert(conn: Any, table: str, kind: str, name: str, geom: shapely.Geometry) -> int:
    return conn.execute(
        text(
            f"INSERT INTO {table} (kind, name_zh, name_en, geom)"
            " VALUES (:k, :n, :n, ST_Multi(ST_GeomFromText(:g, 4326))) RETURNING id"
        ),
        {"k": kind, "n": name, "g": geom.wkt},
    ).scalar_one()


# -- helpers ----------------------------------------------------------------------------


def get_tile(
    client: FlaskClient, headers: dict, layer: str, z: int, x: int, y: int, **extra: str
) -> Any:
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", headers={**headers, **extra})


def decoded(response: Any, layer: str) -> list[dict[str, Any]]:
    """The features of ``layer`` in a 200 answer (tile coordinates, y down)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    if not body:
        return []
    tile = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    assert set(tile) <= {layer}
    return tile.get(layer, {"features": []})["features"]


def features_at(
    client: FlaskClient, headers: dict, layer: str, lon: float, lat: float, z: int
) -> list[dict[str, Any]]:
    x, y = tile_of(lon, lat, z)
    return decoded(get_tile(client, headers, layer, z, x, y), layer)


def ids_of(features: list[dict[str, Any]]) -> set[int]:
    return {f["id"] for f in features}


def point_of(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().first()


def outside_ids(engine: Engine, table: str, ids: set[int], area_id: int) -> list[int]:
    """Those of ``ids`` in ``table`` that do not lie in area ``area_id``."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT id FROM {table} WHERE id = ANY(:ids)"
                    " AND :a NOT IN (coalesce(street_id, 0), coalesce(community_id, 0))"
                ),
                {"ids": list(ids), "a": area_id},
            ).scalars()
        )


# -- content ----------------------------------------------------------------------------


def test_areas_pick_the_level_by_zoom(client: FlaskClient, bearer: Callable) -> None:
    lon, lat = 104.1511, 30.6837  # inside Chenghua
    district = features_at(client, bearer("operator"), "areas", lon, lat, 10)
    chenghua = [f for f in district if f["properties"]["code"] == "510108"]
    assert len(chenghua) == 1
    assert chenghua[0]["properties"] == {
        "code": "510108",
        "level": "district",
        "name_zh": "成华区",
        "name_en": chenghua[0]["properties"]["name_en"],
    }
    assert "Chenghua" in chenghua[0]["properties"]["name_en"]
    assert chenghua[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    for z in (12, 14, 15, 16):
        levels = {f["properties"]["level"] for f in features_at(
            client, bearer("operator"), "areas", lon, lat, z)}  # fmt: skip
        assert levels and levels <= set(area_levels(z)), (z, levels)


def test_buildings_cameras_and_cases_carry_their_fields(
    client: FlaskClient, bearer: Callable, demo_engine: Engine
) -> None:
    building = point_of(
        demo_engine,
        "SELECT id, code, floors, ST_X(ST_PointOnSurface(geom)) AS lon,"
        " ST_Y(ST_PointOnSurface(geom)) AS lat FROM buildings ORDER BY id LIMIT 1",
    )
    found = [f for f in features_at(client, bearer("operator"), "buildings",
                                    building["lon"], building["lat"], 16)
             if f["id"] == building["id"]]  # fmt: skip
    assert len(found) == 1
    assert found[0]["properties"]["code"] == building["code"]
    assert set(found[0]["properties"]) <= {"code", "name_zh", "name_en", "floors", "use"}

    camera = point_of(
        demo_engine,
        "SELECT id, code, tier, status, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cameras"
        " WHERE status = 'fault' ORDER BY id LIMIT 1",
    )
    found = [f for f in features_at(client, bearer("operator"), "cameras",
                                    camera["lon"], camera["lat"], 16)
             if f["id"] == camera["id"]]  # fmt: skip
    assert found and found[0]["properties"]["tier"] == camera["tier"]
    assert found[0]["properties"]["status"] == "fault"
    assert found[0]["geometry"]["type"] == "Point"


def test_cases_hold_open_cases_without_reporters(
    client: FlaskClient, bearer: Callable, demo_engine: Engine
) -> None:
    with demo_engine.begin() as conn:
        case_id = new_case(conn, street_id=None)
    case = point_of(
        demo_engine,
        "SELECT id, severity, status, category_code, due_at < now() AS overdue,"
        " ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cases WHERE id = :i",
        i=case_id,
    )
    found = [f for f in features_at(client, bearer("operator"), "cases",
                                    case["lon"], case["lat"], 16)
             if f["id"] == case_id]  # fmt: skip
    assert len(found) == 1
    assert found[0]["properties"] == {
        "id": case_id,
        "severity": case["severity"],
        "status": "reported",
        "overdue": case["overdue"],
        "category": case["category_code"],
    }
    closed = point_of(
        demo_engine,
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cases"
        " WHERE status = 'closed' ORDER BY id LIMIT 1",
    )
    assert closed["id"] not in ids_of(
        features_at(client, bearer("operator"), "cases", closed["lon"], closed["lat"], 16)
    )
    x, y = tile_of(case["lon"], case["lat"], 16)
    raw = get_tile(client, bearer("operator"), "cases", 16, x, y).get_data()
    assert b"13812345678" not in raw and "王小明".encode() not in raw
    assert b"reporter" not in raw


@pytest.mark.parametrize("role", ROLES)
def test_worker_names_and_phones_only_for_dispatching_roles(
    client: FlaskClient, bearer: Callable, demo_engine: Engine, demo_users: dict, role: str
) -> None:
    area_id = demo_users[role].area_id
    worker = point_of(
        demo_engine,
        "SELECT id, name_zh, phone, status, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM workers"
        " WHERE phone IS NOT NULL AND geom IS NOT NULL"
        " AND (CAST(:a AS integer) IS NULL OR :a IN (street_id, community_id))"
        " ORDER BY id LIMIT 1",
        a=area_id,
    )
    x, y = tile_of(worker["lon"], worker["lat"], 16)
    response = get_tile(client, bearer(role), "workers", 16, x, y)
    found = [f for f in decoded(response, "workers") if f["id"] == worker["id"]]
    assert len(found) == 1
    props = found[0]["properties"]
    assert props["status"] == worker["status"]
    if role in ("operator", "supervisor", "community"):
        assert props["name_zh"] == worker["name_zh"] and props["phone"] == worker["phone"]
    else:
        assert "name_zh" not in props and "phone" not in props
        assert worker["phone"].encode() not in response.get_data()
        assert b"phone" not in response.get_data()  # not even as a key of the layer


def test_upper_tiers_only_below_zoom_14(client: FlaskClient, bearer: Callable) -> None:
    lon, lat = 104.1511, 30.6837
    for z, workers, cameras in (
        (12, {1}, {"district", "street"}),
        (13, {1, 2}, {"district", "street", "community"}),
        (14, {1, 2, 3}, {"district", "street", "community", "courtyard"}),
    ):
        seen = {
            f["properties"]["tier"]
            for f in features_at(client, bearer("operator"), "workers", lon, lat, z)
        }
        assert seen == workers, z
        seen = {
            f["properties"]["tier"]
            for f in features_at(client, bearer("operator"), "cameras", lon, lat, z)
        }
        assert seen == cameras, z  # fmt: skip


def test_basemap_layers_hold_their_features(
    client: FlaskClient, bearer: Callable, basemap: dict
) -> None:
    lon, lat = basemap["inside"]
    ids = basemap["ids"]
    roads = features_at(client, bearer("operator"), "roads", lon, lat, 14)
    road = [f for f in roads if f["id"] == ids["roads"]["crossing"]]
    assert road and road[0]["properties"] == {
        "kind": "primary", "name_zh": TEST_ROAD, "name_en": TEST_ROAD}  # fmt: skip
    assert road[0]["geometry"]["type"] in ("LineString", "MultiLineString")
    for layer in ("water", "landuse"):
        found = features_at(client, bearer("operator"), layer, lon, lat, 16)
        assert ids[layer]["inside"] in ids_of(found)
        assert {f["geometry"]["type"] for f in found} <= {"Polygon", "MultiPolygon"}
    # Residential roads are drawn from zoom 14 only; the primary road from 11.
    ox, oy = basemap["outside"]
    at_12 = ids_of(features_at(client, bearer("operator"), "roads", ox, oy, 12))
    assert ids["roads"]["crossing"] in at_12 and ids["roads"]["outside"] not in at_12
    at_15 = ids_of(features_at(client, bearer("operator"), "roads", ox, oy, 15))
    assert ids["roads"]["outside"] in at_15


def test_an_empty_tile_is_an_empty_body(client: FlaskClient, bearer: Callable) -> None:
    response = get_tile(client, bearer("operator"), "cases", 10, 0, 0)
    assert response.status_code == 200 and response.get_data() == b""
    assert response.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"


# -- who sees what ----------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["areas", *LOCATED])
@pytest.mark.parametrize("role", SUPERVISORS)
def test_supervisor_tiles_hold_only_their_area(
    client: FlaskClient,
    bearer: Callable,
    demo_engine: Engine,
    demo_users: dict,
    role: str,
    layer: str,
) -> None:
    area_id = demo_users[role].area_id
    other = demo_users["community" if role == "supervisor" else "supervisor"].area_id
    spec = LAYERS[layer]
    table = LOCATED.get(layer, "areas")
    with demo_engine.connect() as conn:
        west, south, east, north = conn.execute(
            text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)"
                 " FROM areas WHERE id = :i"), {"i": area_id}).one()  # fmt: skip
    z = max(spec.minzoom, 14)
    seen: set[int] = set()
    x0, y0 = tile_of(west, north, z)
    x1, y1 = tile_of(east, south, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            seen |= ids_of(decoded(get_tile(client, bearer(role), layer, z, x, y), layer))
    assert seen, f"{role} sees no {layer} in their own area"
    assert outside_ids(demo_engine, table, seen, area_id) == []
    # A tile at a feature of the other supervisor's area holds nothing of it, at any zoom.
    ox, oy = _feature_in(demo_engine, table, other)
    for z in range(spec.minzoom, spec.maxzoom + 1, 2):
        got = ids_of(features_at(client, bearer(role), layer, ox, oy, z))
        assert outside_ids(demo_engine, table, got, area_id) == [], (layer, z)
    operator_sees = ids_of(features_at(client, bearer("operator"), layer, ox, oy, spec.maxzoom))
    assert outside_ids(demo_engine, table, operator_sees, area_id), "the check proves nothing"


def _feature_in(engine: Engine, table: str, area_id: int) -> tuple[float, float]:
    """A point of a feature of ``table`` in area ``area_id`` (an open case for cases)."""
    if table == "areas":
        return _label_point(engine, area_id)
    where = f" AND {tile_layers.OPEN_SQL}" if table == "cases" else ""
    with engine.begin() as conn:
        if (
            table == "cases"
            and not conn.execute(
                text(f"SELECT 1 FROM cases WHERE :a IN (street_id, community_id){where}"),
                {"a": area_id},
            ).first()
        ):
            level = conn.execute(
                text("SELECT level FROM areas WHERE id = :a"), {"a": area_id}
            ).scalar()
            new_case(conn, **{f"{level}_id": area_id})
        x, y = conn.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))"
                f" FROM {table} WHERE :a IN (street_id, community_id) AND geom IS NOT NULL"
                f"{where} ORDER BY id LIMIT 1"
            ),
            {"a": area_id},
        ).one()
    return float(x), float(y)


def test_supervisor_sees_their_street_where_the_district_would_be(
    client: FlaskClient, bearer: Callable, demo_engine: Engine, demo_users: dict
) -> None:
    lon, lat = _label_point(demo_engine, demo_users["supervisor"].area_id)
    found = features_at(client, bearer("supervisor"), "areas", lon, lat, 10)
    assert [f["properties"]["code"] for f in found] == [demo_users["supervisor"].area_code]


def _touches_area(engine: Engine, area_id: int, z: int, x: int, y: int) -> bool:
    """Whether tile z/x/y (with its buffer) meets the area's outline."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT ST_Intersects(geom, ST_Transform(ST_TileEnvelope(:z, :x, :y,"
                    " margin => 0.02), 4326)) FROM areas WHERE id = :a"
                ),
                {"z": z, "x": x, "y": y, "a": area_id},
            ).scalar()
        )


@pytest.mark.parametrize("layer", BASEMAP)
def test_supervisor_basemap_is_clipped_to_their_area(
    client: FlaskClient,
    bearer: Callable,
    demo_engine: Engine,
    demo_users: dict,
    basemap: dict,
    layer: str,
) -> None:
    area_id = demo_users["supervisor"].area_id
    ids = basemap["ids"][layer]
    ix, iy = basemap["inside"]
    ox, oy = basemap["outside"]
    spec = LAYERS[layer]
    for z in range(spec.minzoom, spec.maxzoom + 1):
        x, y = tile_of(ox, oy, z)
        got = ids_of(decoded(get_tile(client, bearer("supervisor"), layer, z, x, y), layer))
        assert ids["outside"] not in got, z
        if not _touches_area(demo_engine, area_id, z, x, y):
            # The crossing road reaches this tile, but not its part in the street.
            assert got == set(), z
    assert ids["inside"] in ids_of(features_at(client, bearer("supervisor"), layer, ix, iy, 16))
    if layer != "roads":
        return
    with demo_engine.connect() as conn:
        outline = shapely.from_wkb(bytes(conn.execute(
            text("SELECT ST_AsBinary(ST_Transform(geom, 3857)) FROM areas WHERE id = :i"),
            {"i": area_id}).scalar()))  # fmt: skip
    z = 12  # one tile holds the road in both streets
    x, y = tile_of(ix, iy, z)
    grid = 2 * 20037508.342789 / 2**z / EXTENT  # one unit of the tile's grid, in metres

    def road_off_outline(role: str) -> float:
        """How far the crossing road, as ``role`` gets it, strays from the street."""
        tile = decoded(get_tile(client, bearer(role), "roads", z, x, y), "roads")
        (road,) = [f for f in tile if f["id"] == ids["crossing"]]
        coords = road["geometry"]["coordinates"]
        lines = [coords] if road["geometry"]["type"] == "LineString" else coords
        return max(
            outline.distance(
                shapely.Point(
                    -20037508.342789 + (x * EXTENT + px) * grid,
                    20037508.342789 - (y * EXTENT + py) * grid,
                )
            )
            for line in lines
            for px, py in line
        )

    assert road_off_outline("supervisor") < 2 * grid  # clipped, within the grid's rounding
    assert road_off_outline("operator") > 100  # metres: the whole road


@pytest.mark.parametrize("path", ["/tiles/cases/14/13000/6700.pbf", "/tiles/cases.json"])
def test_anonymous_tile_requests_are_refused(client: FlaskClient, path: str) -> None:
    anonymous = client.application.test_client()
    response = anonymous.get(path)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"
    page = anonymous.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_tiles_ride_on_the_session_cookie(
    client: FlaskClient, demo_engine: Engine, demo_users: dict
) -> None:
    browser = client.application.test_client()
    signed = browser.post(
        "/login",
        data={"username": "leader", "password": TEST_PASSWORD, "next": "/map", "lang": "en"},
        headers={"Origin": "http://localhost"},
    )
    assert signed.status_code == 302
    lon, lat = _label_point(demo_engine, demo_users["supervisor"].area_id)
    assert features_at(browser, {}, "areas", lon, lat, 12)


# -- caching, ETag, gzip ----------------------------------------------------------------


def test_second_request_is_served_from_the_cache(fresh: FlaskClient, bearer: Callable) -> None:
    x, y = tile_of(104.1511, 30.6837, 13)
    first = get_tile(fresh, bearer("operator"), "cameras", 13, x, y)
    second = get_tile(fresh, bearer("operator"), "cameras", 13, x, y)
    assert first.headers["X-Tile-Cache"] == "miss" and second.headers["X-Tile-Cache"] == "hit"
    assert first.get_data() == second.get_data() and first.get_data()
    assert first.headers["ETag"] == second.headers["ETag"]
    assert second.headers["Cache-Control"] == "private, max-age=600"
    # Another viewer's scope is another cache entry.
    scoped = get_tile(fresh, bearer("supervisor"), "cameras", 13, x, y)
    assert scoped.headers["X-Tile-Cache"] == "miss"


def test_a_feed_change_invalidates_live_tiles_only(
    fresh: FlaskClient, bearer: Callable, demo_engine: Engine, demo_users: dict
) -> None:
    street = demo_users["supervisor"].area_id
    with demo_engine.connect() as conn:
        bounds, _centre = tile_bounds(conn, street)
    tiles = tiles_covering(bounds, 12)
    before = {t: get_tile(fresh, bearer("operator"), "cases", 12, *t) for t in tiles}
    for t in tiles:
        again = get_tile(fresh, bearer("operator"), "cases", 12, *t)
        assert again.headers["X-Tile-Cache"] == "hit"
        assert again.headers["Cache-Control"] == "private, no-cache"
        get_tile(fresh, bearer("operator"), "areas", 12, *t)
    with demo_engine.begin() as conn:
        case_id = new_case(conn, street_id=street)
    case = point_of(demo_engine, "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cases"
                    " WHERE id = :i", i=case_id)  # fmt: skip
    holding = tile_of(case["lon"], case["lat"], 12)
    assert holding in before
    after = get_tile(fresh, bearer("operator"), "cases", 12, *holding)
    assert after.headers["X-Tile-Cache"] == "miss"
    assert case_id in ids_of(decoded(after, "cases"))
    assert case_id not in ids_of(decoded(before[holding], "cases"))
    static = get_tile(fresh, bearer("operator"), "areas", 12, *holding)
    assert static.headers["X-Tile-Cache"] == "hit"


def test_a_data_load_invalidates_static_tiles(
    fresh: FlaskClient, bearer: Callable, demo_engine: Engine, demo_users: dict
) -> None:
    lon, lat = _label_point(demo_engine, demo_users["supervisor"].area_id)
    lon, lat = lon + 0.0003, lat - 0.0003
    x, y = tile_of(lon, lat, 16)
    before = get_tile(fresh, bearer("operator"), "buildings", 16, x, y)
    assert get_tile(fresh, bearer("operator"), "buildings", 16, x, y).headers["X-Tile-Cache"] == (
        "hit"
    )
    code = f"TILE-TEST-{uuid.uuid4().hex[:8]}"
    frame = gpd.GeoDataFrame(
        {"code": [code], "name_zh": ["瓦片测试楼"], "name_en": ["Tile test"],
         "floors": [3], "use": ["residential"]},
        geometry=[shapely.box(lon, lat, lon + 0.0001, lat + 0.0001)],
        crs=4326,
    )  # fmt: skip
    try:
        with demo_engine.begin() as conn:
            load_buildings(conn, frame, system_actor(conn), "test_tiles")
        after = get_tile(fresh, bearer("operator"), "buildings", 16, x, y)
        assert after.headers["X-Tile-Cache"] == "miss"
        names = {f["properties"].get("code") for f in decoded(after, "buildings")}
        assert code in names
        assert code not in {f["properties"].get("code") for f in decoded(before, "buildings")}
        assert after.headers["ETag"] != before.headers["ETag"]
    finally:
        with demo_engine.begin() as conn:
            conn.execute(text("DELETE FROM buildings WHERE code = :c"), {"c": code})


def test_live_tiles_expire_with_the_clock(
    fresh: FlaskClient, bearer: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = tile_of(104.1511, 30.6837, 12)
    get_tile(fresh, bearer("operator"), "cases", 12, x, y)
    monkeypatch.setattr(tile_cache_module, "LIVE_MAX_AGE_SECONDS", -1.0)
    assert get_tile(fresh, bearer("operator"), "cases", 12, x, y).headers["X-Tile-Cache"] == (
        "miss"
    )


def test_the_feed_listener_drops_superseded_live_tiles(
    fresh: FlaskClient, bearer: Callable, demo_engine: Engine
) -> None:
    server = fresh.application
    x, y = tile_of(104.1511, 30.6837, 12)
    assert get_tile(fresh, bearer("operator"), "workers", 12, x, y).status_code == 200
    cache = server.extensions["gridwatch.tiles"].cache
    old = [p for p in cache.root.glob("*/workers-*/*") if p.is_dir()]
    assert len(old) == 1
    listener = server.extensions["gridwatch.listener"]
    listener.start()
    try:
        with demo_engine.begin() as conn:
            new_case(conn)
        deadline = time.monotonic() + 15
        while old[0].exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not old[0].exists()
    finally:
        listener.stop()


def test_etag_answers_304(fresh: FlaskClient, bearer: Callable) -> None:
    x, y = tile_of(104.1511, 30.6837, 13)
    first = get_tile(fresh, bearer("operator"), "areas", 13, x, y, **{"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    again = get_tile(fresh, bearer("operator"), "areas", 13, x, y,
                     **{"Accept-Encoding": "gzip", "If-None-Match": etag})  # fmt: skip
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    weak = get_tile(fresh, bearer("operator"), "areas", 13, x, y,
                    **{"Accept-Encoding": "gzip", "If-None-Match": f"W/{etag}"})  # fmt: skip
    assert weak.status_code == 304
    # The plain representation has its own tag: a gzip tag does not validate it.
    plain = get_tile(fresh, bearer("operator"), "areas", 13, x, y, **{"If-None-Match": etag})
    assert plain.status_code == 200 and plain.headers["ETag"] != etag


def test_gzip_when_accepted(fresh: FlaskClient, bearer: Callable) -> None:
    x, y = tile_of(104.1511, 30.6837, 13)
    zipped = get_tile(fresh, bearer("operator"), "workers", 13, x, y, **{"Accept-Encoding": "gzip"})
    plain = get_tile(fresh, bearer("operator"), "workers", 13, x, y)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert len(zipped.get_data()) < len(plain.get_data())
    assert "Accept-Encoding" in zipped.headers["Vary"]
    refused = get_tile(fresh, bearer("operator"), "workers", 13, x, y,
                       **{"Accept-Encoding": "gzip;q=0"})  # fmt: skip
    assert "Content-Encoding" not in refused.headers


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/tiles/cases/a/1/1.pbf", 400, "z"),
        ("/tiles/cases/12/1.5/1.pbf", 400, "x"),
        ("/tiles/cases/12/-1/1.pbf", 400, "x"),
        ("/tiles/cases/12/1/%D9%A3.pbf", 400, "y"),  # an Arabic-Indic digit
        ("/tiles/cases/12/1/99999999999.pbf", 400, "y"),
        ("/tiles/cases/12/4096/1.pbf", 400, "x"),
        ("/tiles/cases/12/1/4096.pbf", 400, "y"),
        ("/tiles/buildings/10/800/420.pbf", 400, "z"),
        ("/tiles/cases/30/1/1.pbf", 400, "z"),
        ("/tiles/cases/5/1/1.pbf", 400, "z"),
        ("/tiles/reporters/12/1/1.pbf", 404, None),
        ("/tiles/reporters.json", 404, None),
        ("/tiles/cases/12/1/1.png", 404, None),
        ("/tiles/cases/12/1/1/1.pbf", 404, None),
        ("/tiles/", 404, None),
        ("/tiles/..%2F..%2Fsecret_key", 404, None),
    ],
)
def test_bad_addresses_are_a_json_4xx(
    client: FlaskClient, bearer: Callable, path: str, status: int, field: str | None
) -> None:
    response = client.get(path, headers=bearer("operator"))
    assert response.status_code == status, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert body["error"] and body["message"]
    if field:
        assert body["details"][0]["field"] == field


def test_writing_to_tiles_is_refused(client: FlaskClient, bearer: Callable) -> None:
    response = client.post("/tiles/cases/12/1/1.pbf", headers=bearer("operator"))
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"


def test_database_down_is_503(
    settings: Settings, client: FlaskClient, bearer: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = make_engine("postgresql+psycopg://nobody:nothing@127.0.0.1:9/none")
    down = create_app(settings, engine=nowhere).server.test_client()
    assert down.get("/tiles/cases/12/3300/1700.pbf", headers=bearer("operator")).status_code == 503

    def lost(_conn: Any) -> None:  # the database goes away after the session check
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(tiles_module, "tile_state", lost)
    response = client.get("/tiles/cases/12/3300/1700.pbf", headers=bearer("operator"))
    assert response.status_code == 503
    assert response.get_json()["error"] == "database_unavailable"


# -- TileJSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("layer", list(LAYERS))
def test_tilejson_describes_each_layer(client: FlaskClient, bearer: Callable, layer: str) -> None:
    response = client.get(f"/tiles/{layer}.json", headers=bearer("operator"))
    assert response.status_code == 200
    doc = response.get_json()
    spec = LAYERS[layer]
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == [f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"]
    assert (doc["minzoom"], doc["maxzoom"]) == (spec.minzoom, spec.maxzoom)
    west, south, east, north = doc["bounds"]
    assert 104.0 < west < east < 104.3 and 30.5 < south < north < 30.8  # Chenghua
    assert len(doc["center"]) == 3
    (vector_layer,) = doc["vector_layers"]
    assert vector_layer["id"] == layer
    assert set(vector_layer["fields"]) == set(spec.fields) | set(spec.personal_fields)
    assert set(vector_layer["fields"].values()) <= {"String", "Number", "Boolean"}


def test_tilejson_follows_the_viewer(client: FlaskClient, bearer: Callable) -> None:
    leader = client.get("/tiles/workers.json", headers=bearer("leader")).get_json()
    assert "phone" not in leader["vector_layers"][0]["fields"]
    operator = client.get("/tiles/workers.json", headers=bearer("operator")).get_json()
    street = client.get("/tiles/workers.json", headers=bearer("supervisor")).get_json()
    ow, os_, oe, on = operator["bounds"]
    sw, ss, se, sn = street["bounds"]
    assert ow <= sw < se <= oe and os_ <= ss < sn <= on
    assert (se - sw) * (sn - ss) < (oe - ow) * (on - os_) / 4


def test_a_cache_that_cannot_be_written_still_serves(
    fresh: FlaskClient, bearer: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tile_cache_module.TileCache, "put", full)
    x, y = tile_of(104.1511, 30.6837, 13)
    response = get_tile(fresh, bearer("operator"), "areas", 13, x, y)
    assert decoded(response, "areas")
