"""Convergence: /map, /wall and /ops follow the case store under 20 transitions a second.

Run from the repository root::

    .venv/bin/python -m bench.converge_bench [--minutes 5] [--rate 20] [--sample 0.2]
        [--settle 5] [--target 500] [--viewport 1920x1080] [--database NAME] [--fresh]
        [--keep-open]

Database and server as ``bench.drawn_bench``: ``gridwatch_bench_live`` on the private
cluster (the demo city loaded when empty), ``gridwatch serve`` on a free port, SLA
escalation off; the run reports cases in Chenghua (510108) through the case store until
the district holds ``--target`` open cases.

Screens: Debian's headless Chromium (the flags of ``tests/e2e``), one context each,
signed in as the benchmarks' operator: ``/map?area=510108``, ``/wall?area=510108`` and
``/ops?area=510108``, each until its live screen holds its snapshot and is live.

Feed, for ``--minutes``: ``--rate`` random valid actions a second on the run's open
cases (open loop, slot k due at start + k / rate, from ``--posters`` threads), the even
slots through ``POST /api/v1/cases/{id}/actions/{action}`` (bearer token), the odd ones
through the case store (``geo_data.workflow.act`` in the bench process, as the demo's
simulated worker acts); after an action that closed a case (reject, close, merge) a new
report (API or case store, as the action went) keeps the open set at the target.

Samples, every ``--sample`` seconds from the start until ``--settle`` seconds after the
feed stops: the store's open cases of the district (id, status, severity; one SQL
statement on the same database), then every screen at once (one ``evaluate`` per page,
concurrently): what each map draws (``GridWatchMap.drawnFeatures`` of its graph) and,
on /ops, the AG Grid's rows (``forEachNode``; their status is the label, mapped back),
then the store again. Four views: map, wall, ops map, ops table. A case is out of step
on a view when what the view shows of it (absent, or its status and severity) matches
neither store read: a state the store did not hold at any moment of the sample.

Out of step, per view: each case's episode runs from the first sample it is out of step
to the first it is back in step (so the resolution is one sample interval, and a change
shown before the next sample makes none); p50 / p95 / p99 / max of the episodes.
Also the whole view's episodes (samples in a row with any case out of step) and the
share of samples fully in step. At the end, after ``--settle`` seconds with no feed,
the cases still wrong on each view. Goals: p99 of the cases' episodes under 1 s on
every view, 0 wrong at the end.

Afterwards the run's cases are closed with plain SQL (``--keep-open`` skips it). The
last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bench.common import bench_credentials, host_info
from bench.drawn_bench import (
    DB_NAME,
    DISTRICT,
    OPEN_SQL,
    PAGE_TIMEOUT_MS,
    TARGET_OPEN,
    Changes,
    Pacer,
    area_id,
    close_run,
    open_in,
    operator_token,
    prepare,
    say,
    summary,
)

GOAL_P99_MS = 1000.0
SCREENS = (  # name, path, the live graph, the table
    ("map", f"/map?area={DISTRICT}", "map-graph", None),
    ("wall", f"/wall?area={DISTRICT}", "map-graph", None),
    ("ops", f"/ops?area={DISTRICT}", "ops-map", "ops-grid"),
)
VIEWS = ("map", "wall", "ops map", "ops table")

READ_JS = """async ([graph, grid]) => {
  const out = {drawn: null, rows: null, at: Date.now()};
  const s = window.GridWatchLive && window.GridWatchLive.screen(graph);
  if (s && s.ready) {
    const features = await window.GridWatchMap.drawnFeatures(s.gd);
    if (features) {
      out.drawn = features.map((f) => [f.id, f.properties.status, f.properties.severity]);
    }
  }
  if (grid) {
    const api = window.dash_ag_grid && window.dash_ag_grid.getApi(grid);
    if (api) {
      const rows = [];
      api.forEachNode((n) => {
        if (n.data) rows.push([n.data.id, n.data.status, n.data.severity]);
      });
      out.rows = rows;
    }
  }
  return out;
}"""

READY_JS = """([graph, grid, want]) => {
  const s = window.GridWatchLive && window.GridWatchLive.screen(graph);
  const map = s && window.GridWatchMap.mapOf(s.gd);
  if (!s || !s.ready || !map || !map.loaded() || !map.getSource(window.GridWatchMap.SOURCE)) {
    return false;
  }
  if (grid && !(window.dash_ag_grid && window.dash_ag_grid.getApi(grid))) return false;
  const live = document.querySelector("#live-status");
  return s.model.ids().length >= want && !!live && live.textContent === "实时";
}"""

STATS_JS = """(graph) => {
  const s = window.GridWatchLive && window.GridWatchLive.screen(graph);
  if (!s) return null;
  const st = s.stats;
  return {batches: st.batches, gaps: st.gaps, catchUps: st.catchUps, snapshots: st.snapshots,
          outOfScope: st.outOfScope, lastError: st.lastError || null,
          held: s.model.ids().length};
}"""

State = dict[int, tuple[str, int]]


def store_open(engine: Engine, district_id: int) -> State:
    """The open cases of the district as the screens should show them."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT id, status, severity FROM cases WHERE district_id = :d AND {OPEN_SQL}"),
            {"d": district_id},
        ).all()
    return {r.id: (r.status, r.severity) for r in rows}


