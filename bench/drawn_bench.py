"""Emit-to-drawn latency in the browser, beside the page's bare repaint floor.

Run from the repository root::

    .venv/bin/python -m bench.drawn_bench [--rates 2,10,50] [--seconds 60] [--target 500]
        [--quiet 10] [--gap 400] [--viewport 1920x1080] [--database NAME] [--fresh]
        [--keep-open]

(``--rate R`` is ``--rates R``; ``--events N`` runs each rate for N / rate seconds.)

Database: ``gridwatch_bench_live`` on the private cluster (``bench.common``), migrated,
the demo city loaded when it holds no areas (``--fresh`` drops and reloads it);
``--database`` names another one that holds the demo city. Server: ``gridwatch serve``
on a free 127.0.0.1 port (``tests/realtime/conftest.start_server``, SLA escalation off).

Live markers: the run reports open cases at thinned grid label points of Chenghua
(510108) through the case store until the district holds ``--target`` open cases (the
demo's own stay as they are and are never acted on), so the screen holds about 500.

Per rate, in a fresh browser context of Debian's headless Chromium (the flags of
``tests/e2e``, ``--viewport``, zh-CN), signed in as the benchmarks' operator through the
login form: ``/map?area=510108`` with the demo's default layers (areas and incidents)
until its live screen has its snapshot drawn. Then

1. quiet, no feed, for ``--quiet`` seconds: the page calls ``GridWatchMap.idle(gd)``
   (``triggerRepaint`` and the map's next ``idle``) again and again, 0.5-1.5 x ``--gap``
   ms apart, and times each call (the floor) and, separately, until the page's main
   thread is free again afterwards (the frame: the GL work of a frame runs after
   ``idle`` fired, in the same task); then 20 times one case's feature re-sent through
   the bridge (``GridWatchMap.applyDiff``, a diff that changes nothing) to the next
   ``idle``: a diff's cost without the feed;
2. the run: for ``--seconds`` the changes go out open loop at the rate (slot k due at
   start + k / rate, from ``--posters`` threads): a new report (``POST /api/v1/events``)
   whenever this run holds fewer open cases than it needs for ``--target``, otherwise a
   random valid action on one of the run's open cases (``POST /api/v1/cases/{id}/
   actions/{action}`` with a bearer token; merges are drawn at 30 % of their share).
   The page keeps probing the floor meanwhile, interleaved with the batches: a probe
   starts only when no batch waits for its draw, and counts as clean when no batch was
   applied and no map source started loading while it ran (the run's floor is the clean
   probes). Each batch the screen applies is timed by ``assets/live.js``: ``sent``
   (server wall clock when the listener emitted), ``received``, ``applied`` and
   ``drawn`` (the map's first ``idle`` after the diff); the bench reads them every
   second (the page keeps the last 500). Same machine: one clock. Batches that reach
   the page while an earlier one is still unread by Dash are overwritten (the socket
   component keeps its latest message): the screen catches up over HTTP and those are
   not timed (``gaps_during_run``).

Reported per rate: emit -> drawn (``drawn - sent``) p50 / p95 / p99, its split
(emit -> received, received -> applied, applied -> drawn), the floor and frame p50 / p95
(quiet and in the run), the one-feature diff, the share of the run the main thread spent
in long tasks (50 ms or more), and emit -> drawn p50 and p95 over the run's floor p50
(and over the frame's). Goals: p50 at most 1.5 x the floor's p50, p95 at most 3 x.

Afterwards the run's cases are closed with plain SQL (``--keep-open`` skips it). The
last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from bench.common import BENCH_USER, bench_credentials, host_info, open_bench_database

DB_NAME = "gridwatch_bench_live"
DISTRICT = "510108"
TARGET_OPEN = 500
CHANNEL = "app"
GOAL_P50 = 1.5
GOAL_P95 = 3.0
MERGE_WEIGHT = 0.3  # merges are valid from every open status: draw them less often
NOTES = {"reject": "不属实", "handle": "已处置", "reopen": "居民不满意", "escalate": "需上级协调"}
PAGE_TIMEOUT_MS = 60_000
MAP_GRAPH = "map-graph"
OPEN_SQL = "status NOT IN ('closed', 'rejected', 'merged')"


def say(message: str) -> None:
    print(message, flush=True)


def summary(values: list[float], digits: int = 1) -> dict[str, float | int | None]:
    """n, p50, p95, p99, max and mean of ``values`` (ms)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    a = np.asarray(values, dtype=float)
    out: dict[str, float | int | None] = {"n": len(values)}
    for q in (50, 95, 99):
        out[f"p{q}"] = round(float(np.percentile(a, q)), digits)
    return out | {"max": round(float(a.max()), digits), "mean": round(float(a.mean()), digits)}


