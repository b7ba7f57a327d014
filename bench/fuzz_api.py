"""Fuzz the JSON API (issue 7, item 2): schemathesis against the served OpenAPI document.

Run from the repository root::

    .venv/bin/python -m bench.fuzz_api [--examples 900] [--seed 7] [--json bench/results/fuzz.json]

**Database.** A database of its own, ``gridwatch_fuzz_<pid>``, on the test cluster
(``<state dir>/pg-test``, port ``GRIDWATCH_TEST_DB_PORT`` = 55433, ``fsync=off``),
migrated and given the demo city; dropped at the end (``--keep-db`` keeps it). Besides
the city it holds one API key per channel (10,000,000 events a minute, so the rate
limit does not hide the store behind 429s) and an operator ``fuzz-operator`` with a
random password.

**App.** ``gridwatch serve`` in a subprocess (``tests/realtime/conftest.start_server``),
its log kept in ``bench/out/fuzz_server.log``.

**Requests.** The document is loaded from ``/api/v1/openapi.json`` of the live server.
For every operation, schemathesis generates ``--examples`` cases in its positive mode
(data that fits the schema) and as many in its negative mode (data that does not),
each sent once over HTTP. Ingest requests carry the X-API-Key of the event's channel
(or of another channel, or none, or a wrong one, now and then); case requests carry the
operator's bearer token from ``POST /api/v1/auth/token`` (or none, or a wrong one).
To reach the store rather than stop at the first check, a share of the generated cases
is steered towards the real data: events get a catalogue category and a point in a grid
of the city, case ids are taken from the city's cases, actions the case's current
version, worker and duplicate ids existing rows. Everything else stays as generated
(dates from year 1 to 9999, any Unicode text, huge numbers...).

**Checks** on every response (schemathesis' own): not a server error (no 5xx at all,
503 included: the database is up), status code among the documented ones, content type
as documented, body valid against the documented schema, documented headers; in
negative mode, schema-invalid data must not be accepted (``negative_data_rejection``).
After the run the server must still answer ``/healthz`` and its log must hold no
traceback (an unhandled exception).

Printed: totals per operation and status, the failures found (each once, with a
``curl`` to reproduce it); written: the same as JSON to ``--json``. The exit status is
1 on any 5xx, transport error, check failure or traceback in the server log.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import secrets
import signal
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Hypothesis keeps caches in ./.hypothesis by default; in the repository that directory
# makes pytest (norecursedirs replaced) warn, and warnings are errors there.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(ROOT / "bench" / "out" / "hypothesis"))

import hypothesis  # noqa: E402
import jsonschema_rs  # noqa: E402  (a dependency of schemathesis)
import requests  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import AcceptedNegativeData  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text  # noqa: E402

from geo_data.workflow import allowed_actions  # noqa: E402

OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results"
FUZZ_USER = "fuzz-operator"
RATE = 10_000_000
STEER = 0.5  # share of generated cases pointed at real rows
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]


# -- the database -------------------------------------------------------------------------


def open_database(name: str, *, reuse: bool = False, say: Any = print):
    """``name`` on the test cluster, anew: migrated, catalogue, demo city (``reuse``: as
    left by an earlier ``--keep-db`` run, when it holds the city)."""
    from app.settings import Settings
    from etl.demo_load import load_demo
    from geo_data.cluster import Cluster
    from geo_data.db import make_engine
    from geo_data.reference import sync_categories
    from geo_data.schema import migrate

    port = int(os.environ.get("GRIDWATCH_TEST_DB_PORT", "55433"))
    cluster = Cluster(Settings(database_url=None).state_dir / "pg-test", port, for_tests=True)
    cluster.start()
    if reuse:
        cluster.ensure_database(name)
        engine = make_engine(cluster.url(name))
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT to_regclass('cases') IS NOT NULL")).scalar_one()
            if loaded and conn.execute(text("SELECT count(*) FROM cases")).scalar_one():
                return cluster, engine
        engine.dispose()
    cluster.drop_database(name)
    cluster.ensure_database(name)
    engine = make_engine(cluster.url(name))
    migrate(engine)
    with engine.begin() as conn:
        sync_categories(conn)
    started = time.perf_counter()
    say(f"loading the demo city into {name} ...")
    load_demo(engine, end=datetime.now(UTC).replace(second=0, microsecond=0))
    say(f"  loaded in {time.perf_counter() - started:.0f} s")
    return cluster, engine


def provision(engine: Engine) -> tuple[dict[str, str], str]:
    """One API key per channel and the operator's password."""
    from geo_data.actors import system_actor
    from geo_data.api_keys import create_key
    from geo_data.catalogue import CHANNELS
    from geo_data.users import create_user, get_user, set_password

    password = secrets.token_urlsafe(18)
    with engine.begin() as conn:
        actor = system_actor(conn)
        keys = {
            c.code: create_key(conn, f"fuzz-{c.code}-{uuid.uuid4().hex[:8]}", c.code, actor, RATE)
            for c in CHANNELS
        }
        if get_user(conn, FUZZ_USER) is None:
            create_user(conn, FUZZ_USER, password, "operator", display_name="Fuzz")
        else:
            set_password(conn, FUZZ_USER, password)
    return keys, password


