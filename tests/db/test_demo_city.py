"""The demo city as loaded into PostGIS: counts, containment, resolution, H3."""

from __future__ import annotations

import json

import h3
import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, text

from app.cli import main
from geo_data.h3cells import to_h3

pytestmark = pytest.mark.slow


def _scalar(conn: Connection, sql: str) -> object:
    return conn.execute(text(sql)).scalar_one()


def test_demo_counts_are_at_chenghua_scale(demo: Connection) -> None:
    levels = dict(demo.execute(text("SELECT level, count(*) FROM areas GROUP BY level")).all())
    assert levels["city"] == 1
    assert levels["district"] == 20
    assert levels["street"] == 14
    assert levels["community"] == 110
    assert levels["grid"] == 1794
    assert 1000 <= levels["courtyard"] <= 1300
    assert 13_000 <= _scalar(demo, "SELECT count(*) FROM buildings") <= 17_000
    assert _scalar(demo, "SELECT count(*) FROM cameras") == 5000
    tier1 = _scalar(demo, "SELECT count(*) FROM workers WHERE tier = 1")
    assert tier1 == 1794
    assert 36_000 <= _scalar(demo, "SELECT count(*) FROM cases") <= 44_000


def test_chenghua_is_on_its_real_outline(demo: Connection) -> None:
    name, km2 = demo.execute(
        text("SELECT name_zh, area_m2 / 1e6 FROM areas WHERE code = '510108'")
    ).one()
    assert name == "成华区"
    assert 100 < km2 < 120  # Chenghua is about 109 km2
    streets_km2 = _scalar(demo, "SELECT sum(area_m2) / 1e6 FROM areas WHERE level = 'street'")
    assert streets_km2 == pytest.approx(km2, rel=0.002)  # streets tile the district


def test_every_case_lies_in_the_areas_it_is_resolved_to(demo: Connection) -> None:
    unresolved = _scalar(
        demo,
        "SELECT count(*) FROM cases WHERE district_id IS NULL OR street_id IS NULL"
        " OR community_id IS NULL OR grid_id IS NULL",
    )
    assert unresolved == 0
    # A grid may poke past its community by a sliver (test_areas_nest_in_their_parents
    # allows 0.1%), so a case in its grid may lie centimetres outside the levels above.
    outside = demo.execute(
        text(
            """
            SELECT
              count(*) FILTER (WHERE NOT ST_Intersects(g.geom, c.geom)) AS grid,
              count(*) FILTER (WHERE NOT ST_DWithin(m.geom, c.geom, 1e-5)) AS community,
              count(*) FILTER (WHERE NOT ST_DWithin(s.geom, c.geom, 1e-5)) AS street,
              count(*) FILTER (WHERE NOT ST_DWithin(d.geom, c.geom, 1e-5)) AS district,
              count(*) FILTER (WHERE y.id IS NOT NULL AND NOT ST_Intersects(y.geom, c.geom))
                AS courtyard
            FROM cases c
            JOIN areas g ON g.id = c.grid_id JOIN areas m ON m.id = c.community_id
            JOIN areas s ON s.id = c.street_id JOIN areas d ON d.id = c.district_id
            LEFT JOIN areas y ON y.id = c.courtyard_id
            """
        )
    ).one()
    assert tuple(outside) == (0, 0, 0, 0, 0)
    chain_broken = _scalar(
        demo,
        """
        SELECT count(*) FROM cases c JOIN areas g ON g.id = c.grid_id
        WHERE g.level <> 'grid' OR g.community_id <> c.community_id
           OR g.street_id <> c.street_id OR g.district_id <> c.district_id
        """,
    )
    assert chain_broken == 0


def test_cases_inside_a_courtyard_are_given_it(demo: Connection) -> None:
    in_courtyard = _scalar(demo, "SELECT count(*) FROM cases WHERE courtyard_id IS NOT NULL")
    missed = _scalar(
        demo,
        """
        SELECT count(*) FROM cases c WHERE c.courtyard_id IS NULL AND EXISTS (
            SELECT 1 FROM areas y WHERE y.level = 'courtyard' AND ST_Intersects(y.geom, c.geom))
        """,
    )
    assert in_courtyard > 1000  # residential reports cluster in compounds
    assert missed == 0