def out_of_step(shown: State, before: State, after: State) -> set[int]:
    """Cases whose state on the view matches neither store read (absent counts too)."""
    ids = shown.keys() | before.keys() | after.keys()
    return {i for i in ids if shown.get(i) != before.get(i) and shown.get(i) != after.get(i)}


@dataclass
class Track:
    """One view's mismatch episodes: per case, and of the whole view."""

    name: str
    started: dict[int, float] = field(default_factory=dict)  # case -> first sample out
    episodes_ms: list[float] = field(default_factory=list)
    view_started: float | None = None
    view_episodes_ms: list[float] = field(default_factory=list)
    samples: int = 0
    in_step: int = 0
    unread: int = 0  # samples the view had nothing to show yet (no snapshot, no table)
    most_wrong: int = 0

    def add(self, at: float, wrong: set[int] | None) -> None:
        if wrong is None:
            self.unread += 1
            return
        self.samples += 1
        for i in wrong - self.started.keys():
            self.started[i] = at
        for i in [i for i in self.started if i not in wrong]:
            self.episodes_ms.append((at - self.started.pop(i)) * 1000)
        self.most_wrong = max(self.most_wrong, len(wrong))
        if wrong and self.view_started is None:
            self.view_started = at
        elif not wrong:
            self.in_step += 1
            if self.view_started is not None:
                self.view_episodes_ms.append((at - self.view_started) * 1000)
                self.view_started = None

    def report(self, at: float) -> dict[str, Any]:
        per_case = summary(self.episodes_ms)
        return {
            "case_episodes_ms": per_case,
            "still_out_at_end": len(self.started),
            "oldest_open_episode_ms": (
                round((at - min(self.started.values())) * 1000, 1) if self.started else None
            ),
            "view_episodes_ms": summary(self.view_episodes_ms),
            "view_out_at_end_ms": (
                round((at - self.view_started) * 1000, 1) if self.view_started else None
            ),
            "samples": self.samples,
            "in_step_share": round(self.in_step / self.samples, 3) if self.samples else None,
            "unread_samples": self.unread,
            "most_wrong_in_a_sample": self.most_wrong,
        }


def status_codes() -> dict[str, str]:
    """The table's status label (zh) -> status code."""
    from layers.labels import CASE_STATUS, label

    return {label(CASE_STATUS, code, "zh"): code for code in CASE_STATUS}


def views_of(reads: list[dict[str, Any]], codes: dict[str, str]) -> dict[str, State | None]:
    """The four views' states from the three pages' reads."""
    out: dict[str, State | None] = {}
    for (name, _, _, grid), read in zip(SCREENS, reads, strict=True):
        drawn = read["drawn"]
        label = "ops map" if name == "ops" else name
        out[label] = None if drawn is None else {i: (s, v) for i, s, v in drawn}
        if grid:
            rows = read["rows"]
            out["ops table"] = (
                None if rows is None else {i: (codes.get(s, s), v) for i, s, v in rows}
            )
    return out


async def sign_in(page: Any, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=PAGE_TIMEOUT_MS)


async def open_screens(
    browser: Any, base: str, username: str, password: str, viewport: dict[str, int], want: int
) -> tuple[list[Any], dict[str, list[str]]]:
    pages, problems = [], {}
    for name, path, graph, grid in SCREENS:
        context = await browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = await context.new_page()
        found: list[str] = []
        problems[name] = found
        page.on("console", lambda m, f=found: m.type == "error" and f.append(m.text[:200]))
        page.on("pageerror", lambda e, f=found: f.append(f"pageerror: {e}"[:200]))
        await sign_in(page, base, username, password)
        await page.goto(f"{base}{path}")
        await page.wait_for_function(READY_JS, arg=[graph, grid, want], timeout=PAGE_TIMEOUT_MS)
        pages.append(page)
        say(f"  {name}: {path} is live")
    return pages, problems


