"""Fault test (issue 7): ingest and live updates survive killed app processes and a
restarted database.

Run from the repository root::

    .venv/bin/python bench/fault_test.py [--events 10000] [--kills 3] [--db-restarts 1]
                                         [--clients 5] [--json bench/results/fault.json]

**Database.** A dedicated private cluster (``<state dir>/pg-fault`` on port 55434,
``fsync=off``), never the demo's (55432) or the tests' (55433): the fault run stops and
starts it. The database ``gridwatch_fault`` is created anew, migrated, and given the
demo city (``--demo full``, about 30 s) or only its areas (``--demo areas``, a few
seconds: areas are all that locating an event needs), one API key for channel ``app``
(1,000,000 events a minute) and an operator whose bearer token the Socket.IO clients
present. A lock file beside the cluster serialises fault runs on one cluster.

**App.** ``gridwatch serve`` in a subprocess on one free port, chosen once, so every
restart listens where the clients reconnect.

**Streamer.** ``--posters`` threads post ``--events`` events (external ids
``FAULT-000000`` ...) at the grids' label points, one minute of ``reported_at`` apart,
each retried until it is answered 200 or 201: after a connection error with a short
backoff, after 503 or 429 as ``Retry-After`` says, after another 5xx (counted, it is a
failure) after 0.5 s. A gate keeps the streamer from running far past the next fault, so
every fault strikes while events are in flight.

**Faults**, spread evenly over the run by accepted events: ``--kills`` times SIGKILL of
the app process and a restart on the same port; ``--db-restarts`` times ``pg_ctl stop``
then ``start`` of the cluster while the app stays up. During a database outage: a POST
must answer 503 with ``Retry-After`` (never 500), ``/healthz`` 503, ``/assets/health.js``
(the degraded banner of every page) must still be served, and, with ``--browser``, a
signed-in page in headless Chromium must show ``#gw-degraded``. After it ``/healthz``
must answer 200 by itself within ``--recovery-bound`` seconds (and the banner go away).

**Clients.** ``--clients`` python-socketio clients (websocket, reconnection on) for the
whole run. Each tracks the feed range it holds contiguously from its first ``hello``
(``after``/``upto`` of each batch); after every reconnect, and whenever a batch starts
beyond that position, it emits ``catch_up {"since": position}``. At the end each does a
final catch-up; then every ``case_feed`` seq after its first ``hello`` must be among the
seqs it received, and live batches (not only catch-ups) must have reached it after every
fault.

**Checks**: exactly ``--events`` cases with ``FAULT-`` ids, no duplicate ``(channel,
external_id)``, one ``new`` feed entry each, no event refused, no 5xx but 503, the
outage answers above, recovery in bound, every client gap-free. Figures are printed, and
written as JSON to ``--json``; the exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, not the root
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from geo_data.cluster import Cluster  # noqa: E402

CHANNEL = "app"
PREFIX = "FAULT-"
RATE_PER_MINUTE = 1_000_000
SECRET_KEY = "fault-test-only"
USERNAME = "fault.operator"
PASSWORD = "fault-test-Password-1"
CHROMIUM = Path("/usr/bin/chromium")
SERVER_START_TIMEOUT = 90.0
EVENT_DEADLINE = 180.0  # one event retried longer than this is given up (a failure)
REQUEST_TIMEOUT = 15.0
MOMENTS = ("started_at", "recovered_at", "next_started_at")  # monotonic; not figures


@dataclass
class FaultConfig:
    events: int = 10_000
    kills: int = 3
    db_restarts: int = 1
    clients: int = 5
    posters: int = 4
    demo: str = "full"  # "full": the demo city; "areas": its areas only
    cluster_dir: str = "pg-fault"
    db_port: int = 55434
    database: str = "gridwatch_fault"
    outage_seconds: float = 3.0  # the database stays down at least this long
    recovery_bound: float = 30.0  # /healthz must answer 200 this soon after it returns
    live_bound: float = 15.0  # every client gets live batches again this soon after a fault
    settle_timeout: float = 60.0  # for the clients' final catch-up
    browser: bool = False
    log_dir: Path | None = None
    say: Callable[[str], None] = print


# -- helpers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_call(
    method: str,
    url: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


@contextlib.contextmanager
def cluster_lock(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One fault run per cluster at a time (the run stops and starts it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another fault run holding {path} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- database -------------------------------------------------------------------------------


@dataclass
class Fixture:
    cluster: Cluster
    engine: Engine
    url: str
    api_key: str
    token: str
    spots: list[tuple[float, float]]
    categories: list[str]
    setup_s: float


def prepare(config: FaultConfig) -> Fixture:
    """The dedicated cluster, a fresh migrated database with areas, a key and a user."""
    from app.settings import Settings
    from geo_data.actors import system_actor
    from geo_data.api_keys import create_key
    from geo_data.db import make_engine
    from geo_data.reference import sync_categories
    from geo_data.schema import migrate
    from geo_data.users import create_user, open_session

    started = time.perf_counter()
    settings = Settings(database_url=None, port=0)
    cluster = Cluster(settings.state_dir / config.cluster_dir, config.db_port, for_tests=True)
    cluster.start()
    cluster.drop_database(config.database)
    cluster.ensure_database(config.database)
    url = cluster.url(config.database)
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        sync_categories(conn)
    if config.demo == "full":
        from etl.demo_load import load_demo

        config.say("loading the demo city (one transaction, about 30 s) ...")
        load_demo(engine, end=datetime.now(UTC).replace(second=0, microsecond=0))
    else:
        _load_areas(engine)
    with engine.begin() as conn:
        actor = system_actor(conn)
        api_key = create_key(conn, "fault-app", CHANNEL, actor, rate_per_minute=RATE_PER_MINUTE)
        user = create_user(conn, USERNAME, PASSWORD, "operator", display_name="Fault test")
        token = open_session(conn, user.id, kind="token", hours=4)
        spots = [
            (float(x), float(y))
            for x, y in conn.execute(
                text(
                    "SELECT ST_X(label_point), ST_Y(label_point) FROM areas"
                    " WHERE level = 'grid' AND label_point IS NOT NULL ORDER BY code"
                )
            )
        ]
        categories = [r[0] for r in conn.execute(text("SELECT code FROM categories ORDER BY code"))]
    if not spots:
        raise RuntimeError("no grids loaded: events could not be located")
    return Fixture(
        cluster, engine, url, api_key, token, spots, categories, time.perf_counter() - started
    )


def _load_areas(engine: Engine) -> None:
    """Only the demo city's areas (district to courtyard), through the real area loader."""
    from etl.demo import DEFAULT_SEED, generate_city
    from geo_data import loaders
    from geo_data.actors import system_actor

    city = generate_city(scale="district", seed=DEFAULT_SEED)
    with engine.begin() as conn:
        loaders.load_areas(conn, city.areas, system_actor(conn), f"demo:areas:seed={DEFAULT_SEED}")
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE areas"))


