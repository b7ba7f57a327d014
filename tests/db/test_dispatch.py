"""The dispatch panel's reads: case detail, timeline, merged reports, nearest workers
and cameras (checked against a brute-force geodesic ranking of every row)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import Connection, text

from geo_data.actors import Actor, system_actor
from geo_data.case_store import CaseReport, report_case
from geo_data.dispatch import (
    CaseNotFound,
    MergedReport,
    case_detail,
    merged_reports,
    nearest_cameras,
    nearest_workers,
    timeline,
)
from geo_data.workflow import CaseNotFoundError, act
from tests.conftest import DEMO_END

WGS84 = Geod(ellps="WGS84")
UNKNOWN_CASE = 10**12


@dataclass(frozen=True)
class Located:
    """A worker or camera as the brute force sees it."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    kind: np.ndarray  # the filtered attributes, joined: "tier/status" or "status"


def _all_workers(conn: Connection) -> Located:
    rows = conn.execute(
        text("SELECT id, ST_X(geom), ST_Y(geom), tier || '/' || status FROM workers")
    ).all()
    return Located(*(np.array(col) for col in zip(*rows, strict=True)))


def _all_cameras(conn: Connection) -> Located:
    rows = conn.execute(text("SELECT id, ST_X(geom), ST_Y(geom), status FROM cameras")).all()
    return Located(*(np.array(col) for col in zip(*rows, strict=True)))


def _brute_force(
    rows: Located, lon: float, lat: float, keep: np.ndarray, limit: int, *, planar: bool = False
) -> list[tuple[int, float]]:
    """The ``limit`` rows of ``keep`` nearest to (lon, lat), geodesic (ties by id)."""
    ids, lons, lats = rows.ids[keep], rows.lon[keep], rows.lat[keep]
    if planar:
        dist = np.hypot(lons - lon, lats - lat)
    else:
        _, _, dist = WGS84.inv(np.full(len(ids), lon), np.full(len(ids), lat), lons, lats)
    order = np.lexsort((ids, dist))[:limit]
    return [(int(ids[i]), float(dist[i])) for i in order]


def _spread_cases(conn: Connection) -> list[tuple[int, float, float]]:
    """About 30 cases across the district: one per every few communities, plus the
    cases farthest west, east, south and north (whose neighbours lie on one side)."""
    per_community = conn.execute(
        text(
            "SELECT DISTINCT ON (community_id) id FROM cases"
            " WHERE community_id IS NOT NULL ORDER BY community_id, id"
        )
    ).scalars()
    ids = list(per_community)[::4]
    for order in ("ST_X(geom)", "ST_X(geom) DESC", "ST_Y(geom)", "ST_Y(geom) DESC"):
        ids.append(conn.execute(text(f"SELECT id FROM cases ORDER BY {order} LIMIT 1")).scalar())
    rows = conn.execute(
        text("SELECT id, ST_X(geom), ST_Y(geom) FROM cases WHERE id = ANY(:ids) ORDER BY id"),
        {"ids": ids},
    ).all()
    assert len(rows) >= 20
    return [tuple(r) for r in rows]


