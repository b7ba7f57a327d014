"""Emit-to-drawn latency in the browser: server emits a feed batch -> map redrawn.

Runs `gridwatch serve` against the demo database, opens the map in Debian's headless
Chromium, posts N reports through the API at a steady rate, and for each batch takes
(a) emit -> received by the page's Socket.IO component (the raw delivery baseline) and
(b) emit -> plotly finished redrawing the patched figure. Same machine, one clock.

    .venv/bin/python -m bench.drawn_bench [--events 60] [--rate 2]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import text

from app.cli import migrate_all
from app.runtime import main_cluster
from app.settings import Settings
from bench.common import bench_credentials
from geo_data.actors import system_actor
from geo_data.api_keys import create_key
from geo_data.db import make_engine
from tests.realtime.conftest import start_server, stop_server
from tests.support import post_event

HOOK = """() => {
  const div = document.querySelector('#map-graph .js-plotly-plot');
  window.__drawn = [];
  let last = null;
  div.on('plotly_afterplot', () => {
    const live = window.gridwatchLive;
    if (live && live.upto !== last) {
      last = live.upto;
      window.__drawn.push({sent: live.sent, received: live.received, drawn: Date.now()});
    }
  });
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="events per second")
    parser.add_argument("--database", default="gridwatch", help="a database with the demo city")
    args = parser.parse_args()

    settings = Settings()
    cluster = main_cluster(settings)
    cluster.start()
    engine = make_engine(cluster.url(args.database))
    migrate_all(engine)
    with engine.begin() as conn:
        if not conn.execute(text("SELECT count(*) FROM areas WHERE level = 'grid'")).scalar():
            sys.exit(f"{args.database} has no demo city: run `gridwatch etl demo` first")
        key = create_key(conn, f"bench-drawn-{uuid.uuid4().hex[:6]}", "app", system_actor(conn))
        spots = conn.execute(
            text(
                "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
                " ORDER BY random() LIMIT :n"
            ),
            {"n": args.events},
        ).all()
    username, password = bench_credentials(engine)
    log = Path("/tmp/gridwatch-drawn-bench.log")
    proc, base = start_server(cluster.url(args.database), log)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                ],
            )
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(f"{base}/login")  # the screen signs in like an operator does
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(f"{base}/map?area=510108")
            page.wait_for_selector("#map-graph .js-plotly-plot .maplibregl-canvas", timeout=30_000)
            page.wait_for_function(
                "document.querySelector('#live-status')?.textContent === '实时'", timeout=30_000
            )
            page.evaluate(HOOK)
            started = time.monotonic()
            for n, (lon, lat) in enumerate(spots):
                body = {
                    "channel": "app",
                    "external_id": f"DRAWN-{uuid.uuid4().hex}",
                    "category": "E0101",
                    "severity": 3,
                    "lon": lon,
                    "lat": lat,
                    "reported_at": datetime.now(UTC).isoformat(),
                }
                post_event(base, key, body, expect=(200, 201))
                pause = started + (n + 1) / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            time.sleep(2)
            samples = page.evaluate("window.__drawn")
            live_points = page.evaluate(
                "document.querySelector('#map-graph .js-plotly-plot').data"
                ".find(t => t.uid === 'live-new').lon.length"
            )
            browser.close()
    finally:
        stop_server(proc)
        engine.dispose()
    received = [s["received"] - s["sent"] for s in samples]
    drawn = [s["drawn"] - s["sent"] for s in samples]
    result = {
        "bench": "drawn",
        "events": args.events,
        "rate": args.rate,
        "batches": len(samples),
        "live_markers": live_points,
        "emit_to_received_ms": {"p50": pct(received, 0.5), "p95": pct(received, 0.95)},
        "emit_to_drawn_ms": {
            "p50": pct(drawn, 0.5),
            "p95": pct(drawn, 0.95),
            "max": round(max(drawn), 1),
            "mean": round(statistics.fmean(drawn), 1),
        },
    }
    print(f"{len(samples)} batches for {args.events} events; {live_points} live markers")
    print(
        f"emit -> received  p50 {result['emit_to_received_ms']['p50']} ms"
        f"  p95 {result['emit_to_received_ms']['p95']} ms"
    )
    print(
        f"emit -> drawn     p50 {result['emit_to_drawn_ms']['p50']} ms"
        f"  p95 {result['emit_to_drawn_ms']['p95']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
