"""Push benchmark: latency from POST to Socket.IO client receipt, and completeness.

Run from the repository root::

    .venv/bin/python -m bench.push_bench [--clients 100] [--rate 50] [--duration 60]

Database and server as in ``bench.ingest_bench``: ``gridwatch_bench_ingest`` on the
private cluster (the demo city, loaded when it holds no areas), ``gridwatch serve`` as
a subprocess on a free 127.0.0.1 port, one API key for channel ``app`` (no rate limit
in reach). Events at thinned grid label points, one category cycle per point pass and
one second of ``reported_at`` apart, in a block of time after everything stored: the
store merges none of them (a merge would still be announced, as a ``reports`` entry
for the original; the count of merges is reported).

Clients: ``--clients`` python-socketio clients (websocket transport, no reconnection)
spread over ``--procs`` worker processes, each waiting for its ``hello`` (it has then
joined the ``all`` room) before any event is posted. The receipt time of every ``new``
feed entry is taken in the client's ``feed`` handler with ``time.monotonic()``.

Posting: ``--rate`` events a second for ``--duration`` seconds, open loop: slot ``k``
is due at ``start + k / rate``, taken by the first free of ``--posters`` threads (each
with a keep-alive HTTP/1.1 connection). The send time is ``time.monotonic()`` just
before the request goes out; the case id comes from the 201 answer. ``monotonic`` is
CLOCK_MONOTONIC, one clock for every process of the machine.

Latency of a (client, event) pair = receipt - send; p50/p95/p99 over all pairs.
After the last POST the clients get ``--drain`` seconds to receive everything; a case
id posted (201) but not received by a client counts as missing for that pair.

Goals (from the issue): POST-to-client p95 under 150 ms; zero missing.

Afterwards this run's cases are closed with plain SQL (``--keep-open`` skips it) so
later runs start from the same open cases.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import queue
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

from bench.common import bench_token, host_info
from bench.ingest_bench import (
    DB_NAME,
    Client,
    EventMaker,
    TimeBlocks,
    analyze,
    categories,
    close_run,
    new_key,
    next_time_base,
    prepare,
    running_server,
    say,
    sources,
    spots,
    table_state,
)

GOAL_P95_MS = 150.0
WARMUP_EVENTS = 5
CONNECT_TIMEOUT = 20.0


# -- clients (in worker processes) ------------------------------------------------------


def client_worker(
    base: str,
    token: str,
    n_clients: int,
    index: int,
    ready: mp.Queue,
    commands: mp.Queue,
    results: mp.Queue,
    max_life: float,
) -> None:
    """Connect ``n_clients``, record receipts, report them when told which ids to expect."""
    import socketio

    # case id -> (receipt, monotonic s; emit-to-receipt ms from the batch's ``sent``)
    received: list[dict[int, tuple[float, float | None]]] = [{} for _ in range(n_clients)]
    duplicates = [0] * n_clients
    disconnects = [0] * n_clients
    clients: list[socketio.Client] = []
    errors: list[str] = []

    def handlers(k: int, hello: threading.Event) -> dict[str, Any]:
        got = received[k]

        def on_feed(batch: dict[str, Any]) -> None:
            at, wall_ms = time.monotonic(), time.time() * 1000
            sent = batch.get("sent")
            emitted = wall_ms - sent if isinstance(sent, int | float) else None
            for entry in batch.get("entries", ()):
                if entry.get("kind") != "new":
                    continue
                case_id = entry["case"]["id"]
                if case_id in got:
                    duplicates[k] += 1
                else:
                    got[case_id] = (at, emitted)

        def on_disconnect(*_args: Any) -> None:
            disconnects[k] += 1

        return {"feed": on_feed, "hello": lambda _m: hello.set(), "disconnect": on_disconnect}

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
            if not hello.wait(CONNECT_TIMEOUT):
                errors.append(f"client {index}.{k}: no hello")
            clients.append(client)
        except Exception as exc:  # reported to the parent, which stops the run
            errors.append(f"client {index}.{k}: {type(exc).__name__}: {exc}")
    ready.put({"proc": index, "connected": len(clients), "errors": errors})

    try:
        command = commands.get(timeout=max_life)
    except queue.Empty:
        command = None
    if command:
        expected: set[int] = set(command["ids"])
        deadline = time.monotonic() + command["drain"]
        while time.monotonic() < deadline:
            if all(expected <= got.keys() for got in received):
                break
            time.sleep(0.05)
        results.put(
            {
                "proc": index,
                "received": [{c: t for c, t in got.items() if c in expected} for got in received],
                "duplicates": sum(duplicates),
                "disconnects": sum(disconnects),
            }
        )
    for client in clients:
        with contextlib.suppress(Exception):  # already gone; nothing left to measure
            client.disconnect()


# -- posting ----------------------------------------------------------------------------


class Poster:
    """Open-loop posting of ``bodies`` at ``rate`` a second from ``threads`` threads."""

    def __init__(self, base: str, key: str, bodies: list[bytes], rate: float) -> None:
        self.base, self.key, self.bodies, self.rate = base, key, bodies, rate
        self.sent: dict[int, float] = {}  # case id -> send time (monotonic)
        self.answer_s: list[float] = []
        self.late_s: list[float] = []
        self.codes: dict[int, int] = {}
        self.merged = 0
        self.errors: list[str] = []
        self._next = 0
        self._lock = threading.Lock()

    def _slot(self) -> int | None:
        with self._lock:
            if self._next >= len(self.bodies):
                return None
            self._next += 1
            return self._next - 1

    def _worker(self, start: float, stop_at: float) -> None:
        client = Client(self.base, self.key)
        try:
            while (slot := self._slot()) is not None:
                due = start + slot / self.rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sent = time.monotonic()
                if sent > stop_at:
                    break
                status, data = client.post("/api/v1/events", self.bodies[slot])
                answered = time.monotonic()
                with self._lock:
                    self.codes[status] = self.codes.get(status, 0) + 1
                    self.late_s.append(max(0.0, sent - due))
                    self.answer_s.append(answered - sent)
                    if status == 201:
                        answer = json.loads(data)
                        self.sent[answer["case_id"]] = sent
                        self.merged += bool(answer.get("duplicate_of"))
        except Exception as exc:  # reported, not hidden
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()

    def run(self, threads: int, max_seconds: float) -> float:
        """Post everything (or stop at ``max_seconds``); the wall time taken."""
        start = time.monotonic() + 0.2
        pool = [
            threading.Thread(target=self._worker, args=(start, start + max_seconds), daemon=True)
            for _ in range(threads)
        ]
        for t in pool:
            t.start()
        for t in pool:
            t.join(max_seconds + 60)
        return time.monotonic() - start


def pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def summary_ms(seconds: list[float] | np.ndarray) -> dict[str, float | None]:
    ms = np.asarray(seconds, dtype=float) * 1000
    out: dict[str, float | None] = {f"p{q}": pct(ms, q) for q in (50, 95, 99)}
    out["mean"] = round(float(ms.mean()), 1) if len(ms) else None
    out["max"] = round(float(ms.max()), 1) if len(ms) else None
    return out


# -- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.push_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="Socket.IO clients (100)")
    parser.add_argument("--rate", type=float, default=50.0, help="events posted a second (50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of posting (60)")
    parser.add_argument("--procs", type=int, default=2, help="client worker processes (2)")
    parser.add_argument("--posters", type=int, default=4, help="posting threads (4)")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait after (15)")
    parser.add_argument("--fresh", action="store_true", help=f"drop and reload {DB_NAME}")
    parser.add_argument(
        "--keep-open", action="store_true", help="leave this run's cases open afterwards"
    )
    args = parser.parse_args(argv)
    if min(args.clients, args.procs, args.posters) < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("counts must be at least 1, --rate and --duration positive")
    if args.duration > 3600 or args.rate > 2000 or args.clients > 1000:
        parser.error("bounded: --duration <= 3600, --rate <= 2000, --clients <= 1000")
    procs = min(args.procs, args.clients)

    from app.settings import Settings

    settings = Settings(db_name=DB_NAME)
    if settings.database_url:
        say("note: GRIDWATCH_DATABASE_URL is ignored; the benchmark uses the private cluster")
    cluster, engine, load = prepare(settings, fresh=args.fresh)
    conninfo = cluster.conninfo(DB_NAME)
    analyze(engine)  # untimed: the planner sees the table as it is now
    before = table_state(engine)
    maker = EventMaker(spots(conninfo), categories(conninfo))
    key = new_key(engine, "push")
    token = bench_token(engine)  # the clients sign in like screens do
    prefix = f"PB{uuid.uuid4().hex[:6]}-"
    n_events = round(args.rate * args.duration)
    blocks = TimeBlocks(next_time_base(engine))
    warm = maker.events(WARMUP_EVENTS, blocks.take(WARMUP_EVENTS))
    events = maker.events(n_events, blocks.take(n_events))
    bodies = [json.dumps(e.as_json(f"{prefix}{e.index}")).encode() for e in events]
    say(
        f"{before['cases']:,} cases stored ({before['open']:,} open); posting {n_events:,}"
        f" events at {args.rate:g}/s to {args.clients} clients in {procs} processes"
    )
    with psycopg.connect(conninfo) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]

    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()
    results: mp.Queue = ctx.Queue()
    url = cluster.url(DB_NAME).replace("postgresql+psycopg://", "postgresql://")
    max_life = args.duration + args.drain + 300
    with (
        tempfile.TemporaryDirectory(prefix="gridwatch-push-bench-") as tmp,
        running_server(url, Path(tmp)) as base,
    ):
        say(f"serving on {base}; connecting {args.clients} clients ...")
        shares = [args.clients // procs + (i < args.clients % procs) for i in range(procs)]
        commands = [ctx.Queue() for _ in range(procs)]
        workers = [
            ctx.Process(
                target=client_worker,
                args=(base, token, n, i, ready, commands[i], results, max_life),
                daemon=True,
            )
            for i, n in enumerate(shares)
        ]
        t = time.monotonic()
        for w in workers:
            w.start()
        reports = [ready.get(timeout=CONNECT_TIMEOUT * (max(shares) + 3)) for _ in workers]
        connected = sum(r["connected"] for r in reports)
        connect_errors = [e for r in reports for e in r["errors"]]
        say(f"  {connected} connected in {time.monotonic() - t:.1f} s")
        if connect_errors:
            say(f"  connect errors: {connect_errors[:5]}")

        say("warming up ...")
        warm_poster = Poster(
            base, key, [json.dumps(e.as_json(f"{prefix}W{e.index}")).encode() for e in warm], 5
        )
        warm_poster.run(1, 30)
        time.sleep(2)

        say(f"posting for {args.duration:g} s ...")
        poster = Poster(base, key, bodies, args.rate)
        wall = poster.run(args.posters, args.duration + 5)
        say(
            f"  {len(poster.sent):,} stored in {wall:.1f} s ({len(poster.sent) / wall:.1f}/s);"
            f" codes {poster.codes}; draining up to {args.drain:g} s ..."
        )
        for c in commands:
            c.put({"ids": list(poster.sent), "drain": args.drain})
        got = []
        for _ in workers:
            try:
                got.append(results.get(timeout=args.drain + 120))
            except queue.Empty:
                say("  a client process did not report")
        for w in workers:
            w.join(30)
            if w.is_alive():
                w.terminate()
                w.join(5)

    sent = poster.sent
    latencies: list[float] = []
    emit_to_client: list[float] = []  # ms, from the server's wall-clock stamp
    per_case: dict[int, list[float]] = {c: [] for c in sent}
    missing_pairs = 0
    missing_cases: set[int] = set()
    clients_reported = 0
    for report in got:
        for received in report["received"]:
            clients_reported += 1
            for case_id, t_send in sent.items():
                receipt = received.get(case_id)
                if receipt is None:
                    missing_pairs += 1
                    missing_cases.add(case_id)
                    continue
                t_recv, emitted = receipt
                latencies.append(t_recv - t_send)
                if emitted is not None:
                    emit_to_client.append(emitted)
                per_case[case_id].append(t_recv - t_send)
    missing_pairs += (args.clients - clients_reported) * len(sent)
    if clients_reported < args.clients:
        missing_cases = set(sent)
    first = [min(v) for v in per_case.values() if v]
    last = [max(v) for v in per_case.values() if v]
    pairs = summary_ms(latencies)
    goals_met = {
        "p95_ms": bool(pairs["p95"] is not None and pairs["p95"] < GOAL_P95_MS),
        "zero_missing": bool(missing_pairs == 0 and sent and not poster.errors),
    }
    after = table_state(engine)
    closed = None
    if not args.keep_open:
        say("closing this run's cases (untimed, plain SQL) and VACUUM ANALYZE cases ...")
        closed = close_run(engine, prefix)

    print()
    print(f"{'':<28} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  (ms)")
    for label, s in (
        ("POST -> client (all pairs)", pairs),
        ("POST -> first client", summary_ms(first)),
        ("POST -> last client", summary_ms(last)),
        ("POST -> 201 answer", summary_ms(poster.answer_s)),
        ("server emit -> client", summary_ms(np.asarray(emit_to_client) / 1000)),
    ):
        print(f"{label:<28} {s['p50']:>7} {s['p95']:>7} {s['p99']:>7} {s['max']:>7}")
    print(
        f"{len(sent):,} events x {args.clients} clients: {len(latencies):,} receipts,"
        f" {missing_pairs:,} missing pairs ({len(missing_cases):,} case ids missing somewhere);"
        f" goal p95 < {GOAL_P95_MS:g} ms: {'met' if goals_met['p95_ms'] else 'NOT met'};"
        f" zero missing: {'met' if goals_met['zero_missing'] else 'NOT met'}",
        flush=True,
    )
    result = {
        "bench": "push",
        "database": DB_NAME,
        "clients": args.clients,
        "connected": connected,
        "client_procs": procs,
        "posters": args.posters,
        "rate": args.rate,
        "duration_s": args.duration,
        "posted": len(sent),
        "post_wall_s": round(wall, 2),
        "post_rate": round(len(sent) / wall, 2) if wall else None,
        "post_codes": {str(k): v for k, v in sorted(poster.codes.items())},
        "post_errors": poster.errors,
        "post_late_ms": summary_ms(poster.late_s),
        "merged": poster.merged,
        "latency_ms": pairs,
        "first_client_ms": summary_ms(first),
        "last_client_ms": summary_ms(last),
        "post_answer_ms": summary_ms(poster.answer_s),
        "emit_to_client_ms": summary_ms(np.asarray(emit_to_client) / 1000),
        "emit_stamped_pairs": len(emit_to_client),
        "sources": sources(engine),
        "receipts": len(latencies),
        "missing_pairs": missing_pairs,
        "missing_case_ids": len(missing_cases),
        "duplicates": sum(r["duplicates"] for r in got),
        "disconnects": sum(r["disconnects"] for r in got),
        "connect_errors": connect_errors,
        "goals": {"p95_ms": GOAL_P95_MS, "missing": 0},
        "goals_met": goals_met,
        "all_goals_met": all(goals_met.values()),
        "run_prefix": prefix,
        "table_before": before,
        "table_after": after,
        "closed_after_run": closed,
        "load": load,
        "host": host_info(server_version),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