def _assert_same_ranking(got: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert all(abs(g - e) < 0.5 for (_, g), (_, e) in zip(got, expected, strict=True))


WORKER_FILTERS = [
    pytest.param(5, (1, 2), ("available",), id="default"),
    pytest.param(10, (1,), ("available",), id="tier1-available"),
    pytest.param(7, (3,), ("en_route", "on_site"), id="tier3-busy"),
    pytest.param(25, (1, 2, 3), ("available", "en_route", "on_site", "off_duty"), id="all"),
]


@pytest.mark.parametrize(("limit", "tiers", "statuses"), WORKER_FILTERS)
def test_nearest_workers_equal_a_brute_force_geodesic_ranking(
    demo: Connection, limit: int, tiers: tuple[int, ...], statuses: tuple[str, ...]
) -> None:
    workers = _all_workers(demo)
    keep = np.isin(workers.kind, [f"{t}/{s}" for t in tiers for s in statuses])
    planar_differs = 0
    for case_id, lon, lat in _spread_cases(demo):
        got = nearest_workers(demo, case_id, limit=limit, tiers=tiers, statuses=statuses)
        expected = _brute_force(workers, lon, lat, keep, limit)
        _assert_same_ranking([(w.id, w.distance_m) for w in got], expected)
        planar = _brute_force(workers, lon, lat, keep, limit, planar=True)
        planar_differs += [i for i, _ in planar] != [i for i, _ in expected]
    assert planar_differs > 0  # ranking by degrees would have failed this check


@pytest.mark.parametrize(
    ("limit", "statuses"),
    [
        pytest.param(5, None, id="any"),
        pytest.param(12, ("online",), id="online"),
        pytest.param(6, ("offline", "fault"), id="down"),
    ],
)
def test_nearest_cameras_equal_a_brute_force_geodesic_ranking(
    demo: Connection, limit: int, statuses: tuple[str, ...] | None
) -> None:
    cameras = _all_cameras(demo)
    keep = np.ones(len(cameras.ids), bool) if statuses is None else np.isin(cameras.kind, statuses)
    planar_differs = 0
    for case_id, lon, lat in _spread_cases(demo):
        got = nearest_cameras(demo, case_id, limit=limit, statuses=statuses)
        expected = _brute_force(cameras, lon, lat, keep, limit)
        _assert_same_ranking([(c.id, c.distance_m) for c in got], expected)
        planar = _brute_force(cameras, lon, lat, keep, limit, planar=True)
        planar_differs += [i for i, _ in planar] != [i for i, _ in expected]
    assert planar_differs > 0


def _bare_case(conn: Connection, lon: float, lat: float) -> int:
    """A case at (lon, lat) in the empty database, where no area resolves a report."""
    return conn.execute(
        text(
            "INSERT INTO cases (channel, external_id, category_code, severity, status, geom,"
            " h3_r7, h3_r8, h3_r9, h3_r10, h3_r11, h3_r12, reported_at, due_at)"
            " VALUES ('hotline', :ext, 'E0201', 3, 'reported',"
            " ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0, 0, 0, 0, 0, 0, now(),"
            " now() + interval '1 day') RETURNING id"
        ),
        {"ext": uuid.uuid4().hex, "lon": lon, "lat": lat},
    ).scalar_one()


def _bare_worker(conn: Connection, lon: float, lat: float, tier: int = 1) -> int:
    return conn.execute(
        text(
            "INSERT INTO workers (code, name_zh, tier, status, geom) VALUES"
            " (:code, '测试', :tier, 'available', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
            " RETURNING id"
        ),
        {"code": uuid.uuid4().hex, "tier": tier, "lon": lon, "lat": lat},
    ).scalar_one()


def test_nearest_worker_is_nearest_in_metres_not_in_degrees(conn: Connection) -> None:
    lon, lat = 104.1, 30.65
    case_id = _bare_case(conn, lon, lat)
    east = _bare_worker(conn, lon + 0.0011, lat)  # about 105.8 m: a degree east is shorter
    north = _bare_worker(conn, lon, lat + 0.0010)  # about 110.9 m, but fewer degrees
    by_degrees = conn.execute(
        text(
            "SELECT id FROM workers ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326)"
            " LIMIT 1"
        ),
        {"x": lon, "y": lat},
    ).scalar_one()
    assert by_degrees == north

    (nearest,) = nearest_workers(conn, case_id, limit=1)
    assert nearest.id == east
    assert nearest.distance_m == pytest.approx(WGS84.inv(lon, lat, lon + 0.0011, lat)[2], abs=0.01)
    assert [w.id for w in nearest_workers(conn, case_id)] == [east, north]


def test_equally_distant_workers_rank_by_id(conn: Connection) -> None:
    case_id = _bare_case(conn, 104.1, 30.65)
    ids = [_bare_worker(conn, 104.101, 30.651) for _ in range(3)]
    far = _bare_worker(conn, 104.1, 30.64)
    got = nearest_workers(conn, case_id, limit=10)
    assert [w.id for w in got] == [*sorted(ids), far]
    assert [w.id for w in nearest_workers(conn, case_id, limit=2)] == sorted(ids)[:2]


def test_filters_are_respected_and_workers_without_a_position_skipped(demo: Connection) -> None:
    case_id = demo.execute(text("SELECT min(id) FROM cases")).scalar_one()
    for tiers, statuses in [((1,), ("on_site",)), ((2, 3), ("off_duty", "en_route"))]:
        got = nearest_workers(demo, case_id, limit=30, tiers=tiers, statuses=statuses)
        assert len(got) == 30
        assert all(w.tier in tiers and w.status in statuses for w in got)
    for statuses in [("fault",), ("online", "offline")]:
        cams = nearest_cameras(demo, case_id, limit=30, statuses=statuses)
        assert len(cams) == 30
        assert all(c.status in statuses for c in cams)
    assert {c.status for c in nearest_cameras(demo, case_id, limit=200)} >= {"online", "offline"}

    first = nearest_workers(demo, case_id, limit=3)
    demo.execute(text("UPDATE workers SET geom = NULL WHERE id = :id"), {"id": first[0].id})
    after = nearest_workers(demo, case_id, limit=3)
    assert [w.id for w in after][:2] == [w.id for w in first][1:]
    assert first[0].id not in {w.id for w in after}


def test_too_few_matching_workers_gives_fewer_rows(demo: Connection) -> None:
    case_id = demo.execute(text("SELECT max(id) FROM cases")).scalar_one()
    on_site = demo.execute(
        text("SELECT count(*) FROM workers WHERE status = 'on_site' AND tier IN (1, 2)")
    ).scalar_one()
    got = nearest_workers(demo, case_id, limit=100_000, statuses=("on_site",))
    assert len(got) == on_site < 100_000
    assert [w.distance_m for w in got] == sorted(w.distance_m for w in got)
    assert nearest_workers(demo, case_id, statuses=()) == []
    assert nearest_workers(demo, case_id, limit=0) == []
    assert nearest_cameras(demo, case_id, statuses=()) == []
    with pytest.raises(ValueError, match="negative"):
        nearest_cameras(demo, case_id, limit=-1)


def test_unknown_case_is_none_or_case_not_found(demo: Connection) -> None:
    assert case_detail(demo, UNKNOWN_CASE) is None
    assert timeline(demo, UNKNOWN_CASE) == []
    assert merged_reports(demo, UNKNOWN_CASE) == []
    for search in (nearest_workers, nearest_cameras):
        with pytest.raises(CaseNotFound, match=f"no case {UNKNOWN_CASE}") as raised:
            search(demo, UNKNOWN_CASE)
        assert isinstance(raised.value, LookupError)
        assert isinstance(raised.value, CaseNotFoundError)
        assert raised.value.code == "not_found"


def _new_case(conn: Connection, offset: int = 0, **fields: object) -> int:
    x, y = conn.execute(
        text(
            "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
            " ORDER BY code LIMIT 1 OFFSET :n"
        ),
        {"n": 200 + offset},
    ).one()
    report = CaseReport(
        channel="hotline",
        external_id=f"DP-{uuid.uuid4().hex}",
        category_code="E0201",
        severity=3,
        lon=x,
        lat=y,
        reported_at=DEMO_END + timedelta(days=90, minutes=offset),
        **fields,  # type: ignore[arg-type]
    )
    return report_case(conn, report, system_actor(conn)).case_id


def _operator(conn: Connection) -> Actor:
    name = f"dispatcher-{uuid.uuid4().hex[:8]}"
    user_id = conn.execute(
        text(
            "INSERT INTO users (username, display_name, role) VALUES (:n, :n, 'operator')"
            " RETURNING id"
        ),
        {"n": name},
    ).scalar_one()
    return Actor(user_id, name, "operator")


def _open_count(conn: Connection, worker_id: int) -> int:
    return conn.execute(
        text(
            "SELECT count(*) FROM cases WHERE assignee_id = :w"
            " AND status NOT IN ('closed', 'rejected', 'merged')"
        ),
        {"w": worker_id},
    ).scalar_one()


def test_open_load_is_the_count_of_open_cases_assigned(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo)
    worker = nearest_workers(demo, case_id, limit=1)[0]
    act(demo, case_id, "accept", operator, version=1)
    act(demo, case_id, "dispatch", operator, version=2, worker_id=worker.id)

    (sent,) = [w for w in nearest_workers(demo, case_id, statuses=("en_route",))
               if w.id == worker.id]  # fmt: skip
    assert sent.open_load == worker.open_load + 1 == _open_count(demo, worker.id)

    busiest = demo.execute(
        text(
            "SELECT c.id FROM cases c WHERE c.assignee_id = ("
            "  SELECT assignee_id FROM cases WHERE status NOT IN ('closed', 'rejected', 'merged')"
            "  AND assignee_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)"
            " ORDER BY c.id LIMIT 1"
        )
    ).scalar_one()
    every = (1, 2, 3), ("available", "en_route", "on_site", "off_duty")
    got = nearest_workers(demo, busiest, limit=40, tiers=every[0], statuses=every[1])
    assert [w.open_load for w in got] == [_open_count(demo, w.id) for w in got]
    assert max(w.open_load for w in got) >= 1


def test_timeline_lists_the_log_oldest_first(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(demo, offset=3)
    worker = nearest_workers(demo, case_id, limit=1)[0].id
    act(demo, case_id, "accept", operator, version=1)
    act(demo, case_id, "dispatch", operator, version=2, worker_id=worker)
    act(demo, case_id, "start", operator, version=3)
    act(demo, case_id, "handle", operator, version=4, note="已修复")
    # One transaction: every event has the same ``at``, so the id breaks the tie.
    entries = timeline(demo, case_id)
    assert [(e.action, e.from_status, e.to_status) for e in entries] == [
        ("report", None, "reported"),
        ("accept", "reported", "accepted"),
        ("dispatch", "accepted", "dispatched"),
        ("start", "dispatched", "in_progress"),
        ("handle", "in_progress", "handled"),
    ]
    assert entries[0].actor_name == "system"
    assert {e.actor_name for e in entries[1:]} == {operator.username}
    assert entries[2].data == {"worker_id": worker}
    assert entries[4].note == "已修复"
    assert entries[1].data == {}
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_merged_reports_lists_the_duplicates(demo: Connection) -> None:
    operator = _operator(demo)
    original, duplicate = _new_case(demo, offset=5), _new_case(demo, offset=45)
    assert merged_reports(demo, original) == []
    act(demo, duplicate, "merge", operator, version=1, duplicate_of=original)
    row = demo.execute(
        text("SELECT channel, external_id, reported_at, description FROM cases WHERE id = :id"),
        {"id": duplicate},
    ).one()
    assert merged_reports(demo, original) == [MergedReport(duplicate, *row)]
    assert merged_reports(demo, duplicate) == []
    detail = case_detail(demo, original)
    assert detail is not None and detail.report_count == 2
    merged = case_detail(demo, duplicate)
    assert merged is not None and merged.duplicate_of_id == original and not merged.overdue


def test_case_detail_has_category_assignee_areas_and_overdue(demo: Connection) -> None:
    operator = _operator(demo)
    case_id = _new_case(
        demo, offset=7, description="路灯不亮", reporter_name="张三", reporter_phone="13800001111"
    )
    detail = case_detail(demo, case_id, now=DEMO_END + timedelta(days=90))
    assert detail is not None
    assert (detail.id, detail.status, detail.version, detail.category_code) == (
        case_id, "reported", 1, "E0201"
    )  # fmt: skip
    assert (detail.description, detail.reporter_name, detail.reporter_phone) == (
        "路灯不亮", "张三", "13800001111"
    )  # fmt: skip
    assert detail.assignee_id is None and detail.assignee_name is None
    assert detail.overdue is False
    assert case_detail(demo, case_id, now=detail.due_at + timedelta(seconds=1)).overdue is True

    expected = demo.execute(
        text(
            "SELECT k.name_zh, k.name_en, ST_X(c.geom), ST_Y(c.geom) FROM cases c"
            " JOIN categories k ON k.code = c.category_code WHERE c.id = :id"
        ),
        {"id": case_id},
    ).one()
    assert (detail.category_zh, detail.category_en, detail.lon, detail.lat) == tuple(expected)
    for level in ("district", "street", "community", "grid", "courtyard"):
        area_id = getattr(detail, f"{level}_id")
        names = demo.execute(
            text("SELECT name_zh, name_en FROM areas WHERE id = :id AND level = :level"),
            {"id": area_id, "level": level},
        ).first()
        assert getattr(detail, level) == (None if names is None else tuple(names))
    assert detail.grid is not None and detail.district == ("成华区", "Chenghua District")

    worker = nearest_workers(demo, case_id, limit=1)[0]
    act(demo, case_id, "accept", operator, version=1)
    act(demo, case_id, "dispatch", operator, version=2, worker_id=worker.id)
    detail = case_detail(demo, case_id)
    assert detail is not None and detail.status == "dispatched" and detail.version == 3
    assert (detail.assignee_id, detail.assignee_name, detail.assignee_phone) == (
        worker.id, worker.name, worker.phone
    )  # fmt: skip
    assert detail.accepted_at is not None and detail.dispatched_at is not None
    closed = demo.execute(
        text("SELECT id, due_at FROM cases WHERE status = 'closed' ORDER BY id LIMIT 1")
    ).one()
    late = case_detail(demo, closed.id, now=closed.due_at + timedelta(days=365))
    assert late is not None and late.overdue is False  # closed cases are never overdue
