"""Soak: a long live feed to Socket.IO clients and one wall screen; memory must level off.

Run from the repository root::

    .venv/bin/python -m bench.soak [--minutes 30] [--rate 50] [--clients 50]
        [--warm-up 300] [--sample 30] [--workers 1] [--out bench/results/soak.json]

The issue's item: "30 minutes at 50 events/s with 50 Socket.IO clients and one browser
wall screen: server memory, browser JS heap and DOM node count sampled and reported;
growth after warm-up under 10%."

Database: ``gridwatch_soak`` on the private cluster (``bench.common``), migrated, the
demo city loaded when it holds no areas (``--fresh`` drops and reloads it). Server:
``gridwatch serve`` as a subprocess on a free 127.0.0.1 port (``--workers`` above 1:
gunicorn), as in ``bench.push_bench``. Screens and clients sign in as the benchmarks'
operator (``bench.common.bench_credentials``: a fresh password each run).

Before the clock starts: ``--clients`` python-socketio clients (websocket, bearer
token, no reconnection) connect from ``--procs`` worker processes and wait for their
``hello``; headless Debian Chromium (1920 x 1080, the flags of ``tests/e2e``) signs in
through the login form and opens ``/wall`` until it is live and the map is fitted.

Feed, from t = 0 for ``--minutes``: open-loop posting at ``--rate`` events a second
(slot ``k`` due at ``start + k / rate``, taken by the first free of ``--posters``
threads with keep-alive HTTP/1.1 connections) through ``POST /api/v1/events``. The
events are ``bench.ingest_bench``'s: thinned grid label points of the district, one
category cycle per point pass, one second of ``reported_at`` apart in a block of time
after everything stored, so the store merges none of them (merges are counted).
Answers are counted by status; a request with no answer is an error.

Clients: each counts the ``new`` entries it receives and checks its feed sequence: it
starts at its ``hello``'s ``upto``, and a batch whose ``after`` lies beyond the
position reached (the previous ``upto``) is a gap (the seqs skipped are counted). As
python-socketio's client runs each message's handler on its own thread, batches can
reach the handler out of order: one ahead of the position is held up to ``REORDER_S``
for the batches before it (counted as ``reordered``) and is a gap only if they never
come. An entry at or before the position is an overlap, not counted as received.
After the feed stops the clients get ``--drain`` seconds to receive every stored case
(each should get exactly the number of 201 answers that were not merges).

Samples, every ``--sample`` seconds from t = 0: cases stored so far; the server's
memory, the summed VmRSS (``/proc/<pid>/status``) of the server process and all its
descendants (gunicorn's workers); the browser's JS heap used and DOM node count after
a forced GC through CDP ``Performance.getMetrics``, the smaller of two reads half a
second apart (as ``tests/e2e/test_wall.py`` does: a batch in flight at the first read
is transient), JS event listeners, live markers, ticker rows and Dash's undo history;
and the clients' total of entries received. The table is printed as it goes.

Pass rule, for server RSS, JS heap and DOM nodes alike: the post-warm-up samples are
those at t >= ``--warm-up`` (less a second of scheduling slack); the median of their
last third must be at most 1.10 x the median of their first third (at least three
post-warm-up samples are needed; ``judge`` says why both ends are medians). PASS/FAIL
is printed per metric with its ratio, and the ratio against the first sample alone.
The exit code is 0 only if all three pass, no request was answered 5xx or went
unanswered, every client connected, none saw a gap and each received every stored case.

Stopping early: SIGINT or SIGTERM to the soak's own pid ends the run at the next
sample, drains 2 s and reports (exit code 130); a second one stops at once. Ctrl-C in
a terminal also reaches the server, the client processes' parent group and Playwright's
driver, so the server and browser die with it and the report has less in it; either
way every process started is stopped and the run's cases are closed.

Afterwards this run's cases are closed with plain SQL (``--keep-open`` skips it) so the
open cases, which the duplicate check reads, do not grow from run to run.

The last line printed is one JSON object with every figure; it is also written to
``--out`` (``bench/results/`` is git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing as mp
import os
import queue
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, text

from bench.common import BENCH_USER, bench_credentials, host_info, open_bench_database
from bench.ingest_bench import (
    END,
    Client,
    EventMaker,
    TimeBlocks,
    analyze,
    categories,
    close_run,
    new_key,
    next_time_base,
    say,
    sources,
    spots,
    table_state,
)

DB_NAME = "gridwatch_soak"
GROWTH_BOUND = 1.10
CONNECT_TIMEOUT = 20.0
REORDER_S = 5.0  # a batch out of order for longer than this leaves a gap
PAGE_TIMEOUT_MS = 30_000
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "soak.json"
METRICS = (("server_rss_mb", "server RSS"), ("heap_mb", "JS heap"), ("nodes", "DOM nodes"))


# -- database -----------------------------------------------------------------------------


def prepare(fresh: bool) -> tuple[Any, Engine, dict[str, Any]]:
    """The soak's database, migrated and holding the demo city."""
    from app.settings import Settings

    settings = Settings(db_name=DB_NAME)
    if settings.database_url:
        say("note: GRIDWATCH_DATABASE_URL is ignored; the soak uses the private cluster")
    cluster, engine = open_bench_database(settings, DB_NAME, drop=fresh, say=say)
    info: dict[str, Any] = {"demo_loaded_now": False}
    with engine.connect() as conn:
        has_areas = conn.execute(text("SELECT EXISTS (SELECT 1 FROM areas)")).scalar()
    if not has_areas:
        from etl.demo_load import load_demo

        say(f"loading the demo city into {DB_NAME} (one transaction) ...")
        t = time.perf_counter()
        load_demo(engine, end=END)
        analyze(engine, "ANALYZE")
        info = {"demo_loaded_now": True, "demo_s": round(time.perf_counter() - t, 1)}
        say(f"  demo city loaded in {info['demo_s']} s")
    else:
        say(f"reusing {DB_NAME} (--fresh to reload)")
    return cluster, engine, info