@dataclass
class Pool:
    """Real rows the steered cases point at."""

    categories: list[str]
    points: list[tuple[float, float]]
    case_ids: list[int]
    worker_ids: list[int]

    @classmethod
    def of(cls, engine: Engine) -> Pool:
        from geo_data.catalogue import load_categories

        with engine.connect() as conn:
            points = [
                (x, y)
                for x, y in conn.execute(
                    text(
                        "SELECT ST_X(label_point), ST_Y(label_point) FROM areas"
                        " WHERE level = 'grid' ORDER BY random() LIMIT 400"
                    )
                )
            ]
            case_ids = list(
                conn.execute(
                    text(
                        "(SELECT id FROM cases WHERE status <> 'closed' ORDER BY random()"
                        " LIMIT 300) UNION ALL"
                        " (SELECT id FROM cases WHERE status = 'closed'"
                        "  ORDER BY random() LIMIT 100)"
                    )
                ).scalars()
            )
            worker_ids = list(
                conn.execute(text("SELECT id FROM workers ORDER BY random() LIMIT 200")).scalars()
            )
        return cls([c.code for c in load_categories()], points, case_ids, worker_ids)


# -- steering generated cases at real rows ------------------------------------------------


def steer_event(item: Any, pool: Pool, rnd: random.Random) -> None:
    if not isinstance(item, dict) or rnd.random() > STEER:
        return
    item["category"] = rnd.choice(pool.categories)
    lon, lat = rnd.choice(pool.points)
    item["lon"], item["lat"] = lon + rnd.uniform(-1e-4, 1e-4), lat + rnd.uniform(-1e-4, 1e-4)
    if rnd.random() < 0.7:  # a plausible time, at any offset PostgreSQL may or may not take
        minutes = rnd.randint(-(23 * 60 + 59), 23 * 60 + 59)
        sign, hh, mm = "+" if minutes >= 0 else "-", abs(minutes) // 60, abs(minutes) % 60
        moment = datetime(2026, 1, 1) + (datetime(2027, 1, 1) - datetime(2026, 1, 1)) * rnd.random()
        item["reported_at"] = moment.isoformat(timespec="seconds") + f"{sign}{hh:02}:{mm:02}"


def event_channel(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("channel"), str):
            return body["channel"]
        events = body.get("events")
        if isinstance(events, list):
            for item in events:
                if isinstance(item, dict) and isinstance(item.get("channel"), str):
                    return item["channel"]
    return None


