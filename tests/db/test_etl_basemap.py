"""Basemap loads (roads, water, landuse): good files in three formats, OSM-style columns,
and each failure refused with its message and the database untouched."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box, mapping
from sqlalchemy import Connection, text

from etl.gcj02 import wgs84_to_gcj02
from etl.load import load_file
from geo_data.actors import Actor
from geo_data.loaders import LoadError

TABLES = ("roads", "water", "landuse", "data_loads")
ROAD = LineString([(104.10, 30.66), (104.11, 30.66), (104.12, 30.665)])
LAKE = box(104.10, 30.67, 104.105, 30.675)


def _write(path: Path, rows: list[tuple[dict, object]]) -> Path:
    features = [
        {"type": "Feature", "properties": props, "geometry": mapping(geom)} for props, geom in rows
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    )
    return path


def _counts(conn: Connection) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _refused(conn: Connection, kind: str, path: Path, actor: Actor, **kw: object) -> str:
    """Load inside a savepoint, expect LoadError, and check nothing was written."""
    before = _counts(conn)
    with pytest.raises(LoadError) as info, conn.begin_nested():
        load_file(conn, kind, path, actor, **kw)
    assert _counts(conn) == before
    return str(info.value)


def test_roads_load_with_names_in_both_languages(conn: Connection, system: Actor, tmp_path: Path):
    path = _write(
        tmp_path / "roads.geojson",
        [
            ({"kind": "primary", "name_zh": "建设路", "name_en": "Jianshe Road"}, ROAD),
            (
                {"kind": "residential", "name_zh": "东华巷"},
                LineString([(104.1, 30.6), (104.1, 30.61)]),
            ),
        ],
    )
    before = _counts(conn)
    result, notes = load_file(conn, "roads", path, system)
    assert (result.rows, notes) == (2, [])
    assert result.notes == ["1 primary", "1 residential"]
    rows = conn.execute(
        text(
            "SELECT kind, name_zh, name_en, GeometryType(geom) AS type, ST_SRID(geom) AS srid"
            " FROM roads ORDER BY id DESC LIMIT 2"
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("residential", "东华巷", None, "MULTILINESTRING", 4326),
        ("primary", "建设路", "Jianshe Road", "MULTILINESTRING", 4326),
    ]
    assert _counts(conn)["data_loads"] == before["data_loads"] + 1
    load = conn.execute(text("SELECT kind, source, rows FROM data_loads ORDER BY id DESC LIMIT 1"))
    assert tuple(load.one()) == ("roads", str(path), 2)


def test_osm_columns_and_values_stand_in_for_ours(conn: Connection, system: Actor, tmp_path: Path):
    path = _write(
        tmp_path / "osm.geojson",
        [
            ({"highway": "trunk_link", "name": "二环路", "name:en": "2nd Ring Road"}, ROAD),
            ({"highway": "unclassified", "name": "无名路"}, ROAD),
        ],
    )
    load_file(conn, "roads", path, system)
    rows = conn.execute(text("SELECT kind, name_zh, name_en FROM roads ORDER BY id DESC LIMIT 2"))
    assert [tuple(r) for r in rows] == [
        ("tertiary", "无名路", None),
        ("trunk", "二环路", "2nd Ring Road"),
    ]
    park = _write(tmp_path / "parks.geojson", [({"leisure": "park", "name": "北湖公园"}, LAKE)])
    load_file(conn, "landuse", park, system)
    row = conn.execute(text("SELECT kind, name_zh FROM landuse ORDER BY id DESC LIMIT 1")).one()
    assert tuple(row) == ("park", "北湖公园")


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_water_loads_from_geopackage_and_shapefile(
    conn: Connection, system: Actor, tmp_path: Path, suffix: str
):
    frame = gpd.GeoDataFrame(
        {"kind": ["lake", "river"], "name_zh": ["北湖", "沙河"], "name_en": ["Bei Lake", None]},
        geometry=[LAKE, ROAD.buffer(0.0002)],
        crs=4326,
    )
    path = tmp_path / f"water{suffix}"
    frame.to_file(path, engine="pyogrio")
    result, _ = load_file(conn, "water", path, system)
    assert result.rows == 2
    rows = conn.execute(
        text(
            "SELECT kind, name_zh, GeometryType(geom), ST_IsValid(geom) FROM water"
            " ORDER BY id DESC LIMIT 2"
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("river", "沙河", "MULTIPOLYGON", True),
        ("lake", "北湖", "MULTIPOLYGON", True),
    ]


def test_gcj02_water_is_moved_to_wgs84(conn: Connection, system: Actor, tmp_path: Path):
    lon, lat = wgs84_to_gcj02(104.10, 30.67)
    shifted = box(float(lon), float(lat), float(lon) + 0.005, float(lat) + 0.005)
    path = _write(tmp_path / "gcj.geojson", [({"kind": "lake", "name_zh": "湖"}, shifted)])
    load_file(conn, "water", path, system, crs="gcj02")
    x, y = conn.execute(
        text("SELECT ST_XMin(geom), ST_YMin(geom) FROM water ORDER BY id DESC LIMIT 1")
    ).one()
    assert (x, y) == pytest.approx((104.10, 30.67), abs=1e-6)


def test_a_point_is_not_a_road(conn: Connection, system: Actor, tmp_path: Path):
    path = _write(
        tmp_path / "roads.geojson",
        [({"kind": "primary"}, ROAD), ({"kind": "primary", "name_zh": "路口"}, Point(104.1, 30.6))],
    )
    message = _refused(conn, "roads", path, system)
    assert "bad geometries" in message
    assert "feature 2: geometry is a Point, expected LineString or MultiLineString" in message


def test_a_line_is_not_a_lake(conn: Connection, system: Actor, tmp_path: Path):
    path = _write(tmp_path / "water.geojson", [({"kind": "lake"}, ROAD)])
    message = _refused(conn, "water", path, system)
    assert "feature 1: geometry is a LineString, expected Polygon or MultiPolygon" in message


def test_unknown_kind_is_named_with_the_known_ones(conn: Connection, system: Actor, tmp_path: Path):
    path = _write(
        tmp_path / "roads.geojson",
        [({"kind": "primary"}, ROAD), ({"highway": "footway"}, ROAD), ({"kind": "motorway"}, ROAD)],
    )
    message = _refused(conn, "roads", path, system)
    assert (
        "feature 2: kind 'footway' is not one of motorway, trunk, primary, secondary,"
        " tertiary, residential, service"
    ) in message
    landuse = _write(tmp_path / "landuse.geojson", [({"kind": "cemetery"}, LAKE)])
    assert "feature 1: kind 'cemetery' is not one of park, green, forest, farmland" in _refused(
        conn, "landuse", landuse, system
    )


def test_missing_kind_column_is_named_with_its_osm_name(
    conn: Connection, system: Actor, tmp_path: Path
):
    path = _write(tmp_path / "roads.geojson", [({"name_zh": "建设路"}, ROAD)])
    message = _refused(conn, "roads", path, system)
    assert "missing column(s): kind or highway (found: name_zh)" in message


def test_empty_kind_is_refused(conn: Connection, system: Actor, tmp_path: Path):
    path = _write(tmp_path / "roads.geojson", [({"kind": "primary"}, ROAD), ({"kind": ""}, ROAD)])
    assert "feature 2: kind is empty" in _refused(conn, "roads", path, system)


def test_a_degenerate_road_is_refused(conn: Connection, system: Actor, tmp_path: Path):
    line = shapely.from_wkt("LINESTRING (104.1 30.6, 104.1 30.6)")
    path = tmp_path / "roads.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"kind": "service"},
                        "geometry": mapping(line),
                    }
                ],
            }
        )
    )
    message = _refused(conn, "roads", path, system)
    assert "invalid geometries that cannot be repaired" in message
    assert "feature 1:" in message


def test_the_store_refuses_wrong_rows_handed_to_it_directly(conn: Connection, system: Actor):
    from geo_data.loaders import load_landuse

    frame = gpd.GeoDataFrame(
        {"kind": ["park", "zoo"], "name_zh": ["公园", "动物园"]},
        geometry=[LAKE, Polygon([(104.1, 30.6), (104.11, 30.6), (104.1, 30.61)])],
        crs=4326,
    )
    before = _counts(conn)
    with (
        pytest.raises(LoadError, match="row 2: kind 'zoo' is not one of park"),
        conn.begin_nested(),
    ):
        load_landuse(conn, frame, system, "test")
    assert _counts(conn) == before
