"""Fuzzing (issue 7, item 2), the part small enough for every test run.

- The JSON API through the Flask test client: schemathesis generates requests from the
  served OpenAPI document, schema-valid ones and schema-breaking ones, for every
  operation; none may answer 5xx, and each answer must have a documented status, content
  type and body. (``bench/fuzz_api.py`` does the same with 10,000+ requests over HTTP.)
- The validators (``EventIn``, ``BatchIn``, ``ActionIn``, Open311's ``RequestForm``):
  any JSON raises nothing but ``ValidationError``; valid events round-trip.
- The ETL readers and loaders: random bytes, garbled CSV and garbled GeoJSON raise
  nothing but ``LoadError``, and a refused load leaves the database as it was.

Generated text includes NUL, lone surrogates, control characters and right-to-left
marks. Hypothesis keeps its caches outside the repository (see ``STORAGE``).
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import uuid
import warnings
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import hypothesis.configuration
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, text

from app.api.errors import field_errors
from app.api.schemas import EARLIEST, LATEST, MAX_BATCH, BatchIn, EventIn
from geo_data.catalogue import CHANNELS, load_categories
from geo_data.loaders import LoadError
from tests.conftest import DEMO_END

# ./.hypothesis in the repository would make pytest warn on the next run (norecursedirs
# is replaced in pyproject.toml) and warnings are errors here: keep Hypothesis' caches
# (constants, Unicode tables; no example database is used) in the temp directory.
STORAGE = Path(tempfile.gettempdir()) / "gridwatch-hypothesis"
hypothesis.configuration.set_hypothesis_home_dir(STORAGE)

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: CI failures reproduce
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
API_EXAMPLES = 120  # per operation and mode: about 240 requests per operation
VALIDATOR_EXAMPLES = 300
READER_EXAMPLES = 60
LOADER_EXAMPLES = 25

CATEGORY_CODES = [c.code for c in load_categories()]
CHANNEL_CODES = [c.code for c in CHANNELS]
NASTY = [
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e",
    "\u200f",
    "\ufeff",
    "\x1b[31m",
    "\r\n",
    "<script>alert(1)</script>",
    "'; DROP TABLE cases; --",
    "😀",
    "مرحبا",
]

# Text with everything a client might send: any code point (surrogates too), plus
# the classics.
nasty_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.lists(st.sampled_from(NASTY) | st.text(max_size=5), max_size=6).map("".join),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12,
)


# -- the JSON API through the Flask test client -------------------------------------------


@pytest.fixture(scope="module")
def api_app(settings, demo_engine: Engine, demo_users: dict):
    from app import create_app

    return create_app(settings, engine=demo_engine).server


@pytest.fixture(scope="module")
def api_schema(api_app):
    import schemathesis

    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


@pytest.fixture(scope="module")
def channel_keys(new_api_key) -> dict[str, str]:
    return {channel: new_api_key(channel, 1_000_000) for channel in CHANNEL_CODES}


@pytest.fixture(scope="module")
def own_cases(demo_engine: Engine) -> list[int]:
    """Cases of this module's own, far from other tests' dates: actions may change them."""
    from tests.support import new_case

    with demo_engine.begin() as conn:
        return [
            new_case(conn, offset=700 + i, reported_at=DEMO_END + timedelta(days=250, hours=i))
            for i in range(4)
        ]


@pytest.fixture(scope="module")
def grid_points(demo_engine: Engine) -> list[tuple[float, float]]:
    with demo_engine.connect() as conn:
        return [
            (x, y)
            for x, y in conn.execute(
                text(
                    "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
                    " ORDER BY code LIMIT 50 OFFSET 900"
                )
            )
        ]


OPERATIONS = ["postEvent", "postBatch", "getCase", "getNearby", "postAction", "postToken"]


def _operation(schema, op_id: str):
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") == op_id:
            return operation
    raise LookupError(op_id)


@pytest.mark.parametrize("op_id", OPERATIONS)
def test_generated_requests_never_get_a_server_error(
    op_id: str,
    api_schema,
    channel_keys: dict[str, str],
    bearer,
    own_cases: list[int],
    grid_points: list[tuple[float, float]],
    demo_engine: Engine,
) -> None:
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operation = _operation(api_schema, op_id)
    operator = bearer("operator")
    rnd = random.Random(op_id)
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def steer(case: Any) -> None:
        """Point some cases at real rows (never at a demo case an action could change)."""
        body = case.body if isinstance(case.body, dict) else None
        events = [body] if op_id == "postEvent" else (body or {}).get("events", [])
        for item in events if isinstance(events, list) else []:
            if isinstance(item, dict) and rnd.random() < 0.2:
                item["category"] = rnd.choice(CATEGORY_CODES)
                item["lon"], item["lat"] = rnd.choice(grid_points)
                moment = DEMO_END + timedelta(days=rnd.uniform(200, 300))
                item["reported_at"] = moment.isoformat()
        params = case.path_parameters or {}
        if "case_id" in params and (op_id == "postAction" or rnd.random() < 0.5):
            params["case_id"] = rnd.choice([*own_cases, 10**12 + rnd.randrange(10**6)])
        if op_id == "postAction" and body is not None and rnd.random() < 0.5:
            with demo_engine.connect() as conn:
                version = conn.execute(
                    text("SELECT version FROM cases WHERE id = :i"), {"i": params["case_id"]}
                ).scalar()
            if version is not None:
                body["version"] = version

    def headers_for(case: Any) -> dict[str, str]:
        if op_id in ("postEvent", "postBatch"):
            body = case.body if isinstance(case.body, dict) else {}
            first = body if op_id == "postEvent" else next(iter(body.get("events") or []), {})
            channel = first.get("channel") if isinstance(first, dict) else None
            return {"X-API-Key": channel_keys.get(channel, channel_keys["app"])}
        if op_id == "postToken":
            return {}
        return operator

    def fuzz(mode: GenerationMode) -> None:
        @settings(
            FUZZ,
            max_examples=API_EXAMPLES,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: Any) -> None:
            if mode == GenerationMode.POSITIVE:
                steer(case)
            headers = headers_for(case)
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=checks, headers=headers)
            except (Exception, BaseExceptionGroup) as group:  # schemathesis' FailureGroup
                failures.append(f"[{mode}] {group}"[:3000])

        send()

    fuzz(GenerationMode.POSITIVE)
    fuzz(GenerationMode.NEGATIVE)

    assert sum(statuses.values()) >= API_EXAMPLES  # the operation was really exercised
    assert not [s for s in statuses if s >= 500], statuses
    assert not failures, f"{len(failures)} failures, statuses {dict(statuses)}:\n" + "\n".join(
        failures[:3]
    )


def test_bad_text_and_times_are_refused_with_422_not_a_server_error(
    api_app, channel_keys: dict[str, str], bearer, own_cases: list[int], grid_points
) -> None:
    """Regressions found by the fuzzer: each was a 500 or 503 before."""
    client = api_app.test_client()
    lon, lat = grid_points[0]

    def event(**changes: object) -> dict:
        return {
            "channel": "app",
            "external_id": f"FZ-{uuid.uuid4().hex}",
            "category": "E0101",
            "severity": 3,
            "lon": lon,
            "lat": lat,
            "reported_at": (DEMO_END + timedelta(days=260)).isoformat(),
        } | changes

    key = {"X-API-Key": channel_keys["app"]}
    refused = [
        ({"description": "a\x00b"}, "description"),
        ({"reporter_name": "\x00"}, "reporter_name"),
        ({"reported_at": "9999-12-31T20:00:00-10:00"}, "reported_at"),  # deadline past 9999
        ({"reported_at": "0001-01-01T00:00:00+05:00"}, "reported_at"),  # before year 1 in UTC
        ({"reported_at": "1969-12-31T23:59:59Z"}, "reported_at"),
        ({"reported_at": "2100-01-01T00:00:00Z"}, "reported_at"),
    ]
    for change, field in refused:
        answer = client.post("/api/v1/events", json=event(**change), headers=key)
        assert answer.status_code == 422, (change, answer.get_data(as_text=True))
        assert [d["field"] for d in answer.get_json()["details"]] == [field]

    # An offset PostgreSQL refuses (beyond 15:59) is the same instant in UTC: stored.
    answer = client.post(
        "/api/v1/events",
        json=event(reported_at=(DEMO_END + timedelta(days=261)).strftime("%Y-%m-%dT%H:%M+20:15")),
        headers=key,
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)

    operator = bearer("operator")
    answer = client.post(
        f"/api/v1/cases/{own_cases[0]}/actions/accept",
        json={"version": 1, "note": "\x00"},
        headers=operator,
    )
    assert answer.status_code == 422
    assert answer.get_json()["details"][0]["field"] == "note"

    for username in ("a\x00b", "\ud800"):  # was a 500 from the database driver
        body = json.dumps({"username": username, "password": "x"})
        answer = client.post("/api/v1/auth/token", data=body, content_type="application/json")
        assert answer.status_code == 401

    # Paths no API route takes answer JSON, not the app's HTML page (was 200 text/html).
    for method, path in [
        ("GET", "/api/v1/cases/abc"),
        ("GET", "/api/v1/cases/%0A"),
        ("GET", "/api/v1/cases/-1/nearby"),
        ("POST", "/api/v1/cases/-83/actions/start"),
    ]:
        answer = client.open(path, method=method, headers=operator, json={})
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.mimetype == "application/json"
    answer = client.get("/api/v1/events", headers=operator)
    assert (answer.status_code, answer.headers["Allow"]) == (405, "POST")

    form = {"api_key": channel_keys["app"], "service_code": "E0101", "lat": lat, "long": lon}
    for field in ("description", "first_name", "last_name"):
        answer = client.post("/open311/v2/requests.json", data=form | {field: "a\x00b"})
        assert answer.status_code == 400
        assert answer.get_json()[0]["description"].startswith(field)


# -- the validators -----------------------------------------------------------------------

EVENT_FIELDS = list(EventIn.model_fields)
ACTION_FIELDS = ["version", "note", "worker_id", "duplicate_of", "confirmed_by_resident"]
ACTION_FIELDS.append("confirmation_channel")


def _loose_objects(fields: list[str]) -> st.SearchStrategy[dict]:
    """Objects with the model's field names (and others) holding any JSON."""
    return st.dictionaries(st.sampled_from(fields) | nasty_text, json_values, max_size=12)


