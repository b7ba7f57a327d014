"""The map layers on small hand-made frames: pure functions from frames to traces."""

from __future__ import annotations

import colorsys
import copy
import json
import re
from datetime import UTC, datetime

import h3
import pandas as pd
import plotly
import pytest

from layers import areas, basemap, buildings, cameras, geometry, hexes, incidents, outline, workers
from layers.labels import age_text
from layers.style import CAMERA_STATUS_COLOUR, OVERDUE_RING, SEVERITY_COLOUR, Style

ZH = Style(lang="zh", metric="open", window="live")
EN = Style(lang="en", metric="overdue", window="7d")


def square(x: float, y: float, d: float = 0.001) -> dict:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def children() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["510108001", "510108002", "510108003"],
            "level": ["street"] * 3,
            "name_zh": ["猛追湾街道", "双桥子街道", "府青路街道"],
            "name_en": ["Mengzhuiwan", "Shuangqiaozi", "Fuqinglu"],
            "population": [55446, 60000, None],
            "open": [3, 0, 7],
            "overdue": [1, 0, 2],
            "in_window": [3, 0, 7],
            "per_1000": [0.054, 0.0, None],
            "value": [3, 0, 7],
            "geometry": [square(104.0, 30.6), square(104.01, 30.6), square(104.02, 30.6)],
        }
    )


@pytest.fixture
def hex_frame() -> pd.DataFrame:
    centre = h3.latlng_to_cell(30.66, 104.1, 9)
    cells = [centre, *sorted(set(h3.grid_disk(centre, 1)) - {centre})[:2]]
    return pd.DataFrame({"h3": cells, "count": [12, 3, 1]})


@pytest.fixture
def incident_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [101, 102, 103, 104],
            "category_code": ["E0102", "0101", "E0102", "E0401"],
            "category_zh": ["暴露垃圾", "上水井盖", "暴露垃圾", "火灾隐患"],
            "category_en": ["Exposed rubbish", "Manhole cover", "Exposed rubbish", "Fire risk"],
            "severity": [1, 3, 3, 4],
            "status": ["dispatched", "in_progress", "reported", "handled"],
            "reported_at": [datetime(2026, 11, 1, tzinfo=UTC)] * 4,
            "age_hours": [2.0, 30.0, 77.5, 5.0],
            "due_at": [datetime(2026, 11, 2, tzinfo=UTC)] * 4,
            "overdue": [False, True, False, True],
            "assignee": ["程涵", "任琪文", None, "王斌"],
            "lon": [104.1, 104.11, 104.12, 104.13],
            "lat": [30.66, 30.67, 30.68, 30.69],
            "report_count": [1, 3, 1, 2],
            "total": [4, 4, 4, 4],
        }
    )


@pytest.fixture
def camera_points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["CAM-1", "CAM-2", "CAM-3"],
            "name_zh": ["宁龙新村3栋监控", "路口监控", None],
            "tier": ["courtyard", "district", "street"],
            "status": ["online", "fault", "online"],
            "lon": [104.1, 104.2, 104.3],
            "lat": [30.6, 30.7, 30.8],
        }
    )


@pytest.fixture
def camera_hexes(hex_frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "h3": hex_frame["h3"],
            "count": [10, 4, 2],
            "online": [8, 4, 0],
            "offline": [1, 0, 1],
            "fault": [1, 0, 1],
            "tier_district": [2, 1, 0],
            "tier_street": [3, 1, 0],
            "tier_community": [3, 1, 1],
            "tier_courtyard": [2, 1, 1],
        }
    )


@pytest.fixture
def worker_points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["W1-1", "W1-2"],
            "name_zh": ["宋洋伟", "林磊博"],
            "tier": [1, 2],
            "status": ["available", "on_site"],
            "phone": ["150****2069", None],
            "lon": [104.1, 104.2],
            "lat": [30.6, 30.7],
            "last_seen_at": [datetime(2026, 11, 1, tzinfo=UTC)] * 2,
        }
    )


@pytest.fixture
def worker_groups() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["510108001001"],
            "name_zh": ["龙山社区"],
            "name_en": ["Longshan Community"],
            "lon": [104.1],
            "lat": [30.6],
            "count": [33],
            "available": [21],
            "en_route": [4],
            "on_site": [7],
            "off_duty": [1],
        }
    )


@pytest.fixture
def building_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": ["BLD-1", "BLD-2", "BLD-3"],
            "name_zh": ["星岭路206号", "锦台巷141号", "碧安南路195号"],
            "name_en": ["No. 206 Xingling Rd", "No. 141 Jintai Ln", "No. 195 Bi'an South Rd"],
            "floors": [6, 2, None],
            "use": ["residential", "commercial", "residential"],
            "courtyard_zh": ["宁龙新村", None, "宁龙新村"],
            "courtyard_en": ["Ninglong New Village", None, "Ninglong New Village"],
            "geometry": [square(104.0, 30.6, 1e-4), square(104.1, 30.6, 1e-4), square(104.2, 30.6)],
        }
    )