def current_state(engine: Engine, case_id: int) -> tuple[int, str] | None:
    """The case's (version, status), if it exists."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT version, status FROM cases WHERE id = :i"), {"i": case_id}
        ).first()
    return None if row is None else (row[0], row[1])


@dataclass
class Run:
    """What the requests met."""

    requests: int = 0
    by_operation: dict[str, collections.Counter] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    by_mode: dict[str, collections.Counter] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    statuses: collections.Counter = field(default_factory=collections.Counter)
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    transport_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def failure_key(label: str, exc: BaseException) -> str:
    title = getattr(exc, "title", None) or type(exc).__name__
    return f"{label}: {title}"


def record_failures(
    run: Run, label: str, mode: str, status: int, failures: list[BaseException], text: str
) -> None:
    for failure in failures:
        key = failure_key(label, failure)
        entry = run.failures.setdefault(
            key,
            {
                "operation": label,
                "mode": mode,
                "check": getattr(failure, "title", type(failure).__name__),
                "status": status,
                "message": str(getattr(failure, "message", failure))[:800],
                "count": 0,
                "reproduce": text[-1500:],
            },
        )
        entry["count"] += 1


# What negative_data_rejection flags that the API does on purpose (each checked otherwise):
# - the auth header schemathesis removed or spoilt: the fuzzer sends its own (or none, on
#   purpose, counted under 401);
# - unknown query parameters, which the API ignores like any HTTP API;
# - invalid items inside a batch: the batch answers 200 and refuses each such item by
#   index (``batch_item_failures`` checks that every schema-invalid item got code 422).
AUTH_HEADERS = {"authorization", "x-api-key"}


def explained(failure: BaseException, case: Any, op_id: str) -> bool:
    if not isinstance(failure, AcceptedNegativeData):
        return False
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(data, "mutations", ()) or ()
    if not mutations:
        return False
    for m in mutations:
        where = getattr(m.parameter_location, "value", m.parameter_location)
        if where == "header" and (m.parameter or "").lower() in AUTH_HEADERS:
            continue
        if where == "query" and "additionalProperties" in m.keywords:
            continue
        if op_id == "postBatch" and where == "body" and len(m.path) > 1 and m.path[0] == "events":
            continue
        if op_id == "postBatch" and where == "body" and "/events/items" in m.schema_pointer:
            continue
        return False
    return True


class BatchItemCheck:
    """Every batch item that breaks the documented Event schema is refused (code 422)."""

    def __init__(self, document: dict[str, Any]) -> None:
        event = document["components"]["schemas"]["Event"]
        self.validator = jsonschema_rs.Draft202012Validator(event, validate_formats=True)

    def failures(self, case: Any, response: Any) -> list[BaseException]:
        body = case.body
        if response.status_code != 200 or not isinstance(body, dict):
            return []
        items = body.get("events")
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            return [AssertionError("batch answered 200 without per-item results")]
        if not isinstance(items, list) or len(results) != len(items):
            return [AssertionError("batch results do not match the items one to one")]
        found: list[BaseException] = []
        for index, (item, result) in enumerate(zip(items, results, strict=True)):
            if not self.validator.is_valid(item) and result.get("code") != 422:
                found.append(
                    AssertionError(
                        f"batch item {index} breaks the Event schema but got code"
                        f" {result.get('code')}: {json.dumps(item, ensure_ascii=False)[:300]}"
                    )
                )
        return found


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    *,
    base: str,
    keys: dict[str, str],
    token: str,
    pool: Pool,
    engine: Engine,
    run: Run,
    seed: int,
    batch_check: BatchItemCheck,
) -> None:
    """Send ``examples`` generated cases of ``operation`` in ``mode`` and check each answer."""
    label = f"{operation.method.upper()} {operation.path}"
    op_id = operation.definition.raw.get("operationId", label)
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment must not sit in front
    rnd = random.Random(f"{seed}:{op_id}:{mode}")
    checks = NEGATIVE_CHECKS if mode == GenerationMode.NEGATIVE else POSITIVE_CHECKS

    def auth_headers(case: Any) -> dict[str, str]:
        roll = rnd.random()
        if op_id in ("postEvent", "postBatch"):
            if roll < 0.04:
                return {}
            if roll < 0.08:
                return {"X-API-Key": "gw_" + secrets.token_urlsafe(8)}
            if roll < 0.12:
                return {"X-API-Key": rnd.choice(list(keys.values()))}
            return {"X-API-Key": keys.get(event_channel(case.body) or "", keys["app"])}
        if op_id in ("getCase", "getNearby", "postAction"):
            if roll < 0.04:
                return {}
            if roll < 0.08:
                return {"Authorization": "Bearer " + secrets.token_urlsafe(24)}
            return {"Authorization": f"Bearer {token}"}
        return {}

    def steer(case: Any) -> None:
        body = case.body if isinstance(case.body, dict) else None
        if op_id == "postEvent":
            steer_event(body, pool, rnd)
        elif op_id == "postBatch" and body and isinstance(body.get("events"), list):
            for item in body["events"]:
                steer_event(item, pool, rnd)
        params = case.path_parameters or {}
        if "case_id" in params and rnd.random() < 0.85:
            params["case_id"] = rnd.choice(pool.case_ids)
        if op_id == "postAction" and body is not None and rnd.random() < STEER:
            state = None
            if isinstance(params.get("case_id"), int):
                state = current_state(engine, params["case_id"])
            if state is not None:  # the version it has, and an action its state allows
                body["version"] = state[0]
                allowed = allowed_actions(state[1], "operator")
                if allowed and rnd.random() < 0.7:
                    params["action"] = rnd.choice(allowed)
            if "worker_id" in body or rnd.random() < 0.3:
                body["worker_id"] = rnd.choice(pool.worker_ids)
            if "duplicate_of" in body:
                body["duplicate_of"] = rnd.choice(pool.case_ids)
            if not body.get("note"):
                body["note"] = "fuzz <b>note</b>"
            if rnd.random() < 0.5:
                body["confirmed_by_resident"] = True

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.seed(seed)
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        if mode == GenerationMode.POSITIVE:
            steer(case)
        headers = auth_headers(case)
        try:
            response = case.call(base_url=base, session=session, headers=headers, timeout=30)
        except Exception as exc:  # a refused or dropped connection is a finding too
            run.transport_errors.append(f"{label} [{mode}]: {type(exc).__name__}: {exc}"[:600])
            return
        run.requests += 1
        run.statuses[response.status_code] += 1
        run.by_operation[label][response.status_code] += 1
        run.by_mode[str(mode)][response.status_code] += 1
        failures: list[BaseException] = []
        text = ""
        try:
            case.validate_response(
                response,
                checks=checks,
                headers=headers,
                transport_kwargs={"base_url": base, "session": session, "headers": headers},
            )
        except (Exception, BaseExceptionGroup) as group:  # schemathesis' FailureGroup
            failures = [f for f in getattr(group, "exceptions", [group])]
            failures = [f for f in failures if not explained(f, case, op_id)]
            text = str(group)
        if op_id == "postBatch":
            found = batch_check.failures(case, response)
            failures += found
            if found and not text:
                text = case.as_curl_command(headers=headers)
        if failures:
            record_failures(run, label, str(mode), response.status_code, failures, text)

    try:
        send()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing (more) to generate in this mode, e.g. no parameters to negate
    except Exception as exc:
        run.transport_errors.append(f"{label} [{mode}] generation: {type(exc).__name__}: {exc}")


def bearer_token(base: str, password: str) -> str:
    request = urllib.request.Request(
        base + "/api/v1/auth/token",
        data=json.dumps({"username": FUZZ_USER, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.load(response)["token"]


def healthy(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=5, proxies={"http": ""}).status_code == 200
    except requests.RequestException:
        return False


def tracebacks(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback") or "Exception on " in line:
            found.append("\n".join(lines[max(0, i - 1) : i + 25]))
    return found


def report(run: Run, problems: list[str]) -> None:
    print()
    print(f"{'operation':48} {'requests':>9}  statuses")
    for label in sorted(run.by_operation):
        counts = run.by_operation[label]
        statuses = "  ".join(f"{s}:{n}" for s, n in sorted(counts.items()))
        print(f"{label:48} {sum(counts.values()):>9,}  {statuses}")
    print(f"{'total':48} {run.requests:>9,}  " + "  ".join(
        f"{s}:{n}" for s, n in sorted(run.statuses.items())
    ))  # fmt: skip
    for mode, counts in sorted(run.by_mode.items()):
        print(f"  {mode:46} {sum(counts.values()):>9,}")
    fivexx = sum(n for s, n in run.statuses.items() if s >= 500)
    print(f"5xx: {fivexx}   check failures: {sum(f['count'] for f in run.failures.values())}"
          f"   transport errors: {len(run.transport_errors)}   in {run.seconds:.0f} s"
          f" ({run.requests / max(run.seconds, 1e-9):.0f} requests/s)")  # fmt: skip
    for key, failure in run.failures.items():
        print(
            f"\nFAILURE x{failure['count']} {key} (status {failure['status']}, {failure['mode']})"
        )
        print(failure["reproduce"])
    for problem in problems:
        print(f"\nPROBLEM {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=900, help="per operation and mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=RESULTS / "fuzz.json")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--reuse", metavar="NAME", help="use database NAME as kept by --keep-db (implies it)"
    )
    parser.add_argument("--only", help="fuzz only this operationId")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server, drop the db

    from tests.realtime.conftest import start_server, stop_server

    OUT.mkdir(parents=True, exist_ok=True)
    name = args.reuse or f"gridwatch_fuzz_{os.getpid()}"
    cluster, engine = open_database(name, reuse=bool(args.reuse))
    proc = None
    try:
        keys, password = provision(engine)
        pool = Pool.of(engine)
        with engine.connect() as conn:
            cases_before = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        log = OUT / "fuzz_server.log"
        proc, base = start_server(engine.url.render_as_string(hide_password=False), log)
        token = bearer_token(base, password)
        schema = schemathesis.openapi.from_url(base + "/api/v1/openapi.json")
        batch_check = BatchItemCheck(schema.raw_schema)
        run = Run()
        started = time.perf_counter()
        for result in schema.get_all_operations():
            operation = result.ok()
            op_id = operation.definition.raw.get("operationId")
            if args.only and op_id != args.only:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                before = run.requests
                t0 = time.perf_counter()
                fuzz_operation(
                    operation,
                    mode,
                    args.examples,
                    base=base,
                    keys=keys,
                    token=token,
                    pool=pool,
                    engine=engine,
                    run=run,
                    seed=args.seed,
                    batch_check=batch_check,
                )
                print(
                    f"{op_id:14} {mode!s:9} {run.requests - before:6,} requests"
                    f" in {time.perf_counter() - t0:5.1f} s",
                    flush=True,
                )
        run.seconds = time.perf_counter() - started
        problems = []
        if not healthy(base):
            problems.append("the server no longer answers /healthz")
        stop_server(proc)
        proc = None
        problems += [f"traceback in the server log:\n{t}" for t in tracebacks(log)]
        with engine.connect() as conn:
            cases_after = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        report(run, problems + run.transport_errors)
        fivexx = sum(n for s, n in run.statuses.items() if s >= 500)
        summary = {
            "benchmark": "fuzz_api",
            "schemathesis": schemathesis.__version__,
            "hypothesis": hypothesis.__version__,
            "seed": args.seed,
            "examples_per_operation_and_mode": args.examples,
            "requests": run.requests,
            "seconds": round(run.seconds, 1),
            "statuses": {str(s): n for s, n in sorted(run.statuses.items())},
            "by_operation": {
                label: {str(s): n for s, n in sorted(c.items())}
                for label, c in sorted(run.by_operation.items())
            },
            "by_mode": {m: sum(c.values()) for m, c in sorted(run.by_mode.items())},
            "server_errors_5xx": fivexx,
            "check_failures": list(run.failures.values()),
            "transport_errors": run.transport_errors,
            "server_tracebacks": len([p for p in problems if p.startswith("traceback")]),
            "problems": problems,
            "cases_created": cases_after - cases_before,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps({k: summary[k] for k in ("requests", "statuses", "server_errors_5xx")}))
        failed = fivexx or run.failures or run.transport_errors or problems
        return 1 if failed else 0
    finally:
        if proc is not None:
            stop_server(proc)
        engine.dispose()
        if not (args.keep_db or args.reuse):
            cluster.drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
