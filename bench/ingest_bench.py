"""Ingest benchmark: the events API against plain inserts of the same rows.

Run from the repository root::

    .venv/bin/python -m bench.ingest_bench [--single 5000] [--threads 4] [--batches 20]

Data: the database ``gridwatch_bench_ingest`` on the private cluster, migrated, with
the demo city (default seed, year ending ``END``) loaded when it holds no areas; it is
reused by later runs (``--fresh`` drops and reloads it). Every run adds its cases;
``ANALYZE cases`` runs (untimed) before the first phase.

Server: ``gridwatch serve`` as a subprocess on a free port of 127.0.0.1 against that
database (``tests/realtime/conftest.start_server``), one API key for channel ``app``
with a rate limit of 10,000,000 a minute, so the limiter never refuses.

Events: at the grid label points (``areas.label_point``), thinned so that no two kept
points lie within ``MIN_SPACING_M`` and jittered by a few metres (seeded); event ``i``
uses point ``i mod P`` and category ``(i div P) mod C``, and ``reported_at`` advances
one second per event. Each phase gets its own block of time, one day after the last
``reported_at`` already stored, so a (point, category) pair recurs only hours later
and never within the 2-hour, 80-metre duplicate window: the store is expected to merge
nothing (the merges seen are counted and reported).

Phases (after a small untimed warm-up of each):

(a) single: ``POST /api/v1/events`` from ``--threads`` client threads, each with its
    own HTTP/1.1 keep-alive ``http.client`` connection (reopened whenever the server
    answers ``Connection: close``, counted as ``closed_by_server``), until ``--single``
    events are stored (or ``--max-seconds``); events/s = events / wall time.
(b) batch: ``POST /api/v1/events/batch`` of ``--batch-size`` events from one client,
    ``--batches`` times (JSON bodies encoded before timing).
(c) plain: the SAME rows (other external ids, their own block of time) inserted into
    the SAME ``cases`` table with psycopg ``executemany`` on one connection, one
    transaction per ``--batch-size`` rows. Area ids (resolved by PostGIS beforehand,
    the way the store resolves them), H3 cells r7-r12 and ``due_at`` (the category's
    SLA) are computed outside the timing: the cheapest honest insert of the columns
    the store writes. It writes no audit (``case_events``) or feed (``case_feed``)
    rows, finds no duplicates and resolves no areas, which the API does per event.
(d) copy: the same rows again with ``COPY cases (...) FROM STDIN``, one transaction
    per ``--batch-size`` rows (``--no-copy`` skips it).

(b), (c) and (d) alternate chunk by chunk (the order rotating each round) so that
drift on the machine hits them alike. Each chunk is timed from sending to the answer
(or commit).

Open cases: every stored case is open (``reported``), and the duplicate check of the
store reads open cases, so the benchmark keeps the open set to what the API itself
stores: before (b) the cases of (a) are closed, after each round the baseline rows of
that round are deleted (they have no audit or feed rows) and ``cases`` is vacuumed,
all untimed; the open count before the first and the last batch is reported. After
the run its cases are closed (plain SQL; ``--keep-open`` skips both closings), so the
next run starts from the demo's open cases.

Goals (from the issue): batch ingest at least 30% of the plain-insert rate; single
POSTs at least 500 events/s.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
from sqlalchemy import Engine, text

from bench.common import host_info, open_bench_database
from geo_data.models import CLOSED_STATUSES

if TYPE_CHECKING:
    from app.settings import Settings
    from geo_data.cluster import Cluster

DB_NAME = "gridwatch_bench_ingest"
END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the demo year ends here
CHANNEL = "app"
RATE_PER_MINUTE = 10**7
MIN_SPACING_M = 120.0  # > the 80 m duplicate radius plus twice the jitter
JITTER_DEG = 0.00004  # about 4 m
SEED = 20_261_122
WARMUP = 100
OPEN_SQL = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))

GOAL_BATCH_OVER_PLAIN = 0.30
GOAL_SINGLE_PER_S = 500.0

CASE_COLUMNS = (
    "channel",
    "external_id",
    "category_code",
    "severity",
    "status",
    "geom",
    "h3_r7",
    "h3_r8",
    "h3_r9",
    "h3_r10",
    "h3_r11",
    "h3_r12",
    "district_id",
    "street_id",
    "community_id",
    "grid_id",
    "courtyard_id",
    "reported_at",
    "due_at",
    "description",
    "reporter_name",
    "reporter_phone",
    "media_url",
)


def say(message: str) -> None:
    print(message, flush=True)


# -- database -----------------------------------------------------------------------------


def _scalar(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params or {}).scalar()


def prepare(settings: Settings, *, fresh: bool) -> tuple[Cluster, Engine, dict[str, Any]]:
    """The benchmark database, migrated and holding the demo city."""
    cluster, engine = open_bench_database(settings, DB_NAME, drop=fresh, say=say)
    info: dict[str, Any] = {"demo_loaded_now": False}
    if not _scalar(engine, "SELECT EXISTS (SELECT 1 FROM areas)"):
        from etl.demo_load import load_demo

        say(f"loading the demo city into {DB_NAME} (one transaction) ...")
        t = time.perf_counter()
        load_demo(engine, end=END)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        info = {"demo_loaded_now": True, "demo_s": round(time.perf_counter() - t, 1)}
        say(f"  demo city loaded in {info['demo_s']} s")
    else:
        say(f"reusing {DB_NAME} (--fresh to reload)")
    return cluster, engine, info


def new_key(engine: Engine, purpose: str) -> str:
    from geo_data.actors import system_actor
    from geo_data.api_keys import create_key

    with engine.begin() as conn:
        name = f"bench-{purpose}-{uuid.uuid4().hex[:12]}"
        return create_key(conn, name, CHANNEL, system_actor(conn), rate_per_minute=RATE_PER_MINUTE)


def next_time_base(engine: Engine) -> datetime:
    """One day after the latest ``reported_at`` stored (and after ``END``), to the hour."""
    latest = _scalar(engine, "SELECT max(reported_at) FROM cases") or END
    base = max(latest, END) + timedelta(days=1)
    return base.replace(minute=0, second=0, microsecond=0)


@contextmanager
def running_server(url: str, log_dir: Path, workers: int = 1) -> Iterator[str]:
    """``gridwatch serve`` on a free 127.0.0.1 port against ``url``; its base URL.
    ``workers`` above 1 serves with gunicorn (keep-alive, several processes)."""
    from tests.realtime.conftest import start_server, stop_server

    extra = ("--workers", str(workers)) if workers > 1 else ()
    proc, base = start_server(url, log_dir / "server.log", *extra)
    try:
        yield base
    finally:
        stop_server(proc)


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spot:
    lon: float
    lat: float
    h3: tuple[int, ...]  # r7..r12
    areas: tuple[int | None, ...]  # district, street, community, grid, courtyard


def _thin(points: np.ndarray, spacing_m: float) -> np.ndarray:
    """Greedy: keep a point unless a kept one lies within ``spacing_m`` (equirectangular)."""
    lat0 = np.radians(points[:, 1].mean())
    xy = np.column_stack(
        [points[:, 0] * 111_320.0 * np.cos(lat0), points[:, 1] * 110_574.0]
    )  # metres, good enough at a district's extent
    kept: list[int] = []
    for i in range(len(xy)):
        if kept and np.min(np.hypot(*(xy[kept] - xy[i]).T)) < spacing_m:
            continue
        kept.append(i)
    return points[kept]


RESOLVE_SQL = """
    SELECT p.lon, p.lat, g.district_id, g.street_id, g.community_id, g.grid_id,
           cy.id AS courtyard_id
    FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(lon, lat, ord)
    CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) AS geom) pt
    LEFT JOIN LATERAL (
        SELECT a.district_id, a.street_id, a.community_id, a.grid_id FROM areas a
        WHERE a.level = 'grid' AND ST_Intersects(a.geom, pt.geom) LIMIT 1
    ) g ON true
    LEFT JOIN LATERAL (
        SELECT a.id FROM areas a
        WHERE a.level = 'courtyard' AND ST_Intersects(a.geom, pt.geom) LIMIT 1
    ) cy ON true
    ORDER BY p.ord