def client_token(engine: Engine, hours: float) -> str:
    """A bearer token of the bench operator (after ``bench_credentials``, which closes
    the operator's earlier sessions when it resets the password)."""
    from geo_data.users import get_user, open_session

    with engine.begin() as conn:
        user = get_user(conn, BENCH_USER)
        assert user is not None
        return open_session(conn, user.id, kind="token", hours=hours)


# -- server memory ------------------------------------------------------------------------


def tree_rss(pid: int) -> tuple[float | None, int]:
    """(summed VmRSS in MB, process count) of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces or ')'
        children.setdefault(ppid, []).append(int(entry.name))
    total_kb, count, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue  # gone meanwhile
        count += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
                break
        todo.extend(children.get(p, ()))
    return (round(total_kb / 1024, 1) if total_kb else None), count  # a zombie has none


# -- clients (in worker processes) --------------------------------------------------------


class FeedCheck:
    """One client's position in the feed, and what it received.

    python-socketio's client runs every incoming message's handler on a thread of its
    own, so two batches that the server sent in order may reach the handler out of
    order. A batch that starts beyond the position is therefore held until the batches
    before it arrive; only if it is still waiting ``REORDER_S`` later (or at the end) is
    the hole counted as a gap. The server's order is not what is checked here, the
    contiguity of the feed each client gets is.
    """

    def __init__(self) -> None:
        self.pos: int | None = None
        self.received = 0  # ``new`` entries beyond the position: each case once
        self.overlap = 0  # ``new`` entries at or before the position (seen, or pre-hello)
        self.gaps = 0
        self.missed_seqs = 0
        self.first_gap: list[int] | None = None
        self.batches = 0
        self.reordered = 0  # batches that arrived before the one preceding them
        self.disconnects = 0
        self.pending: dict[int, tuple[dict[str, Any], float]] = {}
        self.lock = threading.Lock()

    def hello(self, upto: Any) -> None:
        with self.lock:
            if isinstance(upto, int):
                self.pos = upto if self.pos is None else max(self.pos, upto)

    def _apply(self, batch: dict[str, Any]) -> None:
        pos = self.pos
        for entry in batch.get("entries", ()):
            if entry.get("kind") != "new":
                continue
            seq = entry.get("seq")
            if pos is not None and isinstance(seq, int) and seq <= pos:
                self.overlap += 1
            else:
                self.received += 1
        upto = batch.get("upto")
        if isinstance(upto, int):
            self.pos = upto if pos is None else max(pos, upto)

    def _settle(self, now: float, final: bool = False) -> None:
        while self.pending:
            assert self.pos is not None
            ready = sorted(a for a in self.pending if a <= self.pos)
            if ready:
                for a in ready:
                    self._apply(self.pending.pop(a)[0])
                continue
            oldest = min(self.pending)
            if not final and now - self.pending[oldest][1] < REORDER_S:
                return
            self.gaps += 1
            self.missed_seqs += oldest - self.pos
            self.first_gap = self.first_gap or [self.pos, oldest]
            self.pos = oldest

    def feed(self, batch: dict[str, Any]) -> None:
        now = time.monotonic()
        with self.lock:
            self.batches += 1
            after = batch.get("after")
            if self.pos is None or not isinstance(after, int) or after <= self.pos:
                self._apply(batch)
            else:
                self.reordered += 1
                self.pending[after] = (batch, now)
            self._settle(now)

    def report(self) -> dict[str, Any]:
        with self.lock:
            self._settle(time.monotonic(), final=True)
            return {
                "received": self.received, "overlap": self.overlap, "gaps": self.gaps,
                "missed_seqs": self.missed_seqs, "first_gap": self.first_gap,
                "batches": self.batches, "reordered": self.reordered,
                "disconnects": self.disconnects, "pos": self.pos,
            }  # fmt: skip


def client_worker(
    base: str,
    token: str,
    n_clients: int,
    index: int,
    first: int,
    counts: Any,
    ready: mp.Queue,
    stop: Any,
    results: mp.Queue,
    max_life: float,
) -> None:
    """Connect ``n_clients``, check their feeds until told to stop, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us and collects first
    import socketio

    checks = [FeedCheck() for _ in range(n_clients)]
    clients: list[socketio.Client] = []
    errors: list[str] = []

    def handlers(k: int, hello: threading.Event) -> dict[str, Any]:
        check = checks[k]

        def on_hello(message: dict[str, Any]) -> None:
            check.hello(message.get("upto"))
            hello.set()

        def on_feed(batch: dict[str, Any]) -> None:
            check.feed(batch)
            counts[first + k] = check.received

        def on_disconnect(*_args: Any) -> None:
            check.disconnects += 1

        return {"hello": on_hello, "feed": on_feed, "disconnect": on_disconnect}

    for k in range(n_clients):
        client = socketio.Client(reconnection=False)
        hello = threading.Event()
        for event, handler in handlers(k, hello).items():
            client.on(event, handler)
        try:
            client.connect(
                base, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT,
                auth={"token": token},
            )  # fmt: skip
            clients.append(client)
            if not hello.wait(CONNECT_TIMEOUT):
                errors.append(f"client {index}.{k}: no hello")
        except Exception as exc:  # reported to the parent
            errors.append(f"client {index}.{k}: {type(exc).__name__}: {exc}")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # socketio installed its own handler
    ready.put({"proc": index, "connected": len(clients), "errors": errors})
    stop.wait(max_life)
    # Plain dicts taken now: the queue pickles later, after the disconnects below.
    results.put({"proc": index, "first": first, "clients": [c.report() for c in checks]})
    for client in clients:
        with contextlib.suppress(Exception):  # already gone; nothing left to measure
            client.disconnect()


