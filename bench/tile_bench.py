"""Vector tile benchmark (issue 14): tiles through the app, cold and warm, against the
bare ``ST_AsMVT`` SQL for the same tiles in the same run.

Run from the repository root::

    .venv/bin/python -m bench.tile_bench [--database gridwatch] [--sample 150]
    .venv/bin/python -m bench.tile_bench --database gridwatch_city   # when present

Data: the demo database (``gridwatch`` on the private cluster, as ``scripts/demo``
serves it; the demo city is loaded into it when it holds no areas). ``gridwatch_city``
(``gridwatch etl demo --scale city``) is measured only when it exists.

Tiles: those covering district 510108 (Chenghua) at z10, z13 and z16, at most
``--sample`` per zoom (spread evenly over the district's tiles), for every layer whose
zoom range holds the zoom (repeated in rounds, the cache emptied between them, to
at least 30 samples: z10 is one tile). Per tile, after one untimed pass of the bare SQL over all
of them (so PostgreSQL's buffers are warm for both sides):

- ``sql``: the layer's statement (``geo_data.tiles``, as an operator sees it) on one
  raw psycopg connection, the bare query the endpoint runs;
- ``cold``: ``GET /tiles/<layer>/<z>/<x>/<y>.pbf`` through the Flask test client of a
  fresh app with an empty tile cache (session check, generation read, the cut, gzip,
  the cache write), with ``Accept-Encoding: gzip`` as browsers send it;
- ``warm``: the same request again, served from the cache.

- ``floor``: a signed-in ``GET /tiles/`` (a JSON 404): the session check and the app's
  request hooks that every tile request pays before any tile work.

``sql`` and ``cold`` alternate which goes first, tile by tile. Reported per layer and
zoom: p50/p95 of each (ms), ``ratio_p50``/``ratio_p95`` = cold / sql, and
``ratio_net_p50`` = (cold - floor) / sql at the median. Goals: cold within 1.3x the
bare SQL, warm p95 under 5 ms.

Throughput: ``gridwatch serve --workers 4`` on the same database (its own empty tile
cache), ``--clients`` threads (16) with keep-alive connections requesting the z13 and
z16 tiles of every layer in turn for ``--seconds`` (20): tiles per second, first the
pass that cuts them (cold), then from the cache (warm).

View bytes: a 1920x1080 view (512-px tiles, as MapLibre draws vector tiles) centred on
the district at z10, z13 and z16: the bytes of every layer's tiles in view as sent
(gzip) and decoded.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Engine, text

from app.tiles import GZIP_LEVEL
from bench.common import bench_token, host_info, open_bench_database
from geo_data.tiles import LAYERS, tile_bounds, tile_params, tiles_covering

DISTRICT_CODE = "510108"
ZOOMS = (10, 13, 16)
VIEW_PX = (1920, 1080)
TILE_PX = 512  # MapLibre draws a vector tile of zoom z over 512 px at map zoom z
GOAL_RATIO = 1.3
# A signed-in request that reaches no tile (a JSON 404 under /tiles/): the session check
# and the app's hooks, which every tile request pays before any tile work.
FLOOR_PATH = "/tiles/"
MIN_SAMPLES = 30  # a zoom with fewer tiles (z10: one) is measured in several rounds
GOAL_WARM_P95_MS = 5.0


def say(message: str) -> None:
    print(message, flush=True)


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def psycopg_sql(statement: str) -> str:
    """SQLAlchemy's ``:name`` parameters as psycopg's ``%(name)s``."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", statement.replace("%", "%%"))


def district(engine: Engine) -> tuple[int, list[float]]:
    with engine.connect() as conn:
        area_id = conn.execute(
            text("SELECT id FROM areas WHERE code = :c"), {"c": DISTRICT_CODE}
        ).scalar_one()
        bounds, _centre = tile_bounds(conn, area_id)
    return area_id, bounds