# -- the app process ------------------------------------------------------------------------


class AppServer:
    """``gridwatch serve`` on a fixed port; killed and restarted on that same port."""

    def __init__(self, url: str, port: int, log_dir: Path) -> None:
        self.url = url
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> float:
        """Start it and wait until ``/healthz`` answers 200; returns the seconds taken."""
        started = time.monotonic()
        self.starts += 1
        log = self.log_dir / f"server-{self.starts}.log"
        env = os.environ | {
            "GRIDWATCH_DATABASE_URL": self.url,
            "GRIDWATCH_SECRET_KEY": SECRET_KEY,
            "GRIDWATCH_SLA_ENABLED": "false",
        }
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from app.cli import main; main(prog_name='gridwatch')",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = started + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited {self.proc.returncode}: {log.read_text()[-3000:]}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _, _ = http_call("GET", self.base + "/healthz", timeout=2)
                if status == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"server never became healthy: {log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, connections cut mid-request."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# -- the streamer ---------------------------------------------------------------------------


class Streamer:
    """Posts every event until it is stored, with retries and idempotent external ids."""

    def __init__(self, config: FaultConfig, fixture: Fixture, port: int) -> None:
        self.config = config
        self.fixture = fixture
        self.port = port
        self.base_time = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.next_index = 0
        self.gate = config.events  # indices at or above it wait (set by the injector)
        self.accepted = 0
        self.created = 0  # 201
        self.replayed = 0  # 200: stored by an attempt whose answer was lost
        self.attempts = 0
        self.status_counts: dict[str, int] = {}
        self.connection_errors = 0
        self.server_errors: list[str] = []  # 5xx other than 503
        self.refused: list[str] = []  # 4xx other than 429: given up
        self.max_retry_s = 0.0
        self.retried_events = 0
        self.first_503_at: float | None = None
        self.last_accept_at = 0.0
        self.accept_times: list[float] = []
        self.threads: list[threading.Thread] = []
        self.started_at = 0.0
        self.finished_at = 0.0
        self.stop = threading.Event()

    def body(self, i: int) -> dict[str, Any]:
        lon, lat = self.fixture.spots[i % len(self.fixture.spots)]
        categories = self.fixture.categories
        return {
            "channel": CHANNEL,
            "external_id": f"{PREFIX}{i:06d}",
            "category": categories[i % len(categories)],
            "severity": 1 + i % 4,
            "lon": lon,
            "lat": lat,
            # a minute apart: a grid is revisited ~1,800 minutes later, past the 2-hour
            # duplicate window, so no event is merged into another
            "reported_at": (self.base_time + timedelta(minutes=i)).isoformat(),
            "description": f"fault test event {i}",
        }

    def start(self) -> None:
        self.started_at = time.monotonic()
        for n in range(self.config.posters):
            thread = threading.Thread(target=self._run, name=f"poster-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.finished_at = time.monotonic()
        return not any(t.is_alive() for t in self.threads)

    def set_gate(self, gate: int) -> None:
        with self.cond:
            self.gate = gate
            self.cond.notify_all()

    def _take(self) -> int | None:
        with self.cond:
            while True:
                if self.next_index >= self.config.events or self.stop.is_set():
                    return None
                if self.next_index < self.gate:
                    break
                self.cond.wait(0.5)
            i = self.next_index
            self.next_index += 1
            return i

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        try:
            while (i := self._take()) is not None:
                conn = self._post_until_stored(i, conn)
        finally:
            if conn is not None:
                conn.close()

    def _count(self, key: str) -> None:
        with self.lock:
            self.status_counts[key] = self.status_counts.get(key, 0) + 1
            self.attempts += 1

    def _post_until_stored(
        self, i: int, conn: http.client.HTTPConnection | None
    ) -> http.client.HTTPConnection | None:
        payload = json.dumps(self.body(i)).encode()
        headers = {"Content-Type": "application/json", "X-API-Key": self.fixture.api_key}
        first = time.monotonic()
        backoff = 0.05
        tries = 0
        while not self.stop.is_set():
            tries += 1
            if time.monotonic() - first > EVENT_DEADLINE:
                with self.lock:
                    self.refused.append(f"{PREFIX}{i:06d}: not stored after {EVENT_DEADLINE} s")
                return conn
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                conn.request("POST", "/api/v1/events", body=payload, headers=headers)
                response = conn.getresponse()
                status = response.status
                retry_after = response.getheader("Retry-After")
                raw = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                    conn = None
                self._count("connection_error")
                with self.lock:
                    self.connection_errors += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            self._count(str(status))
            if status in (200, 201):
                now = time.monotonic()
                with self.lock:
                    self.accepted += 1
                    if status == 201:
                        self.created += 1
                    else:
                        self.replayed += 1
                    self.last_accept_at = now
                    self.accept_times.append(now)
                    self.max_retry_s = max(self.max_retry_s, now - first)
                    if tries > 1:
                        self.retried_events += 1
                return conn
            if status in (429, 503):
                if status == 503 and self.first_503_at is None:
                    self.first_503_at = time.monotonic()
                wait = float(retry_after) if retry_after and retry_after.isdigit() else 1.0
                if status == 503 and not retry_after:
                    with self.lock:
                        self.server_errors.append(f"503 without Retry-After: {raw[:200]!r}")
                time.sleep(wait)
                continue
            if status >= 500:
                with self.lock:
                    self.server_errors.append(f"{status}: {raw[:300]!r}")
                time.sleep(0.5)
                continue
            with self.lock:
                self.refused.append(f"{PREFIX}{i:06d}: {status} {raw[:300]!r}")
            return conn
        return conn

    def accepted_after(self, moment: float) -> int:
        with self.lock:
            return sum(1 for t in self.accept_times if t > moment)


# -- Socket.IO clients ----------------------------------------------------------------------


class FeedRecorder:
    """A python-socketio client that records every feed seq and keeps itself gap-free:
    it holds the feed contiguously up to ``position`` and asks to catch up after every
    reconnect and whenever a batch starts beyond what it holds."""

    def __init__(self, name: str, base: str, token: str) -> None:
        import socketio

        self.name = name
        self.base = base
        self.token = token
        self.sio = socketio.Client(
            reconnection=True,
            reconnection_attempts=0,
            reconnection_delay=0.2,
            reconnection_delay_max=1.0,
            randomization_factor=0.2,
        )
        self.lock = threading.Lock()
        self.baseline: int | None = None  # the feed position at the first hello
        self.position: int | None = None  # everything in (baseline, position] is held
        self.ranges: list[tuple[int, int]] = []  # received (after, upto] beyond position
        self.seqs: set[int] = set()
        self.duplicates = 0
        self.connects = 0
        self.disconnects = 0
        self.catch_ups = 0
        self.gap_catch_ups = 0
        self.reloads = 0
        self.refusals: list[Any] = []
        self.live_times: list[float] = []  # receipt of every live (listener) batch
        self.last_catch_up_at = 0.0
        self.hello = threading.Event()
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("hello", self._on_hello)
        self.sio.on("feed", self._on_feed)
        self.sio.on("refused", self._on_refused)

    def connect(self) -> None:
        self.sio.connect(
            self.base, transports=["websocket"], wait_timeout=10, auth={"token": self.token}
        )
        if not self.hello.wait(15):
            raise RuntimeError(f"{self.name}: no hello from the server")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.shutdown()

    def _on_connect(self) -> None:
        with self.lock:
            self.connects += 1
            again = self.connects > 1 and self.position is not None
        if again:
            self.request_catch_up()

    def _on_disconnect(self, *_args: Any) -> None:
        with self.lock:
            self.disconnects += 1

    def _on_hello(self, hello: dict[str, Any]) -> None:
        with self.lock:
            if self.baseline is None:
                self.baseline = self.position = int(hello["upto"])
        self.hello.set()

    def _on_refused(self, message: Any) -> None:
        with self.lock:
            self.refusals.append(message)

    def _on_feed(self, batch: dict[str, Any]) -> None:
        gap = False
        with self.lock:
            if "sent" in batch:  # pushed by a listener; catch-up answers carry no ``sent``
                self.live_times.append(time.monotonic())
            for entry in batch.get("entries", []):
                seq = int(entry["seq"])
                if seq in self.seqs:
                    self.duplicates += 1
                else:
                    self.seqs.add(seq)
            if batch.get("reload"):
                self.reloads += 1  # too much missed to catch up: the range is not held
                return
            if self.position is None:
                return  # before the first hello: the baseline will cover it
            self.ranges.append((int(batch["after"]), int(batch["upto"])))
            self._advance()
            gap = bool(self.ranges)
            if gap and time.monotonic() - self.last_catch_up_at < 1.0:
                gap = False  # one asked for already; ask again if it does not come
        if gap:
            with self.lock:
                self.gap_catch_ups += 1
            self.request_catch_up()

    def _advance(self) -> None:
        """Extend ``position`` over every held range that starts at or before it."""
        assert self.position is not None
        moved = True
        while moved:
            moved = False
            rest = []
            for after, upto in self.ranges:
                if after <= self.position:
                    if upto > self.position:
                        self.position = upto
                    moved = True
                else:
                    rest.append((after, upto))
            self.ranges = rest

    def request_catch_up(self) -> None:
        with self.lock:
            since = self.position
            self.catch_ups += 1
            self.last_catch_up_at = time.monotonic()
        if since is None:
            return
        with contextlib.suppress(Exception):  # not connected right now: the reconnect asks
            self.sio.emit("catch_up", {"since": since})

    def settle(self, target: int, timeout: float) -> bool:
        """Final catch-up: ask until ``position`` reaches ``target`` (the feed's end)."""
        deadline = time.monotonic() + timeout
        asked = 0.0
        while time.monotonic() < deadline:
            with self.lock:
                if self.position is not None and self.position >= target:
                    return True
            if time.monotonic() - asked > 2.0 and self.sio.connected:
                self.request_catch_up()
                asked = time.monotonic()
            time.sleep(0.1)
        return False

    def live_after(self, moment: float, before: float | None = None) -> int:
        """Live batches received after ``moment`` (and before ``before``)."""
        with self.lock:
            return sum(1 for t in self.live_times if t > moment and (before is None or t < before))


# -- the degraded banner in a browser (optional) ----------------------------------------------


class BannerWatch:
    """A signed-in page in headless Chromium, to see ``#gw-degraded`` come and go.

    Sync Playwright: every call must come from the thread that created it (the main one).
    """

    def __init__(self, base: str) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-proxy-server", "--no-first-run"],
        )
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.page.goto(f"{base}/login?lang=en")
        self.page.fill("input[name=username]", USERNAME)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
        self.page.wait_for_load_state("load")

    def wait_banner(self, shown: bool, timeout: float) -> tuple[bool, str]:
        """Whether the banner reached the wanted state in time, and its text."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            self.page.wait_for_selector(
                "#gw-degraded", state="visible" if shown else "detached", timeout=timeout * 1000
            )
        except PlaywrightError:
            return False, ""
        if not shown:
            return True, ""
        return True, self.page.locator("#gw-degraded").inner_text()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()
            self.browser.close()
        with contextlib.suppress(Exception):
            self.playwright.stop()


# -- the run --------------------------------------------------------------------------------


def fault_plan(kills: int, db_restarts: int, events: int) -> list[tuple[str, int]]:
    """(kind, accepted events when it strikes), evenly spread, database restarts
    interleaved among the kills."""
    total = kills + db_restarts
    db_slots = {round((j + 1) * total / (db_restarts + 1)) - 1 for j in range(db_restarts)}
    if len(db_slots) < db_restarts:  # more restarts than kills: fill from the end
        db_slots = set(range(total - db_restarts, total))
    kinds = ["db" if n in db_slots else "kill" for n in range(total)]
    return [(kind, events * (n + 1) // (total + 1)) for n, kind in enumerate(kinds)]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    advisory: bool = False  # reported, but does not fail the run


@dataclass
class FaultResult:
    config: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok or c.advisory for c in self.checks)

    def check(self, name: str, ok: bool, detail: str = "", *, advisory: bool = False) -> None:
        self.checks.append(Check(name, bool(ok), detail, advisory))

    def failures(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not (c.ok or c.advisory)]

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "config": self.config,
            "figures": self.figures,
            "checks": [
                {"name": c.name, "ok": c.ok, "advisory": c.advisory, "detail": c.detail}
                for c in self.checks
            ],
        }


def run_fault_test(config: FaultConfig) -> FaultResult:
    """Everything: prepare, stream under faults, verify. Cleans up after itself."""
    from app.settings import Settings

    state_dir = Settings(database_url=None, port=0).state_dir
    log_dir = config.log_dir or ROOT / "bench" / "results" / "fault-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    config.log_dir = log_dir
    result = FaultResult(
        config={
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items() if k != "say"
        }
    )
    with cluster_lock(state_dir / f"{config.cluster_dir}.lock", config.say):
        fixture = prepare(config)
        try:
            _run(config, fixture, result)
        finally:
            fixture.engine.dispose()
            with contextlib.suppress(Exception):
                fixture.cluster.start()  # a failure mid-outage must not leave it half-way
                fixture.cluster.drop_database(config.database)
            fixture.cluster.stop()
    return result


def _run(config: FaultConfig, fixture: Fixture, result: FaultResult) -> None:
    say = config.say
    figures = result.figures
    figures["setup_s"] = round(fixture.setup_s, 1)
    say(
        f"database ready in {fixture.setup_s:.1f} s ({config.demo}): "
        f"{len(fixture.spots)} grids, cluster port {config.db_port}"
    )
    assert config.log_dir is not None
    server = AppServer(fixture.url, free_port(), config.log_dir)
    streamer = Streamer(config, fixture, server.port)
    clients: list[FeedRecorder] = []
    banner: BannerWatch | None = None
    faults: list[dict[str, Any]] = []
    try:
        first_start = server.start()
        say(f"app on {server.base} (healthy in {first_start:.1f} s)")
        for n in range(config.clients):
            client = FeedRecorder(f"client-{n}", server.base, fixture.token)
            client.connect()
            clients.append(client)
        if config.browser:
            banner = BannerWatch(server.base)
        plan = fault_plan(config.kills, config.db_restarts, config.events)
        slack = max(config.posters * 5, config.events // 20)
        streamer.set_gate(plan[0][1] + slack if plan else config.events)
        run_started = time.monotonic()
        streamer.start()
        for k, (kind, threshold) in enumerate(plan):
            while streamer.accepted < threshold and any(t.is_alive() for t in streamer.threads):
                time.sleep(0.01)
            next_gate = plan[k + 1][1] + slack if k + 1 < len(plan) else config.events
            if kind == "kill":
                fault = _kill_and_restart(server, streamer, next_gate)
            else:
                fault = _restart_database(config, fixture, server, streamer, banner, next_gate)
            fault["at_accepted"] = streamer.accepted
            fault["live_resumed_s"] = _await_live(config, fixture, server, clients, fault)
            faults.append(fault)
            shown = {key: v for key, v in fault.items() if key not in MOMENTS}
            say(f"fault {k + 1}/{len(plan)}: {json.dumps(shown)}")
        for fault, following in itertools.pairwise(faults):
            fault["next_started_at"] = following["started_at"]
        streamer.set_gate(config.events)
        done = streamer.join(timeout=max(600.0, config.events / 5))
        run_s = time.monotonic() - run_started
        if not done:
            streamer.stop.set()
            streamer.set_gate(config.events)
        # The clients catch up to the end of the feed.
        with fixture.engine.connect() as conn:
            feed_seqs = [r[0] for r in conn.execute(text("SELECT seq FROM case_feed ORDER BY seq"))]
        end_seq = feed_seqs[-1] if feed_seqs else 0
        for client in clients:
            client.settle(end_seq, config.settle_timeout)
        _verify(config, fixture, result, streamer, clients, faults, feed_seqs, run_s, done)
    finally:
        streamer.stop.set()
        streamer.set_gate(config.events)
        if banner is not None:
            banner.close()
        for client in clients:
            client.close()
        server.stop()
        figures["server_starts"] = server.starts


def _kill_and_restart(server: AppServer, streamer: Streamer, next_gate: int) -> dict[str, Any]:
    assert server.proc is not None
    pid = server.proc.pid
    killed_at = time.monotonic()
    server.kill()
    streamer.set_gate(next_gate)
    restart_s = server.start()
    return {
        "kind": "kill",
        "pid": pid,
        "down_s": round(time.monotonic() - killed_at, 2),
        "restart_s": round(restart_s, 2),
        "started_at": killed_at,
        "recovered_at": time.monotonic(),
    }


def _await_live(
    config: FaultConfig,
    fixture: Fixture,
    server: AppServer,
    clients: list[FeedRecorder],
    fault: dict[str, Any],
) -> float | None:
    """Seconds from the fault's recovery until every client got a live (listener) batch
    again; None if one did not within ``live_bound``. A probe event (never a ``FAULT-``
    case) makes sure there is something to push."""
    since = fault["recovered_at"]
    probe = _probe_event(fixture, f"live-{fault['kind']}")
    deadline = since + config.live_bound
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _, _ = http_call(
                "POST", server.base + "/api/v1/events", probe, {"X-API-Key": fixture.api_key}
            )
            if status in (200, 201):
                break
        time.sleep(0.5)
    while time.monotonic() < deadline:
        if all(c.live_after(since) for c in clients):
            return round(time.monotonic() - since, 2)
        time.sleep(0.05)
    return None


def _probe_event(fixture: Fixture, what: str) -> dict[str, Any]:
    """An event outside the counted ``FAULT-`` ones (its own id each time)."""
    return {
        "channel": CHANNEL,
        "external_id": f"PROBE-{what}-{os.getpid()}-{time.time_ns()}",
        "category": fixture.categories[0],
        "severity": 3,
        "lon": fixture.spots[0][0],
        "lat": fixture.spots[0][1],
        "reported_at": datetime.now(UTC).isoformat(),
    }


def _restart_database(
    config: FaultConfig,
    fixture: Fixture,
    server: AppServer,
    streamer: Streamer,
    banner: BannerWatch | None,
    next_gate: int,
) -> dict[str, Any]:
    stopping = time.monotonic()
    fault: dict[str, Any] = {"kind": "db", "started_at": stopping}
    fixture.cluster.stop()
    down_at = time.monotonic()
    fault["stop_s"] = round(down_at - stopping, 2)
    streamer.set_gate(next_gate)
    probe = _probe_event(fixture, "outage")
    status, headers, body = http_call(
        "POST", server.base + "/api/v1/events", probe, {"X-API-Key": fixture.api_key}
    )
    fault["post_status"] = status
    fault["post_retry_after"] = headers.get("Retry-After")
    fault["post_error"] = _error_of(body)
    status, _, body = http_call("GET", server.base + "/healthz")
    fault["healthz_status"] = status
    fault["healthz_body"] = _json_or_text(body)
    status, _, body = http_call("GET", server.base + "/assets/health.js")
    fault["banner_script_status"] = status
    fault["banner_script_has_banner"] = b"gw-degraded" in body
    status, headers, body = http_call(
        "GET",
        server.base + "/map",
        headers={"Authorization": f"Bearer {fixture.token}", "Accept": "text/html"},
    )
    fault["page_status"] = status
    fault["page_content_type"] = headers.get("Content-Type")
    fault["page_body"] = body[:160].decode(errors="replace")
    if banner is not None:
        shown, words = banner.wait_banner(True, timeout=15)
        fault["browser_banner_shown"] = shown
        fault["browser_banner_text"] = words
        fault["browser_banner_after_s"] = round(time.monotonic() - down_at, 2)
    remaining = config.outage_seconds - (time.monotonic() - down_at)
    if remaining > 0:
        time.sleep(remaining)
    fixture.cluster.start()
    up_at = time.monotonic()
    fault["outage_s"] = round(up_at - down_at, 2)
    recovered = None
    last: Any = None
    while time.monotonic() - up_at < config.recovery_bound:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _, body = http_call("GET", server.base + "/healthz", timeout=5)
            last = (status, _json_or_text(body))
            if status == 200:
                recovered = time.monotonic() - up_at
                break
        time.sleep(0.1)
    fault["recovery_s"] = round(recovered, 2) if recovered is not None else None
    fault["healthz_last"] = last
    fault["recovered_at"] = time.monotonic()
    fault["server_restarted"] = server.proc is not None and server.proc.poll() is not None
    if banner is not None:
        gone, _ = banner.wait_banner(False, timeout=15)
        fault["browser_banner_cleared"] = gone
    return fault


def _error_of(body: bytes) -> Any:
    parsed = _json_or_text(body)
    return parsed.get("error") if isinstance(parsed, dict) else parsed


def _json_or_text(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace")


def _verify(
    config: FaultConfig,
    fixture: Fixture,
    result: FaultResult,
    streamer: Streamer,
    clients: list[FeedRecorder],
    faults: list[dict[str, Any]],
    feed_seqs: list[int],
    run_s: float,
    streamer_done: bool,
) -> None:
    figures = result.figures
    check = result.check
    with fixture.engine.connect() as conn:
        cases, distinct = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT (channel, external_id)) FROM cases"
                " WHERE external_id LIKE :p"
            ),
            {"p": PREFIX + "%"},
        ).one()
        duplicate_ids = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM cases GROUP BY channel, external_id"
                " HAVING count(*) > 1) d"
            )
        ).scalar_one()
        announced = conn.execute(
            text(
                "SELECT count(DISTINCT f.case_id) FROM case_feed f JOIN cases c"
                " ON c.id = f.case_id WHERE f.kind = 'new' AND c.external_id LIKE :p"
            ),
            {"p": PREFIX + "%"},
        ).scalar_one()
        merged = conn.execute(
            text("SELECT count(*) FROM cases WHERE external_id LIKE :p AND status = 'merged'"),
            {"p": PREFIX + "%"},
        ).scalar_one()
    all_seqs = set(feed_seqs)
    db_faults = [f for f in faults if f["kind"] == "db"]
    kills = [f for f in faults if f["kind"] == "kill"]
    figures |= {
        "events": config.events,
        "run_s": round(run_s, 1),
        "events_per_s": round(config.events / run_s, 1) if run_s else None,
        "accepted": streamer.accepted,
        "created_201": streamer.created,
        "replayed_200": streamer.replayed,
        "attempts": streamer.attempts,
        "answers": dict(sorted(streamer.status_counts.items())),
        "seen_503": streamer.status_counts.get("503", 0),
        "connection_errors": streamer.connection_errors,
        "retried_events": streamer.retried_events,
        "max_retry_s": round(streamer.max_retry_s, 2),
        "kills": len(kills),
        "kill_down_s": [f["down_s"] for f in kills],
        "db_restarts": len(db_faults),
        "db_outage_s": [f["outage_s"] for f in db_faults],
        "db_recovery_s": [f["recovery_s"] for f in db_faults],
        "cases": cases,
        "distinct_external_ids": distinct,
        "merged": merged,
        "feed_entries": len(feed_seqs),
        "feed_last_seq": feed_seqs[-1] if feed_seqs else 0,
        "faults": [{k: v for k, v in f.items() if k not in MOMENTS} for f in faults],
        "clients": [],
    }
    check("streamer finished", streamer_done, "posters still running at the deadline")
    check(
        "every event accepted",
        streamer.accepted == config.events and not streamer.refused,
        f"accepted {streamer.accepted}/{config.events}; refused {streamer.refused[:5]}",
    )
    check(f"exactly {config.events} cases", cases == config.events, f"{cases} cases")
    check("no duplicate external ids", distinct == cases and duplicate_ids == 0,
          f"{cases} cases, {distinct} distinct, {duplicate_ids} repeated ids")  # fmt: skip
    check("every case announced once as new", announced == config.events, f"{announced}")
    check(
        "no 5xx but 503 (503 always with Retry-After)",
        not streamer.server_errors,
        "; ".join(streamer.server_errors[:5]),
    )
    check("kills done", len(kills) == config.kills, f"{len(kills)}/{config.kills}")
    check("database restarts done", len(db_faults) == config.db_restarts,
          f"{len(db_faults)}/{config.db_restarts}")  # fmt: skip
    for n, fault in enumerate(faults, 1):
        check(
            f"fault {n} ({fault['kind']}): live updates reach every client again"
            f" within {config.live_bound:.0f} s",
            fault["live_resumed_s"] is not None,
            "a client got no live batch after recovery (only catch-ups would fill its gap)",
        )
    for n, fault in enumerate(db_faults, 1):
        label = f"db restart {n}"
        check(
            f"{label}: POST answers 503 with Retry-After",
            fault["post_status"] == 503 and bool(fault["post_retry_after"]),
            f"{fault['post_status']} Retry-After={fault['post_retry_after']} {fault['post_error']}",
        )
        check(f"{label}: /healthz answers 503", fault["healthz_status"] == 503,
              f"{fault['healthz_status']} {fault['healthz_body']}")  # fmt: skip
        check(
            f"{label}: pages still get the degraded banner script",
            fault["banner_script_status"] == 200 and fault["banner_script_has_banner"],
            f"/assets/health.js {fault['banner_script_status']}",
        )
        check(
            f"{label}: a page opened during the outage shows a degraded page, not raw JSON",
            "text/html" in (fault["page_content_type"] or ""),
            f"GET /map answered {fault['page_status']} {fault['page_content_type']}:"
            f" {fault['page_body'].strip()}",
            advisory=True,
        )
        if "browser_banner_shown" in fault:
            check(f"{label}: browser shows #gw-degraded", fault["browser_banner_shown"])
            check(f"{label}: browser banner cleared", fault["browser_banner_cleared"])
        check(
            f"{label}: app recovers by itself within {config.recovery_bound:.0f} s",
            fault["recovery_s"] is not None and not fault["server_restarted"],
            f"recovery {fault['recovery_s']} s, last /healthz {fault['healthz_last']}",
        )
    for client in clients:
        base = client.baseline or 0
        expected = {s for s in all_seqs if s > base}
        missing = sorted(expected - client.seqs)
        unknown = sorted(client.seqs - all_seqs)
        stalled = [
            f"{n}:{fault['kind']}"
            for n, fault in enumerate(faults, 1)
            if not client.live_after(fault["recovered_at"], fault.get("next_started_at"))
        ]
        figures["clients"].append(
            {
                "name": client.name,
                "from_seq": base,
                "received": len(client.seqs & expected),
                "expected": len(expected),
                "missing": len(missing),
                "duplicates": client.duplicates,
                "connects": client.connects,
                "catch_ups": client.catch_ups,
                "gap_catch_ups": client.gap_catch_ups,
                "reloads": client.reloads,
                "position": client.position,
                "live_batches": len(client.live_times),
            }
        )
        check(
            f"{client.name}: gap-free after catch-up",
            not missing and not unknown and client.position == (feed_seqs[-1] if feed_seqs else 0),
            f"missing {len(missing)} (first {missing[:10]}), unknown {unknown[:5]}, "
            f"position {client.position}, reloads {client.reloads}",
        )
        check(
            f"{client.name}: reconnected after every kill",
            client.connects >= 1 + len(kills),
            f"{client.connects} connects",
        )
        check(
            f"{client.name}: live updates resumed after every fault",
            not stalled,
            f"no live batch after: {stalled}",
        )


def print_report(result: FaultResult, say: Callable[[str], None] = print) -> None:
    f = result.figures
    say("")
    say("== fault test ==")
    for key in (
        "events", "run_s", "events_per_s", "setup_s", "attempts", "answers", "seen_503",
        "connection_errors", "retried_events", "replayed_200", "max_retry_s", "kills",
        "kill_down_s", "db_restarts", "db_outage_s", "db_recovery_s", "cases",
        "distinct_external_ids", "merged", "feed_entries", "server_starts",
    ):  # fmt: skip
        if key in f:
            say(f"  {key:<22} {f[key]}")
    for client in f.get("clients", []):
        say(
            f"  {client['name']:<10} received {client['received']}/{client['expected']}"
            f" missing {client['missing']} connects {client['connects']}"
            f" catch-ups {client['catch_ups']} (gap {client['gap_catch_ups']})"
            f" duplicates {client['duplicates']} live batches {client['live_batches']}"
        )
    say("")
    for c in result.checks:
        mark = "ok" if c.ok else ("gap" if c.advisory else "FAIL")
        say(f"  [{mark}] {c.name}" + ("" if c.ok else f" — {c.detail}"))
    say("")
    say("PASS" if result.passed else f"FAIL ({len(result.failures())} checks failed)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--db-restarts", type=int, default=1)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--posters", type=int, default=4, help="concurrent posting threads")
    parser.add_argument("--demo", choices=("full", "areas"), default="full")
    parser.add_argument("--db-port", type=int, default=55434)
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--recovery-bound", type=float, default=30.0)
    parser.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=CHROMIUM.exists(),
        help="check #gw-degraded in headless Chromium (default: when /usr/bin/chromium exists)",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "fault.json")
    args = parser.parse_args(argv)
    config = FaultConfig(
        events=args.events,
        kills=args.kills,
        db_restarts=args.db_restarts,
        clients=args.clients,
        posters=args.posters,
        demo=args.demo,
        db_port=args.db_port,
        outage_seconds=args.outage_seconds,
        recovery_bound=args.recovery_bound,
        browser=args.browser,
        log_dir=args.json.parent / "fault-logs",
        say=lambda m: print(m, flush=True),
    )
    started = time.monotonic()
    result = run_fault_test(config)
    result.figures["total_s"] = round(time.monotonic() - started, 1)
    print_report(result, config.say)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result.as_json(), indent=2, default=str) + "\n")
    print(f"figures written to {args.json}")
    print(json.dumps(result.as_json()["figures"], default=str))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