async def read_all(pages: list[Any]) -> list[dict[str, Any]]:
    return await asyncio.gather(
        *(
            p.evaluate(READ_JS, [graph, grid])
            for p, (_, _, graph, grid) in zip(pages, SCREENS, strict=True)
        )
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    from bench.ingest_bench import new_key
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.realtime.conftest import start_server, stop_server

    width, height = (int(x) for x in args.viewport.lower().split("x"))
    viewport = {"width": width, "height": height}
    loadavg_before = [round(x, 2) for x in os.getloadavg()]
    cluster, engine, load = prepare(args.database, args.fresh)
    with engine.connect() as conn:
        server_version = conn.execute(text("SHOW server_version")).scalar_one()
    district_id = area_id(engine, DISTRICT)
    username, password = bench_credentials(engine)
    token = operator_token(engine)
    key = new_key(engine, "converge")
    codes = status_codes()
    log = Path(tempfile.mkdtemp(prefix="gridwatch-converge-")) / "server.log"
    tracks = {v: Track(v) for v in VIEWS}
    changes: Changes | None = None
    pacer: Pacer | None = None
    closed = None
    wrong_at_end: dict[str, Any] = {}
    screen_stats: list[Any] = []
    problems: dict[str, list[str]] = {}
    sample_ms: list[float] = []
    intervals_ms: list[float] = []
    seconds = args.minutes * 60
    proc, base = start_server(cluster.url(load["database"]), log)
    try:
        changes = Changes(engine, base, key, token, district_id, args.target, args.seed)
        seeded = changes.seed()
        say(
            f"serving on {base} (log {log}); {changes.others_open} open cases of the demo in"
            f" {DISTRICT}, {seeded} reported now: {open_in(engine, district_id)} open;"
            f" run {changes.prefix}"
        )
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                pages, problems = await open_screens(
                    browser, base, username, password, viewport, int(args.target * 0.95)
                )
                # In step before the clock starts (the first draws settle).
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    store = store_open(engine, district_id)
                    states = views_of(await read_all(pages), codes)
                    if all(
                        s is not None and not out_of_step(s, store, store) for s in states.values()
                    ):
                        break
                    await asyncio.sleep(0.5)
                say(
                    f"feeding {args.rate:g} actions/s for {args.minutes:g} min (API and case"
                    f" store alternately), sampling every {args.sample:g} s"
                )

                def step(slot: int) -> None:
                    changes.transition_and_refill("api" if slot % 2 == 0 else "store")

                pacer = Pacer(args.rate, seconds, args.posters, step)
                feeder = threading.Thread(target=pacer.run, name="converge-feed", daemon=True)
                t0 = time.monotonic()
                feeder.start()
                stopped_at: float | None = None
                last = t0
                k = 0
                next_print = t0 + 10
                while True:
                    now = time.monotonic()
                    if stopped_at is None and not feeder.is_alive():
                        stopped_at = now
                        say(f"  feed stopped at {now - t0:.0f} s; settling {args.settle:g} s")
                    if stopped_at is not None and now - stopped_at >= args.settle:
                        break
                    due = t0 + k * args.sample
                    k += 1
                    if due > now:
                        await asyncio.sleep(due - now)
                    elif now - due > args.sample:
                        k = int((now - t0) / args.sample) + 1  # late: no catching up in bursts
                    a0 = time.monotonic()
                    before = await asyncio.to_thread(store_open, engine, district_id)
                    reads = await read_all(pages)
                    after = await asyncio.to_thread(store_open, engine, district_id)
                    a1 = time.monotonic()
                    at = (a0 + a1) / 2
                    sample_ms.append((a1 - a0) * 1000)
                    intervals_ms.append((a0 - last) * 1000)
                    last = a0
                    for view, shown in views_of(reads, codes).items():
                        tracks[view].add(
                            at, None if shown is None else out_of_step(shown, before, after)
                        )
                    if a1 >= next_print:
                        next_print += 10
                        say(
                            f"  t={a1 - t0:5.0f} s  out of step now: "
                            + ", ".join(f"{v} {len(tracks[v].started)}" for v in VIEWS)
                            + f"  (open {len(after)}, sample {sample_ms[-1]:.0f} ms)"
                        )
                feeder.join()
                end = time.monotonic()
                # The end: nothing changes any more; every view must show the store.
                store = store_open(engine, district_id)
                final = views_of(await read_all(pages), codes)
                for view, shown in final.items():
                    wrong = sorted(out_of_step(shown or {}, store, store))
                    wrong_at_end[view] = {
                        "count": len(wrong),
                        "examples": [
                            {"id": i, "shown": (shown or {}).get(i), "store": store.get(i)}
                            for i in wrong[:5]
                        ],
                        "shown": None if shown is None else len(shown),
                    }
                screen_stats = [
                    await pg.evaluate(STATS_JS, graph)
                    for pg, (_, _, graph, _) in zip(pages, SCREENS, strict=True)
                ]
            finally:
                await browser.close()
    finally:
        stop_server(proc)
        if changes is not None:
            changes.close()
            if not args.keep_open:
                closed = close_run(engine, changes.prefix)
    log_text = log.read_text(errors="replace") if log.exists() else ""
    per_view = {v: tracks[v].report(end) | {"wrong_at_end": wrong_at_end.get(v)} for v in VIEWS}
    goals = {
        v: {
            "p99_under_1s": (r["case_episodes_ms"]["p99"] or 0.0) < GOAL_P99_MS,
            "none_wrong_at_end": bool(r["wrong_at_end"]) and r["wrong_at_end"]["count"] == 0,
        }
        for v, r in per_view.items()
    }
    feed_s = (stopped_at or end) - t0
    return {
        "bench": "converge",
        "screens": [s[1] for s in SCREENS],
        "viewport": args.viewport,
        "minutes": args.minutes,
        "rate": args.rate,
        "feed_s": round(feed_s, 1),
        "sample_s": args.sample,
        "settle_s": args.settle,
        "target_open": args.target,
        "changes": changes.tally() if changes else None,
        "actions_per_s": round(changes.tally()["transitions"] / feed_s, 2) if changes else None,
        "late_ms": summary(pacer.late_ms) if pacer else None,
        "sample_read_ms": summary(sample_ms),
        "sample_interval_ms": summary(intervals_ms[1:]),
        "views": per_view,
        "goals": goals,
        "all_goals_met": all(all(g.values()) for g in goals.values()),
        "screen_stats": dict(zip([s[0] for s in SCREENS], screen_stats, strict=False)),
        "console_errors": {k: v[:5] for k, v in problems.items()},
        "errors": changes.errors if changes else [],
        "closed_after_run": closed,
        "server_log_tracebacks": log_text.count("Traceback"),
        "load": load,
        "host": host_info(server_version) | {"loadavg_before": loadavg_before},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def fmt(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def table(result: dict[str, Any]) -> None:
    say(
        f"{'view':<10} {'episodes':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
        f" {'in step':>7} {'view ep. p50/max':>17} {'wrong at end':>12} {'goals':>6}"
    )
    for view, r in result["views"].items():
        e, w = r["case_episodes_ms"], r["view_episodes_ms"]
        ok = all(result["goals"][view].values())
        wrong = r["wrong_at_end"]["count"] if r["wrong_at_end"] else "-"
        say(
            f"{view:<10} {e['n']:>8} {fmt(e['p50']):>7} {fmt(e['p95']):>7} {fmt(e['p99']):>7}"
            f" {fmt(e['max']):>7} {fmt(r['in_step_share']):>7}"
            f" {fmt(w['p50']) + ' / ' + fmt(w['max']):>17} {wrong:>12}"
            f" {'met' if ok else 'MISSED':>6}"
        )
    say("(ms; episodes: a case out of step from its first sample out to its first back in)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench.converge_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="minutes of feed (5)")
    parser.add_argument("--rate", type=float, default=20.0, help="actions a second (20)")
    parser.add_argument("--sample", type=float, default=0.2, help="seconds between samples (0.2)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the feed (5)")
    parser.add_argument("--target", type=int, default=TARGET_OPEN, help="open cases held (500)")
    parser.add_argument("--posters", type=int, default=4, help="posting threads (4)")
    parser.add_argument("--viewport", default="1920x1080", help="each page's (1920x1080)")
    parser.add_argument("--database", default=None, help=f"default {DB_NAME} (loaded if empty)")
    parser.add_argument("--fresh", action="store_true", help=f"drop and reload {DB_NAME}")
    parser.add_argument("--keep-open", action="store_true", help="leave the run's cases open")
    parser.add_argument("--seed", type=int, default=20261205)
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.minutes <= 0 or args.sample <= 0 or args.settle < 0:
        parser.error("--rate, --minutes and --sample must be positive, --settle >= 0")
    result = asyncio.run(run(args))
    say("")
    table(result)
    c = result["changes"]
    say(
        f"feed: {c['transitions']} actions ({result['actions_per_s']}/s) and {c['reports']}"
        f" reports in {result['feed_s']} s, by route {c['by_route']}, {c['failed']} failed;"
        f" sample read p50 {result['sample_read_ms']['p50']} ms, interval p50"
        f" {result['sample_interval_ms']['p50']} ms"
    )
    for name, st in result["screen_stats"].items():
        if st:
            say(
                f"{name}: {st['batches']} batches, {st['gaps']} gaps (caught up over HTTP"
                f" {st['catchUps']} times), {st['snapshots']} snapshots, holds {st['held']}"
            )
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0 if result["all_goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
