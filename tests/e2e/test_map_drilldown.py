"""The map page in Chromium: drill from the district to a courtyard by clicking the map.

Each level is reached by a real mouse click on a child polygon of the MapLibre
choropleth; the breadcrumb, the URL and the map's data are checked at every level, then
the breadcrumb leads back up and a reload of the URL shows the same view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel
from sqlalchemy import Engine, text

from app import ids

from .helpers import screenshot, wait_for_dash_idle

DISTRICT = "510108"  # Chenghua
LEVEL_WORDS = ("市", "区", "街道", "社区", "网格", "院落")  # city ... courtyard
MAP_TIMEOUT_MS = 20_000
HOVER_TIMEOUT_MS = 3_000
# Where a click may land: this far (CSS px) from any marker and from the map's edge.
# Plotly's hover takes the closest point within 20 px (hoverdistance) of a marker's edge,
# so a marker closer than that would get the click instead of the polygon.
MARKER_CLEARANCE_PX = 40
EDGE_MARGIN_PX = 12
SPOTS_TO_TRY = 5
GRID_STEPS = 16  # candidate points per side of a child's bounding box
MAX_CANDIDATES = 80


@dataclass(frozen=True)
class Area:
    code: str
    level: str
    name: str
    children: frozenset[str]


# -- the demo city ------------------------------------------------------------------------


def _chain(engine: Engine) -> list[Area]:
    """City, district, street, community, grid, courtyard: the busiest courtyard of the
    district and its ancestors, each with the codes of its children."""
    with engine.connect() as conn:
        yard = conn.execute(
            text(
                """
                SELECT y.code
                FROM areas y LEFT JOIN cases c ON c.courtyard_id = y.id
                WHERE y.level = 'courtyard' AND y.code LIKE :district || '%'
                GROUP BY y.code ORDER BY count(c.id) DESC, y.code LIMIT 1
                """
            ),
            {"district": DISTRICT},
        ).scalar_one()
        rows = conn.execute(
            text(
                """
                WITH RECURSIVE up AS (
                    SELECT id, parent_id, code, level, level_rank, name_zh
                    FROM areas WHERE code = :code
                    UNION ALL
                    SELECT a.id, a.parent_id, a.code, a.level, a.level_rank, a.name_zh
                    FROM areas a JOIN up ON a.id = up.parent_id
                )
                SELECT up.code, up.level, up.name_zh,
                       coalesce(array_agg(k.code) FILTER (WHERE k.code IS NOT NULL), '{}')
                FROM up LEFT JOIN areas k ON k.parent_id = up.id
                GROUP BY up.code, up.level, up.level_rank, up.name_zh
                ORDER BY up.level_rank
                """
            ),
            {"code": yard},
        ).all()
    return [Area(code, level, name, frozenset(kids)) for code, level, name, kids in rows]


# -- the map in the page --------------------------------------------------------------------

# The plotly div inside dcc.Graph, and what the test needs of its figure: the area it
# shows (uirevision is the area's code), the sub-area trace's codes, the outline.
_FIGURE = """
(graphId) => {
  const outer = document.getElementById(graphId);
  const gd = outer && outer.querySelector(".js-plotly-plot");
  if (!gd || !gd._fullLayout || !gd.data) return null;
  const areas = gd.data.filter(t => t.type === "choroplethmap"
      && t.customdata && t.customdata.length && t.customdata[0][0] === "area");
  const outline = gd.data.find(t => t.type === "scattermap" && t.mode === "lines");
  const sub = gd._fullLayout.map && gd._fullLayout.map._subplot;
  return {
    revision: String(gd._fullLayout.uirevision),
    children: areas.flatMap(t => t.customdata.map(c => String(c[1]))).sort(),
    names: Object.fromEntries(areas.flatMap(t => t.customdata.map(c => [c[1], c[2]]))),
    traces: gd.data.map(t => t.name),
    outline: outline ? outline.lon.filter(x => x !== null).length : 0,
    centre: gd._fullLayout.map.center,
    settled: !!(sub && sub.map && sub.map.loaded() && !sub.map.isMoving()),
  };
}
"""

_SETTLED = f"""
([graphId, code, children]) => {{
  const fig = ({_FIGURE})(graphId);
  return !!fig && fig.settled && fig.revision === code
      && JSON.stringify(fig.children) === JSON.stringify(children);
}}
"""

_GEOMETRY = """
([graphId, code]) => {
  const gd = document.getElementById(graphId).querySelector(".js-plotly-plot");
  for (const t of gd.data) {
    if (t.type !== "choroplethmap" || !t.geojson) continue;
    const f = t.geojson.features.find(f => String(f.id) === code);
    if (f) return f.geometry;
  }
  return null;
}
"""

# The first ``count`` candidates (lon, lat) that project inside the map, clear of every
# marker, the legend, the colour bar and the mode bar; in viewport coordinates.
_PICK = """
([graphId, candidates, clearance, margin, count]) => {
  const gd = document.getElementById(graphId).querySelector(".js-plotly-plot");
  const map = gd._fullLayout.map._subplot.map;
  const box = map.getContainer().getBoundingClientRect();
  const blocked = [...gd.querySelectorAll(".legend, .colorbar, .modebar")]
      .map(el => el.getBoundingClientRect());
  const markers = [];
  for (const t of gd.data) {
    if (t.type !== "scattermap" || !(t.mode || "").includes("markers")) continue;
    t.lon.forEach((lon, i) => {
      if (lon !== null && t.lat[i] !== null) markers.push(map.project([lon, t.lat[i]]));
    });
  }
  const spots = [];
  for (const [lon, lat] of candidates) {
    if (spots.length >= count) break;
    const p = map.project([lon, lat]);
    const x = box.left + p.x, y = box.top + p.y;
    if (x < box.left + margin || x > box.right - margin) continue;
    if (y < box.top + margin || y > box.bottom - margin) continue;
    if (y > window.innerHeight - margin || x > window.innerWidth - margin) continue;
    if (blocked.some(r => x >= r.left - margin && x <= r.right + margin
        && y >= r.top - margin && y <= r.bottom + margin)) continue;
    if (markers.some(m => Math.hypot(m.x - p.x, m.y - p.y) < clearance)) continue;
    spots.push({x, y});
  }
  return spots;
}
"""


def figure(page: Page) -> dict[str, Any]:
    found = page.evaluate(_FIGURE, ids.MAP_GRAPH)
    assert found is not None, "the map graph has no plotly figure"
    return found


def wait_for_map(page: Page, area: Area) -> dict[str, Any]:
    """Wait until the map shows ``area`` with its children and MapLibre is still."""
    expect(page.locator(f"#{ids.MAP_GRAPH} .js-plotly-plot")).to_be_visible(timeout=MAP_TIMEOUT_MS)
    page.wait_for_function(
        _SETTLED, arg=[ids.MAP_GRAPH, area.code, sorted(area.children)], timeout=MAP_TIMEOUT_MS
    )
    wait_for_dash_idle(page, timeout_ms=MAP_TIMEOUT_MS)
    return figure(page)


def candidates(geometry: dict[str, Any]) -> list[list[float]]:
    """Points inside ``geometry`` (lon, lat), the ones farthest from its edges first."""
    shp: BaseGeometry = shape(geometry)
    parts = sorted(getattr(shp, "geoms", [shp]), key=lambda p: p.area, reverse=True)
    west, south, east, north = shp.bounds
    tolerance = max(east - west, north - south) / 1000
    found = [polylabel(part, tolerance) for part in parts[:3]]
    dx, dy = (east - west) / GRID_STEPS, (north - south) / GRID_STEPS
    grid = [
        Point(west + (i + 0.5) * dx, south + (j + 0.5) * dy)
        for i in range(GRID_STEPS)
        for j in range(GRID_STEPS)
    ]
    inside = [p for p in grid if shp.contains(p)]
    found += sorted(inside, key=lambda p: shp.boundary.distance(p), reverse=True)
    return [[p.x, p.y] for p in found if shp.contains(p)][:MAX_CANDIDATES]


def click_child(page: Page, child: Area) -> None:
    """Hover a point inside ``child``'s polygon until its tooltip shows, then click it."""
    geometry = page.evaluate(_GEOMETRY, [ids.MAP_GRAPH, child.code])
    assert geometry is not None, f"no polygon for {child.code} on the map"
    spots = page.evaluate(
        _PICK,
        [ids.MAP_GRAPH, candidates(geometry), MARKER_CLEARANCE_PX, EDGE_MARGIN_PX, SPOTS_TO_TRY],
    )
    assert spots, f"no clear spot inside {child.code} ({child.name}) to click"
    hover = page.locator(f"#{ids.MAP_GRAPH} .hoverlayer")
    shown = []
    for spot in spots:
        x, y = spot["x"], spot["y"]
        page.mouse.move(x - 6, y - 6)
        page.mouse.move(x, y, steps=4)
        # The tooltip names what is under the mouse: click only when it is the child.
        try:
            expect(hover).to_contain_text(child.name, timeout=HOVER_TIMEOUT_MS)
        except AssertionError:
            shown.append(hover.inner_text())
            continue
        page.mouse.click(x, y)
        return
    pytest.fail(f"hovering {child.name} ({child.code}) showed {shown} instead")