def test_areas_nest_in_their_parents(demo: Connection) -> None:
    offenders = _scalar(
        demo,
        """
        SELECT count(*) FROM areas c JOIN areas p ON p.id = c.parent_id
        WHERE c.level IN ('street', 'community', 'grid', 'courtyard')
          AND ST_Area(ST_Difference(c.geom, p.geom)) > 0.001 * ST_Area(c.geom)
        """,
    )
    assert offenders == 0
    buildings_astray = _scalar(
        demo,
        "SELECT count(*) FROM buildings b JOIN areas g ON g.id = b.grid_id"
        " WHERE NOT ST_CoveredBy(b.geom, ST_Buffer(g.geom, 0.00001))",
    )
    assert buildings_astray == 0


def test_h3_cells_are_those_of_the_point(demo: Connection) -> None:
    rows = demo.execute(
        text(
            "SELECT ST_X(geom) x, ST_Y(geom) y, h3_r7, h3_r9, h3_r12 FROM cases"
            " ORDER BY id LIMIT 500"
        )
    ).all()
    for r in rows:
        assert to_h3(r.h3_r7) == h3.latlng_to_cell(r.y, r.x, 7)
        assert to_h3(r.h3_r9) == h3.latlng_to_cell(r.y, r.x, 9)
        assert to_h3(r.h3_r12) == h3.latlng_to_cell(r.y, r.x, 12)


def test_duplicates_link_to_an_original_that_counts_them(demo: Connection) -> None:
    merged, linked, bad = demo.execute(
        text(
            """
            SELECT count(*) FILTER (WHERE d.status = 'merged'),
                   count(*) FILTER (WHERE d.duplicate_of_id IS NOT NULL),
                   count(*) FILTER (WHERE d.duplicate_of_id IS NOT NULL AND (
                       o.category_code <> d.category_code OR o.duplicate_of_id IS NOT NULL
                       OR o.report_count < 2))
            FROM cases d LEFT JOIN cases o ON o.id = d.duplicate_of_id
            """
        )
    ).one()
    assert merged > 1000
    assert linked == merged
    assert bad == 0


def test_history_has_audit_events_and_due_times(demo: Connection) -> None:
    without_events = _scalar(
        demo,
        "SELECT count(*) FROM cases c"
        " WHERE NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id)",
    )
    assert without_events == 0
    on_time = _scalar(
        demo,
        "SELECT avg((closed_at <= due_at)::int) FROM cases WHERE status = 'closed'",
    )
    assert 0.75 < on_time < 0.97
    assigned = _scalar(
        demo,
        "SELECT avg((assignee_id IS NOT NULL)::int) FROM cases WHERE dispatched_at IS NOT NULL",
    )
    assert assigned == 1


def test_stats_json_reports_the_demo_counts(demo_engine: Engine) -> None:
    url = demo_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["stats", "--json"], env={"GRIDWATCH_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["areas_by_level"]["grid"] == 1794
    assert figures["tables"]["cameras"] == 5000
    assert figures["workers_by_tier"]["tier_1"] == 1794


def test_demo_basemap_is_stored_named_valid_and_inside_the_district(demo: Connection) -> None:
    for table, geometry in (("roads", "MULTILINESTRING"), ("water", "MULTIPOLYGON"),
                            ("landuse", "MULTIPOLYGON")):  # fmt: skip
        rows, invalid, astray, types = demo.execute(
            text(
                f"""
                SELECT count(*), count(*) FILTER (WHERE NOT ST_IsValid(t.geom)),
                       count(*) FILTER (WHERE NOT ST_CoveredBy(t.geom, ST_Expand(d.geom, 1e-5))),
                       array_agg(DISTINCT GeometryType(t.geom))
                FROM {table} t, (SELECT ST_Envelope(geom) AS geom FROM areas
                                 WHERE code = '510108') d
                """
            )
        ).one()
        assert rows > 0 and invalid == 0 and astray == 0, table
        assert types == [geometry]
    unnamed = _scalar(demo, "SELECT count(*) FROM roads WHERE name_zh IS NULL OR name_en IS NULL")
    assert unnamed == 0
    kinds = {r[0] for r in demo.execute(text("SELECT DISTINCT kind FROM roads"))}
    assert {"motorway", "trunk", "primary", "secondary", "residential"} <= kinds
    river = demo.execute(text("SELECT name_en FROM water WHERE name_zh = '沙河'")).scalar_one()
    assert river == "Sha River"
    parks = demo.execute(
        text("SELECT count(*), count(name_en) FROM landuse WHERE kind = 'park'")
    ).one()
    assert parks[0] > 20 and parks[1] == parks[0]
    loads = {r[0] for r in demo.execute(text("SELECT kind FROM data_loads"))}
    assert {"roads", "water", "landuse"} <= loads
