"""The supervisor console: the case list, its URL filters and the page per role."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text

from app import create_app, ids
from app.settings import Settings
from callbacks.ops import case_of_row, next_search
from geo_data import views
from geo_data.case_list import CaseFilters, FilterError, filters_from_query, list_cases
from tests.conftest import DEMO_END


@pytest.fixture(scope="module")
def client(settings: Settings, demo_engine: Engine, demo_users: dict) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


def page(client: FlaskClient, headers: dict, search: str = "") -> str:
    body = {
        "output": f"{ids.PAGE}.children",
        "outputs": {"id": ids.PAGE, "property": "children"},
        "inputs": [
            {"id": ids.URL, "property": "pathname", "value": "/ops"},
            {"id": ids.URL, "property": "search", "value": search},
        ],
        "changedPropIds": [f"{ids.URL}.pathname"],
        "state": [],
    }
    response = client.post("/_dash-update-component", json=body, headers=headers)
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


def test_filters_match_a_direct_count(demo: Connection) -> None:
    area = views.area_info(demo, "510108")
    cases = [
        (CaseFilters(status="all"), "TRUE"),
        (CaseFilters(status="open"), "status NOT IN ('closed','rejected','merged')"),
        (
            CaseFilters(status="overdue"),
            "status NOT IN ('closed','rejected','merged') AND due_at < :now",
        ),
        (CaseFilters(status="closed", severity=1), "status = 'closed' AND severity = 1"),
        (CaseFilters(status="all", channel="wechat"), "channel = 'wechat'"),
        (
            CaseFilters(status="all", date_from=date(2026, 10, 1), date_to=date(2026, 10, 1)),
            "(reported_at AT TIME ZONE 'Asia/Shanghai')::date = DATE '2026-10-01'",
        ),
        (
            CaseFilters(
                status="closed",
                date_from=date(2026, 10, 1),
                date_to=date(2026, 10, 1),
                dates="closed",
            ),
            "status = 'closed'"
            " AND (closed_at AT TIME ZONE 'Asia/Shanghai')::date = DATE '2026-10-01'",
        ),
    ]
    for filters, where in cases:
        frame, total = list_cases(demo, area, filters, now=DEMO_END, limit=50)
        expected = demo.execute(
            text(f"SELECT count(*) FROM cases WHERE district_id = :d AND {where}"),
            {"d": area.id, "now": DEMO_END},
        ).scalar()
        assert total == expected, filters
        assert len(frame) == min(50, expected)
        # newest report first (ids need not follow report time: tests post future cases)
        assert frame["reported_at"].is_monotonic_decreasing


def test_query_values_become_filters_and_bad_ones_are_dropped() -> None:
    good = filters_from_query(
        {"status": "overdue", "channel": "app", "severity": "2", "from": "2026-10-01",
         "to": "2026-10-31", "worker": "17", "category": "E0101"}
    )  # fmt: skip
    assert good == CaseFilters("overdue", "E0101", "app", 2, date(2026, 10, 1),
                               date(2026, 10, 31), 17)  # fmt: skip
    assert filters_from_query({"dates": "closed"}).dates == "closed"
    bad = filters_from_query(
        {"status": "x';--", "channel": "fax", "severity": "9", "from": "soon", "dates": "x"}
    )
    assert bad == CaseFilters()
    with pytest.raises(FilterError):
        CaseFilters(status="whatever")


def test_filter_controls_rewrite_the_url() -> None:
    assert next_search("?status=all", ids.OPS_SEVERITY, {"severity": 2}) == "?status=all&severity=2"
    assert next_search("?status=all&severity=2", ids.OPS_SEVERITY, {"severity": None}) == (
        "?status=all"
    )
    assert next_search("", ids.OPS_STATUS, {"status": "open"}) is None
    dates = next_search("", ids.OPS_DATES, {"from": "2026-10-01", "to": "2026-10-02"})
    assert dates == "?from=2026-10-01&to=2026-10-02"
    assert case_of_row({"rowId": "42"})["id"] == 42
    assert case_of_row({"rowId": "<b>"}) is None


def test_supervisor_console_lists_only_their_street(
    client: FlaskClient, bearer: Callable, demo_users: dict, demo: Connection
) -> None:
    own = demo_users["supervisor"]
    body = page(client, bearer("supervisor"), "?status=all")
    assert own.area_name_zh in body and '"rowData"' in body
    streets = (
        demo.execute(
            text("SELECT DISTINCT street_id FROM cases WHERE id = ANY(:ids)"),
            {"ids": _row_ids(body)},
        )
        .scalars()
        .all()
    )
    assert streets == [own.area_id]
    other = demo.execute(
        text("SELECT code FROM areas WHERE level='street' AND id <> :i ORDER BY code LIMIT 1"),
        {"i": own.area_id},
    ).scalar()
    refused = page(client, bearer("supervisor"), f"?area={other}")
    assert "不在您的管辖范围内" in refused and '"rowData"' not in refused


def _row_ids(body: str) -> list[int]:
    """The case ids in the grid's rowData of a rendered page."""
    found: list[int] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "rowData" in node:
                found.extend(row["id"] for row in node["rowData"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(body))
    return found


def test_console_roles_and_languages(client: FlaskClient, bearer: Callable) -> None:
    zh = page(client, bearer("operator"))
    en = page(client, bearer("operator"), "?lang=en&status=overdue")
    assert "案件工作台" in zh and "Case console" in en and "Overdue" in en
    assert _row_ids(zh) and _row_ids(en)
    assert "您的角色无权查看此页面" in page(client, bearer("admin"))
    assert "案件工作台" in page(client, bearer("leader"))