@pytest.fixture
def outline_frame() -> pd.DataFrame:
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square(104.0, 30.6)["coordinates"], square(104.1, 30.6)["coordinates"]],
    }
    return pd.DataFrame({"code": ["510108"], "geometry": [multi]})


def all_traces(request: pytest.FixtureRequest, style: Style) -> list:
    pairs = [
        (areas, "children"),
        (hexes, "hex_frame"),
        (incidents, "incident_frame"),
        (cameras, "camera_points"),
        (cameras, "camera_hexes"),
        (workers, "worker_points"),
        (workers, "worker_groups"),
        (buildings, "building_frame"),
        (outline, "outline_frame"),
    ]
    traces = []
    for module, fixture in pairs:
        traces += module.to_traces(request.getfixturevalue(fixture), style)
    return traces


def test_children_choropleth_is_coloured_by_the_metric_and_carries_codes(
    children: pd.DataFrame,
) -> None:
    (trace,) = areas.to_traces(children, ZH)
    assert trace.type == "choroplethmap"
    assert list(trace.locations) == ["510108001", "510108002", "510108003"]
    assert list(trace.z) == [3, 0, 7]
    assert [f["id"] for f in trace.geojson["features"]] == list(trace.locations)
    assert trace.featureidkey == "id"
    assert [c[:2] for c in trace.customdata] == [["area", c] for c in trace.locations]
    assert "未结案件" in trace.name and "街道" in trace.name
    assert trace.colorbar.title.text == "未结案件"
    assert trace.marker.line.width > 0  # outlined


def test_children_choropleth_fades_under_hexagons(children: pd.DataFrame) -> None:
    (normal,) = areas.to_traces(children, ZH)
    (faded,) = areas.to_traces(children, Style(faded=True))
    assert faded.marker.opacity < normal.marker.opacity


def test_children_without_population_show_a_dash_not_nan(children: pd.DataFrame) -> None:
    (trace,) = areas.to_traces(children, ZH)
    third = trace.customdata[2]
    assert third[6] == "—" and third[7] == "—"
    assert "nan" not in json.dumps(list(trace.customdata))


def test_hexagons_are_h3_polygons_coloured_by_count(hex_frame: pd.DataFrame) -> None:
    (trace,) = hexes.to_traces(hex_frame, ZH)
    assert trace.type == "choroplethmap"
    assert list(trace.z) == [12, 3, 1]
    for feature, cell in zip(trace.geojson["features"], hex_frame["h3"], strict=True):
        ring = feature["geometry"]["coordinates"][0]
        assert feature["id"] == cell
        assert len(ring) == 7 and ring[0] == ring[-1]  # six corners, closed
        lat, lng = h3.cell_to_latlng(cell)
        assert abs(sum(p[0] for p in ring[:-1]) / 6 - lng) < 1e-3
        assert abs(sum(p[1] for p in ring[:-1]) / 6 - lat) < 1e-3
    assert [c[:2] for c in trace.customdata] == [["hex", c] for c in hex_frame["h3"]]
    assert "实时" in trace.name


def test_hexagon_corners_are_rounded_to_what_their_resolution_needs() -> None:
    point = (30.66, 104.10)
    for resolution, digits in ((7, 4), (8, 4), (9, 5), (10, 5), (11, 6), (12, 6)):
        cell = h3.latlng_to_cell(*point, resolution)
        ring = geometry.hexagon(cell)["coordinates"][0]
        assert all(round(v, digits) == v for corner in ring for v in corner), resolution
        assert any(round(v, digits - 1) != v for corner in ring for v in corner), resolution
        exact = h3.cell_to_boundary(cell)  # (lat, lng), not closed
        moved = max(abs(c[0] - lng) for c, (_lat, lng) in zip(ring[:-1], exact, strict=True))
        assert moved <= 0.5 * 10**-digits
    # Neighbours share their rounded corners: no gap opens between them.
    cell = h3.latlng_to_cell(*point, 7)
    corners = {tuple(c) for c in geometry.hexagon(cell)["coordinates"][0]}
    for neighbour in h3.grid_ring(cell, 1):
        shared = corners & {tuple(c) for c in geometry.hexagon(neighbour)["coordinates"][0]}
        assert len(shared) == 2, neighbour


def test_incidents_are_coloured_by_severity(incident_frame: pd.DataFrame) -> None:
    traces = [t for t in incidents.to_traces(incident_frame, ZH) if t.hoverinfo != "skip"]
    assert all(t.type == "scattermap" for t in traces)
    by_colour = {t.marker.color: [c[1] for c in t.customdata] for t in traces}
    assert by_colour == {
        SEVERITY_COLOUR[1]: [101],
        SEVERITY_COLOUR[3]: [102, 103],
        SEVERITY_COLOUR[4]: [104],
    }
    assert [t.name for t in traces] == ["案件 · 1 特急", "案件 · 3 一般", "案件 · 4 轻微"]