def close_quietly(browser: Any) -> None:
    with contextlib.suppress(Exception):  # gone already (a crash, or Ctrl-C reached it)
        browser.close()


def stop_processes(procs: list[Any]) -> None:
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.terminate()
            p.join(5)
        if p.is_alive():
            p.kill()
            p.join(5)


# -- feed ---------------------------------------------------------------------------------


class Feed:
    """Open-loop posting at ``rate`` a second from ``threads`` keep-alive connections
    until stopped; events made slot by slot (no list of the whole run in memory)."""

    def __init__(
        self, base: str, key: str, maker: EventMaker, start: datetime, prefix: str, rate: float
    ) -> None:
        self.base, self.key, self.maker, self.start_at = base, key, maker, start
        self.prefix, self.rate = prefix, rate
        self.codes: dict[int, int] = {}
        self.stored = 0  # 201 answers that were not merges: what each client should get
        self.merged = 0
        self.failed = 0  # requests that got no answer
        self.errors: list[str] = []
        self.answer_s: list[float] = []
        self.late_s: list[float] = []
        self.stop = threading.Event()
        self._next = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.t0 = self.seconds = 0.0

    def _body(self, slot: int) -> bytes:
        event = self.maker.events(1, self.start_at, offset=slot)[0]
        return json.dumps(event.as_json(f"{self.prefix}{slot}")).encode()

    def _worker(self) -> None:
        client = Client(self.base, self.key)
        try:
            while not self.stop.is_set():
                with self._lock:
                    slot, self._next = self._next, self._next + 1
                due = self.t0 + slot / self.rate
                if due >= self.t0 + self.seconds or self.stop.wait(
                    max(0.0, due - time.monotonic())
                ):
                    return
                body = self._body(slot)
                sent = time.monotonic()
                try:
                    status, data = client.post("/api/v1/events", body)
                except Exception as exc:  # counted; the feed goes on
                    with self._lock:
                        self.failed += 1
                        if len(self.errors) < 20:
                            self.errors.append(f"{type(exc).__name__}: {exc}")
                    self.stop.wait(0.5)
                    continue
                answered = time.monotonic()
                merged = status == 201 and bool(json.loads(data).get("duplicate_of"))
                with self._lock:
                    self.codes[status] = self.codes.get(status, 0) + 1
                    self.answer_s.append(answered - sent)
                    self.late_s.append(max(0.0, sent - due))
                    self.merged += merged
                    self.stored += status == 201 and not merged
                    if not 200 <= status < 300 and len(self.errors) < 20:
                        self.errors.append(f"{status}: {data[:300]!r}")
        finally:
            client.close()

    def begin(self, threads: int, seconds: float) -> float:
        """Start posting slots due within ``seconds`` from now; the start time."""
        self.t0, self.seconds = time.monotonic(), seconds
        self._threads = [
            threading.Thread(target=self._worker, name=f"soak-feed-{i}", daemon=True)
            for i in range(threads)
        ]
        for t in self._threads:
            t.start()
        return self.t0

    def end(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(70)  # an answer in flight times out after 60 s


def summary_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ms = np.asarray(seconds, dtype=float) * 1000
    out = {f"p{q}": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)}
    return out | {"max": round(float(ms.max()), 1)}


