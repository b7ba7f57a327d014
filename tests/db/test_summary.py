"""The leader summary on the demo city: every figure against SQL written independently,
the page through the real app, and the CSV exports with their access rules."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text
from werkzeug.test import TestResponse

from app import create_app, ids
from app.pages.summary import as_of, choose_area, ops_href
from app.settings import Settings
from geo_data import summary, views
from geo_data.case_list import filters_from_query, list_cases
from geo_data.users import UserInfo
from tests.conftest import DEMO_END

CST = ZoneInfo("Asia/Shanghai")
NOW = DEMO_END  # 2026-11-01 20:00 in Beijing
TODAY = datetime(2026, 11, 1, tzinfo=CST)
WINDOW = datetime(2026, 10, 3, tzinfo=CST)  # today and the 29 days before
PREV_WINDOW = datetime(2026, 9, 3, tzinfo=CST)
DAY_AGO = NOW - timedelta(hours=24)
# Open at a time, from report and closing times (not the status column): the store's
# cases committed by other tests after the demo's end do not change what was open then.
OPEN_AT = "reported_at <= :t AND status <> 'merged' AND (closed_at IS NULL OR closed_at > :t)"
PAGE_DAY = "2026-10-31"  # a finished day inside the demo's data, for the page and files


def area(conn: Connection, code: str) -> views.AreaInfo:
    found = views.area_info(conn, code)
    assert found is not None, code
    return found


def count(conn: Connection, sql: str, **params: object) -> int:
    return int(conn.execute(text(sql), params).scalar_one())


def scalar(conn: Connection, sql: str, **params: object) -> object:
    return conn.execute(text(sql), params).scalar_one()


@pytest.fixture
def district(demo: Connection) -> views.AreaInfo:
    return area(demo, "510108")


def tiles_by_key(conn: Connection, where: views.AreaInfo) -> dict[str, summary.Tile]:
    return {tile.key: tile for tile in summary.tiles(conn, where, NOW)}


# -- periods ---------------------------------------------------------------------------------


def test_periods_are_local_calendar_days() -> None:
    p = summary.periods(NOW)
    assert p.today == date(2026, 11, 1)
    assert p.today_start == TODAY
    assert p.yesterday_start == datetime(2026, 10, 31, tzinfo=CST)
    assert p.yesterday_same == NOW - timedelta(days=1)
    assert p.month_start == TODAY
    assert p.prev_month_start == datetime(2026, 10, 1, tzinfo=CST)
    assert p.prev_month_same == datetime(2026, 10, 1, 20, 0, tzinfo=CST)
    assert p.window_start == WINDOW and p.window_first_day == date(2026, 10, 3)
    assert p.prev_window_start == PREV_WINDOW
    assert p.week_first_day == date(2026, 10, 26)


def test_the_31st_compares_with_all_of_a_shorter_month() -> None:
    p = summary.periods(datetime(2026, 3, 31, 9, 30, tzinfo=CST))
    assert p.prev_month_start == datetime(2026, 2, 1, tzinfo=CST)
    assert p.prev_month_same == datetime(2026, 3, 1, tzinfo=CST) - timedelta(microseconds=1)
    with pytest.raises(ValueError, match="time zone"):
        summary.periods(datetime(2026, 3, 31, 9, 30))


# -- tiles -------------------------------------------------------------------------------------


def test_tiles_equal_independent_counts(demo: Connection, district: views.AreaInfo) -> None:
    d = {"d": district.id, "now": NOW}
    tiles = tiles_by_key(demo, district)
    assert list(tiles) == list(summary.TILE_KEYS)

    def received(start: datetime, end: datetime) -> int:
        return count(
            demo,
            "SELECT count(*) FROM cases WHERE district_id = :d AND status <> 'merged'"
            " AND reported_at >= :s AND reported_at <= :e",
            d=district.id,
            s=start,
            e=end,
        )

    assert tiles["today"].value == received(TODAY, NOW) > 0
    assert tiles["today"].previous == received(TODAY - timedelta(days=1), NOW - timedelta(days=1))
    assert tiles["month"].value == received(TODAY, NOW)  # the 1st: the month is today
    assert tiles["month"].previous == received(
        datetime(2026, 10, 1, tzinfo=CST), datetime(2026, 10, 1, 20, tzinfo=CST)
    )

    cohort = (
        "FROM cases WHERE district_id = :d AND reported_at >= :s AND reported_at <= :e"
        " AND status NOT IN ('merged', 'rejected')"
    )
    cur = {**d, "s": WINDOW, "e": NOW, "by": NOW}
    prev = {**d, "s": PREV_WINDOW, "e": WINDOW - timedelta(microseconds=1), "by": WINDOW}
    for tile_key, params in (("closure_rate", cur), ("on_time_rate", cur)):
        got = count(demo, f"SELECT count(*) {cohort}", **params)
        closed = count(
            demo, f"SELECT count(*) {cohort} AND status = 'closed' AND closed_at <= :by", **params
        )
        on_time = count(
            demo,
            f"SELECT count(*) {cohort} AND status = 'closed' AND closed_at <= :by"
            " AND closed_at <= due_at",
            **params,
        )
        expected = closed / got if tile_key == "closure_rate" else on_time / closed
        assert tiles[tile_key].value == pytest.approx(expected, abs=5e-5)
    prev_got = count(demo, f"SELECT count(*) {cohort}", **prev)
    prev_closed = count(
        demo, f"SELECT count(*) {cohort} AND status = 'closed' AND closed_at < :by", **prev
    )
    assert tiles["closure_rate"].previous == pytest.approx(prev_closed / prev_got, abs=5e-5)

    closed_cohort = f"{cohort} AND status = 'closed' AND closed_at <= :by"
    satisfied = count(demo, f"SELECT count(*) {closed_cohort} AND satisfied IS TRUE", **cur)
    rated = count(demo, f"SELECT count(*) {closed_cohort} AND satisfied IS NOT NULL", **cur)
    assert tiles["satisfaction"].value == pytest.approx(satisfied / rated, abs=5e-5)
    hours = scalar(
        demo,
        f"SELECT avg(extract(epoch FROM closed_at - reported_at)) / 3600 {closed_cohort}",
        **cur,
    )
    assert tiles["handling_hours"].value == pytest.approx(float(hours), abs=0.051)

    def overdue(at: datetime) -> int:
        return count(
            demo,
            f"SELECT count(*) FROM cases WHERE district_id = :d AND {OPEN_AT} AND due_at < :t",
            d=district.id,
            t=at,
        )

    assert tiles["overdue"].value == overdue(NOW) > 0
    assert tiles["overdue"].previous == overdue(DAY_AGO)


def test_tiles_carry_what_their_link_lists(demo: Connection, district: views.AreaInfo) -> None:
    tiles = tiles_by_key(demo, district)
    assert (tiles["today"].status, tiles["today"].date_from, tiles["today"].date_to) == (
        "all",
        date(2026, 11, 1),
        date(2026, 11, 1),
    )
    assert tiles["closure_rate"].status == "closed"
    assert tiles["closure_rate"].date_from == date(2026, 10, 3)
    assert tiles["overdue"].status == "overdue" and tiles["overdue"].date_from is None
    assert tiles["overdue"].better == "down" and tiles["closure_rate"].better == "up"


# -- trend, categories, rankings ---------------------------------------------------------------


def test_trend_has_thirty_local_days(demo: Connection, district: views.AreaInfo) -> None:
    frame = summary.trend(demo, district, NOW)
    assert len(frame) == 30
    assert list(frame["day"]) == [date(2026, 10, 3) + timedelta(days=i) for i in range(30)]
    received = count(
        demo,
        "SELECT count(*) FROM cases WHERE district_id = :d AND status <> 'merged'"
        " AND reported_at >= :s AND reported_at <= :n",
        d=district.id,
        s=WINDOW,
        n=NOW,
    )
    assert int(frame["received"].sum()) == received
    assert int(frame["received"].iloc[-1]) == tiles_by_key(demo, district)["today"].value
    day = frame.iloc[10]
    start = datetime.combine(day["day"], datetime.min.time(), CST)
    closed = count(
        demo,
        "SELECT count(*) FROM cases WHERE district_id = :d AND status = 'closed'"
        " AND closed_at >= :s AND closed_at < :e",
        d=district.id,
        s=start,
        e=start + timedelta(days=1),
    )
    assert int(day["closed"]) == closed > 0


def test_categories_most_received_first_with_open_and_overdue(
    demo: Connection, district: views.AreaInfo
) -> None:
    top = summary.categories(demo, district, NOW)
    every = summary.categories(demo, district, NOW, None)
    assert len(top) == summary.CATEGORY_LIMIT and len(every) > len(top)
    assert list(top["received"]) == sorted(top["received"], reverse=True)
    assert top.equals(every.head(len(top)))
    first = top.iloc[0]
    assert first["received"] == count(
        demo,
        "SELECT count(*) FROM cases WHERE district_id = :d AND category_code = :c"
        " AND status <> 'merged' AND reported_at >= :s AND reported_at <= :n",
        d=district.id,
        c=first["code"],
        s=WINDOW,
        n=NOW,
    )
    open_now = count(
        demo,
        f"SELECT count(*) FROM cases WHERE district_id = :d AND {OPEN_AT}",
        d=district.id,
        t=NOW,
    )
    assert int(every["open"].sum()) == open_now
    assert int(every["overdue"].sum()) == tiles_by_key(demo, district)["overdue"].value


def test_rankings_cover_every_street(demo: Connection, district: views.AreaInfo) -> None:
    frame = summary.rankings(demo, district, NOW)
    streets = list(
        demo.execute(
            text("SELECT code FROM areas WHERE parent_id = :d ORDER BY code"), {"d": district.id}
        ).scalars()
    )
    assert list(frame["code"]) == streets and len(streets) == 14
    assert set(frame["level"]) == {"street"}
    tiles = tiles_by_key(demo, district)
    assert int(frame["overdue"].sum()) == tiles["overdue"].value
    cohort = count(
        demo,
        "SELECT count(*) FROM cases WHERE district_id = :d AND reported_at >= :s"
        " AND reported_at <= :n AND status NOT IN ('merged', 'rejected')",
        d=district.id,
        s=WINDOW,
        n=NOW,
    )
    assert int(frame["received"].sum()) == cohort
    row = frame.iloc[0]
    assert row["closure_rate"] == pytest.approx(row["closed"] / row["received"], abs=5e-5)
    assert row["on_time_rate"] == pytest.approx(row["on_time"] / row["closed"], abs=5e-5)


def test_a_courtyard_has_no_rankings(demo: Connection) -> None:
    code = scalar(demo, "SELECT code FROM areas WHERE level = 'courtyard' ORDER BY code LIMIT 1")
    assert summary.rankings(demo, area(demo, str(code)), NOW).empty


# -- the weekly leaderboard -------------------------------------------------------------------


def test_leaderboard_orders_workers_by_cases_closed(
    demo: Connection, district: views.AreaInfo
) -> None:
    board = summary.leaderboard(demo, district, NOW)
    assert len(board) == summary.LEADERBOARD_SIZE
    assert list(board["rank"]) == list(range(1, 21))
    keys = [
        (-r.closed, -r.on_time, -r.satisfied, r.reopened, r.code)
        for r in board.itertuples(index=False)
    ]
    assert keys == sorted(keys)
    week = datetime(2026, 10, 26, tzinfo=CST)
    best = board.iloc[0]
    closed, on_time = demo.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE closed_at <= due_at) FROM cases"
            " WHERE assignee_id = :w AND district_id = :d AND status = 'closed'"
            " AND closed_at >= :s AND closed_at <= :n"
        ),
        {"w": int(best["worker_id"]), "d": district.id, "s": week, "n": NOW},
    ).one()
    assert (best["closed"], best["on_time"]) == (closed, on_time)
    most = count(
        demo,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM cases WHERE district_id = :d"
        " AND status = 'closed' AND closed_at >= :s AND closed_at <= :n"
        " AND assignee_id IS NOT NULL GROUP BY assignee_id) x",
        d=district.id,
        s=week,
        n=NOW,
    )
    assert best["closed"] == most


def test_a_workers_closed_count_links_to_exactly_the_cases_they_closed(
    demo: Connection, district: views.AreaInfo
) -> None:
    missed_by_report_date = 0
    for r in summary.leaderboard(demo, district, NOW).itertuples(index=False):
        href = ops_href(
            district.code, "closed", "zh", date(2026, 10, 26), NOW.astimezone(CST).date(),
            worker=int(r.worker_id), by_closing=True,
        )  # fmt: skip
        filters = filters_from_query(dict(parse_qsl(urlsplit(href).query)))
        assert filters.dates == "closed"
        assert list_cases(demo, district, filters, now=NOW)[1] == r.closed, r.name
        # The link before bounded the report date: cases reported before the week went.
        by_report = list_cases(demo, district, replace(filters, dates="reported"), now=NOW)[1]
        missed_by_report_date += r.closed - by_report
    assert missed_by_report_date > 0


def test_reopened_cases_count_against_their_handler(
    demo: Connection, district: views.AreaInfo
) -> None:
    board = summary.leaderboard(demo, district, NOW)
    worker = int(board.iloc[0]["worker_id"])
    case_id = scalar(
        demo,
        "SELECT id FROM cases WHERE assignee_id = :w AND status = 'closed' ORDER BY id LIMIT 1",
        w=worker,
    )
    for hours_ago, handler in ((2, worker), (30, worker), (24 * 9, worker)):
        demo.execute(
            text(
                "INSERT INTO case_events (case_id, at, actor_name, action, from_status,"
                " to_status, note, data) VALUES (:c, :at, 'test', 'reopen', 'closed',"
                " 'reopened', 'not satisfied', CAST(:data AS jsonb))"
            ),
            {
                "c": case_id,
                "at": NOW - timedelta(hours=hours_ago),
                "data": json.dumps({"handler_id": handler}),
            },
        )
    after = summary.leaderboard(demo, district, NOW)
    row = after[after["worker_id"] == worker].iloc[0]
    assert row["reopened"] == 2  # the one nine days ago is not this week's


# -- scoping ------------------------------------------------------------------------------------


def test_a_street_gets_only_its_own_numbers(
    demo: Connection, demo_users: dict[str, UserInfo]
) -> None:
    street = area(demo, demo_users["supervisor"].area_code)
    assert street.level == "street"
    tiles = tiles_by_key(demo, street)
    assert tiles["today"].value == count(
        demo,
        "SELECT count(*) FROM cases WHERE street_id = :s AND status <> 'merged'"
        " AND reported_at >= :t AND reported_at <= :n",
        s=street.id,
        t=TODAY,
        n=NOW,
    )
    assert tiles["overdue"].value == count(
        demo,
        f"SELECT count(*) FROM cases WHERE street_id = :s AND {OPEN_AT} AND due_at < :t",
        s=street.id,
        t=NOW,
    )
    ranking = summary.rankings(demo, street, NOW)
    assert set(ranking["level"]) == {"community"}
    inside = set(
        demo.execute(
            text("SELECT code FROM areas WHERE parent_id = :s"), {"s": street.id}
        ).scalars()
    )
    assert set(ranking["code"]) == inside
    whole = summary.rankings(demo, area(demo, "510108"), NOW)
    mine = whole[whole["code"] == street.code].iloc[0]
    assert int(ranking["received"].sum()) == mine["received"]
    assert int(ranking["overdue"].sum()) == mine["overdue"] == tiles["overdue"].value
    board = summary.leaderboard(demo, street, NOW)
    workers_street = set(
        demo.execute(
            text(
                "SELECT DISTINCT assignee_id FROM cases WHERE street_id = :s"
                " AND assignee_id IS NOT NULL"
            ),
            {"s": street.id},
        ).scalars()
    )
    assert set(board["worker_id"]) <= workers_street


def test_a_supervisor_may_choose_only_inside_their_area(
    demo: Connection, demo_users: dict[str, UserInfo]
) -> None:
    supervisor = demo_users["supervisor"]
    own = choose_area(demo, supervisor, None)
    assert own.area is not None and own.area.code == supervisor.area_code
    child = scalar(
        demo, "SELECT code FROM areas WHERE parent_id = :s ORDER BY code LIMIT 1", s=own.area.id
    )
    assert choose_area(demo, supervisor, str(child)).area is not None
    for away in ("510108", "510108002"):
        refused = choose_area(demo, supervisor, away)
        assert refused.area is None and refused.error == "outside_area"
    assert choose_area(demo, supervisor, "nope").error == "unknown_area"
    leader = choose_area(demo, demo_users["leader"], None)
    assert leader.area is not None and leader.area.code == "510108"


def test_a_date_looks_back_to_the_end_of_that_day() -> None:
    real = datetime(2026, 11, 22, 6, 0, tzinfo=CST)
    now, day = as_of({"date": "2026-10-31"}, real)
    assert day == date(2026, 10, 31)
    assert now == datetime(2026, 11, 1, tzinfo=CST) - timedelta(microseconds=1)
    assert as_of({"date": "2026-11-22"}, real) == (real, None)  # today: live
    assert as_of({"date": "2027-01-01"}, real) == (real, None)
    assert as_of({"date": "../etc"}, real) == (real, None)


# -- the page through the real app ------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, demo_engine: Engine, demo_users: dict) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


def page(client: FlaskClient, headers: dict, search: str = "") -> str:
    response = client.post(
        "/_dash-update-component",
        json={
            "output": f"{ids.PAGE}.children",
            "outputs": {"id": ids.PAGE, "property": "children"},
            "inputs": [
                {"id": ids.URL, "property": "pathname", "value": "/summary"},
                {"id": ids.URL, "property": "search", "value": search},
            ],
            "changedPropIds": [f"{ids.URL}.pathname"],
            "state": [],
        },
        headers=headers,
    )
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_the_page_renders_in_chinese_and_english(
    client: FlaskClient, bearer: Callable[[str], dict]
) -> None:
    zh = page(client, bearer("leader"), f"?date={PAGE_DAY}")
    for words in ("运行总览", "结案率", "按期结案率", "群众满意率", "街道排名", "网格员周排行"):
        assert words in zh
    assert "导出CSV" in zh and f"/export/rankings.csv?area=510108&date={PAGE_DAY}" in zh
    assert "10月31日" in zh and "Traceback" not in zh
    assert '"type": "bar"' in zh  # the charts
    # a tile leads to the cases behind it
    assert re.search(r"/ops\?area=510108&status=all&from=2026-10-31&to=2026-10-31", zh)
    assert "/map?area=510108&metric=overdue" in zh
    en = page(client, bearer("leader"), f"?date={PAGE_DAY}&lang=en")
    for words in ("Summary", "Closure rate", "On-time closure", "Street ranking", "Export CSV"):
        assert words in en
    assert "Oct 31" in en and "运行总览" not in en
    assert re.search(r"\d,\d{3}", en)  # numbers in the locale


def test_the_page_renders_live_without_a_date(
    client: FlaskClient, bearer: Callable[[str], dict]
) -> None:
    body = page(client, bearer("operator"))
    assert "今日受理" in body and "summary-trend" in body


@pytest.mark.parametrize("username", ["operator", "supervisor", "community", "leader", "admin"])
def test_every_role_opens_the_summary(
    client: FlaskClient, bearer: Callable[[str], dict], username: str
) -> None:
    body = page(client, bearer(username), f"?date={PAGE_DAY}")
    assert "您的角色无权查看此页面" not in body and "运行总览" in body


def test_a_supervisor_sees_their_street_and_is_refused_another(
    client: FlaskClient, bearer: Callable[[str], dict], demo_users: dict, demo: Connection
) -> None:
    own = demo_users["supervisor"]
    home = page(client, bearer("supervisor"), f"?date={PAGE_DAY}")
    assert own.area_name_zh in home and "社区排名" in home
    assert "成华区" not in home  # nothing above their street
    other = scalar(
        demo,
        "SELECT code FROM areas WHERE level = 'street' AND id <> :i ORDER BY code LIMIT 1",
        i=own.area_id,
    )
    for code in (other, "510108"):
        away = page(client, bearer("supervisor"), f"?area={code}&date={PAGE_DAY}")
        assert "不在您的管辖范围内" in away
        assert "summary-tiles" not in away and '"type": "bar"' not in away
    unknown = page(client, bearer("leader"), "?area=no-such&lang=en")
    assert "No area has the code" in unknown and "Traceback" not in unknown


# -- CSV exports --------------------------------------------------------------------------------


def rows_of(response: TestResponse) -> list[list[str]]:
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def test_rankings_export_matches_the_figures(
    client: FlaskClient, bearer: Callable[[str], dict], demo: Connection
) -> None:
    response = client.get(
        f"/export/rankings.csv?area=510108&date={PAGE_DAY}", headers=bearer("leader")
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="summary-rankings-510108-20261031.csv"'
    )
    assert response.get_data()[:3] == b"\xef\xbb\xbf"  # Excel reads UTF-8 by its BOM
    rows = rows_of(response)
    assert rows[0][:5] == ["区域代码", "区域", "层级", "人口", "近30天受理"]
    now, _ = as_of({"date": PAGE_DAY})
    expected = summary.rankings(demo, area(demo, "510108"), now)
    assert len(rows) == 1 + len(expected) == 15
    by_code = {row[0]: row for row in rows[1:]}
    for r in expected.itertuples(index=False):
        assert by_code[r.code][1] == r.name_zh
        assert int(by_code[r.code][4]) == r.received
        assert int(by_code[r.code][10]) == r.overdue
    english = rows_of(
        client.get(
            f"/export/rankings.csv?area=510108&date={PAGE_DAY}&lang=en", headers=bearer("leader")
        )
    )
    assert english[0][:2] == ["Area code", "Area"] and english[1][1].endswith("Subdistrict")


@pytest.mark.parametrize("table", ["trend", "categories", "leaderboard"])
def test_every_table_exports(
    client: FlaskClient, bearer: Callable[[str], dict], demo: Connection, table: str
) -> None:
    response = client.get(f"/export/{table}.csv?date={PAGE_DAY}", headers=bearer("operator"))
    assert response.status_code == 200
    rows = rows_of(response)
    now, _ = as_of({"date": PAGE_DAY})
    district = area(demo, "510108")
    if table == "trend":
        frame = summary.trend(demo, district, now)
        assert rows[0] == ["日期", "受理", "结案"] and len(rows) == 31
        assert [int(r[1]) for r in rows[1:]] == list(frame["received"])
    elif table == "categories":
        frame = summary.categories(demo, district, now, None)
        assert len(rows) == 1 + len(frame) > 1 + summary.CATEGORY_LIMIT
        assert [int(r[2]) for r in rows[1:]] == list(frame["received"])
    else:
        frame = summary.leaderboard(demo, district, now)
        assert [int(r[0]) for r in rows[1:]] == list(frame["rank"])
        assert [int(r[7]) for r in rows[1:]] == list(frame["closed"])


def test_phones_are_masked_for_a_leader_and_not_for_an_operator(
    client: FlaskClient, bearer: Callable[[str], dict]
) -> None:
    url = f"/export/leaderboard.csv?date={PAGE_DAY}"
    leader = rows_of(client.get(url, headers=bearer("leader")))
    operator = rows_of(client.get(url, headers=bearer("operator")))
    phone = leader[0].index("电话")
    assert all(re.fullmatch(r"\d{3}\*{4}\d{4}", row[phone]) for row in leader[1:])
    assert all(re.fullmatch(r"1\d{10}", row[phone]) for row in operator[1:])
    assert [r[phone][-4:] for r in leader[1:]] == [r[phone][-4:] for r in operator[1:]]


def test_exports_need_a_session(client: FlaskClient) -> None:
    response = client.get("/export/rankings.csv?area=510108")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


@pytest.mark.parametrize("name", ["users", "workers", "cases", "rankings.csv", "Rankings"])
def test_only_the_summary_tables_export(
    client: FlaskClient, bearer: Callable[[str], dict], name: str
) -> None:
    response = client.get(f"/export/{name}.csv", headers=bearer("leader"))
    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_table"


@pytest.mark.parametrize(
    "path",
    ["/export/..%2F..%2Fetc%2Fpasswd.csv", "/export/../../etc/passwd.csv", "/export/%2e%2e.csv"],
)
def test_no_path_reaches_a_file(
    client: FlaskClient, bearer: Callable[[str], dict], path: str
) -> None:
    response = client.get(path, headers=bearer("leader"))
    body = response.get_data(as_text=True)
    assert "root:" not in body and "text/csv" not in response.headers.get("Content-Type", "")


def test_a_supervisor_exports_only_their_own_area(
    client: FlaskClient, bearer: Callable[[str], dict], demo_users: dict
) -> None:
    own = demo_users["supervisor"].area_code
    mine = client.get(f"/export/rankings.csv?date={PAGE_DAY}", headers=bearer("supervisor"))
    rows = rows_of(mine)
    assert mine.status_code == 200 and all(row[0].startswith(own) for row in rows[1:])
    for code in ("510108002", "510108"):
        away = client.get(f"/export/rankings.csv?area={code}", headers=bearer("supervisor"))
        assert away.status_code == 403 and away.get_json()["error"] == "outside_area"
    unknown = client.get("/export/rankings.csv?area=nope", headers=bearer("leader"))
    assert unknown.status_code == 404