def test_severity_colours_run_from_red_to_blue(incident_frame: pd.DataFrame) -> None:
    every = incident_frame.assign(severity=[1, 2, 3, 4])
    traces = [t for t in incidents.to_traces(every, ZH) if t.hoverinfo != "skip"]

    def hue(colour: str) -> float:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        h = colorsys.rgb_to_hsv(r, g, b)[0] * 360
        return h - 360 if h > 300 else h  # red wraps around

    hues = [hue(t.marker.color) for t in traces]
    assert len(hues) == 4 and hues == sorted(hues)
    assert -20 < hues[0] < 10  # the most severe is red
    assert 180 < hues[3] < 260  # the least severe is blue


def test_overdue_incidents_get_a_ring_and_a_bigger_marker(incident_frame: pd.DataFrame) -> None:
    ring, *severities = incidents.to_traces(incident_frame, ZH)
    assert ring.name == "超期（红圈）"
    assert ring.marker.color == OVERDUE_RING
    assert list(zip(ring.lon, ring.lat, strict=True)) == [(104.11, 30.67), (104.13, 30.69)]
    normal = severities[0].marker.size[0]
    assert ring.marker.size > normal
    sizes = dict(
        zip(
            [c[1] for t in severities for c in t.customdata],
            [s for t in severities for s in t.marker.size],
            strict=True,
        )
    )
    assert sizes[102] > sizes[103] and sizes[104] > normal


def test_no_ring_when_nothing_is_overdue(incident_frame: pd.DataFrame) -> None:
    on_time = incident_frame.assign(overdue=False)
    names = [t.name for t in incidents.to_traces(on_time, ZH)]
    assert "超期（红圈）" not in names


def test_incident_hover_shows_id_category_status_age_and_assignee(
    incident_frame: pd.DataFrame,
) -> None:
    traces = incidents.to_traces(incident_frame, ZH)
    normal = next(t for t in traces if t.name == "案件 · 3 一般")
    first, second = (list(c) for c in normal.customdata)
    assert first[:6] == ["case", 102, "上水井盖", "处置中", "1天6小时", "任琪文"]
    assert second[5] == "未派遣"  # no assignee yet
    for field in ("customdata[1]", "customdata[2]", "customdata[3]", "customdata[4]"):
        assert field in normal.hovertemplate
    assert "customdata[5]" in normal.hovertemplate and "处置人" in normal.hovertemplate
    assert first[7] == 3  # the reports this case gathered (duplicates merged into it)
    assert "上报次数: %{customdata[7]}" in normal.hovertemplate


def test_incident_hover_escapes_markup(incident_frame: pd.DataFrame) -> None:
    hostile = incident_frame.assign(assignee="<img src=x onerror=alert(1)>")
    traces = incidents.to_traces(hostile, ZH)
    text = " ".join(
        str(v) for tr in traces if tr.customdata is not None for row in tr.customdata for v in row
    )
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_age_reads_in_days_and_hours() -> None:
    assert age_text(77.5, "zh") == "3天6小时"
    assert age_text(5.2, "en") == "5h"
    assert age_text(49, "en") == "2d 1h"


def test_camera_points_by_status_sized_by_tier(camera_points: pd.DataFrame) -> None:
    traces = cameras.to_traces(camera_points, ZH)
    assert {t.marker.color for t in traces} == {
        CAMERA_STATUS_COLOUR["online"],
        CAMERA_STATUS_COLOUR["fault"],
    }
    online = next(t for t in traces if t.marker.color == CAMERA_STATUS_COLOUR["online"])
    assert [c[1] for c in online.customdata] == ["CAM-1", "CAM-3"]
    assert online.marker.size[0] < online.marker.size[1]  # courtyard smaller than street
    assert online.customdata[0][3:] == ["院落级", "在线"]
    assert online.customdata[1][2] == "CAM-3"  # a camera without a name shows its code
    for field in ("customdata[1]", "customdata[3]", "customdata[4]"):
        assert field in online.hovertemplate


def test_aggregated_cameras_become_hexagons_coloured_by_share_not_online(
    camera_hexes: pd.DataFrame,
) -> None:
    (trace,) = cameras.to_traces(camera_hexes, ZH)
    assert trace.type == "choroplethmap"
    assert list(trace.z) == [0.2, 0.0, 1.0]
    assert "在线 8 · 离线 1 · 故障 1" in trace.customdata[0][3]
    assert "区级 2" in trace.customdata[0][4]