# -- browser ------------------------------------------------------------------------------


def open_wall(page: Any, base: str, username: str, password: str) -> None:
    """Sign in through the login form, open ``/wall`` and wait until it is live."""
    from playwright.sync_api import expect

    from app import ids
    from tests.e2e.helpers import wait_for_dash_idle
    from tests.e2e.test_wall import MAP_FITTED_JS

    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=PAGE_TIMEOUT_MS)
    page.goto(f"{base}/wall")
    wait_for_dash_idle(page, timeout_ms=PAGE_TIMEOUT_MS)
    expect(page.locator(f"#{ids.WALL_LINK}")).to_have_class(
        "gw-wall-link is-live", timeout=PAGE_TIMEOUT_MS
    )
    page.wait_for_function(MAP_FITTED_JS, timeout=PAGE_TIMEOUT_MS)
    wait_for_dash_idle(page, timeout_ms=PAGE_TIMEOUT_MS)


def browser_sample(cdp: Any, page: Any) -> dict[str, Any]:
    """The wall's figures, as ``tests/e2e/test_wall`` takes them."""
    from tests.e2e.test_wall import wall_figures

    return wall_figures(cdp, page)


BROWSER_KEYS = (
    "heap_mb", "nodes", "listeners", "live_markers", "ticker_rows", "overdue_rows", "dash_history"
)  # fmt: skip
HEAD = (
    f"{'t/s':>6} {'stored':>7} {'rss MB':>7} {'procs':>5} {'heap MB':>8} {'nodes':>6}"
    f" {'listen':>6} {'markers':>7} {'ticker':>6} {'history':>7} {'received':>9} {'behind':>7}"
)


def heap_census(cdp: Any, keep: Path | None = None) -> dict[str, list[int]]:
    """A heap snapshot after a full GC, as (count, bytes) per kind of object: what grew
    between two of them is what a leak keeps (``--heap-diff``). ``keep``: where to write
    the snapshot itself, for ``bench.heap_retainers``."""
    chunks: list[str] = []

    def on_chunk(event: dict[str, Any]) -> None:
        chunks.append(event["chunk"])

    cdp.on("HeapProfiler.addHeapSnapshotChunk", on_chunk)
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
    cdp.remove_listener("HeapProfiler.addHeapSnapshotChunk", on_chunk)
    raw = "".join(chunks)
    if keep is not None:
        keep.write_text(raw)
    snapshot = json.loads(raw)
    meta = snapshot["snapshot"]["meta"]
    fields, types = meta["node_fields"], meta["node_types"][0]
    width, nodes, strings = len(fields), snapshot["nodes"], snapshot["strings"]
    at_type, at_name, at_size = (fields.index(f) for f in ("type", "name", "self_size"))
    named = {"object", "closure", "native", "hidden", "array", "code", "synthetic"}
    census: dict[str, list[int]] = {}
    for i in range(0, len(nodes), width):
        kind = types[nodes[i + at_type]]
        key = f"{kind}:{strings[nodes[i + at_name]][:60]}" if kind in named else kind
        entry = census.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += nodes[i + at_size]
    return census


STATE_SIZES_JS = """() => {
    const state = window.store && window.store.getState();
    if (!state) return null;
    const sizes = {};
    for (const key of Object.keys(state)) {
        try { sizes[key] = JSON.stringify(state[key]).length; } catch (e) { sizes[key] = -1; }
    }
    return sizes;
}"""


def heap_growth(before: dict[str, list[int]], after: dict[str, list[int]], top: int = 25) -> list:
    """The kinds of object that grew most in bytes between two censuses."""
    rows = []
    for key in set(before) | set(after):
        n0, b0 = before.get(key, [0, 0])
        n1, b1 = after.get(key, [0, 0])
        rows.append((b1 - b0, n1 - n0, b1, n1, key))
    rows.sort(reverse=True)
    return [
        {"kind": k, "bytes_added": db, "count_added": dn, "bytes": b, "count": n}
        for db, dn, b, n, k in rows[:top]
    ]