def sample(tiles: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    if len(tiles) <= limit:
        return tiles
    step = len(tiles) / limit
    return [tiles[int(i * step)] for i in range(limit)]


def view_tiles(bounds: list[float], z: int) -> list[tuple[int, int]]:
    """The tiles of a 1920x1080 view centred on ``bounds`` at map zoom ``z``."""
    lon = (bounds[0] + bounds[2]) / 2
    lat = (bounds[1] + bounds[3]) / 2
    n = 2**z
    cx = (lon + 180) / 360 * n
    cy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    half_w, half_h = VIEW_PX[0] / TILE_PX / 2, VIEW_PX[1] / TILE_PX / 2
    xs = range(math.floor(cx - half_w), math.floor(cx + half_w) + 1)
    ys = range(math.floor(cy - half_h), math.floor(cy + half_h) + 1)
    return [(x, y) for x in xs for y in ys]


# -- in process: bare SQL against the endpoint ------------------------------------------


def measure_in_process(
    engine: Engine, conninfo: str, plan: dict[tuple[str, int], list[tuple[int, int]]]
) -> dict[str, Any]:
    from app import create_app
    from app.settings import Settings

    token = bench_token(engine)
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    with tempfile.TemporaryDirectory(prefix="gridwatch-tile-bench-") as state:
        settings = Settings(state_dir=Path(state), sla_enabled=False)
        client = create_app(settings, engine=engine).server.test_client()
        results: dict[str, Any] = {}
        with psycopg.connect(conninfo, autocommit=True) as raw:
            statements = {
                name: psycopg_sql(layer.statement(True)) for name, layer in LAYERS.items()
            }
            say("warm-up: one untimed pass of the bare SQL over every tile")
            for (name, z), tiles in plan.items():
                for x, y in tiles:
                    raw.execute(statements[name], tile_params(LAYERS[name], z, x, y, None))
            client.get(FLOOR_PATH, headers=headers)  # the app's first request sets up lazily
            cache_root = client.application.extensions["gridwatch.tiles"].cache.root
            for (name, z), tiles in plan.items():
                sql_ms: list[float] = []
                cold_ms: list[float] = []
                warm_ms: list[float] = []
                floor_ms: list[float] = []
                sizes: list[int] = []
                rounds = math.ceil(MIN_SAMPLES / len(tiles))
                for i, (x, y) in enumerate(tiles * rounds):
                    if i and i % len(tiles) == 0:  # another round: cold again
                        shutil.rmtree(cache_root, ignore_errors=True)
                    params = tile_params(LAYERS[name], z, x, y, None)
                    url = f"/tiles/{name}/{z}/{x}/{y}.pbf"

                    t = time.perf_counter()
                    client.get(FLOOR_PATH, headers=headers)
                    floor_ms.append((time.perf_counter() - t) * 1000)
                    for step in ("sql", "cold") if i % 2 == 0 else ("cold", "sql"):
                        t = time.perf_counter()
                        if step == "sql":
                            raw.execute(statements[name], params).fetchone()
                            sql_ms.append((time.perf_counter() - t) * 1000)
                            continue
                        response = client.get(url, headers=headers)
                        cold_ms.append((time.perf_counter() - t) * 1000)
                        assert response.status_code == 200, response.get_data()[:200]
                        assert response.headers["X-Tile-Cache"] == "miss"
                        sizes.append(len(response.get_data()))
                    t = time.perf_counter()
                    response = client.get(url, headers=headers)
                    warm_ms.append((time.perf_counter() - t) * 1000)
                    assert response.headers["X-Tile-Cache"] == "hit"
                row = {
                    "tiles": len(tiles),
                    "samples": len(sql_ms),
                    "sql_p50": pct(sql_ms, 50),
                    "sql_p95": pct(sql_ms, 95),
                    "cold_p50": pct(cold_ms, 50),
                    "cold_p95": pct(cold_ms, 95),
                    "warm_p50": pct(warm_ms, 50),
                    "warm_p95": pct(warm_ms, 95),
                    "floor_p50": pct(floor_ms, 50),
                    "bytes_p50": int(np.percentile(sizes, 50)) if sizes else 0,
                    "bytes_max": max(sizes, default=0),
                }
                row["ratio_p50"] = round(row["cold_p50"] / max(row["sql_p50"], 1e-6), 2)
                row["ratio_p95"] = round(row["cold_p95"] / max(row["sql_p95"], 1e-6), 2)
                # Without the fixed cost every signed-in request pays (the session check).
                net = row["cold_p50"] - row["floor_p50"]
                row["ratio_net_p50"] = round(net / max(row["sql_p50"], 1e-6), 2)
                results[f"{name}@z{z}"] = row
                say(
                    f"  {name:9s} z{z:<2d} {len(tiles):4d} tiles  sql {row['sql_p50']:7.2f}/"
                    f"{row['sql_p95']:7.2f}  cold {row['cold_p50']:7.2f}/{row['cold_p95']:7.2f}"
                    f" ({row['ratio_p50']:.2f}x/{row['ratio_p95']:.2f}x)  warm "
                    f"{row['warm_p50']:5.2f}/{row['warm_p95']:5.2f} ms  "
                    f"floor {row['floor_p50']:.2f}  net {row['ratio_net_p50']:.2f}x  "
                    f"{row['bytes_p50']:,} B p50"
                )
    return results


# -- a served app: many clients ---------------------------------------------------------


class Hammer:
    """``clients`` threads, each with a keep-alive connection, walking a list of paths."""

    def __init__(self, host: str, port: int, token: str, paths: list[str]) -> None:
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
        self.paths = paths
        self.errors = 0
        self.done = 0
        self._next = 0
        self._lock = threading.Lock()

    def _take(self, cycle: bool) -> str | None:
        with self._lock:
            if self._next >= len(self.paths) and not cycle:
                return None
            path = self.paths[self._next % len(self.paths)]
            self._next += 1
            return path

    def _worker(self, stop_at: float, cycle: bool) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        while time.monotonic() < stop_at:
            path = self._take(cycle)
            if path is None:
                break
            try:
                conn.request("GET", path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            with self._lock:
                self.done += ok
                self.errors += not ok
        conn.close()

    def run(self, clients: int, seconds: float, *, cycle: bool) -> float:
        """Tiles answered per second."""
        self.done = self.errors = self._next = 0
        stop_at = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self._worker, args=(stop_at, cycle)) for _ in range(clients)
        ]
        t = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.done / (time.perf_counter() - t)


