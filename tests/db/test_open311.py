"""Open311 GeoReport v2: each endpoint, each refusal in the spec's error format, and
that the reporter's personal data never leaves in a response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from app import create_app
from app.api import open311 as open311_module
from app.api.open311 import JURISDICTION_ID
from app.settings import Settings
from geo_data.catalogue import load_categories
from geo_data.open311_queries import MAX_SPAN, request_window
from tests.conftest import DEMO_END
from tests.support import grid_points

REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture(scope="module")
def keys(new_api_key) -> dict[str, str]:
    return {"web": new_api_key("web"), "slow": new_api_key("app", 1)}


@pytest.fixture(scope="module")
def client(settings: Settings, demo_engine: Engine) -> FlaskClient:
    return create_app(settings, engine=demo_engine).server.test_client()


@pytest.fixture(scope="module")
def spots(demo_engine: Engine) -> list[tuple[float, float]]:
    """Label points of grids (lon, lat), first-coded first: places inside the jurisdiction."""
    return grid_points(demo_engine, limit=10)


@pytest.fixture
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The API's clock pinned to the end of the demo's year of cases."""
    monkeypatch.setattr(open311_module, "utc_now", lambda: DEMO_END)
    return DEMO_END


def _form(key: str | None, spot: tuple[float, float], **changes: object) -> dict[str, Any]:
    form: dict[str, Any] = {
        "api_key": key,
        "jurisdiction_id": JURISDICTION_ID,
        "service_code": "0102",
        "lat": str(spot[1]),
        "long": str(spot[0]),
        "description": f"井盖缺失 {uuid.uuid4().hex}",
        "attribute[WHISPAWN]": "123456",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _post(client: FlaskClient, form: dict, path: str = "/open311/v2/requests.json"):
    return client.post(path, data=form, content_type="application/x-www-form-urlencoded")


def _errors(response: TestResponse, status: int) -> list[str]:
    """The descriptions of a spec-format error list answered with ``status``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json; charset=utf-8"
    body = response.get_json()
    assert isinstance(body, list) and body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body)
    return [e["description"] for e in body]


def _stored(engine: Engine, description: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM cases WHERE description = :d"), {"d": description}
        ).scalar_one()


def _parse_w3c(value: str) -> datetime:
    assert value.endswith("Z")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- services -----------------------------------------------------------------------------


def test_services_lists_every_category_as_a_realtime_service(client: FlaskClient) -> None:
    response = client.get("/open311/v2/services.json")
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    services = response.get_json()
    categories = load_categories()
    assert [s["service_code"] for s in services] == [c.code for c in categories]
    first, cat = services[0], categories[0]
    assert list(first) == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert first["service_name"] == cat.name_zh  # the settings' language, zh by default
    assert first["group"] == cat.class_zh
    assert cat.name_en in first["keywords"]
    assert all(s["metadata"] is False and s["type"] == "realtime" for s in services)
    assert "上水井盖" in response.get_data(as_text=True)  # UTF-8, not \\u escapes


def test_service_definition_has_no_attributes(client: FlaskClient) -> None:
    response = client.get("/open311/v2/services/E0101.json")
    assert response.status_code == 200
    assert response.get_json() == {"service_code": "E0101", "attributes": []}


def test_unknown_service_definition_is_404(client: FlaskClient) -> None:
    assert "service_code" in _errors(client.get("/open311/v2/services/9999.json"), 404)[0]


# -- jurisdiction and format ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/open311/v2/services.json",
        "/open311/v2/services/0101.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/1.json",
    ],
)
def test_wrong_jurisdiction_id_is_404(client: FlaskClient, path: str) -> None:
    descriptions = _errors(client.get(path, query_string={"jurisdiction_id": "sfgov.org"}), 404)
    assert "jurisdiction_id" in descriptions[0]


@pytest.mark.parametrize("jurisdiction", [JURISDICTION_ID, ""])
def test_own_or_empty_jurisdiction_id_is_accepted(client: FlaskClient, jurisdiction: str) -> None:
    response = client.get(
        "/open311/v2/services.json", query_string={"jurisdiction_id": jurisdiction}
    )
    assert response.status_code == 200


def test_xml_is_refused_with_an_xml_error_list(client: FlaskClient) -> None:
    response = client.get("/open311/v2/services.xml")
    assert response.status_code == 400
    assert response.content_type == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(response.get_data())
    assert root.tag == "errors"
    assert root.findtext("error/code") == "400"
    assert "JSON" in root.findtext("error/description", "")


@pytest.mark.parametrize(
    "path",
    ["/open311/v2/requests.csv", "/open311/v2/services/0101.html", "/open311/v2/requests/1.xml"],
)
def test_other_formats_are_refused(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.get_data(as_text=True).count("JSON") == 1


def test_unknown_resource_is_404_and_wrong_method_405(client: FlaskClient) -> None:
    assert _errors(client.get("/open311/v2/tokens/1.json"), 404)
    assert _errors(client.get("/open311/v2/services"), 404)
    response = client.post("/open311/v2/services.json")
    assert _errors(response, 405)
    assert response.headers["Allow"] == "GET"


# -- POST requests ----------------------------------------------------------------------------


def test_posted_request_is_stored_and_then_returned_by_id(
    client: FlaskClient, keys: dict, spots: list, demo_engine: Engine
) -> None:
    before = datetime.now(UTC)
    form = _form(keys["web"], spots[0], service_code="E0504", media_url="https://img.example/1.jpg")
    response = _post(client, form)
    assert response.status_code == 201
    body = response.get_json()
    assert len(body) == 1 and list(body[0]) == [
        "service_request_id",
        "service_notice",
        "account_id",
    ]
    rid = body[0]["service_request_id"]
    assert isinstance(rid, str) and rid.isdigit()
    assert "小时内处置" in body[0]["service_notice"]
    assert body[0]["account_id"] is None
    assert response.headers["Location"].endswith(f"/open311/v2/requests/{rid}.json")

    with demo_engine.connect() as conn:
        case = conn.execute(
            text("SELECT channel, external_id, status, reported_at FROM cases WHERE id = :i"),
            {"i": int(rid)},
        ).one()
    assert case.channel == "web"
    assert case.external_id.startswith("o311-")
    assert case.status == "reported"
    assert before <= case.reported_at <= datetime.now(UTC)

    got = client.get(f"/open311/v2/requests/{rid}.json")
    assert got.status_code == 200
    [request] = got.get_json()
    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == rid
    assert request["status"] == "open"
    assert request["service_code"] == "E0504"
    assert request["description"] == form["description"]
    assert request["address"] == ""
    assert request["media_url"] == "https://img.example/1.jpg"
    assert request["lat"] == pytest.approx(spots[0][1], abs=1e-6)
    assert request["long"] == pytest.approx(spots[0][0], abs=1e-6)
    assert request["agency_responsible"]  # the community handling it
    requested = _parse_w3c(request["requested_datetime"])
    assert abs(requested - case.reported_at) < timedelta(seconds=1)
    assert _parse_w3c(request["expected_datetime"]) > requested
    assert _parse_w3c(request["updated_datetime"]) >= requested


def test_second_report_nearby_is_a_closed_duplicate(
    client: FlaskClient, keys: dict, spots: list
) -> None:
    first = _post(client, _form(keys["web"], spots[1], service_code="E0505"))
    second = _post(client, _form(keys["web"], spots[1], service_code="E0505"))
    original = first.get_json()[0]["service_request_id"]
    duplicate = second.get_json()[0]
    assert second.status_code == 201
    assert original in duplicate["service_notice"]
    [request] = client.get(
        f"/open311/v2/requests/{duplicate['service_request_id']}.json"
    ).get_json()
    assert request["status"] == "closed"
    assert original in request["status_notes"]


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "gw_not_a_key"}, 403, "api_key"),
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "9999"}, 404, "service_code"),
        ({"lat": None, "long": None}, 400, "location is required"),
        ({"lat": None, "long": None, "address_string": "建设路 1 号"}, 400, "address_string"),
        ({"long": None}, 400, "both"),
        ({"lat": "north"}, 400, "lat:"),
        ({"lat": "nan"}, 400, "lat:"),
        ({"long": "1e400"}, 400, "long:"),
        ({"lat": "91"}, 400, "lat:"),
        ({"lat": "39.90", "long": "116.40"}, 400, "outside the jurisdiction"),
        ({"jurisdiction_id": "sfgov.org"}, 404, "jurisdiction_id"),
        ({"phone": "call me"}, 400, "phone:"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url:"),
        ({"description": "x" * 4001}, 400, "description:"),
    ],
)
def test_bad_post_is_refused_and_nothing_stored(
    client: FlaskClient,
    keys: dict,
    spots: list,
    demo_engine: Engine,
    change: dict,
    status: int,
    says: str,
) -> None:
    form = _form(keys["web"], spots[2], **change)
    descriptions = _errors(_post(client, form), status)
    assert any(says in d for d in descriptions), descriptions
    assert _stored(demo_engine, form.get("description", "")) == 0


def test_post_reports_every_bad_field_at_once(client: FlaskClient, keys: dict, spots: list) -> None:
    form = _form(keys["web"], spots[2], lat="north", phone="call me", media_url="ftp:x")
    descriptions = _errors(_post(client, form), 400)
    assert [d.split(":")[0] for d in descriptions] == ["lat", "phone", "media_url"]


def test_post_must_be_form_encoded(client: FlaskClient, keys: dict, spots: list) -> None:
    response = client.post(
        "/open311/v2/requests.json",
        json=_form(keys["web"], spots[2]),
    )
    assert "x-www-form-urlencoded" in _errors(response, 400)[0]


def test_post_as_xml_is_refused_before_storing(
    client: FlaskClient, keys: dict, spots: list, demo_engine: Engine
) -> None:
    form = _form(keys["web"], spots[2])
    response = _post(client, form, "/open311/v2/requests.xml")
    assert response.status_code == 400
    assert ElementTree.fromstring(response.get_data()).findtext("error/code") == "400"
    assert _stored(demo_engine, form["description"]) == 0


def test_post_over_the_key_rate_is_429_with_retry_after(
    client: FlaskClient, keys: dict, spots: list
) -> None:
    first = _post(client, _form(keys["slow"], spots[3], service_code="E0506"))
    second = _post(client, _form(keys["slow"], spots[3], service_code="E0506"))
    assert first.status_code == 201
    assert _errors(second, 429)
    assert int(second.headers["Retry-After"]) > 0


def test_personal_data_never_appears_in_responses(
    client: FlaskClient,
    keys: dict,
    spots: list,
    demo_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = uuid.uuid4().hex[:10]
    form = _form(
        keys["web"],
        spots[4],
        service_code="E0507",
        first_name="Lei",
        last_name=f"Li{marker}",
        phone="+86 138 0013 8000",
        email=f"li.{marker}@example.com",
        device_id=f"dev-{marker}",
        account_id=f"acc-{marker}",
    )
    posted = _post(client, form)
    assert posted.status_code == 201
    rid = posted.get_json()[0]["service_request_id"]
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT reporter_name, reporter_phone FROM cases WHERE id = :i"), {"i": int(rid)}
        ).one()
    assert stored == (f"Lei Li{marker}", "+86 138 0013 8000")  # kept for the operators only

    answers = [
        posted,
        client.get(f"/open311/v2/requests/{rid}.json"),
        client.get("/open311/v2/requests.json", query_string={"service_request_id": rid}),
        client.get(
            "/open311/v2/requests.json",
            query_string={"start_date": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
        ),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        body = answer.get_data(as_text=True)
        for secret in (marker, "138 0013 8000", "reporter"):
            assert secret not in body
    listed = answers[3].get_json()
    assert rid in [r["service_request_id"] for r in listed]

    monkeypatch.setattr(open311_module, "utc_now", lambda: DEMO_END)
    demo = client.get("/open311/v2/requests.json").get_json()  # the demo's last 90 days
    ids = [int(r["service_request_id"]) for r in demo]
    with demo_engine.connect() as conn:
        phones = (
            conn.execute(
                text(
                    "SELECT reporter_phone FROM cases WHERE id = ANY(:ids)"
                    " AND reporter_phone IS NOT NULL"
                ),
                {"ids": ids},
            )
            .scalars()
            .all()
        )
    assert phones, "the demo cases carry phone numbers to hide"
    body = client.get("/open311/v2/requests.json").get_data(as_text=True)
    assert not [p for p in phones if p in body]
    assert all(list(r) == REQUEST_FIELDS for r in demo)


# -- GET requests -----------------------------------------------------------------------------


def test_requests_default_to_the_last_90_days_and_at_most_1000(
    client: FlaskClient, demo_engine: Engine, pinned_now: datetime
) -> None:
    response = client.get("/open311/v2/requests.json")
    assert response.status_code == 200
    listed = response.get_json()
    with demo_engine.connect() as conn:
        in_window = (
            conn.execute(
                text(
                    "SELECT id FROM cases WHERE reported_at BETWEEN :s AND :e"
                    " ORDER BY reported_at DESC, id DESC"
                ),
                {"s": pinned_now - timedelta(days=90), "e": pinned_now},
            )
            .scalars()
            .all()
        )
        older = conn.execute(
            text("SELECT count(*) FROM cases WHERE reported_at < :s"),
            {"s": pinned_now - timedelta(days=90)},
        ).scalar_one()
    assert len(in_window) > 1000 and older > 0  # both limits are exercised
    assert len(listed) == 1000
    assert [int(r["service_request_id"]) for r in listed] == in_window[:1000]  # newest first
    times = [_parse_w3c(r["requested_datetime"]) for r in listed]
    assert all(pinned_now - timedelta(days=90) <= t <= pinned_now for t in times)


def test_requests_filter_by_code_status_and_dates(client: FlaskClient, demo_engine: Engine) -> None:
    start, end = DEMO_END - timedelta(days=30), DEMO_END - timedelta(days=20)
    response = client.get(
        "/open311/v2/requests.json",
        query_string={
            "service_code": "0101,E0101",
            "status": "closed",
            "start_date": start.isoformat().replace("+00:00", "Z"),
            "end_date": end.isoformat(),
        },
    )
    assert response.status_code == 200
    listed = response.get_json()
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM cases WHERE category_code IN ('0101', 'E0101')"
                " AND status IN ('closed', 'rejected', 'merged')"
                " AND reported_at BETWEEN :s AND :e"
            ),
            {"s": start, "e": end},
        ).scalar_one()
    assert 0 < len(listed) == min(expected, 1000)
    assert {r["service_code"] for r in listed} <= {"0101", "E0101"}
    assert {r["status"] for r in listed} == {"closed"}
    assert all(start <= _parse_w3c(r["requested_datetime"]) <= end for r in listed)


def test_repeated_parameters_and_unescaped_plus_in_offsets(client: FlaskClient) -> None:
    start = (DEMO_END - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    response = client.get(
        "/open311/v2/requests.json?service_code=0101&service_code=E0101"
        f"&status=open&end_date={DEMO_END.strftime('%Y-%m-%dT%H:%M:%S')}+00:00"
        f"&start_date={start}Z"
    )
    assert response.status_code == 200
    listed = response.get_json()
    assert listed and {r["service_code"] for r in listed} <= {"0101", "E0101"}
    assert {r["status"] for r in listed} == {"open"}


@pytest.mark.parametrize(
    "end_date",
    ["2026-10-01T08:00+08:00", "2026-10-01T00:00:00.1234567Z", "2026-10-01T23:30:00+23:59"],
)
def test_any_w3c_datetime_with_a_timezone_is_accepted(client: FlaskClient, end_date: str) -> None:
    response = client.get("/open311/v2/requests.json", query_string={"end_date": end_date})
    assert response.status_code == 200
    assert response.get_json()


def test_service_request_id_list_overrides_other_arguments(
    client: FlaskClient, demo_engine: Engine
) -> None:
    with demo_engine.connect() as conn:
        oldest, newest = (
            conn.execute(
                text(
                    "(SELECT id FROM cases WHERE status = 'closed' ORDER BY reported_at LIMIT 1)"
                    " UNION ALL (SELECT id FROM cases WHERE status = 'closed'"
                    " ORDER BY reported_at DESC LIMIT 1)"
                )
            )
            .scalars()
            .all()
        )
    response = client.get(
        "/open311/v2/requests.json",
        query_string={"service_request_id": f"{newest},{oldest},999999999", "status": "open"},
    )
    assert response.status_code == 200
    assert [r["service_request_id"] for r in response.get_json()] == [str(newest), str(oldest)]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2026-10-01"}, "start_date"),
        ({"end_date": "2026-10-01T00:00:00"}, "end_date"),
        ({"end_date": "2026-02-30T00:00:00Z"}, "end_date"),
        ({"end_date": "2026-10-01t00:00:00z"}, "end_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "before"),
        ({"end_date": "0001-01-01T00:00:00Z"}, "out of range"),
        ({"start_date": "9999-12-31T00:00:00Z"}, "out of range"),
        ({"start_date": "0001-01-01T00:00:00+01:00"}, "out of range"),
        ({"status": "pending"}, "status"),
        ({"service_code": "0101,9999"}, "service_code"),
        ({"service_request_id": "12,abc"}, "service_request_id"),
        ({"service_request_id": "99999999999999999999"}, "service_request_id"),
    ],
)
def test_bad_filters_are_400(client: FlaskClient, query: dict, says: str) -> None:
    descriptions = _errors(client.get("/open311/v2/requests.json", query_string=query), 400)
    assert any(says in d for d in descriptions), descriptions


@pytest.mark.parametrize("rid", ["999999999", "abc", "99999999999999999999", "-1"])
def test_unknown_request_id_is_404(client: FlaskClient, rid: str) -> None:
    assert "service_request_id" in _errors(client.get(f"/open311/v2/requests/{rid}.json"), 404)[0]


# -- the window rule alone ------------------------------------------------------------------


def test_window_defaults_and_limits() -> None:
    now = DEMO_END
    assert request_window(None, None, now) == request_window(now - MAX_SPAN, now, now)
    only_end = request_window(None, now - timedelta(days=200), now)
    assert only_end.end - only_end.start == MAX_SPAN
    only_start = request_window(now - timedelta(days=200), None, now)
    assert only_start.start == now - timedelta(days=200)
    assert only_start.end == now - timedelta(days=110)
    with pytest.raises(ValueError, match="90 days"):
        request_window(now - MAX_SPAN - timedelta(seconds=1), now, now)