def test_worker_hover_shows_masked_phone_and_status(worker_points: pd.DataFrame) -> None:
    traces = workers.to_traces(worker_points, ZH)
    available = next(t for t in traces if "待命" in t.name)
    assert available.customdata[0][2:5] == ["宋洋伟", "150****2069", "待命"]
    assert "customdata[3]" in available.hovertemplate
    on_site = next(t for t in traces if "在现场" in t.name)
    assert on_site.customdata[0][3] == "—"
    for trace in traces:
        for row in trace.customdata:
            assert not re.search(r"\d{7,}", json.dumps(row, ensure_ascii=False))


def test_worker_groups_are_bubbles_sized_by_count(worker_groups: pd.DataFrame) -> None:
    (trace,) = workers.to_traces(worker_groups, EN)
    assert trace.name == "Workers · per community"
    assert trace.marker.size[0] > 8
    assert trace.customdata[0][2:4] == ["Longshan Community", 33]


def test_buildings_by_use_with_name_and_courtyard_in_hover(building_frame: pd.DataFrame) -> None:
    traces = buildings.to_traces(building_frame, ZH)
    assert [t.name for t in traces] == ["楼栋 · 住宅", "楼栋 · 商业"]
    residential = traces[0]
    assert residential.customdata[0][2] == "星岭路206号"
    assert residential.customdata[0][4] == "宁龙新村"
    assert residential.customdata[1][3] == "—"  # floors unknown
    assert traces[1].customdata[0][4] == "无"  # not in a courtyard
    assert "customdata[4]" in residential.hovertemplate


def test_outline_draws_every_ring_as_one_line(outline_frame: pd.DataFrame) -> None:
    (trace,) = outline.to_traces(outline_frame, ZH)
    assert trace.mode == "lines"
    assert list(trace.lon).count(None) == 1
    assert len(trace.lon) == 11


def test_layers_do_not_change_their_input(request: pytest.FixtureRequest) -> None:
    names = [
        "children",
        "hex_frame",
        "incident_frame",
        "camera_points",
        "camera_hexes",
        "worker_points",
        "worker_groups",
        "building_frame",
        "outline_frame",
    ]
    before = {n: copy.deepcopy(request.getfixturevalue(n)) for n in names}
    traces = all_traces(request, ZH) + all_traces(request, EN)
    assert traces
    for name in names:
        pd.testing.assert_frame_equal(request.getfixturevalue(name), before[name])


def test_every_trace_has_a_legend_entry(request: pytest.FixtureRequest) -> None:
    for trace in all_traces(request, ZH):
        assert trace.name, trace.type
        assert trace.showlegend is not False


def test_no_trace_uses_text_labels(request: pytest.FixtureRequest) -> None:
    """Text on MapLibre traces would make the browser fetch glyph fonts from the internet."""
    for trace in all_traces(request, ZH) + all_traces(request, EN):
        plain = trace.to_plotly_json()
        assert "text" not in str(plain.get("mode", ""))
        assert "texttemplate" not in plain and "text" not in plain
        assert plain.get("marker", {}).get("symbol") in (None, "circle")


def test_english_style_gives_english_names(request: pytest.FixtureRequest) -> None:
    text = json.dumps(
        [t.to_plotly_json() for t in all_traces(request, EN)],
        cls=plotly.utils.PlotlyJSONEncoder,
        ensure_ascii=False,
    )
    for english in ("Overdue cases", "Critical", "Online", "Available", "Residential"):
        assert english in text
    for chinese in ("超期", "特急", "在线", "待命", "住宅"):
        assert chinese not in text


def test_empty_frames_give_no_traces(request: pytest.FixtureRequest) -> None:
    for module, fixture in [
        (areas, "children"),
        (hexes, "hex_frame"),
        (incidents, "incident_frame"),
        (cameras, "camera_points"),
        (workers, "worker_points"),
        (buildings, "building_frame"),
        (outline, "outline_frame"),
    ]:
        assert module.to_traces(request.getfixturevalue(fixture).iloc[0:0], ZH) == []


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        Style(lang="fr")


def test_basemap_is_offline_without_a_configured_url() -> None:
    # This server's style (tests/unit/test_basemap_style.py): its tiles and glyphs only.
    style = basemap.map_style()
    assert style == "/basemap/style.json?lang=zh&theme=light"
    served = json.dumps(basemap.basemap_style("http://127.0.0.1:8050/"))
    assert served.count("http") == served.count("http://127.0.0.1:8050/")  # nothing remote


def test_basemap_uses_the_configured_tile_server() -> None:
    url = "http://tiles.local:8080/{z}/{x}/{y}.png"
    style = basemap.map_style(url)
    assert style["sources"]["basemap"] == {"type": "raster", "tiles": [url], "tileSize": 256}
    assert [layer["type"] for layer in style["layers"]] == ["background", "raster"]
    assert "glyphs" not in style  # a raster basemap brings its own labels
