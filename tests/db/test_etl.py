"""ETL: each failure class refused with its message and the database untouched."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon, box, mapping
from sqlalchemy import Connection, text

from etl.gcj02 import wgs84_to_gcj02
from etl.load import load_file
from geo_data.actors import Actor
from geo_data.loaders import LoadError

DISTRICT = box(104.00, 30.60, 104.10, 30.70)
STREETS = {"D01001": box(104.00, 30.60, 104.05, 30.70), "D01002": box(104.05, 30.60, 104.10, 30.70)}


def _features(rows: list[tuple[dict, object]]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": mapping(geom)}
            for props, geom in rows
        ],
    }


def _area(code: str, level: str, parent: str | None, name: str) -> dict:
    return {"code": code, "level": level, "parent_code": parent, "name_zh": name, "name_en": name}


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def _areas_file(tmp_path: Path, streets: dict[str, Polygon] = STREETS) -> Path:
    rows = [(_area("D01", "district", None, "测试区"), DISTRICT)]
    rows += [(_area(code, "street", "D01", f"街道{code}"), g) for code, g in streets.items()]
    return _write(tmp_path / "areas.geojson", _features(rows))


def _count(conn: Connection, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _refused(conn: Connection, kind: str, path: Path, actor: Actor, **kw: object) -> str:
    """Load inside a savepoint, expect LoadError, and check nothing was written."""
    before = {t: _count(conn, t) for t in ("areas", "cameras", "cases", "data_loads")}
    with pytest.raises(LoadError) as info, conn.begin_nested():
        load_file(conn, kind, path, actor, **kw)
    assert {t: _count(conn, t) for t in before} == before
    return str(info.value)


def test_areas_load_with_parents_and_ancestors(conn: Connection, system: Actor, tmp_path: Path):
    result, _ = load_file(conn, "areas", _areas_file(tmp_path), system)
    assert result.rows == 3
    rows = conn.execute(
        text(
            "SELECT a.code, p.code AS parent, a.district_id = d.id AS under_d01, a.street_id"
            " FROM areas a LEFT JOIN areas p ON p.id = a.parent_id"
            " JOIN areas d ON d.code = 'D01' WHERE a.code LIKE 'D01%' ORDER BY a.code"
        )
    ).all()
    assert [(r.code, r.parent, r.under_d01) for r in rows] == [
        ("D01", None, True),
        ("D01001", "D01", True),
        ("D01002", "D01", True),
    ]
    assert rows[0].street_id is None and rows[1].street_id is not None
    area_km2 = conn.execute(text("SELECT area_m2 / 1e6 FROM areas WHERE code = 'D01'")).scalar()
    assert 100 < area_km2 < 120  # 0.1 x 0.1 degrees at 30.65 N is about 107 km2


def test_self_intersecting_polygon_is_repaired(conn: Connection, system: Actor, tmp_path: Path):
    bowtie = Polygon([(104.0, 30.6), (104.1, 30.7), (104.1, 30.6), (104.0, 30.7), (104.0, 30.6)])
    assert not bowtie.is_valid
    path = _write(
        tmp_path / "a.geojson", _features([(_area("B01", "district", None, "x"), bowtie)])
    )
    result, notes = load_file(conn, "areas", path, system)
    assert result.rows == 1 and notes == ["1 invalid geometries repaired with make_valid"]
    valid = conn.execute(text("SELECT ST_IsValid(geom) FROM areas WHERE code = 'B01'")).scalar()
    assert valid is True


def test_unrepairable_geometry_is_refused(conn: Connection, system: Actor, tmp_path: Path):
    flat = Polygon([(104.0, 30.6), (104.1, 30.6), (104.05, 30.6), (104.0, 30.6)])  # no area
    rows = [
        (_area("F01", "district", None, "ok"), DISTRICT),
        (_area("F02", "district", None, "x"), flat),
    ]
    path = _write(tmp_path / "flat.geojson", _features(rows))
    message = _refused(conn, "areas", path, system)
    assert "invalid geometries that cannot be repaired" in message
    assert "feature 2:" in message and "flat.geojson" in message


def test_projected_coordinates_without_crs_are_refused(
    conn: Connection, system: Actor, tmp_path: Path
):
    utm = gpd.GeoSeries([DISTRICT], crs=4326).to_crs(32648).iloc[0]
    path = _write(tmp_path / "utm.geojson", _features([(_area("U01", "district", None, "u"), utm)]))
    message = _refused(conn, "areas", path, system)
    assert "not longitude/latitude" in message and "--crs" in message and "feature 1" in message
    result, _ = load_file(conn, "areas", path, system, crs="EPSG:32648")
    centre = conn.execute(
        text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM areas WHERE code='U01'")
    ).one()
    assert result.rows == 1
    assert centre[0] == pytest.approx(104.05, abs=1e-6) and centre[1] == pytest.approx(
        30.65, abs=1e-6
    )


def test_child_outside_parent_is_refused(conn: Connection, system: Actor, tmp_path: Path):
    shifted = dict(STREETS)
    shifted["D01002"] = shapely.affinity.translate(STREETS["D01002"], xoff=0.03)
    message = _refused(conn, "areas", _areas_file(tmp_path, shifted), system)
    assert "children lie outside their parents" in message
    assert "street D01002 lies 60.0% outside its parent D01" in message
    assert "D01001" not in message


def test_missing_column_is_named(conn: Connection, system: Actor, tmp_path: Path):
    path = tmp_path / "cameras.csv"
    path.write_text("code,lon,lat\nC1,104.01,30.61\n")
    message = _refused(conn, "cameras", path, system)
    assert "missing column(s): tier (found: code)" in message


def test_non_numeric_coordinate_names_row_and_value(
    conn: Connection, system: Actor, tmp_path: Path
):
    path = tmp_path / "cameras.csv"
    path.write_text("code,tier,lon,lat\nC1,street,104.01,30.61\nC2,street,104.02,north\n")
    message = _refused(conn, "cameras", path, system)
    assert "row 3: lat 'north' is not a number" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "the file is empty"), ("code,tier,lon,lat\n", "the file has no rows")],
)
def test_empty_files_are_refused(
    conn: Connection, system: Actor, tmp_path: Path, content: str, expected: str
):
    path = tmp_path / "cameras.csv"
    path.write_text(content)
    assert expected in _refused(conn, "cameras", path, system)


def test_points_outside_jurisdiction_are_refused(conn: Connection, system: Actor, tmp_path: Path):
    load_file(conn, "areas", _areas_file(tmp_path), system)
    path = tmp_path / "cameras.csv"
    path.write_text("code,tier,lon,lat\nC1,street,104.01,30.61\nC2,street,116.40,39.90\n")
    message = _refused(conn, "cameras", path, system)
    assert "row 3: camera at (116.4, 39.9) lies outside every loaded area" in message


def test_gcj02_input_is_converted_to_wgs84(conn: Connection, system: Actor, tmp_path: Path):
    load_file(conn, "areas", _areas_file(tmp_path), system)
    lon, lat = 104.0312345, 30.6512345
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = tmp_path / "cameras.csv"
    path.write_text(f"code,tier,lon,lat\nC9,street,{glon:.9f},{glat:.9f}\n")
    load_file(conn, "cameras", path, system, crs="gcj02")
    x, y, street = conn.execute(
        text(
            "SELECT ST_X(c.geom), ST_Y(c.geom), s.code FROM cameras c"
            " JOIN areas s ON s.id = c.street_id WHERE c.code = 'C9'"
        )
    ).one()
    error_m = shapely.Point(x, y).distance(shapely.Point(lon, lat)) * 111_000
    assert error_m < 0.05 and street == "D01001"


def _cases_csv(path: Path, extra_rows: str = "") -> Path:
    path.write_text(
        "external_id,channel,category_code,severity,status,lon,lat,reported_at,closed_at\n"
        "H-1,hotline,0101,2,closed,104.02,30.62,2026-03-01 09:00,2026-03-01 12:00\n"
        "H-2,hotline,0101,4,reported,104.07,30.65,2026-03-02T10:00:00+08:00,\n" + extra_rows
    )
    return path


def test_case_import_resolves_areas_due_times_and_events(
    conn: Connection, system: Actor, tmp_path: Path
):
    load_file(conn, "areas", _areas_file(tmp_path), system)
    path = _cases_csv(
        tmp_path / "cases.csv",
        "W-7,wechat,0101,2,merged,104.0201,30.6201,2026-03-01 09:20,2026-03-01 09:30\n",
    )
    path.write_text(
        path.read_text()
        .replace("closed_at\n", "closed_at,duplicate_of_channel,duplicate_of_external_id\n", 1)
        .replace("12:00\n", "12:00,,\n")
        .replace("+08:00,\n", "+08:00,,,\n")
        .replace("09:30\n", "09:30,hotline,H-1\n")
    )
    result, _ = load_file(conn, "cases", path, system)
    assert result.rows == 3
    rows = {
        r.external_id: r
        for r in conn.execute(
            text(
                """
                SELECT c.external_id, s.code AS street, c.report_count, o.external_id AS dup_of,
                       extract(epoch FROM c.due_at - c.reported_at) / 3600 AS sla_h,
                       k.sla_hours_s2, k.sla_hours_s4, c.reported_at,
                       (SELECT count(*) FROM case_events e WHERE e.case_id = c.id) AS events
                FROM cases c JOIN areas s ON s.id = c.street_id
                JOIN categories k ON k.code = c.category_code
                LEFT JOIN cases o ON o.id = c.duplicate_of_id
                """
            )
        )
    }
    assert rows["H-1"].street == "D01001" and rows["H-2"].street == "D01002"
    assert rows["H-1"].report_count == 2 and rows["W-7"].dup_of == "H-1"
    assert rows["H-1"].sla_h == pytest.approx(rows["H-1"].sla_hours_s2)
    assert rows["H-2"].sla_h == pytest.approx(rows["H-2"].sla_hours_s4)
    assert rows["H-1"].reported_at.isoformat() == "2026-03-01T01:00:00+00:00"  # naive = Beijing
    assert rows["H-1"].events == 2 and rows["H-2"].events == 1  # report (+ close)


def test_case_import_twice_is_idempotent(conn: Connection, system: Actor, tmp_path: Path):
    load_file(conn, "areas", _areas_file(tmp_path), system)
    path = _cases_csv(tmp_path / "cases.csv")
    first, _ = load_file(conn, "cases", path, system)
    second, _ = load_file(conn, "cases", path, system)
    assert (first.rows, second.rows) == (2, 0)
    assert second.notes == ["2 already stored, skipped"]
    assert _count(conn, "cases") == 2


def test_case_with_unknown_category_and_bad_severity_is_refused(
    conn: Connection, system: Actor, tmp_path: Path
):
    load_file(conn, "areas", _areas_file(tmp_path), system)
    path = _cases_csv(
        tmp_path / "cases.csv", "X-1,hotline,9999,7,closed,104.02,30.62,2026-03-01,\n"
    )
    message = _refused(conn, "cases", path, system)
    assert "row 4: severity 7 is outside 1-4" in message
    path = _cases_csv(
        tmp_path / "cases.csv", "X-1,hotline,9999,3,closed,104.02,30.62,2026-03-01,\n"
    )
    assert "row 4: unknown category 9999" in _refused(conn, "cases", path, system)