def expect_area_in_url(page: Page, code: str) -> None:
    expect(page).to_have_url(re.compile(rf"/map\?(.*&)?area={code}(&|$)"), timeout=MAP_TIMEOUT_MS)


def expect_breadcrumb(page: Page, chain: list[Area]) -> None:
    """The breadcrumb runs from the city to ``chain[-1]``; all but the last are links."""
    crumbs = page.locator(f"#{ids.MAP_BREADCRUMB}")
    expect(crumbs.locator(".gw-crumb-name")).to_have_text([a.name for a in chain])
    expect(crumbs.locator(".gw-crumb-level")).to_have_text(list(LEVEL_WORDS[: len(chain)]))
    expect(crumbs.locator("a.gw-crumb")).to_have_count(len(chain) - 1)
    expect(crumbs.locator(".gw-crumb-current .gw-crumb-name")).to_have_text(chain[-1].name)
    expect(page.locator(f"#{ids.MAP_PANEL} .gw-area-name")).to_have_text(chain[-1].name)


# -- the test ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(demo_engine: Engine) -> list[Area]:
    found = _chain(demo_engine)
    assert [a.level for a in found] == [
        "city",
        "district",
        "street",
        "community",
        "grid",
        "courtyard",
    ]
    assert found[1].code == DISTRICT
    for parent, child in pairwise(found):
        assert child.code in parent.children
    return found