def measure_served(
    url: str, engine: Engine, paths: list[str], clients: int, seconds: float, workers: int
) -> dict[str, Any]:
    from bench.ingest_bench import running_server

    token = bench_token(engine)
    with tempfile.TemporaryDirectory(prefix="gridwatch-tile-serve-") as tmp:
        os.environ["GRIDWATCH_STATE_DIR"] = str(Path(tmp) / "state")  # an empty tile cache
        try:
            with running_server(url, Path(tmp), workers=workers) as base:
                host, port = base.removeprefix("http://").split(":")
                hammer = Hammer(host, int(port), token, paths)
                cold = hammer.run(clients, 600.0, cycle=False)
                cold_errors = hammer.errors
                warm = hammer.run(clients, seconds, cycle=True)
                return {
                    "workers": workers,
                    "clients": clients,
                    "distinct_tiles": len(paths),
                    "cold_tiles_per_s": round(cold, 1),
                    "warm_tiles_per_s": round(warm, 1),
                    "warm_seconds": seconds,
                    "errors": cold_errors + hammer.errors,
                }
        finally:
            os.environ.pop("GRIDWATCH_STATE_DIR", None)


# -- view bytes -------------------------------------------------------------------------


def view_bytes(engine: Engine, conninfo: str, bounds: list[float]) -> dict[str, Any]:
    import gzip

    out: dict[str, Any] = {}
    with psycopg.connect(conninfo, autocommit=True) as raw:
        for z in ZOOMS:
            tiles = view_tiles(bounds, z)
            by_layer: dict[str, int] = {}
            total_raw = total_gz = 0
            for name, layer in LAYERS.items():
                if not layer.has_zoom(z):
                    continue
                statement = psycopg_sql(layer.statement(True))
                size = 0
                for x, y in tiles:
                    data = bytes(
                        raw.execute(statement, tile_params(layer, z, x, y, None)).fetchone()[0]
                        or b""
                    )
                    total_raw += len(data)
                    gz = len(gzip.compress(data, GZIP_LEVEL, mtime=0)) if data else 0
                    size += gz
                    total_gz += gz
                by_layer[name] = size
            out[f"z{z}"] = {
                "tiles_in_view": len(tiles),
                "bytes_gzip": total_gz,
                "bytes_raw": total_raw,
                "gzip_by_layer": by_layer,
            }
            say(
                f"  view z{z}: {len(tiles)} tiles, {total_gz:,} B gzip ({total_raw:,} B raw);"
                f" {by_layer}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.tile_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="gridwatch", help="database (gridwatch)")
    parser.add_argument("--sample", type=int, default=150, help="tiles per zoom at most (150)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="warm hammering (20 s)")
    parser.add_argument("--no-serve", action="store_true", help="skip the served throughput")
    args = parser.parse_args(argv)
    if not 1 <= args.sample <= 5000 or not 1 <= args.clients <= 256 or args.seconds <= 0:
        parser.error("--sample 1..5000, --clients 1..256, --seconds > 0")

    from app.settings import Settings

    settings = Settings(db_name=args.database)
    if settings.database_url:
        say("note: GRIDWATCH_DATABASE_URL is ignored; the benchmark uses the private cluster")
    if args.database != "gridwatch":
        from app.runtime import main_cluster

        probe = main_cluster(settings)
        probe.start()
        with psycopg.connect(probe.conninfo("postgres")) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (args.database,)
            ).fetchone():
                say(f"no database {args.database} on the private cluster: nothing to measure")
                return 1
    cluster, engine = open_bench_database(settings, args.database, drop=False, say=say)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT EXISTS (SELECT 1 FROM areas)")).scalar()
    if not loaded:
        from etl.demo_load import load_demo

        say(f"loading the demo city into {args.database} ...")
        load_demo(engine)
    conninfo = cluster.conninfo(args.database)
    with psycopg.connect(conninfo) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("areas", "buildings", "cameras", "workers", "roads", "water", "landuse")
        }
        counts["open_cases"] = conn.execute(
            "SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'rejected', 'merged')"
        ).fetchone()[0]
    say(f"{args.database}: {counts}")

    _district_id, bounds = district(engine)
    plan: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for z in ZOOMS:
        tiles = sample(tiles_covering(bounds, z), args.sample)
        for name, layer in LAYERS.items():
            if layer.has_zoom(z):
                plan[(name, z)] = tiles
    covering = {z: len(tiles_covering(bounds, z)) for z in ZOOMS}
    say("district tiles per zoom (timed): " + ", ".join(
        f"z{z} {n} ({min(n, args.sample)})" for z, n in covering.items()))  # fmt: skip
    say("per layer and zoom: p50/p95 ms")
    per_layer = measure_in_process(engine, conninfo, plan)
    say("1920x1080 view bytes")
    views = view_bytes(engine, conninfo, bounds)
    served = None
    if not args.no_serve:
        paths = [
            f"/tiles/{name}/{z}/{x}/{y}.pbf"
            for (name, z), tiles in plan.items()
            if z in (13, 16)
            for x, y in tiles
        ]
        url = cluster.url(args.database).replace("postgresql+psycopg://", "postgresql://")
        say(f"serving with {args.workers} workers, {args.clients} clients, {len(paths)} tiles")
        served = measure_served(url, engine, paths, args.clients, args.seconds, args.workers)
        say(
            f"  cold {served['cold_tiles_per_s']:,} tiles/s, warm"
            f" {served['warm_tiles_per_s']:,} tiles/s, errors {served['errors']}"
        )
    worst_ratio = max(r["ratio_p95"] for r in per_layer.values())
    worst_warm = max(r["warm_p95"] for r in per_layer.values())
    goals = {
        "cold_within_1_3x_sql": all(
            r["ratio_p50"] <= GOAL_RATIO and r["ratio_p95"] <= GOAL_RATIO
            for r in per_layer.values()
        ),
        "warm_p95_under_5ms": worst_warm < GOAL_WARM_P95_MS,
        "worst_ratio_p95": worst_ratio,
        "worst_warm_p95_ms": worst_warm,
    }
    say(f"goals: {goals}")
    print(
        json.dumps(
            {
                "bench": "tile_bench",
                "database": args.database,
                "counts": counts,
                "sample": args.sample,
                "layers": per_layer,
                "views": views,
                "served": served,
                "goals": goals,
                "host": host_info(server_version),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