def row(s: dict[str, Any]) -> str:
    def f(key: str, spec: str) -> str:
        value = s.get(key)
        width = int(spec.split(".")[0].rstrip("df"))
        return format(value, spec) if value is not None else "-".rjust(width)

    return (
        f"{s['t']:6.0f} {s['stored']:7d} {f('server_rss_mb', '7.1f')} {s['server_procs']:5d}"
        f" {f('heap_mb', '8.2f')} {f('nodes', '6d')} {f('listeners', '6d')}"
        f" {f('live_markers', '7d')} {f('ticker_rows', '6d')} {f('dash_history', '7d')}"
        f" {s['received']:9d} {s['behind']:7d}"
    )


# -- verdict ------------------------------------------------------------------------------


def judge(samples: list[dict[str, Any]], warm_up: float, key: str) -> dict[str, Any]:
    """The median of the last third of the post-warm-up samples against the median of
    their first third: within ``GROWTH_BOUND`` passes.

    Both ends are medians of as many samples, as one sample can fall on a moment the
    page is not in its usual state: the wall's 5-minute map redraw empties its live
    markers (about 0.5 MB of a 23 MB heap), and a warm-up of 300 s puts the first
    sample on one. ``first_ratio``, the end against that first sample alone (the rule
    of the runs before 2026-12-02), is kept for comparison."""
    warm = [s for s in samples if s["t"] >= warm_up - 1 and s.get(key) is not None]
    if len(warm) < 3:
        return {"pass": False, "reason": f"{len(warm)} samples after the warm-up (need 3)"}
    third = max(1, len(warm) // 3)
    head, tail = warm[:third], warm[-third:]
    base = statistics.median(s[key] for s in head)
    end = statistics.median(s[key] for s in tail)
    ratio = end / base if base else math.inf
    first = warm[0][key]
    return {
        "baseline": base,
        "baseline_t": [head[0]["t"], head[-1]["t"]],
        "end_median": end,
        "end_t": [tail[0]["t"], tail[-1]["t"]],
        "samples_each": third,
        "ratio": round(ratio, 3),
        "first_sample": first,
        "first_ratio": round(end / first, 3) if first else None,
        "max": max(s[key] for s in warm),
        "pass": bool(ratio <= GROWTH_BOUND),
    }


# -- main ---------------------------------------------------------------------------------


STOPPING = threading.Event()


def _on_signal(_signum: int, _frame: Any) -> None:
    """Ctrl-C or SIGTERM: end the run at the next sample and report; a second one stops
    at once (everything started is still stopped on the way out)."""
    if STOPPING.is_set():
        raise KeyboardInterrupt
    STOPPING.set()
    print("stopping: the run ends at the next sample (again to stop at once)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of feed (30)")
    parser.add_argument("--rate", type=float, default=50.0, help="events posted a second (50)")
    parser.add_argument("--clients", type=int, default=50, help="Socket.IO clients (50)")
    parser.add_argument("--warm-up", type=float, default=300.0, help="seconds before baseline")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    parser.add_argument(
        "--workers", type=int, default=1, help="app processes; above 1 gunicorn (1: Werkzeug)"
    )
    parser.add_argument("--procs", type=int, default=2, help="client worker processes (2)")
    parser.add_argument("--posters", type=int, default=4, help="posting threads (4)")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds for clients after")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON result file")
    parser.add_argument("--fresh", action="store_true", help=f"drop and reload {DB_NAME}")
    parser.add_argument(
        "--keep-open", action="store_true", help="leave this run's cases open afterwards"
    )
    parser.add_argument(
        "--heap-diff",
        action="store_true",
        help="heap snapshots of the wall at the baseline and the last sample: what grew",
    )
    args = parser.parse_args(argv)
    duration = args.minutes * 60
    if min(args.clients, args.procs, args.posters, args.workers) < 1:
        parser.error("--clients, --procs, --posters and --workers must be at least 1")
    if args.rate <= 0 or args.sample <= 0 or args.warm_up < 0 or args.drain < 0:
        parser.error("--rate and --sample must be positive, --warm-up and --drain >= 0")
    if args.minutes > 24 * 60 or args.rate > 2000 or args.clients > 1000:
        parser.error("bounded: --minutes <= 1440, --rate <= 2000, --clients <= 1000")
    if (duration - args.warm_up) / args.sample < 2:
        parser.error("the run must hold at least 3 samples after --warm-up")
    procs = min(args.procs, args.clients)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    cluster, engine, load = prepare(args.fresh)
    conninfo = cluster.conninfo(DB_NAME)
    with psycopg.connect(conninfo) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
    analyze(engine)
    before = table_state(engine)
    maker = EventMaker(spots(conninfo), categories(conninfo))
    key = new_key(engine, "soak")
    username, password = bench_credentials(engine)  # closes the operator's old sessions
    token = client_token(engine, hours=duration / 3600 + 4)
    prefix = f"SK{uuid.uuid4().hex[:6]}-"
    blocks = TimeBlocks(next_time_base(engine))
    feed_start = blocks.take(math.ceil(args.rate * (duration + 120)))
    cycle = len(maker.spots) * len(maker.categories)
    say(
        f"{before['cases']:,} cases stored ({before['open']:,} open); {len(maker.spots)} points"
        f" x {len(maker.categories)} categories (a pair recurs every {cycle:,} s of"
        f" reported_at); run {prefix}"
    )
    url = cluster.url(DB_NAME).replace("postgresql+psycopg://", "postgresql://")
    log_dir = Path(tempfile.mkdtemp(prefix="gridwatch-soak-"))
    log = log_dir / "server.log"

    samples: list[dict[str, Any]] = []
    interrupted = False
    feed: Feed | None = None
    reports: list[dict[str, Any]] = []
    connect = {"connected": 0, "errors": []}
    page_problems: dict[str, list[str]] = {"console": [], "pageerror": [], "crash": []}
    browser_errors: list[str] = []
    grown: list[dict[str, Any]] = []  # --heap-diff
    server_pid = None
    closed = None
    drained_s = None
    server_exit = None
    stack = contextlib.ExitStack()
    try:
        with stack:
            from playwright.sync_api import sync_playwright

            from tests.e2e.conftest import CHROMIUM_ARGS
            from tests.realtime.conftest import start_server, stop_server

            extra = ("--workers", str(args.workers)) if args.workers > 1 else ()
            say(f"starting gridwatch serve{' ' + ' '.join(extra) if extra else ''} (log {log})")
            server, base = start_server(url, log, *extra)
            stack.callback(stop_server, server)
            server_pid = server.pid
            say(f"  serving on {base}; connecting {args.clients} clients in {procs} processes")

            ctx = mp.get_context("spawn")
            ready: mp.Queue = ctx.Queue()
            results: mp.Queue = ctx.Queue()
            stop = ctx.Event()
            counts = ctx.RawArray("q", args.clients)
            shares = [args.clients // procs + (i < args.clients % procs) for i in range(procs)]
            firsts = [sum(shares[:i]) for i in range(procs)]
            max_life = duration + args.drain + 600
            workers = [
                ctx.Process(
                    target=client_worker,
                    args=(base, token, n, i, firsts[i], counts, ready, stop, results, max_life),
                    daemon=True,
                )
                for i, n in enumerate(shares)
            ]
            stack.callback(stop_processes, workers)
            stack.callback(stop.set)
            t = time.monotonic()
            for w in workers:
                w.start()
            for _ in workers:
                r = ready.get(timeout=CONNECT_TIMEOUT * (max(shares) + 3))
                connect["connected"] += r["connected"]
                connect["errors"] += r["errors"]
            say(f"  {connect['connected']} connected in {time.monotonic() - t:.1f} s")
            if connect["errors"]:
                say(f"  connect errors: {connect['errors'][:5]}")

            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            stack.callback(close_quietly, browser)
            context = browser.new_context(
                viewport={"width": 1920, "height": 1080},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.on(
                "console",
                lambda m: m.type == "error" and page_problems["console"].append(m.text[:300]),
            )
            page.on("pageerror", lambda e: page_problems["pageerror"].append(str(e)[:300]))
            page.on("crash", lambda _p: page_problems["crash"].append("page crashed"))
            say("opening /wall in Chromium ...")
            open_wall(page, base, username, password)
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")

            feed = Feed(base, key, maker, feed_start, prefix, args.rate)
            say(
                f"feeding {args.rate:g} events/s for {args.minutes:g} min; warm-up"
                f" {args.warm_up:g} s, a sample every {args.sample:g} s"
            )
            print(HEAD, flush=True)
            stack.callback(feed.end)
            census: dict[str, list[int]] | None = None
            state_before: dict[str, int] = {}
            t0 = feed.begin(args.posters, duration)
            try:
                for n in itertools.count():
                    at = t0 + n * args.sample
                    if at - t0 > duration + 0.5:
                        break
                    if STOPPING.wait(max(0.0, at - time.monotonic())):
                        interrupted = True
                        break
                    if server.poll() is not None:
                        server_exit = server.returncode
                        say(f"the server exited ({server_exit}); ending the run")
                        break
                    s: dict[str, Any] = {"t": round(time.monotonic() - t0, 1)}
                    s["stored"] = feed.stored
                    s["server_rss_mb"], s["server_procs"] = tree_rss(server.pid)
                    received = sum(counts)
                    try:
                        s |= browser_sample(cdp, page)
                    except Exception as exc:  # the table goes on; the verdict fails
                        browser_errors.append(f"t={s['t']}: {type(exc).__name__}: {exc}"[:300])
                        s |= dict.fromkeys(BROWSER_KEYS)
                    s["received"] = received
                    s["behind"] = s["stored"] * connect["connected"] - received
                    samples.append(s)
                    print(row(s), flush=True)
                    last = at - t0 + args.sample > duration + 0.5
                    if args.heap_diff and (last or (census is None and s["t"] >= args.warm_up - 1)):
                        if census is None:
                            census = heap_census(cdp, log_dir / "heap-before.heapsnapshot")
                            state_before = page.evaluate(STATE_SIZES_JS) or {}
                        else:
                            state_after = page.evaluate(STATE_SIZES_JS) or {}
                            for k in sorted(set(state_before) | set(state_after)):
                                say(
                                    f"  dash state {k}: {state_before.get(k)} ->"
                                    f" {state_after.get(k)} chars"
                                )
                            after = heap_census(cdp, log_dir / "heap-after.heapsnapshot")
                            grown = heap_growth(census, after)
                            say(f"  heap snapshots in {log_dir} (bench.heap_retainers reads them)")
                            for g in grown:
                                say(
                                    f"  heap +{g['bytes_added']:>9,} B +{g['count_added']:>7,}"
                                    f"  {g['kind']}"
                                )
                wait = t0 + duration - time.monotonic()
                if wait > 0 and server_exit is None and STOPPING.wait(wait):
                    interrupted = True
            except KeyboardInterrupt:
                interrupted = True
                say("interrupted: stopping the feed and collecting what was measured")
            feed.end()
            posted_s = time.monotonic() - t0
            expected = feed.stored * connect["connected"]
            say(
                f"feed stopped after {posted_s:.0f} s: {feed.stored:,} stored, codes"
                f" {feed.codes}, {feed.failed} unanswered; draining up to {args.drain:g} s ..."
            )
            deadline = time.monotonic() + (2.0 if interrupted else args.drain)
            with contextlib.suppress(KeyboardInterrupt):
                # A Ctrl-C during the drain ends it (after one, it lasts 2 s anyway).
                while sum(counts) < expected and time.monotonic() < deadline:
                    if STOPPING.is_set() and not interrupted:
                        break
                    time.sleep(0.1)
            drained_s = round(args.drain - max(0.0, deadline - time.monotonic()), 1)
            stop.set()
            for _ in workers:
                try:
                    reports.append(results.get(timeout=30))
                except queue.Empty:
                    say("  a client process did not report")
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted during setup or shutdown")
    finally:
        if not args.keep_open:
            say("closing this run's cases (plain SQL) and VACUUM ANALYZE cases ...")
            closed = close_run(engine, prefix)

    # -- report ---------------------------------------------------------------------------
    per_client = [c for r in sorted(reports, key=lambda r: r["first"]) for c in r["clients"]]
    stored = feed.stored if feed else 0
    received = [c["received"] for c in per_client]
    gaps = [c["gaps"] for c in per_client]
    missing = sum(max(0, stored - n) for n in received) + stored * (args.clients - len(per_client))
    codes = feed.codes if feed else {}
    five_xx = sum(n for status, n in codes.items() if status >= 500)
    other = {str(k): v for k, v in sorted(codes.items()) if not 200 <= k < 300}
    verdicts = {k: judge(samples, args.warm_up, k) for k, _ in METRICS}
    checks = {
        "growth": all(v["pass"] for v in verdicts.values()),
        "no_5xx": five_xx == 0,
        "no_unanswered": bool(feed and feed.failed == 0),
        "all_connected": connect["connected"] == args.clients and not connect["errors"],
        "no_gaps": len(per_client) == args.clients and sum(gaps) == 0,
        "none_missing": missing == 0 and stored > 0,
        "not_interrupted": not interrupted,
        "server_ran_through": server_exit is None and server_pid is not None,
    }
    passed = all(checks.values())
    log_text = log.read_text(errors="replace") if log.exists() else ""

    print()
    for k, label in METRICS:
        v = verdicts[k]
        if "ratio" in v:
            print(
                f"{label:<11} {'PASS' if v['pass'] else 'FAIL'}  first-third median"
                f" {v['baseline']} (t={v['baseline_t'][0]:g}-{v['baseline_t'][1]:g} s),"
                f" last-third median {v['end_median']} (t={v['end_t'][0]:g}-{v['end_t'][1]:g}"
                f" s), ratio {v['ratio']:.3f} (bound {GROWTH_BOUND}); against the first"
                f" sample {v['first_sample']}: {v['first_ratio']}; max {v['max']}"
            )
        else:
            print(f"{label:<11} FAIL  {v['reason']}")
    print(
        f"feed: {stored:,} stored, {feed.merged if feed else 0} merged, codes"
        f" {dict(sorted(codes.items()))}, {five_xx} 5xx, {feed.failed if feed else 0}"
        f" unanswered; POST answer {summary_ms(feed.answer_s if feed else [])} ms"
    )
    if received:
        print(
            f"clients: {len(per_client)}/{args.clients} reported, received min {min(received):,}"
            f" max {max(received):,} of {stored:,}; {missing:,} entries missing, gaps"
            f" {sum(gaps)} on {sum(1 for g in gaps if g)} clients, batches out of order"
            f" {sum(c['reordered'] for c in per_client)}, disconnects"
            f" {sum(c['disconnects'] for c in per_client)}"
        )
    else:
        print(f"clients: none reported (of {args.clients})")
    problems = {k: len(v) for k, v in page_problems.items()}
    print(f"browser: sample errors {len(browser_errors)}, page {problems}")
    failed = ", ".join(k for k, ok in checks.items() if not ok) or "all checks met"
    print(
        f"server log {log}: {log_text.count('Traceback')} tracebacks;"
        f" {'PASS' if passed else 'FAIL'} ({failed})",
        flush=True,
    )

    from app.pages.live import LIVE_LIMIT

    def most(key: str) -> Any:
        values = [s[key] for s in samples if s.get(key) is not None]
        return max(values) if values else None

    result = {
        "bench": "soak",
        "database": DB_NAME,
        "minutes": args.minutes,
        "rate": args.rate,
        "clients": args.clients,
        "client_procs": procs,
        "workers": args.workers,
        "posters": args.posters,
        "warm_up_s": args.warm_up,
        "heap_growth": grown,
        "sample_s": args.sample,
        "drain_s": args.drain,
        "bound": GROWTH_BOUND,
        "interrupted": interrupted,
        "samples": samples,
        "verdicts": verdicts,
        "checks": checks,
        "passed": passed,
        "feed": {
            "stored": stored,
            "merged": feed.merged if feed else 0,
            "codes": {str(k): v for k, v in sorted(codes.items())},
            "non_2xx": other,
            "five_xx": five_xx,
            "unanswered": feed.failed if feed else 0,
            "errors": feed.errors if feed else [],
            "answer_ms": summary_ms(feed.answer_s if feed else []),
            "late_ms": summary_ms(feed.late_s if feed else []),
            "points": len(maker.spots),
            "categories": len(maker.categories),
        },
        "socket_clients": {
            "connected": connect["connected"],
            "connect_errors": connect["errors"],
            "reported": len(per_client),
            "expected_each": stored,
            "received": received,
            "missing_entries": missing,
            "gaps": gaps,
            "missed_seqs": [c["missed_seqs"] for c in per_client],
            "first_gaps": [c["first_gap"] for c in per_client if c["first_gap"]][:5],
            "overlap": sum(c["overlap"] for c in per_client),
            "batches": [c["batches"] for c in per_client],
            "reordered": sum(c["reordered"] for c in per_client),
            "disconnects": sum(c["disconnects"] for c in per_client),
            "drained_s": drained_s,
        },
        "browser": {
            "viewport": "1920x1080",
            "sample_errors": browser_errors,
            "console_errors": page_problems["console"][:10],
            "console_error_count": len(page_problems["console"]),
            "page_errors": page_problems["pageerror"][:10],
            "crashed": bool(page_problems["crash"]),
            "max_live_markers": most("live_markers"),
            "live_limit": LIVE_LIMIT,
            "max_ticker_rows": most("ticker_rows"),
            "max_dash_history": most("dash_history"),
        },
        "server": {
            "pid": server_pid,
            "exited_during_run": server_exit,
            "log": str(log),
            "log_tracebacks": log_text.count("Traceback"),
        },
        "run_prefix": prefix,
        "table_before": before,
        "table_after": table_state(engine),
        "closed_after_run": closed,
        "load": load,
        "sources": sources(engine),
        "host": host_info(server_version),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    line = json.dumps(result, ensure_ascii=False)
    print(line, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(line + "\n")
    engine.dispose()
    if interrupted:
        return 130
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