def test_drill_down_to_a_courtyard_and_back(
    page: Page, live_server: str, chain: list[Area]
) -> None:
    district = chain[1]
    page.goto(f"{live_server}/map?area={district.code}")
    seen = wait_for_map(page, district)
    expect_breadcrumb(page, chain[:2])
    assert seen["children"], "the district shows no streets"
    screenshot(page, f"map_{district.level}")

    figures = {district.level: seen}
    for depth in range(2, len(chain)):
        parent, child = chain[depth - 1], chain[depth]
        before = figures[parent.level]
        assert before["names"][child.code] == child.name
        click_child(page, child)

        expect_area_in_url(page, child.code)
        now = wait_for_map(page, child)
        expect_breadcrumb(page, chain[: depth + 1])
        # The map now draws the child: its own children, outline and centre.
        assert set(now["children"]) == child.children
        assert now["children"] != before["children"]
        assert now["centre"] != before["centre"]
        assert now["outline"] > 0
        if child.level == "courtyard":
            assert now["children"] == []
            assert not any("院落 ·" in (name or "") for name in now["traces"])
        else:
            assert now["children"], f"{child.level} {child.code} shows no children"
        figures[child.level] = now
        screenshot(page, f"map_{child.level}")

    # Back up to the street through the breadcrumb.
    street = chain[2]
    page.locator(f"#{ids.MAP_BREADCRUMB} a.gw-crumb-street").click()
    expect_area_in_url(page, street.code)
    back = wait_for_map(page, street)
    expect_breadcrumb(page, chain[:3])
    assert back["children"] == figures["street"]["children"]
    assert back["centre"] == figures["street"]["centre"]
    screenshot(page, "map_back_to_street")

    # A reload of the URL shows the same view.
    url = page.url
    page.reload()
    again = wait_for_map(page, street)
    assert page.url == url
    expect_breadcrumb(page, chain[:3])
    assert again["children"] == back["children"]
    assert again["centre"] == back["centre"]
    assert again["traces"] == back["traces"]
    screenshot(page, "map_reloaded")