# -- database -----------------------------------------------------------------------------


def prepare(database: str | None, fresh: bool) -> tuple[Any, Engine, dict[str, Any]]:
    """The benchmark's database, migrated, holding the demo city."""
    from app.settings import Settings

    name = database or DB_NAME
    settings = Settings(db_name=name)
    cluster, engine = open_bench_database(settings, name, drop=fresh, say=say)
    info: dict[str, Any] = {"database": name, "demo_loaded_now": False}
    with engine.connect() as conn:
        has_grids = conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM areas WHERE level = 'grid')")
        ).scalar()
    if not has_grids:
        if database is not None and database != DB_NAME:
            sys.exit(f"{name} has no demo city: run `gridwatch etl demo` first")
        from bench.ingest_bench import END, analyze
        from etl.demo_load import load_demo

        say(f"loading the demo city into {name} (one transaction) ...")
        t = time.perf_counter()
        load_demo(engine, end=END)  # the demo's year ends a month ago: no duplicates of ours
        analyze(engine, "ANALYZE")
        info |= {"demo_loaded_now": True, "demo_s": round(time.perf_counter() - t, 1)}
    return cluster, engine, info


def area_id(engine: Engine, code: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM areas WHERE code = :c"), {"c": code}).scalar_one()


def open_in(engine: Engine, district_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(f"SELECT count(*) FROM cases WHERE district_id = :d AND {OPEN_SQL}"),
            {"d": district_id},
        ).scalar_one()


def close_run(engine: Engine, prefix: str) -> int:
    """Close this run's cases with plain SQL, so the next run starts from the demo's open
    cases (the benchmark database is not an audit record)."""
    with engine.begin() as conn:
        return conn.execute(
            text(
                "UPDATE cases SET status = 'closed', closed_at = now(), updated_at = now()"
                f" WHERE channel = :ch AND external_id LIKE :p || '%' AND {OPEN_SQL}"
            ),
            {"ch": CHANNEL, "p": prefix},
        ).rowcount


def operator_token(engine: Engine, hours: float = 4.0) -> str:
    """A bearer token of the benchmarks' operator (after ``bench_credentials``, which
    ends the operator's earlier sessions)."""
    from geo_data.users import get_user, open_session

    with engine.begin() as conn:
        user = get_user(conn, BENCH_USER)
        assert user is not None
        return open_session(conn, user.id, kind="token", hours=hours)


# -- the changes --------------------------------------------------------------------------


@dataclass
class Held:
    """What the run knows of one of its open cases (it is the only one acting on them)."""

    status: str
    version: int
    level: str
    assignee: int | None


@dataclass
class Done:
    kind: str  # "report" or the action
    route: str  # "api" or "store"
    ok: bool
    at: float  # time.monotonic() when the answer came (after the commit)
    case_id: int | None


class Changes:
    """The run's own open cases in the district and the changes made to them: new
    reports and random valid workflow actions, through the API or the case store.

    Thread-safe: each change takes the cases it touches out of play until it is done,
    so two threads never act on one case and the versions the run holds stay right.
    """

    def __init__(
        self,
        engine: Engine,
        base: str,
        key: str,
        token: str,
        district_id: int,
        target: int,
        seed: int,
    ) -> None:
        from bench.ingest_bench import categories, spots
        from geo_data.actors import actor_by_username, system_actor

        self.engine, self.base, self.key, self.token = engine, base, key, token
        self.district_id = district_id
        self.prefix = f"LV{uuid.uuid4().hex[:6]}-"
        self.rng = random.Random(seed)
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.spots = [s for s in spots(conninfo) if s.areas[0] == district_id]
        self.categories = categories(conninfo)
        # Report i goes to spot i mod P with category (i div P) mod C: one (spot, category)
        # pair recurs only after P x C reports, never within the duplicate window.
        self.reports = itertools.count(self.rng.randrange(len(self.spots) * len(self.categories)))
        with engine.connect() as conn:
            self.workers = list(
                conn.execute(
                    text("SELECT id FROM workers WHERE district_id = :d AND status <> 'off_duty'"),
                    {"d": district_id},
                ).scalars()
            )
            self.operator = actor_by_username(conn, BENCH_USER)
            self.reporter = system_actor(conn)
        self.others_open = open_in(engine, district_id)  # the demo's: left alone
        self.target_own = max(0, target - self.others_open)
        self.held: dict[int, Held] = {}
        self.busy: set[int] = set()
        self.done: list[Done] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[Any] = []

    # state

    def own_open(self) -> int:
        with self.lock:
            return len(self.held)

    def _refresh(self, case_id: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT status, version, handling_level, assignee_id FROM cases WHERE id = :i"
                ),
                {"i": case_id},
            ).one()
        with self.lock:
            if row.status in ("closed", "rejected", "merged"):
                self.held.pop(case_id, None)
            else:
                self.held[case_id] = Held(
                    row.status, row.version, row.handling_level, row.assignee_id
                )

    def _note(self, kind: str, route: str, ok: bool, case_id: int | None, error: str = "") -> None:
        with self.lock:
            self.done.append(Done(kind, route, ok, time.monotonic(), case_id))
            if error and len(self.errors) < 20:
                self.errors.append(error[:300])

    # reports

    def _report(self) -> dict[str, Any]:
        i = next(self.reports)
        p, c = len(self.spots), len(self.categories)
        spot = self.spots[i % p]
        return {
            "channel": CHANNEL,
            "external_id": f"{self.prefix}{i}",
            "category": self.categories[(i // p) % c],
            "severity": 1 + (i * 7 // 3) % 4,
            "lon": spot.lon,
            "lat": spot.lat,
            "reported_at": datetime.now(UTC).isoformat(),
            "description": f"实时基准测试 #{i}",
        }

    def _case_report(self, body: dict[str, Any]) -> Any:
        from geo_data.case_store import CaseReport

        return CaseReport(
            channel=body["channel"],
            external_id=body["external_id"],
            category_code=body["category"],
            severity=body["severity"],
            lon=body["lon"],
            lat=body["lat"],
            reported_at=datetime.fromisoformat(body["reported_at"]),
            description=body["description"],
        )

    def seed(self) -> int:
        """Report (case store, one transaction) until the district holds the target."""
        from geo_data.case_store import report_cases

        n = self.target_own - self.own_open()
        if n <= 0:
            return 0
        reports = [self._case_report(self._report()) for _ in range(n)]
        with self.engine.begin() as conn:
            outcomes = report_cases(conn, reports, self.reporter)
        for o in outcomes:
            if o.created and not o.duplicate_of:
                with self.lock:
                    self.held[o.case_id] = Held("reported", 1, "community", None)
        return sum(1 for o in outcomes if o.created and not o.duplicate_of)

    def report(self, route: str) -> None:
        body = self._report()
        case_id = None
        try:
            if route == "api":
                status, data = self._client("events").post(
                    "/api/v1/events", json.dumps(body).encode()
                )
                answer = json.loads(data) if data else {}
                if status not in (200, 201):
                    self._note("report", route, False, None, f"report {status}: {data[:200]!r}")
                    return
                case_id = answer.get("case_id")
                merged = bool(answer.get("duplicate_of"))
            else:
                from geo_data.case_store import report_case

                with self.engine.begin() as conn:
                    outcome = report_case(conn, self._case_report(body), self.reporter)
                case_id, merged = outcome.case_id, bool(outcome.duplicate_of)
        except Exception as exc:  # counted; the run goes on
            self._note("report", route, False, None, f"report: {type(exc).__name__}: {exc}")
            return
        if case_id is not None and not merged:
            with self.lock:
                self.held[case_id] = Held("reported", 1, "community", None)
        self._note("report", route, case_id is not None and not merged, case_id)

    # transitions

    def _plan(self) -> tuple[int, str, dict[str, Any], int | None] | None:
        """(case, action, inputs, original of a merge) with the cases taken out of play."""
        from geo_data.models import HANDLING_LEVELS
        from geo_data.workflow import allowed_actions

        with self.lock:
            free = [i for i in self.held if i not in self.busy]
            if not free:
                return None
            case_id = self.rng.choice(free)
            held = self.held[case_id]
            actions = allowed_actions(held.status, "operator")
            if held.level == HANDLING_LEVELS[-1]:
                actions = [a for a in actions if a != "escalate"]
            if len(free) < 2 or self.rng.random() > MERGE_WEIGHT:
                actions = [a for a in actions if a != "merge"] or actions
            action = self.rng.choice(actions)
            body: dict[str, Any] = {"version": held.version, "note": NOTES.get(action, "")}
            original = None
            if action in ("dispatch", "reassign"):
                choices = [w for w in self.workers if w != held.assignee]
                body["worker_id"] = self.rng.choice(choices)
            elif action == "close":
                body |= {"confirmed_by_resident": True, "confirmation_channel": "hotline"}
            elif action == "merge":
                original = self.rng.choice([i for i in free if i != case_id])
                body["duplicate_of"] = original
                self.busy.add(original)
            self.busy.add(case_id)
            return case_id, action, body, original

    def transition(self, route: str) -> str | None:
        """One random valid action on a free open case of the run; the action taken."""
        from geo_data.models import HANDLING_LEVELS
        from geo_data.workflow import TRANSITIONS, WorkflowError, act

        plan = self._plan()
        if plan is None:
            self._note("skipped", route, False, None)
            return None
        case_id, action, body, original = plan
        ok, new_version = False, None
        try:
            if route == "api":
                status, data = self._client("cases").post(
                    f"/api/v1/cases/{case_id}/actions/{action}", json.dumps(body).encode()
                )
                if status == 200:
                    ok, new_version = True, json.loads(data)["version"]
                else:
                    self._note(action, route, False, case_id, f"{action} {status}: {data[:200]!r}")
            else:
                with self.engine.begin() as conn:
                    try:
                        result = act(conn, case_id, action, self.operator, **body)
                        ok, new_version = True, result.version
                    except WorkflowError as exc:
                        self._note(action, route, False, case_id, f"{action}: {exc}")
            if ok:
                target = TRANSITIONS[action].target
                with self.lock:
                    held = self.held[case_id]
                    if target in ("closed", "rejected", "merged"):
                        del self.held[case_id]
                    else:
                        held.status, held.version = target, new_version
                        if action in ("dispatch", "reassign"):
                            held.assignee = body["worker_id"]
                        elif action == "escalate":
                            held.level = HANDLING_LEVELS[HANDLING_LEVELS.index(held.level) + 1]
                    if original is not None and original in self.held:
                        self.held[original].version += 1  # the merge counted a report on it
                self._note(action, route, True, case_id)
            else:
                self._refresh(case_id)
                if original is not None:
                    self._refresh(original)
        except Exception as exc:  # counted; the run goes on
            self._note(action, route, False, case_id, f"{action}: {type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                self._refresh(case_id)
        finally:
            with self.lock:
                self.busy.discard(case_id)
                if original is not None:
                    self.busy.discard(original)
        return action if ok else None

    # what a slot does

    def change(self, route: str) -> None:
        """A change of the mixed feed: a report when the run is short of open cases,
        else an action."""
        if self.own_open() < self.target_own:
            self.report(route)
        else:
            self.transition(route)

    def transition_and_refill(self, route: str) -> None:
        """An action, then a report for each case it closed (the open set stays put)."""
        self.transition(route)
        for _ in range(2):
            if self.own_open() >= self.target_own:
                break
            self.report(route)

    def _client(self, kind: str) -> Any:
        from bench.ingest_bench import Client

        client = getattr(self._local, kind, None)
        if client is None:
            client = Client(self.base, self.key)
            if kind == "cases":
                client.headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                }
            setattr(self._local, kind, client)
            with self.lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()

    def tally(self, since: float = 0.0, until: float = float("inf")) -> dict[str, Any]:
        """What was done between two monotonic times: counts per kind and route."""
        with self.lock:
            done = [d for d in self.done if since <= d.at < until]
        kinds: dict[str, int] = {}
        for d in done:
            if d.ok:
                kinds[d.kind] = kinds.get(d.kind, 0) + 1
        return {
            "changes": sum(1 for d in done if d.ok),
            "reports": kinds.get("report", 0),
            "transitions": sum(n for k, n in kinds.items() if k != "report"),
            "by_kind": dict(sorted(kinds.items())),
            "by_route": {
                r: sum(1 for d in done if d.ok and d.route == r) for r in ("api", "store")
            },
            "failed": sum(1 for d in done if not d.ok and d.kind != "skipped"),
            "skipped": sum(1 for d in done if d.kind == "skipped"),
        }


class Pacer:
    """Open loop: slot k due at start + k / rate, taken by the first free of ``threads``;
    ``step(slot)`` does the slot's work. Lateness (start - due) is recorded."""

    def __init__(self, rate: float, seconds: float, threads: int, step: Callable[[int], None]):
        self.rate, self.seconds, self.threads, self.step = rate, seconds, threads, step
        self.late_ms: list[float] = []
        self.slots = 0
        self.stop = threading.Event()
        self._next = 0
        self._lock = threading.Lock()
        self.t0 = 0.0

    def _worker(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                slot, self._next = self._next, self._next + 1
            due = self.t0 + slot / self.rate
            if due >= self.t0 + self.seconds or self.stop.wait(max(0.0, due - time.monotonic())):
                return
            started = time.monotonic()
            self.step(slot)
            with self._lock:
                self.slots += 1
                self.late_ms.append((started - due) * 1000)

    def run(self) -> None:
        """Run all slots; returns when the last is done."""
        self.t0 = time.monotonic()
        threads = [
            threading.Thread(target=self._worker, name=f"pacer-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# -- browser ------------------------------------------------------------------------------


def launch(playwright: Any) -> Any:
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


SCREEN_READY_JS = """([graph, want]) => {
  const s = window.GridWatchLive && window.GridWatchLive.screen(graph);
  const map = s && window.GridWatchMap.mapOf(s.gd);
  if (!s || !s.ready || !map || !map.loaded() || !map.getSource(window.GridWatchMap.SOURCE)) {
    return false;
  }
  return s.model.ids().length >= want;
}"""

MARKERS_JS = """async (graph) => {
  const s = window.GridWatchLive.screen(graph);
  const drawn = await window.GridWatchMap.drawnFeatures(s.gd);
  return {held: s.model.ids().length, drawn: drawn ? drawn.length : null};
}"""

# The floor: GridWatchMap.idle(gd) again and again (0.5-1.5 x the gap apart), each timed;
# a probe starts only when no batch waits for its draw, and is clean when no batch was
# applied and no map source started loading while it ran.
FLOOR_JS = """(graph) => {
  const screen = window.GridWatchLive.screen(graph);
  const gd = screen.gd;
  const map = window.GridWatchMap.mapOf(gd);
  const F = window.__gwFloor = window.__gwFloor || {probes: [], loads: 0, gen: 0};
  if (!F.hooked) {
    map.on("dataloading", () => { F.loads += 1; });
    F.longs = [];  // the main thread's long tasks (50 ms and more): [start, duration]
    new PerformanceObserver((list) => list.getEntries().forEach(
      (e) => F.longs.push([performance.timeOrigin + e.startTime, e.duration])
    )).observe({entryTypes: ["longtask"]});
    F.hooked = true;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  // The next task after the current one: when the main thread is free again (the GL
  // work of a frame runs after "idle" has fired, in the same task).
  const free = () => new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => r();
    ch.port2.postMessage(0);
  });
  F.start = (gap) => {
    const gen = ++F.gen;
    F.run = true;
    (async () => {
      while (F.run && F.gen === gen) {
        const lat = screen.stats.latencies;
        const last = lat.length ? lat[lat.length - 1] : null;
        if (last && last.drawn === null && Date.now() - last.applied < 2000) {
          await sleep(5);
          continue;
        }
        const loads = F.loads, batches = screen.stats.batches;
        const at = Date.now(), p0 = performance.now();
        await window.GridWatchMap.idle(gd);
        const ms = performance.now() - p0;
        await free();
        F.probes.push({at: at, end: Date.now(), ms: ms, free_ms: performance.now() - p0,
                       clean: F.loads === loads && screen.stats.batches === batches});
        await sleep(gap * (0.5 + Math.random()));
      }
    })();
  };
  F.stop = () => { F.run = false; };
  F.take = () => F.probes.splice(0);
  F.takeLongs = () => F.longs.splice(0);
  // One case's feature sent again through the bridge (a diff that changes nothing) and
  // timed to the map's next idle: the cost of a diff without the feed, in this page.
  F.diffs = async (n, gap) => {
    const ids = screen.model.ids();
    const out = [];
    for (let i = 0; i < n && ids.length; i++) {
      const c = screen.model.cases.get(ids[Math.floor(Math.random() * ids.length)]);
      const p0 = performance.now();
      const idle = new Promise((r) => map.once("idle", r));
      window.GridWatchMap.applyDiff(gd, {add: [], update: [screen.model.feature(c, Date.now())],
                                         remove: []});
      await idle;
      const ms = performance.now() - p0;
      await free();
      out.push([ms, performance.now() - p0]);
      await sleep(gap);
    }
    return out;
  };
  return true;
}"""

# The batches drawn since feed position `after`, in order, up to the first still waiting
# for its draw (taken on a later read); and the screen's counters.
COLLECT_JS = """([graph, after]) => {
  const s = window.GridWatchLive.screen(graph);
  const out = [];
  let pending = 0;
  for (const e of s.stats.latencies) {
    if (e.upto <= after) continue;
    if (e.drawn === null || pending) { pending += 1; continue; }
    out.push(e);
  }
  const st = s.stats;
  return {entries: out, pending: pending,
          oldest_upto: st.latencies.length ? st.latencies[0].upto : null,
          stats: {batches: st.batches, gaps: st.gaps, catchUps: st.catchUps,
                  snapshots: st.snapshots, outOfScope: st.outOfScope,
                  lastError: st.lastError || null}};
}"""


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=PAGE_TIMEOUT_MS)


class Collector:
    """The page's batch timings, read every so often (the page keeps the last 500)."""

    def __init__(self, page: Any, graph: str) -> None:
        self.page, self.graph = page, graph
        self.after = 0
        self.entries: list[dict[str, Any]] = []
        self.overrun = False  # entries dropped by the page before they were read
        self.pending = 0
        self.stats: dict[str, Any] = {}

    def read(self) -> None:
        got = self.page.evaluate(COLLECT_JS, [self.graph, self.after])
        if self.after and got["oldest_upto"] is not None and got["oldest_upto"] > self.after:
            self.overrun = True  # the page may have dropped some before they were read
        if got["entries"]:
            self.entries += got["entries"]
            self.after = got["entries"][-1]["upto"]
        self.pending, self.stats = got["pending"], got["stats"]


def run_rate(
    browser: Any,
    base: str,
    username: str,
    password: str,
    changes: Changes,
    rate: float,
    seconds: float,
    quiet: float,
    posters: int,
    gap_ms: float,
    target: int,
    viewport: dict[str, int],
) -> dict[str, Any]:
    """One rate in a fresh page: the quiet floor, then the feed with the floor interleaved."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(m.text[:200]))
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"[:200]))
        sign_in(page, base, username, password)
        page.goto(f"{base}/map?area={DISTRICT}")
        page.wait_for_function(
            SCREEN_READY_JS, arg=[MAP_GRAPH, int(target * 0.95)], timeout=PAGE_TIMEOUT_MS
        )
        page.wait_for_function(
            "document.querySelector('#live-status')?.textContent === '实时'",
            timeout=PAGE_TIMEOUT_MS,
        )
        deadline = time.monotonic() + 30
        while (page.evaluate(MARKERS_JS, MAP_GRAPH)["drawn"] or 0) < target * 0.95:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(2)  # the first draws, the counters and the colours settle
        markers_before = page.evaluate(MARKERS_JS, MAP_GRAPH)
        page.evaluate(FLOOR_JS, MAP_GRAPH)
        collector = Collector(page, MAP_GRAPH)
        collector.read()
        collector.entries.clear()  # batches of the settling, if any
        before = dict(collector.stats)

        say(f"  {rate:g}/s: quiet floor for {quiet:g} s ({markers_before['drawn']} markers)")
        page.evaluate("window.__gwFloor.takeLongs()")
        q0 = page.evaluate("Date.now()")
        page.evaluate("(gap) => window.__gwFloor.start(gap)", gap_ms)
        time.sleep(quiet)
        page.evaluate("window.__gwFloor.stop()")
        time.sleep(0.3)
        quiet_probes = page.evaluate("window.__gwFloor.take()")
        quiet_busy = busy_share(page.evaluate("window.__gwFloor.takeLongs()"), q0, page)
        diff_probes = page.evaluate("(gap) => window.__gwFloor.diffs(20, gap)", gap_ms)

        say(f"  {rate:g}/s: {seconds:g} s of changes, floor interleaved")
        pacer = Pacer(rate, seconds, posters, lambda slot: changes.change("api"))
        feeder = threading.Thread(target=pacer.run, name="drawn-feed", daemon=True)
        t0 = time.monotonic()
        r0 = page.evaluate("Date.now()")
        page.evaluate("(gap) => window.__gwFloor.start(gap)", gap_ms)
        feeder.start()
        while feeder.is_alive():
            feeder.join(1.0)
            collector.read()
        t1 = time.monotonic()
        run_busy = busy_share(page.evaluate("window.__gwFloor.takeLongs()"), r0, page)
        time.sleep(3)  # the last batches are drawn
        collector.read()
        page.evaluate("window.__gwFloor.stop()")
        time.sleep(0.3)
        probes = page.evaluate("window.__gwFloor.take()")
        markers_after = page.evaluate(MARKERS_JS, MAP_GRAPH)
    finally:
        context.close()

    entries = collector.entries
    busy = [(p["at"], p["end"]) for p in probes]

    def probe_in_flight(e: dict[str, Any]) -> bool:
        return any(a <= e["applied"] <= b or e["applied"] <= a <= e["drawn"] for a, b in busy)

    drawn = [e["drawn"] - e["sent"] for e in entries]
    quiet_floor = summary([p["ms"] for p in quiet_probes])
    floor = summary([p["ms"] for p in probes if p["clean"]])
    base_p50 = floor["p50"]
    e2d = summary(drawn)
    apart = [e["drawn"] - e["sent"] for e in entries if not probe_in_flight(e)]
    uptos = [e["upto"] for e in entries]
    steps = np.diff(uptos) if len(uptos) > 1 else np.array([])
    frame = summary([p["free_ms"] for p in probes if p["clean"]])
    ratio_50 = ratio(e2d["p50"], base_p50)
    ratio_95 = ratio(e2d["p95"], base_p50)
    return {
        "rate": rate,
        "seconds": seconds,
        "changes": changes.tally(t0, t1 + 0.5),
        "late_ms": summary(pacer.late_ms),
        "batches": len(entries),
        "entries_per_batch": round(float(steps.mean()), 2) if steps.size else None,
        "live_markers": {"before": markers_before, "after": markers_after},
        "floor_quiet_ms": quiet_floor,
        "frame_quiet_ms": summary([p["free_ms"] for p in quiet_probes]),
        "one_feature_diff_quiet_ms": summary([x[0] for x in diff_probes]),
        "one_feature_diff_frame_quiet_ms": summary([x[1] for x in diff_probes]),
        "frame_ms": frame,
        "main_thread_long_task_share": {"quiet": quiet_busy, "run": run_busy},
        "floor_ms": floor | {"probes": len(probes)},
        "emit_to_drawn_ms": e2d,
        "emit_to_drawn_no_probe_in_flight_ms": summary(apart),
        "emit_to_received_ms": summary([e["received"] - e["sent"] for e in entries]),
        "received_to_applied_ms": summary([e["applied"] - e["received"] for e in entries]),
        "applied_to_drawn_ms": summary([e["drawn"] - e["applied"] for e in entries]),
        "ratio_p50_to_frame_p50": ratio(e2d["p50"], frame["p50"]),
        "ratio_p95_to_frame_p50": ratio(e2d["p95"], frame["p50"]),
        "ratio_p50_to_floor_p50": ratio_50,
        "ratio_p95_to_floor_p50": ratio_95,
        "goal_p50_met": ratio_50 is not None and ratio_50 <= GOAL_P50,
        "goal_p95_met": ratio_95 is not None and ratio_95 <= GOAL_P95,
        "gaps_during_run": collector.stats.get("gaps", 0) - before.get("gaps", 0),
        "catch_ups_during_run": collector.stats.get("catchUps", 0) - before.get("catchUps", 0),
        "never_drawn": collector.pending,
        "timings_overrun": collector.overrun,
        "screen": collector.stats,
        "console_errors": problems[:10],
    }


def busy_share(longs: list[list[float]], since: float, page: Any) -> float | None:
    """The share of the wall time since ``since`` (page ms) spent in long tasks."""
    span = page.evaluate("Date.now()") - since
    return round(sum(d for at, d in longs if at >= since) / span, 3) if span > 0 else None


def ratio(a: Any, b: Any) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def pair(d: dict[str, Any], *keys: str) -> str:
    return " / ".join(fmt(d[k]) for k in keys)


def table(results: list[dict[str, Any]]) -> None:
    """The readable table: one row per rate (ms unless said)."""
    say(
        f"{'rate/s':>6} {'changes':>7} {'batches':>7} {'gaps':>4} {'markers':>7}"
        f" {'floor quiet':>12} {'frame quiet':>12} {'1-diff quiet':>12} {'floor run':>12}"
        f" {'frame run':>12} {'emit->drawn p50/p95/p99':>23} {'x floor p50':>12}"
        f" {'emit->recv':>12} {'appl->drawn':>13} {'busy':>5}"
    )
    for r in results:
        say(
            f"{r['rate']:>6g} {r['changes']['changes']:>7} {r['batches']:>7}"
            f" {fmt(r['gaps_during_run']):>4} {fmt(r['live_markers']['after']['drawn']):>7}"
            f" {pair(r['floor_quiet_ms'], 'p50', 'p95'):>12}"
            f" {pair(r['frame_quiet_ms'], 'p50', 'p95'):>12}"
            f" {pair(r['one_feature_diff_quiet_ms'], 'p50', 'p95'):>12}"
            f" {pair(r['floor_ms'], 'p50', 'p95'):>12}"
            f" {pair(r['frame_ms'], 'p50', 'p95'):>12}"
            f" {pair(r['emit_to_drawn_ms'], 'p50', 'p95', 'p99'):>23}"
            f" {pair(r, 'ratio_p50_to_floor_p50', 'ratio_p95_to_floor_p50'):>12}"
            f" {pair(r['emit_to_received_ms'], 'p50', 'p95'):>12}"
            f" {pair(r['applied_to_drawn_ms'], 'p50', 'p95'):>13}"
            f" {fmt(r['main_thread_long_task_share']['run']):>5}"
        )
    say("(p50 / p95 ms. floor: GridWatchMap.idle(gd) alone, the goal's floor; frame: the same")
    say(" until the main thread is free again; 1-diff: one feature re-sent through the bridge")
    say(" to the next idle; x floor p50: emit->drawn p50 and p95 over the run's floor p50;")
    say(" busy: share of the run the page's main thread spent in long tasks)")


def parse_rates(raw: str) -> list[float]:
    rates = [float(x) for x in raw.split(",") if x.strip()]
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError("rates are positive numbers, comma-separated")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.drawn_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=parse_rates, default=None, help="changes/s (2,10,50)")
    parser.add_argument("--rate", type=float, default=None, help="one rate (as --rates R)")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per rate (60)")
    parser.add_argument(
        "--events", type=int, default=None, help="changes per rate (sets --seconds)"
    )
    parser.add_argument("--quiet", type=float, default=10.0, help="seconds of quiet floor (10)")
    parser.add_argument("--target", type=int, default=TARGET_OPEN, help="open cases held (500)")
    parser.add_argument("--posters", type=int, default=6, help="posting threads (6)")
    parser.add_argument("--gap", type=float, default=400.0, help="ms between floor probes (400)")
    parser.add_argument("--database", default=None, help=f"default {DB_NAME} (loaded if empty)")
    parser.add_argument("--fresh", action="store_true", help=f"drop and reload {DB_NAME}")
    parser.add_argument("--keep-open", action="store_true", help="leave the run's cases open")
    parser.add_argument("--viewport", default="1920x1080", help="the page's (1920x1080)")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.viewport.lower().split("x"))
    viewport = {"width": width, "height": height}
    rates = args.rates or ([args.rate] if args.rate else [2.0, 10.0, 50.0])
    if args.fresh and args.database not in (None, DB_NAME):
        parser.error(f"--fresh drops {DB_NAME} only")

    from playwright.sync_api import sync_playwright

    from bench.ingest_bench import new_key
    from tests.realtime.conftest import start_server, stop_server

    loadavg_before = [round(x, 2) for x in os.getloadavg()]
    cluster, engine, load = prepare(args.database, args.fresh)
    with engine.connect() as conn:
        server_version = conn.execute(text("SHOW server_version")).scalar_one()
    district_id = area_id(engine, DISTRICT)
    username, password = bench_credentials(engine)
    token = operator_token(engine)
    key = new_key(engine, "drawn")
    log = Path(tempfile.mkdtemp(prefix="gridwatch-drawn-")) / "server.log"
    url = cluster.url(load["database"])
    results: list[dict[str, Any]] = []
    changes: Changes | None = None
    closed = None
    proc, base = start_server(url, log)
    try:
        changes = Changes(engine, base, key, token, district_id, args.target, args.seed)
        seeded = changes.seed()
        say(
            f"serving on {base} (log {log}); {changes.others_open} open cases of the demo in"
            f" {DISTRICT}, {seeded} reported now: {open_in(engine, district_id)} open;"
            f" run {changes.prefix}"
        )
        with sync_playwright() as p:
            browser = launch(p)
            try:
                for rate in rates:
                    seconds = args.events / rate if args.events else args.seconds
                    changes.seed()  # back to the target between rates
                    results.append(
                        run_rate(
                            browser,
                            base,
                            username,
                            password,
                            changes,
                            rate,
                            seconds,
                            args.quiet,
                            args.posters,
                            args.gap,
                            args.target,
                            viewport,
                        )
                    )
                    table(results[-1:])
            finally:
                browser.close()
    finally:
        stop_server(proc)
        if changes is not None:
            changes.close()
            if not args.keep_open:
                closed = close_run(engine, changes.prefix)
    log_text = log.read_text(errors="replace") if log.exists() else ""
    say("")
    table(results)
    for r in results:
        say(
            f"{r['rate']:g}/s: emit -> drawn p50 {fmt(r['emit_to_drawn_ms']['p50'])} ms ="
            f" {fmt(r['ratio_p50_to_floor_p50'])} x floor p50 {fmt(r['floor_ms']['p50'])} ms"
            f" ({'met' if r['goal_p50_met'] else 'MISSED'}, goal {GOAL_P50}x); p95"
            f" {fmt(r['emit_to_drawn_ms']['p95'])} ms = {fmt(r['ratio_p95_to_floor_p50'])} x"
            f" ({'met' if r['goal_p95_met'] else 'MISSED'}, goal {GOAL_P95}x);"
            f" changes {r['changes']['changes']} ({r['changes']['reports']} reports,"
            f" {r['changes']['transitions']} actions, {r['changes']['failed']} failed)"
        )
    result = {
        "bench": "drawn",
        "page": f"/map?area={DISTRICT}",
        "viewport": f"{viewport['width']}x{viewport['height']}",
        "target_open": args.target,
        "quiet_s": args.quiet,
        "probe_gap_ms": args.gap,
        "posters": args.posters,
        "goals": {"p50_x_floor": GOAL_P50, "p95_x_floor": GOAL_P95},
        "rates": results,
        "all_goals_met": bool(results)
        and all(r["goal_p50_met"] and r["goal_p95_met"] for r in results),
        "errors": changes.errors if changes else [],
        "closed_after_run": closed,
        "server_log_tracebacks": log_text.count("Traceback"),
        "load": load,
        "host": host_info(server_version) | {"loadavg_before": loadavg_before},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