valid_texts = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=60
)
valid_events = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(CHANNEL_CODES),
        "external_id": st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}\Z"),
        "category": st.sampled_from(CATEGORY_CODES),
        "severity": st.integers(1, 4),
        "lon": st.floats(-180, 180),
        "lat": st.floats(-90, 90),
        "reported_at": st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)
        ).flatmap(
            lambda moment: st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
                lambda minutes: moment.replace(
                    tzinfo=timezone(timedelta(minutes=minutes))
                ).isoformat()
            )
        ),
    },
    optional={
        "description": valid_texts,
        "reporter_name": st.none() | valid_texts.map(lambda s: s[:64]),
        "reporter_phone": st.none() | st.from_regex(r"\A\+?[0-9][0-9 \-]{3,17}[0-9]\Z"),
        "media_url": st.none()
        | st.sampled_from(["https://example.org/a.jpg", "http://10.0.0.1:8080/p?q=1#x"]),
    },
)


def _refused_cleanly(model, value: Any):
    """``model.model_validate(value)``: the model, or None if refused with a
    ValidationError whose answer (field_errors) is JSON as the API sends it."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        json.dumps(field_errors(exc))
        return None


@settings(FUZZ, max_examples=VALIDATOR_EXAMPLES)
@given(value=json_values | _loose_objects(EVENT_FIELDS))
def test_event_validator_raises_only_validation_errors(value: Any) -> None:
    event = _refused_cleanly(EventIn, value)
    if event is not None:
        assert event.reported_at.utcoffset() == timedelta(0)
        assert EARLIEST <= event.reported_at < LATEST
        assert "\x00" not in event.description + (event.reporter_name or "")


@settings(FUZZ, max_examples=VALIDATOR_EXAMPLES)
@given(event=valid_events, field=st.sampled_from(EVENT_FIELDS), value=json_values)
def test_near_valid_events_raise_only_validation_errors(
    event: dict, field: str, value: Any
) -> None:
    _refused_cleanly(EventIn, event | {field: value})
    _refused_cleanly(EventIn, {k: v for k, v in event.items() if k != field})


@settings(FUZZ, max_examples=VALIDATOR_EXAMPLES)
@given(event=valid_events)
def test_valid_events_round_trip(event: dict) -> None:
    parsed = EventIn.model_validate(event)
    again = EventIn.model_validate(json.loads(json.dumps(parsed.model_dump(mode="json"))))
    assert again == parsed
    assert parsed.reported_at == datetime.fromisoformat(event["reported_at"])  # same instant
    # The text is kept as sent, only surrounding whitespace trimmed.
    sent = event.get("description", "")
    assert parsed.description in sent and parsed.description.strip() == sent.strip()
    assert (parsed.channel, parsed.external_id, parsed.category, parsed.severity) == (
        event["channel"],
        event["external_id"],
        event["category"],
        event["severity"],
    )
    assert math.isclose(parsed.lon, event["lon"]) or parsed.lon == event["lon"]


@settings(FUZZ, max_examples=VALIDATOR_EXAMPLES)
@given(
    value=json_values
    | st.fixed_dictionaries(
        {"events": st.lists(json_values | valid_events, max_size=5)},
        optional={"atomic": json_values},
    )
)
def test_batch_validator_raises_only_validation_errors(value: Any) -> None:
    batch = _refused_cleanly(BatchIn, value)
    if batch is not None:
        assert 1 <= len(batch.events) <= MAX_BATCH
        assert all(isinstance(e, dict) for e in batch.events)
        for item in batch.events:  # each item is then validated on its own, as the API does
            _refused_cleanly(EventIn, item)


@settings(FUZZ, max_examples=VALIDATOR_EXAMPLES)
@given(value=json_values | _loose_objects(ACTION_FIELDS))
def test_action_validator_raises_only_validation_errors(value: Any) -> None:
    from app.api.cases import ActionIn

    action = _refused_cleanly(ActionIn, value)
    if action is not None:
        assert action.version >= 1 and "\x00" not in action.note


@settings(FUZZ, max_examples=VALIDATOR_EXAMPLES)
@given(
    form=st.dictionaries(
        st.sampled_from(["lat", "long", "description", "first_name", "last_name", "phone"])
        | st.sampled_from(["media_url", "service_code"]),
        nasty_text | st.floats().map(str) | st.integers().map(str),
    )
)
def test_open311_form_raises_only_validation_errors(form: dict) -> None:
    from app.api.open311 import RequestForm

    parsed = _refused_cleanly(RequestForm, form)
    if parsed is not None:
        name = parsed.reporter_name()
        assert name is None or "\x00" not in name


# -- the ETL readers and loaders ----------------------------------------------------------

KINDS = ["areas", "buildings", "cameras", "workers", "cases"]
SUFFIXES = [".csv", ".txt", ".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb"]
CRS_CHOICES = st.sampled_from([None, "EPSG:4326", "EPSG:32648", "gcj02", "EPSG:999999"])
TIMEZONES = st.sampled_from(["Asia/Shanghai", "UTC", "Europe/London"]) | st.sampled_from(
    ["Foo/Bar", "", "../../etc/passwd", "UTC+8"]  # refused with a LoadError
)


def _read(path: Path, kind: str, **options: Any) -> None:
    """read_layer; anything but LoadError fails the test (warnings are only recorded:
    outside the tests they are not errors)."""
    from etl.readers import read_layer

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            read_layer(path, kind, **options)
        except LoadError as exc:
            refusal = str(exc)
        else:
            return
    assert refusal.startswith(str(path))  # names the file


def _field_names(kind: str) -> list[str]:
    from etl.readers import SPECS

    return [f.name for f in SPECS[kind].fields]


cells = st.one_of(
    nasty_text,
    st.sampled_from(["", " ", "1", "-1", "3.5", "1e400", "nan", "inf", "NULL", "是", "true"]),
    st.sampled_from(["2026-11-01 08:00", "2026-02-30T25:61", "0001-01-01", "99999-01-01"]),
    st.sampled_from(["104.1", "30.7", "POINT (104.1 30.7)", "POLYGON ((0 0, 1 0, 0 0))"]),
    st.floats().map(str),
    st.sampled_from(CATEGORY_CODES + CHANNEL_CODES + ["district", "grid", "online", "3"]),
)


@st.composite
def garbled_csv(draw: st.DrawFn, kind: str) -> str:
    columns = draw(
        st.lists(
            st.sampled_from([*_field_names(kind), "lon", "lat", "lng", "x", "y", "wkt"])
            | nasty_text,
            min_size=1,
            max_size=10,
        )
    )
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(columns) + 1), max_size=5))

    def line(values: list[str]) -> str:
        return ",".join(
            '"' + v.replace('"', '""') + '"' if draw(st.booleans()) else v for v in values
        )

    separator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return separator.join([line(columns), *(line(r) for r in rows)])


coordinates = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(103.9, 104.3),
    st.floats(30.5, 30.9),
    st.integers(-(10**20), 10**20),
)
positions = st.lists(coordinates, min_size=0, max_size=4)
rings = st.lists(positions, max_size=6)
geometries = st.one_of(
    st.none(),
    json_values,
    st.builds(lambda c: {"type": "Point", "coordinates": c}, positions | json_values),
    st.builds(lambda c: {"type": "LineString", "coordinates": c}, rings),
    st.builds(lambda c: {"type": "Polygon", "coordinates": c}, st.lists(rings, max_size=3)),
    st.builds(
        lambda c: {"type": "MultiPolygon", "coordinates": c},
        st.lists(st.lists(rings, max_size=2), max_size=2),
    ),
    st.builds(
        lambda t: {"type": t, "coordinates": [[104.1, 30.7], [104.2, 30.7], [104.1, 30.8]]},
        nasty_text | st.sampled_from(["GeometryCollection", "MultiPoint", "point"]),
    ),
)


@st.composite
def garbled_geojson(draw: st.DrawFn, kind: str) -> str:
    properties = st.dictionaries(
        st.sampled_from(_field_names(kind)) | nasty_text, json_values, max_size=8
    )
    feature = st.fixed_dictionaries(
        {"type": st.sampled_from(["Feature", "feature", "Point"]) | nasty_text},
        optional={"geometry": geometries, "properties": properties | json_values},
    )
    document = draw(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["FeatureCollection", "Feature"]) | nasty_text},
            optional={
                "features": st.lists(feature, max_size=4) | json_values,
                "crs": json_values
                | st.just({"type": "name", "properties": {"name": "EPSG:32648"}}),
            },
        )
        | json_values
    )
    dumped = json.dumps(document, allow_nan=True)
    if draw(st.booleans()):  # and now and then, truncate or splice in bytes
        cut = draw(st.integers(0, len(dumped)))
        dumped = dumped[:cut] + draw(nasty_text)
    return dumped


def _write(folder: Path, suffix: str, data: bytes | str) -> Path:
    path = folder / f"input{suffix}"
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8", errors="surrogatepass"))
    else:
        path.write_bytes(data)
    return path


@settings(FUZZ, max_examples=READER_EXAMPLES)
@given(
    data=st.binary(max_size=300)
    | st.sampled_from([b"", b"\x00" * 10, b"\xef\xbb\xbf", b"lon,lat\n", b"{}", b"PK\x03\x04"]),
    suffix=st.sampled_from(SUFFIXES),
    kind=st.sampled_from(KINDS),
)
def test_readers_refuse_random_bytes_with_load_error(data: bytes, suffix: str, kind: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _read(_write(Path(folder), suffix, data), kind)


@settings(FUZZ, max_examples=READER_EXAMPLES)
@given(
    data=st.data(),
    kind=st.sampled_from(KINDS),
    crs=CRS_CHOICES,
    timezone=TIMEZONES,
    suffix=st.sampled_from([".csv", ".txt"]),
)
def test_readers_refuse_garbled_csv_with_load_error(
    data: st.DataObject, kind: str, crs: str | None, timezone: str, suffix: str
) -> None:
    content = data.draw(garbled_csv(kind))
    with tempfile.TemporaryDirectory() as folder:
        _read(_write(Path(folder), suffix, content), kind, crs=crs, timezone=timezone)


@settings(FUZZ, max_examples=READER_EXAMPLES)
@given(
    data=st.data(),
    kind=st.sampled_from(KINDS),
    crs=CRS_CHOICES,
    suffix=st.sampled_from([".geojson", ".json"]),
)
def test_readers_refuse_garbled_geojson_with_load_error(
    data: st.DataObject, kind: str, crs: str | None, suffix: str
) -> None:
    content = data.draw(garbled_geojson(kind))
    with tempfile.TemporaryDirectory() as folder:
        _read(_write(Path(folder), suffix, content), kind, crs=crs)


TIMES = [
    "2026-11-01 08:00",
    "2026-11-01T08:00:00+08:00",
    "2026-03-29 02:30",  # does not exist in Europe/London
    "9999-12-31 23:00",  # was OutOfBoundsDatetime, not a LoadError
    "9999-12-31T23:00:00Z",
    "1600-01-01 00:00",
    "0001-01-01",
    "1969-12-31T23:59:59Z",
]


@pytest.fixture(scope="module")
def real_codes(demo_engine: Engine) -> dict[str, list[Any]]:
    """Codes and points of the demo city that well-formed rows refer to."""
    with demo_engine.connect() as conn:
        grids = conn.execute(
            text(
                "SELECT code, ST_X(label_point), ST_Y(label_point) FROM areas"
                " WHERE level = 'grid' ORDER BY code LIMIT 20 OFFSET 300"
            )
        ).all()
        communities = conn.execute(
            text("SELECT code FROM areas WHERE level = 'community' ORDER BY code LIMIT 5")
        ).scalars()
        workers = conn.execute(text("SELECT code FROM workers ORDER BY code LIMIT 5")).scalars()
        return {
            "grids": [g[0] for g in grids],
            "points": [(g[1], g[2]) for g in grids],
            "communities": list(communities),
            "workers": list(workers),
        }


@st.composite
def plausible_csv(draw: st.DrawFn, kind: str, real: dict[str, list[Any]]) -> str:
    """A CSV of ``kind`` with the right columns at real places, each value either a good
    one or a hostile one (NUL, surrogates, far dates, huge numbers...)."""
    from etl.readers import SPECS

    def good(field: Any) -> st.SearchStrategy[str]:
        if field.choices:
            return st.sampled_from(field.choices)
        if field.type == "int":
            return st.integers(field.low or 0, field.high or 10).map(str)
        if field.type == "datetime":
            return st.sampled_from(TIMES)
        if field.type == "bool":
            return st.sampled_from(["true", "否", "1"])
        refs = {
            "category_code": CATEGORY_CODES,
            "home_grid_code": real["grids"],
            "parent_code": real["communities"],
            "assignee_code": real["workers"],
        }
        if field.name in refs:
            return st.sampled_from(refs[field.name])
        if field.name in ("code", "external_id"):
            return st.uuids().map(lambda u: f"FZ-{u.hex[:12]}")
        return nasty_text

    fields = SPECS[kind].fields
    polygon = kind in ("areas", "buildings")
    header = [f.name for f in fields] + (["wkt"] if polygon else ["lon", "lat"])
    lines = [header]
    for _ in range(draw(st.integers(1, 3))):
        row = [draw(good(f) | cells) if draw(st.booleans()) else draw(good(f)) for f in fields]
        x, y = draw(st.sampled_from(real["points"]))
        if polygon:
            d = draw(st.sampled_from([1e-4, 5e-4, 0.0, 10.0]))
            row.append(f"POLYGON (({x} {y}, {x + d} {y}, {x + d} {y + d}, {x} {y + d}, {x} {y}))")
        else:
            row += [str(x), str(y)]
        lines.append(row)
    if kind == "areas":
        for line in lines[1:]:
            line[header.index("level")] = draw(st.sampled_from(["grid", "courtyard", "street"]))
    return "\n".join(",".join('"' + v.replace('"', '""') + '"' for v in line) for line in lines)


@settings(FUZZ, max_examples=READER_EXAMPLES, suppress_health_check=list(HealthCheck))
@given(data=st.data(), kind=st.sampled_from(KINDS), timezone=TIMEZONES)
def test_readers_refuse_hostile_values_in_good_files_with_load_error(
    real_codes: dict[str, list[Any]], data: st.DataObject, kind: str, timezone: str
) -> None:
    content = data.draw(plausible_csv(kind, real_codes))
    with tempfile.TemporaryDirectory() as folder:
        _read(_write(Path(folder), ".csv", content), kind, timezone=timezone)


TABLES = ["areas", "buildings", "cameras", "workers", "cases", "case_events", "data_loads"]


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


@pytest.fixture(scope="module")
def loader_baseline(demo_engine: Engine) -> dict[str, int]:
    return _counts(demo_engine)


@settings(FUZZ, max_examples=LOADER_EXAMPLES, suppress_health_check=list(HealthCheck))
@given(
    data=st.data(),
    kind=st.sampled_from(KINDS),
    form=st.sampled_from(["plausible", "plausible", "csv", "geojson"]),
)
def test_failed_loads_raise_load_error_and_leave_the_database_alone(
    demo_engine: Engine,
    loader_baseline: dict[str, int],
    real_codes: dict[str, list[Any]],
    data: st.DataObject,
    kind: str,
    form: str,
) -> None:
    """Garbled files through load_file into the demo city: a LoadError, nothing changed.

    The load runs in a savepoint of a transaction that is always rolled back (a file
    that happens to be good must not stay in the demo city); the counts are read from
    another connection, so a load that wrote around its transaction would show.
    """
    from etl.load import load_file
    from geo_data.actors import system_actor

    strategies = {
        "plausible": plausible_csv(kind, real_codes),
        "csv": garbled_csv(kind),
        "geojson": garbled_geojson(kind),
    }
    content = data.draw(strategies[form])
    with tempfile.TemporaryDirectory() as folder, demo_engine.connect() as conn:
        path = _write(Path(folder), ".geojson" if form == "geojson" else ".csv", content)
        outer = conn.begin()
        try:
            savepoint = conn.begin_nested()
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                try:
                    load_file(conn, kind, path, system_actor(conn))
                except LoadError:
                    savepoint.rollback()
                    after = {
                        t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                        for t in TABLES
                    }
                    assert after == loader_baseline
        finally:
            outer.rollback()
    assert _counts(demo_engine) == loader_baseline


def test_hypothesis_keeps_its_caches_out_of_the_repository() -> None:
    assert hypothesis.configuration.storage_directory("x", intent_to_write=False).path == (
        STORAGE / "x"
    )


def test_reader_regressions_are_load_errors(real_codes: dict[str, list[Any]]) -> None:
    """Found by the fuzzer: each escaped as another exception (a traceback in the CLI)."""
    from etl.readers import read_layer

    x, y = real_codes["points"][0]
    head = "external_id,channel,category_code,severity,reported_at,lon,lat,description\n"
    cases = [
        (f"A1,app,E0101,2,2026-11-01 08:00,{x},{y},a\x00b", "Asia/Shanghai", "NUL character"),
        (f"A2,app,E0101,2,9999-12-31 23:00,{x},{y},", "Asia/Shanghai", "from 1970 to 2099"),
        (f"A3,app,E0101,2,1600-01-01T00:00Z,{x},{y},", "Asia/Shanghai", "from 1970 to 2099"),
        (f"A4,app,E0101,2,2026-11-01 08:00,{x},{y},", "Foo/Bar", "unknown time zone"),
        (f"A5,app,E0101,2,2026-11-01 08:00,{x},{y},", "", "unknown time zone"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cases.csv"
        for row, zone, reason in cases:
            path.write_text(head + row + "\n", encoding="utf-8")
            with pytest.raises(LoadError, match=reason):
                read_layer(path, "cases", timezone=zone)
        path.write_text(head + f"A6,app,E0101,2,2026-11-01 08:00,{x},{y},ok\n", encoding="utf-8")
        assert len(read_layer(path, "cases").frame) == 1