"""


def spots(conninfo: str) -> list[Spot]:
    """Grid label points, thinned, jittered (seeded), resolved to their areas and H3 cells."""
    from geo_data.h3cells import h3_columns

    with psycopg.connect(conninfo) as conn:
        raw = conn.execute(
            "SELECT ST_X(label_point), ST_Y(label_point) FROM areas"
            " WHERE level = 'grid' AND label_point IS NOT NULL ORDER BY code"
        ).fetchall()
        points = _thin(np.array(raw, dtype=float), MIN_SPACING_M)
        rng = np.random.default_rng(SEED)
        points = np.round(points + rng.uniform(-JITTER_DEG, JITTER_DEG, points.shape), 7)
        rows = conn.execute(RESOLVE_SQL, (points[:, 0].tolist(), points[:, 1].tolist())).fetchall()
    inside = [r for r in rows if r[5] is not None]  # jitter may push a point out of every grid
    lon = np.array([r[0] for r in inside])
    lat = np.array([r[1] for r in inside])
    cells = h3_columns(lon, lat)
    names = [f"h3_r{r}" for r in range(7, 13)]
    return [
        Spot(
            float(r[0]),
            float(r[1]),
            tuple(int(cells[n][i]) for n in names),
            tuple(r[2:7]),
        )
        for i, r in enumerate(inside)
    ]


@dataclass(frozen=True)
class Event:
    """One report, as JSON for the API and as a ``cases`` row for the baselines."""

    index: int
    spot: Spot
    category: str
    severity: int
    reported_at: datetime
    description: str
    reporter_phone: str

    def as_json(self, external_id: str) -> dict[str, Any]:
        return {
            "channel": CHANNEL,
            "external_id": external_id,
            "category": self.category,
            "severity": self.severity,
            "lon": self.spot.lon,
            "lat": self.spot.lat,
            "reported_at": self.reported_at.isoformat(),
            "description": self.description,
            "reporter_phone": self.reporter_phone,
        }

    def as_row(self, external_id: str, shift: timedelta) -> tuple[Any, ...]:
        """The columns of ``CASE_COLUMNS`` but ``geom`` as (lon, lat)."""
        from geo_data.catalogue import sla_hours

        reported = self.reported_at + shift
        due = reported + timedelta(hours=sla_hours(self.category, self.severity))
        return (
            CHANNEL,
            external_id,
            self.category,
            self.severity,
            "reported",
            self.spot.lon,
            self.spot.lat,
            *self.spot.h3,
            *self.spot.areas,
            reported,
            due,
            self.description,
            None,
            self.reporter_phone,
            None,
        )


class EventMaker:
    """Events that never fall within one another's duplicate window (see the docstring)."""

    def __init__(self, spots: list[Spot], categories: list[str]) -> None:
        self.spots = spots
        self.categories = categories

    def events(self, n: int, start: datetime, offset: int = 0) -> list[Event]:
        p, c = len(self.spots), len(self.categories)
        out = []
        for i in range(offset, offset + n):
            out.append(
                Event(
                    index=i,
                    spot=self.spots[i % p],
                    category=self.categories[(i // p) % c],
                    severity=1 + (i * 7 // 3) % 4,
                    reported_at=start + timedelta(seconds=i),
                    description=f"接入基准测试 #{i}",
                    reporter_phone=f"138{i % 10**8:08d}",
                )
            )
        return out


class TimeBlocks:
    """Consecutive blocks of ``reported_at``, each a day after the previous one's end."""

    def __init__(self, base: datetime) -> None:
        self.next = base

    def take(self, n_events: int) -> datetime:
        start = self.next
        self.next = start + timedelta(seconds=n_events) + timedelta(days=1)
        return start


def categories(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        return [r[0] for r in conn.execute("SELECT code FROM categories ORDER BY code")]


# -- HTTP ---------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to the app (reconnects if the server closes)."""

    def __init__(self, base: str, key: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.headers = {"Content-Type": "application/json", "X-API-Key": key}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.reconnects = 0

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self._reopen()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionError):
                self._reopen()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _reopen(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.reconnects += 1

    def close(self) -> None:
        self.conn.close()


def percentiles_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    ms = np.asarray(seconds) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}


# -- phases -------------------------------------------------------------------------------


def run_single(
    base: str, key: str, events: list[Event], prefix: str, threads: int, max_seconds: float
) -> dict[str, Any]:
    """POST each event alone from ``threads`` threads (event i on thread i mod threads)."""
    bodies = [json.dumps(e.as_json(f"{prefix}{e.index}")).encode() for e in events]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    codes: list[dict[int, int]] = [{} for _ in range(threads)]
    merged = [0] * threads
    reconnects = [0] * threads
    errors: list[str] = []
    start = threading.Barrier(threads + 1)
    deadline: list[float] = [0.0]

    def worker(k: int) -> None:
        client = Client(base, key)
        try:
            start.wait(30)
            for body in bodies[k::threads]:
                if time.perf_counter() > deadline[0]:
                    break
                t = time.perf_counter()
                status, data = client.post("/api/v1/events", body)
                latencies[k].append(time.perf_counter() - t)
                codes[k][status] = codes[k].get(status, 0) + 1
                if status in (200, 201) and json.loads(data).get("duplicate_of"):
                    merged[k] += 1
        except Exception as exc:  # reported, not hidden
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")
        finally:
            reconnects[k] = client.reconnects
            client.close()

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.perf_counter() + max_seconds
    start.wait(30)
    t0 = time.perf_counter()
    for t in pool:
        t.join(max_seconds + 120)
    wall = time.perf_counter() - t0
    all_codes: dict[int, int] = {}
    for c in codes:
        for status, n in c.items():
            all_codes[status] = all_codes.get(status, 0) + n
    stored = all_codes.get(201, 0)
    flat = [x for lat in latencies for x in lat]
    return {
        "events": stored,
        "sent": len(flat),
        "seconds": round(wall, 2),
        "events_per_s": round(stored / wall, 1) if wall else None,
        "latency": percentiles_ms(flat),
        "codes": {str(k): v for k, v in sorted(all_codes.items())},
        "merged": sum(merged),
        "closed_by_server": sum(reconnects),
        "errors": errors,
        "threads": threads,
    }


class Series:
    """Chunks of one phase: events stored and seconds taken, chunk by chunk."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self.seconds: list[float] = []
        self.merged = 0
        self.codes: dict[int, int] = {}

    @property
    def events(self) -> int:
        return sum(self.stored)

    def add(self, stored: int, seconds: float) -> None:
        self.stored.append(stored)
        self.seconds.append(seconds)

    def result(self, chunk: int) -> dict[str, Any]:
        total = sum(self.seconds)
        per_chunk = [n / t for n, t in zip(self.stored, self.seconds, strict=True)]
        return {
            "events": self.events,
            "chunks": len(self.seconds),
            "chunk_size": chunk,
            "seconds": round(total, 2),
            "events_per_s": round(self.events / total, 1) if total else None,
            "chunk": percentiles_ms(self.seconds),
            "first_chunk_per_s": round(per_chunk[0], 1) if per_chunk else None,
            "last_chunk_per_s": round(per_chunk[-1], 1) if per_chunk else None,
        }


def batch_chunk(client: Client, body: bytes, series: Series | None) -> None:
    t = time.perf_counter()
    status, data = client.post("/api/v1/events/batch", body)
    elapsed = time.perf_counter() - t
    if status != 200:
        raise RuntimeError(f"batch answered {status}: {data[:500]!r}")
    answer = json.loads(data)
    if series is not None:
        series.add(answer["stored"], elapsed)
        for r in answer["results"]:
            series.codes[r["code"]] = series.codes.get(r["code"], 0) + 1
            series.merged += bool(r.get("duplicate_of"))


INSERT_SQL = (
    f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ("
    + ", ".join(
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)" if c == "geom" else "%s" for c in CASE_COLUMNS
    )
    + ")"
)
COPY_SQL = f"COPY cases ({', '.join(CASE_COLUMNS)}) FROM STDIN"


def plain_chunk(
    conn: psycopg.Connection, rows: list[tuple[Any, ...]], series: Series | None
) -> None:
    t = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(INSERT_SQL, rows)
    if series is not None:
        series.add(len(rows), time.perf_counter() - t)


def copy_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows for COPY: (lon, lat) become EWKT, which PostGIS parses on input."""
    return [(*r[:5], f"SRID=4326;POINT({r[5]!r} {r[6]!r})", *r[7:]) for r in rows]


def copy_chunk(
    conn: psycopg.Connection, rows: list[tuple[Any, ...]], series: Series | None
) -> None:
    t = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
        for row in rows:
            copy.write_row(row)
    if series is not None:
        series.add(len(rows), time.perf_counter() - t)


def run_chunks(
    base: str,
    key: str,
    conninfo: str,
    events: list[Event],
    prefix: str,
    blocks: dict[str, timedelta],
    chunk: int,
    with_copy: bool,
    max_seconds: float,
    timed: bool = True,
) -> tuple[dict[str, Series], dict[str, Any]]:
    """Batch, plain and copy chunk by chunk (order rotating); their series, and notes.

    After each round (untimed) the baseline rows just inserted are deleted (they have
    no audit or feed rows) and ``cases`` is vacuumed, so that they never swell the open
    cases the API's duplicate check reads: the API sees only its own cases accumulate.
    """
    series = {name: Series() for name in ("batch", "plain", "copy")}
    chunks = [events[i : i + chunk] for i in range(0, len(events), chunk)]
    bodies = [
        json.dumps(
            {"events": [e.as_json(f"{prefix}B{e.index}") for e in part], "atomic": False}
        ).encode()
        for part in chunks
    ]
    plain_rows = [
        [e.as_row(f"{prefix}P{e.index}", blocks["plain"]) for e in part] for part in chunks
    ]
    copy_data = [
        copy_rows([e.as_row(f"{prefix}C{e.index}", blocks["copy"]) for e in part])
        for part in chunks
    ]
    client = Client(base, key)
    names = ["batch", "plain", "copy"] if with_copy else ["batch", "plain"]
    deadline = time.perf_counter() + max_seconds
    notes: dict[str, Any] = {"rounds": 0, "baseline_rows_deleted": 0, "cleanup_s": 0.0}
    open_seen: list[int] = []
    with psycopg.connect(conninfo) as conn, psycopg.connect(conninfo, autocommit=True) as aux:
        for n, body in enumerate(bodies):
            if time.perf_counter() > deadline:
                say(f"  stopped after {n} rounds: --max-seconds {max_seconds:g} reached")
                break
            open_seen.append(
                aux.execute(f"SELECT count(*) FROM cases WHERE {OPEN_SQL}").fetchone()[0]
            )
            order = names[n % len(names) :] + names[: n % len(names)]
            for name in order:
                s = series[name] if timed else None
                if name == "batch":
                    batch_chunk(client, body, s)
                elif name == "plain":
                    plain_chunk(conn, plain_rows[n], s)
                else:
                    copy_chunk(conn, copy_data[n], s)
            t = time.perf_counter()
            ids = [r[1] for r in plain_rows[n]] + (
                [r[1] for r in copy_data[n]] if with_copy else []
            )
            deleted = aux.execute(
                "DELETE FROM cases WHERE channel = %s AND external_id = ANY(%s)", (CHANNEL, ids)
            ).rowcount
            aux.execute("VACUUM cases")
            notes["baseline_rows_deleted"] += deleted
            notes["cleanup_s"] += time.perf_counter() - t
            notes["rounds"] += 1
            rounds = notes["rounds"]
            if timed and (rounds % 5 == 0 or rounds == len(bodies)):
                b, p = series["batch"], series["plain"]
                say(
                    f"  round {rounds}/{len(bodies)}: batch {b.events / sum(b.seconds):,.0f}/s,"
                    f" plain {p.events / sum(p.seconds):,.0f}/s ({open_seen[-1]:,} open cases"
                    " before this round's batch)"
                )
    client.close()
    notes["cleanup_s"] = round(notes["cleanup_s"], 1)
    notes["open_before_first_batch"] = open_seen[0] if open_seen else None
    notes["open_before_last_batch"] = open_seen[-1] if open_seen else None
    return series, notes


def sources(engine: Engine) -> dict[str, Any]:
    """What was measured: git HEAD, short hashes of the ingest and push code, schema."""
    import hashlib
    import subprocess

    root = Path(__file__).resolve().parent.parent
    files = (
        "app/api/events.py",
        "app/api/schemas.py",
        "geo_data/case_store.py",
        "app/realtime.py",
        "geo_data/feed.py",
    )
    out: dict[str, Any] = {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()[:12]
        for name in files
        if (root / name).exists()
    }
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "app", "geo_data"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    out["git_head"] = head.stdout.strip() or None
    out["app_or_geo_data_uncommitted"] = bool(dirty.stdout.strip())
    out["alembic"] = _scalar(engine, "SELECT version_num FROM alembic_version")
    return out


def table_state(engine: Engine) -> dict[str, int]:
    """Cases in the table, and how many of them are open (the duplicate check reads those)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT count(*) AS n, count(*) FILTER (WHERE {OPEN_SQL}) AS open FROM cases")
        ).one()
    return {"cases": row.n, "open": row.open}


def analyze(engine: Engine, what: str = "ANALYZE cases") -> None:
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(what))


def close_run(engine: Engine, prefix: str) -> int:
    """Close this run's cases (plain SQL) so later runs start with the demo's open cases.

    The benchmark database is not an audit record: no ``case_events`` row is written.
    """
    with engine.begin() as conn:
        n = conn.execute(
            text(
                f"UPDATE cases SET status = 'closed', closed_at = reported_at + interval '1 hour',"
                f" updated_at = now() WHERE channel = :ch AND external_id LIKE :p || '%'"
                f" AND {OPEN_SQL}"
            ),
            {"ch": CHANNEL, "p": prefix},
        ).rowcount
    analyze(engine, "VACUUM ANALYZE cases")
    return n


def db_check(engine: Engine, prefix: str) -> dict[str, Any]:
    """What the database holds of this run: cases, merges, audit and feed rows per phase."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT phase, count(*) AS cases, count(*) FILTER (WHERE merged) AS merged,
                       sum(audit)::int AS audit, sum(feed)::int AS feed
                FROM (
                    SELECT substr(c.external_id, length(:p) + 1, 1) AS phase,
                           c.status = 'merged' AS merged,
                           (SELECT count(*) FROM case_events e
                            WHERE e.case_id = c.id AND e.action = 'report') AS audit,
                           (SELECT count(*) FROM case_feed f WHERE f.case_id = c.id) AS feed
                    FROM cases c WHERE c.channel = :ch AND c.external_id LIKE :p || '%'
                ) t
                GROUP BY 1 ORDER BY 1
                """
            ),
            {"p": prefix, "ch": CHANNEL},
        ).all()
    names = {"S": "single", "B": "batch", "P": "plain", "C": "copy", "W": "warmup"}
    return {
        names.get(r.phase, r.phase): {
            "cases": r.cases,
            "merged": r.merged,
            "audit_rows": r.audit,
            "feed_rows": r.feed,
        }
        for r in rows
    }


# -- main ---------------------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ingest_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=5000, help="events posted alone (5000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="app processes; above 1 gunicorn (1: Werkzeug)"
    )
    parser.add_argument("--threads", type=int, default=4, help="client threads for singles (4)")
    parser.add_argument("--batches", type=int, default=20, help="batch rounds (20)")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per batch (1000)")
    parser.add_argument("--no-copy", action="store_true", help="skip the COPY baseline")
    parser.add_argument(
        "--max-seconds", type=float, default=300.0, help="cap per timed phase, seconds (300)"
    )
    parser.add_argument("--fresh", action="store_true", help=f"drop and reload {DB_NAME}")
    parser.add_argument(
        "--keep-open", action="store_true", help="leave this run's cases open afterwards"
    )
    args = parser.parse_args(argv)
    if min(args.single, args.threads, args.batches) < 1 or not 1 <= args.batch_size <= 1000:
        parser.error("counts must be at least 1 and --batch-size at most 1000")

    from app.settings import Settings

    settings = Settings(db_name=DB_NAME)
    if settings.database_url:
        say("note: GRIDWATCH_DATABASE_URL is ignored; the benchmark uses the private cluster")
    cluster, engine, load = prepare(settings, fresh=args.fresh)
    conninfo = cluster.conninfo(DB_NAME)
    analyze(engine)  # untimed: the planner sees the table as it is now
    before = table_state(engine)
    maker = EventMaker(spots(conninfo), categories(conninfo))
    say(
        f"{before['cases']:,} cases stored ({before['open']:,} open); {len(maker.spots)} points x"
        f" {len(maker.categories)} categories"
    )
    key = new_key(engine, "ingest")
    run = uuid.uuid4().hex[:6]
    prefix = f"IB{run}-"
    n_chunked = args.batches * args.batch_size
    blocks = TimeBlocks(next_time_base(engine))
    warm_start = blocks.take(5 * WARMUP)
    single_start = blocks.take(args.single)
    batch_start = blocks.take(n_chunked)
    shifts = {
        "plain": blocks.take(n_chunked) - batch_start,
        "copy": blocks.take(n_chunked) - batch_start,
    }
    warm_shifts = {"plain": timedelta(seconds=2 * WARMUP), "copy": timedelta(seconds=3 * WARMUP)}

    with (
        psycopg.connect(conninfo) as conn,
        tempfile.TemporaryDirectory(prefix="gridwatch-ingest-bench-") as tmp,
    ):
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        url = cluster.url(DB_NAME).replace("postgresql+psycopg://", "postgresql://")
        say("starting gridwatch serve ...")
        with running_server(url, Path(tmp), args.workers) as base:
            say(f"  serving on {base}; warming up")
            warm = maker.events(WARMUP, warm_start)
            run_single(base, key, warm, f"{prefix}W", args.threads, 60)
            run_chunks(
                base,
                key,
                conninfo,
                maker.events(WARMUP, warm_start, offset=WARMUP),
                f"{prefix}W",
                warm_shifts,
                WARMUP,
                not args.no_copy,
                60,
                timed=False,
            )

            say(f"(a) single: {args.single:,} events from {args.threads} threads ...")
            single = run_single(
                base,
                key,
                maker.events(args.single, single_start),
                f"{prefix}S",
                args.threads,
                args.max_seconds,
            )
            say(
                f"  {single['events']:,} stored in {single['seconds']} s:"
                f" {single['events_per_s']}/s; latency {single['latency']}"
            )
            if single["errors"]:
                say(f"  errors: {single['errors']}")
            closed_single = None
            if not args.keep_open:
                say("  closing this run's cases so far (untimed) and VACUUM ANALYZE cases ...")
                closed_single = close_run(engine, prefix)

            say(
                f"(b/c/d) batch, plain{', copy' if not args.no_copy else ''}:"
                f" {args.batches} rounds of {args.batch_size:,} ..."
            )
            series, chunk_notes = run_chunks(
                base,
                key,
                conninfo,
                maker.events(n_chunked, batch_start),
                prefix,
                shifts,
                args.batch_size,
                not args.no_copy,
                args.max_seconds,
            )
        stored = db_check(engine, prefix)
    after = table_state(engine)
    closed = None
    if not args.keep_open:
        say("closing this run's cases (untimed, plain SQL) and VACUUM ANALYZE cases ...")
        closed = close_run(engine, prefix)

    batch = series["batch"].result(args.batch_size) | {
        "merged": series["batch"].merged,
        "codes": {str(k): v for k, v in sorted(series["batch"].codes.items())},
    }
    plain = series["plain"].result(args.batch_size)
    copy = series["copy"].result(args.batch_size) if not args.no_copy else None
    ratios = {
        "batch_over_plain": ratio(batch["events_per_s"], plain["events_per_s"]),
        "single_over_plain": ratio(single["events_per_s"], plain["events_per_s"]),
        "batch_over_copy": ratio(batch["events_per_s"], copy and copy["events_per_s"]),
        "plain_over_copy": ratio(plain["events_per_s"], copy and copy["events_per_s"]),
    }
    goals_met = {
        "batch_over_plain": bool(
            ratios["batch_over_plain"] and ratios["batch_over_plain"] >= GOAL_BATCH_OVER_PLAIN
        ),
        "single_per_s": bool(
            single["events_per_s"] and single["events_per_s"] >= GOAL_SINGLE_PER_S
        ),
    }

    print()
    head = f"{'phase':<8} {'events':>7} {'seconds':>8} {'events/s':>9} {'p50 ms':>8} {'p95 ms':>8}"
    print(head)
    print("-" * len(head))
    lat = single["latency"]
    print(
        f"{'single':<8} {single['events']:>7,} {single['seconds']:>8.1f}"
        f" {single['events_per_s']:>9,.1f} {lat['p50_ms']:>8} {lat['p95_ms']:>8}   (per request)"
    )
    for name, r in (("batch", batch), ("plain", plain), ("copy", copy)):
        if r is None:
            continue
        print(
            f"{name:<8} {r['events']:>7,} {r['seconds']:>8.1f} {r['events_per_s']:>9,.1f}"
            f" {r['chunk']['p50_ms']:>8} {r['chunk']['p95_ms']:>8}   (per chunk of"
            f" {args.batch_size:,})"
        )
    print(
        f"batch/plain {ratios['batch_over_plain']} (goal >= {GOAL_BATCH_OVER_PLAIN}),"
        f" single/plain {ratios['single_over_plain']}; single {single['events_per_s']}/s"
        f" (goal >= {GOAL_SINGLE_PER_S:g}); merged: single {single['merged']},"
        f" batch {batch['merged']}",
    )
    print(
        f"server closed the connection after {single['closed_by_server']:,} of"
        f" {single['sent']:,} single answers; open cases before the first / last batch:"
        f" {chunk_notes['open_before_first_batch']:,} / {chunk_notes['open_before_last_batch']:,}",
        flush=True,
    )
    result = {
        "bench": "ingest",
        "database": DB_NAME,
        "table_before": before,
        "table_after": after,
        "closed_after_single": closed_single,
        "closed_after_run": closed,
        "points": len(maker.spots),
        "categories": len(maker.categories),
        "run_prefix": prefix,
        "chunked": chunk_notes,
        "single": single,
        "batch": batch,
        "plain": plain,
        "copy": copy,
        "ratios": ratios,
        "goals": {"batch_over_plain": GOAL_BATCH_OVER_PLAIN, "single_per_s": GOAL_SINGLE_PER_S},
        "goals_met": goals_met,
        "all_goals_met": all(goals_met.values()),
        "stored": stored,
        "sources": sources(engine),
        "load": load,
        "host": host_info(server_version),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
