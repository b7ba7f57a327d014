"""Map drill-down benchmark (issue 3): the map callback against the bare SQL, per level.

Run from the repository root::

    .venv/bin/python -m bench.map_bench [--repeat 30] [--rebuild]

Data: the database ``gridwatch_bench`` on the private cluster holds the demo city
(default seed) plus 1,000,000 more cases generated for Chenghua with another seed and
loaded through the real bulk loader (``geo_data.loaders.load_cases``) in chunks of
100,000, one transaction each. It is built on the first run and reused afterwards
(when it holds at least 1,000,000 cases); ``--rebuild`` drops and rebuilds it. An
interrupted build resumes at the first chunk not yet committed.

Levels: district 510108, and the street, community, grid and courtyard holding the
most cases; on a city-scale database (``--database gridwatch_city``) the city as well,
scoped as the app scopes it (its districts' cases). ``--layers`` draws other layers than
the map page's defaults (areas and incidents), e.g. ``areas,hexes,incidents``.

Per level, after 3 warm-up calls of each, ``--repeat`` rounds each time:

- the callback ``callbacks.map.map_view(ctx, MapState(area_code=..., now=END))``
  (wall time of the call; the JSON encoding Dash would do after it is timed
  separately and reported as ``encode_*``);
- the bare SQL the same view needs, with raw psycopg on one connection: (a) case
  counts per H3 cell (resolution 8/9/10/11/12 for district/street/community/grid/
  courtyard) in the window, (b) open and overdue counts per child area (none for a
  courtyard), (c) the open incidents with position, severity, status and due time;
- the same with (b) "tight": the open-case predicate in WHERE rather than only in
  the FILTER clauses, so the partial indexes on open cases serve it (reported beside,
  as ``sql_tight_*`` and ``ratio_tight_p95``; the goal uses the issue's form).

The three alternate within a round so that drift on the machine hits all alike.
Window: "live", i.e. the open cases (status not closed, rejected or merged) as seen
at ``END``, the fixed end of the generated year.

Goals per level: callback p95 under 150 ms and within 2x the bare SQL p95, and a
payload (the figure as Dash sends it: ``plotly.io.json.to_json_plotly``, compact
separators; before 2026-12-02 the bench counted ``json.dumps`` with spaces, 5-8 % more)
under 500 KB (500,000 bytes).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import psycopg
from plotly.io.json import to_json_plotly
from psycopg import sql as psql
from sqlalchemy import Engine, text

from bench.common import open_bench_database
from geo_data.cluster import Cluster
from geo_data.models import CLOSED_STATUSES

if TYPE_CHECKING:
    from app.settings import Settings

DB_NAME = "gridwatch_bench"
END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the generated year ends here; "now"
EXTRA_CASES = 1_000_000
EXTRA_SEED = 3_510_108  # not the demo's default seed (510108)
EXTRA_PREFIX = "B-"
CHUNK = 100_000
SOURCE = "bench"

DISTRICT_CODE = "510108"
LEVELS = ("district", "street", "community", "grid", "courtyard")
H3_RESOLUTION = {
    "city": 7,
    "district": 8,
    "street": 9,
    "community": 10,
    "grid": 11,
    "courtyard": 12,
}
CHILD = {
    "city": "district",
    "district": "street",
    "street": "community",
    "community": "grid",
    "grid": "courtyard",
}

OPEN_SQL = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))
WINDOW = "live"
WINDOW_SQL = {"live": OPEN_SQL}

WARMUP = 3
GOAL_P95_MS = 150.0
GOAL_RATIO = 2.0
GOAL_PAYLOAD_BYTES = 500_000


def say(message: str) -> None:
    print(message, flush=True)


# -- data -------------------------------------------------------------------------------


def _scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _recorded_build(engine: Engine) -> dict[str, Any] | None:
    """The build figures kept in the database's comment by the run that built it."""
    comment = _scalar(
        engine,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
        f" WHERE datname = '{DB_NAME}'",
    )
    try:
        return json.loads(comment) if comment else None
    except ValueError:
        return None


def _extra_cases() -> gpd.GeoDataFrame:
    """The 1,000,000 extra cases as points, ids prefixed so they never meet the demo's."""
    from etl.demo import generate_cases, generate_city
    from geo_data.catalogue import categories_frame

    city = generate_city()
    cases = generate_cases(
        city, categories_frame(), end=END, seed=EXTRA_SEED, per_year_chenghua=EXTRA_CASES
    )
    cases["external_id"] = EXTRA_PREFIX + cases["external_id"]
    cases["duplicate_of_external_id"] = cases["duplicate_of_external_id"].map(
        lambda v: None if v is None else EXTRA_PREFIX + v
    )
    frame = cases.drop(columns=["lon", "lat"])
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(cases["lon"], cases["lat"]), crs=4326
    )


def build(engine: Engine) -> dict[str, float]:
    """Demo city (if no areas) plus the extra cases, chunk by chunk; the seconds spent."""
    from etl.demo_load import load_demo
    from geo_data.actors import system_actor
    from geo_data.loaders import load_cases

    spent: dict[str, float] = {}
    if not _scalar(engine, "SELECT EXISTS (SELECT 1 FROM areas)"):
        say("loading the demo city (one transaction) ...")
        t = time.perf_counter()
        counts = load_demo(engine, end=END)
        spent["demo_s"] = time.perf_counter() - t
        say(f"  demo city: {counts.get('cases', 0):,} cases in {spent['demo_s']:.1f} s")

    say(f"generating {EXTRA_CASES:,} cases (seed {EXTRA_SEED}) ...")
    t = time.perf_counter()
    points = _extra_cases()
    spent["generate_s"] = time.perf_counter() - t
    say(f"  generated {len(points):,} in {spent['generate_s']:.1f} s")

    stored = _scalar(engine, f"SELECT count(*) FROM cases WHERE external_id LIKE '{EXTRA_PREFIX}%'")
    chunks = range(0, len(points), CHUNK)
    t = time.perf_counter()
    for number, start in enumerate(chunks, 1):
        stop = min(start + CHUNK, len(points))
        if stop <= stored:  # committed by an interrupted earlier run
            say(f"  chunk {number}/{len(chunks)}: already stored")
            continue
        t_chunk = time.perf_counter()
        with engine.begin() as conn:
            result = load_cases(conn, points.iloc[start:stop], system_actor(conn), SOURCE)
        say(
            f"  chunk {number}/{len(chunks)}: {result.rows:,} cases loaded in"
            f" {time.perf_counter() - t_chunk:.1f} s"
            f" ({time.perf_counter() - t:.0f} s so far)"
        )
    spent["cases_s"] = time.perf_counter() - t

    say("ANALYZE ...")
    t = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    spent["analyze_s"] = time.perf_counter() - t
    spent["total_s"] = sum(spent.values())
    return {k: round(v, 1) for k, v in spent.items()}


def prepare(settings: Settings, *, rebuild: bool) -> tuple[Cluster, Engine, dict[str, Any]]:
    """The benchmark database, built if needed; also how long its build took."""
    cluster, engine = open_bench_database(settings, DB_NAME, drop=rebuild, say=say)
    n = _scalar(engine, "SELECT count(*) FROM cases")
    if n >= EXTRA_CASES:
        recorded = _recorded_build(engine) or {}
        say(f"reusing {DB_NAME}: {n:,} cases (--rebuild to redo)")
        return cluster, engine, {"reused": True, **recorded}
    t = time.perf_counter()
    spent = build(engine)
    say(f"build took {time.perf_counter() - t:.1f} s: {spent}")
    note = json.dumps(spent | {"built_at": datetime.now(UTC).isoformat(timespec="seconds")})
    with psycopg.connect(cluster.conninfo(DB_NAME), autocommit=True) as conn:
        conn.execute(
            psql.SQL("COMMENT ON DATABASE {} IS {}").format(
                psql.Identifier(DB_NAME), psql.Literal(note)
            )
        )
    return cluster, engine, {"reused": False, **spent}


# -- levels -----------------------------------------------------------------------------


def pick_levels(engine: Engine) -> dict[str, dict[str, Any]]:
    """District 510108 and, below it, the area with the most cases at each level; the
    city above it when more than one of its districts has cases (``--scale city``)."""
    picked: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        city = conn.execute(
            text(
                "SELECT a.id, a.code, a.name_zh, array_agg(d.id ORDER BY d.id) AS districts"
                " FROM areas a JOIN areas d ON d.parent_id = a.id AND d.level = 'district'"
                " WHERE a.level = 'city' GROUP BY a.id ORDER BY a.code LIMIT 1"
            )
        ).one_or_none()
        if city is not None:
            counts = conn.execute(
                text(
                    f"SELECT count(DISTINCT district_id), count(*),"
                    f" count(*) FILTER (WHERE {OPEN_SQL})"
                    f" FROM cases WHERE district_id = ANY(:ids)"
                ),
                {"ids": list(city.districts)},
            ).one()
            if counts[0] > 1:
                picked["city"] = {
                    "id": list(city.districts),  # a city is the union of its districts
                    "code": city.code,
                    "name": city.name_zh,
                    "cases": counts[1],
                    "open": counts[2],
                }
        for level in LEVELS:
            if level == "district":
                row = conn.execute(
                    text(
                        "SELECT a.id, a.code, a.name_zh,"
                        " (SELECT count(*) FROM cases c WHERE c.district_id = a.id) AS n"
                        " FROM areas a WHERE a.code = :code"
                    ),
                    {"code": DISTRICT_CODE},
                ).one()
            else:
                row = conn.execute(
                    text(
                        f"SELECT a.id, a.code, a.name_zh, t.n FROM"
                        f" (SELECT {level}_id AS id, count(*) AS n FROM cases"
                        f"  WHERE {level}_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1) t"
                        f" JOIN areas a ON a.id = t.id"
                    )
                ).one()
            open_n = conn.execute(
                text(f"SELECT count(*) FROM cases WHERE {level}_id = :id AND {OPEN_SQL}"),
                {"id": row.id},
            ).scalar()
            picked[level] = {
                "id": row.id,
                "code": row.code,
                "name": row.name_zh,
                "cases": row.n,
                "open": open_n,
            }
    return picked


# -- the two measured things ------------------------------------------------------------


def sql_queries(
    level: str, area_id: int, now: datetime, *, tight: bool
) -> list[tuple[str, str, tuple[Any, ...]]]:
    """The aggregates the view needs, as (name, SQL, parameters).

    (b) as the issue states it counts with FILTER over all the area's cases; ``tight``
    puts the open-case predicate in WHERE instead (same counts for every child that
    has an open case, children without one absent), which the partial indexes serve.
    """
    # As geo_data.views scopes them: a city by its districts, every other area by its id.
    where = "district_id = ANY(%s)" if level == "city" else f"{level}_id = %s"
    res = H3_RESOLUTION[level]
    queries: list[tuple[str, str, tuple[Any, ...]]] = [
        (
            "hex",
            f"SELECT h3_r{res}, count(*) FROM cases"
            f" WHERE {where} AND {WINDOW_SQL[WINDOW]} GROUP BY 1",
            (area_id,),
        )
    ]
    child = CHILD.get(level)
    if child and tight:
        queries.append(
            (
                "children",
                f"SELECT {child}_id, count(*), count(*) FILTER (WHERE due_at < %s)"
                f" FROM cases WHERE {where} AND {OPEN_SQL} GROUP BY 1",
                (now, area_id),
            )
        )
    elif child:
        queries.append(
            (
                "children",
                f"SELECT {child}_id, count(*) FILTER (WHERE {OPEN_SQL}),"
                f" count(*) FILTER (WHERE {OPEN_SQL} AND due_at < %s)"
                f" FROM cases WHERE {where} GROUP BY 1",
                (now, area_id),
            )
        )
    queries.append(
        (
            "incidents",
            "SELECT id, ST_X(geom), ST_Y(geom), severity, status, due_at FROM cases"
            f" WHERE {where} AND {OPEN_SQL}",
            (area_id,),
        )
    )
    return queries


class Series:
    """Timings of one measured thing over the timed rounds."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.parts: dict[str, float] = {}

    def p(self, q: float) -> float:
        return round(float(np.percentile(np.asarray(self.seconds) * 1000, q)), 2)

    def parts_mean_ms(self) -> dict[str, float]:
        n = len(self.seconds)
        return {k: round(v / n * 1000, 2) for k, v in self.parts.items()}


def run_sql(
    conn: psycopg.Connection,
    queries: list[tuple[str, str, tuple[Any, ...]]],
    series: Series | None,
) -> dict[str, int]:
    """Run and fetch ``queries`` on one psycopg connection; the rows each returned."""
    rows: dict[str, int] = {}
    parts: dict[str, float] = {}
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for name, sql, params in queries:
            t = time.perf_counter()
            cur.execute(sql, params)
            rows[name] = len(cur.fetchall())
            parts[name] = time.perf_counter() - t
    if series is not None:
        series.seconds.append(time.perf_counter() - t0)
        for k, v in parts.items():
            series.parts[k] = series.parts.get(k, 0.0) + v
    return rows


def import_app() -> str | None:
    """Import the ``app`` package; its failure, if any, with ``app`` then registered bare.

    ``app/__init__`` builds the Dash factory, which imports ``callbacks.map``; when that
    is missing or broken the plain modules the benchmark needs (settings, runtime, cli,
    context) must still import, so the bare-SQL half runs.
    """
    try:
        import app  # noqa: F401
    except Exception as exc:  # the callback is being written; any import failure counts
        bare = types.ModuleType("app")
        bare.__path__ = [str(Path(__file__).resolve().parent.parent / "app")]
        sys.modules["app"] = bare
        return f"{type(exc).__name__}: {exc}"
    return None


def load_callback() -> tuple[Callable[..., Any] | None, type | None, str]:
    try:
        from callbacks.map import MapState, map_view
    except Exception as exc:  # the callback is being written; any import failure counts
        return None, None, f"{type(exc).__name__}: {exc}"
    return map_view, MapState, "ok"


def measure_level(
    level: str,
    area: dict[str, Any],
    repeat: int,
    conn: psycopg.Connection,
    call: Callable[[], Any] | None,
) -> dict[str, Any]:
    """Warm-up, then ``repeat`` rounds of: callback, bare SQL, tight bare SQL."""
    spec = sql_queries(level, area["id"], END, tight=False)
    tight = sql_queries(level, area["id"], END, tight=True)
    callback, encode, sql, sql_tight = Series(), Series(), Series(), Series()
    payload: list[int] = []
    error = None

    def one_call(record: bool) -> None:
        t = time.perf_counter()
        view = call()
        elapsed = time.perf_counter() - t
        t = time.perf_counter()
        body = to_json_plotly(view.figure).encode()  # what Dash sends: dash._utils.to_json
        encoded = time.perf_counter() - t
        if record:
            callback.seconds.append(elapsed)
            encode.seconds.append(encoded)
            payload.append(len(body))

    for _ in range(WARMUP):
        run_sql(conn, spec, None)
        run_sql(conn, tight, None)
    if call is not None:
        try:
            for _ in range(WARMUP):
                one_call(False)
        except Exception as exc:  # a half-written callback must not stop the SQL half
            error = f"{type(exc).__name__}: {exc}"
            say(f"  {level}: map_view failed: {error}")
            call = None
    for _ in range(repeat):
        if call is not None:
            one_call(True)
        rows = run_sql(conn, spec, sql)
        rows_tight = run_sql(conn, tight, sql_tight)

    out: dict[str, Any] = {k: area[k] for k in ("code", "name", "cases", "open")}
    out |= {
        "sql_p50_ms": sql.p(50),
        "sql_p95_ms": sql.p(95),
        "sql_parts_mean_ms": sql.parts_mean_ms(),
        "sql_rows": rows,
        "sql_tight_p50_ms": sql_tight.p(50),
        "sql_tight_p95_ms": sql_tight.p(95),
        "sql_tight_parts_mean_ms": sql_tight.parts_mean_ms(),
        "sql_tight_rows": rows_tight,
    }
    if callback.seconds:
        ratio = callback.p(95) / sql.p(95)
        out |= {
            "callback_p50_ms": callback.p(50),
            "callback_p95_ms": callback.p(95),
            "encode_p50_ms": encode.p(50),
            "encode_p95_ms": encode.p(95),
            "ratio_p95": round(ratio, 2),
            "ratio_tight_p95": round(callback.p(95) / sql_tight.p(95), 2),
            "payload_bytes": max(payload),
            "goal_met": bool(
                callback.p(95) < GOAL_P95_MS
                and ratio <= GOAL_RATIO
                and max(payload) < GOAL_PAYLOAD_BYTES
            ),
        }
    else:
        out |= dict.fromkeys(
            (
                "callback_p50_ms",
                "callback_p95_ms",
                "encode_p50_ms",
                "encode_p95_ms",
                "ratio_p95",
                "ratio_tight_p95",
                "payload_bytes",
                "goal_met",
            )
        )
    if error:
        out["callback_error"] = error
    return out


# -- report -----------------------------------------------------------------------------


def table(levels: dict[str, dict[str, Any]]) -> str:
    def f(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    head = (
        f"{'level':<10} {'code':<17} {'cases':>9} {'open':>6} {'cb p50':>7} {'cb p95':>7}"
        f" {'sql p50':>7} {'sql p95':>7} {'ratio':>6} {'tight95':>7} {'ratio_t':>7}"
        f" {'KB':>6}  goal"
    )
    lines = [head, "-" * len(head)]
    for level, r in levels.items():
        kb = None if r["payload_bytes"] is None else r["payload_bytes"] / 1000
        goal = {None: "n/a", True: "yes", False: "no"}[r["goal_met"]]
        lines.append(
            f"{level:<10} {r['code']:<17} {r['cases']:>9,} {r['open']:>6,}"
            f" {f(r['callback_p50_ms'], '.1f'):>7} {f(r['callback_p95_ms'], '.1f'):>7}"
            f" {r['sql_p50_ms']:>7.1f} {r['sql_p95_ms']:>7.1f} {f(r['ratio_p95'], '.2f'):>6}"
            f" {r['sql_tight_p95_ms']:>7.1f} {f(r['ratio_tight_p95'], '.2f'):>7}"
            f" {f(kb, '.1f'):>6}  {goal}"
        )
    lines.append(
        f"(ms; window {WINDOW!r}; ratio = callback p95 / sql p95, ratio_t the same over the"
        " tight SQL;\n goal: callback p95 < "
        f"{GOAL_P95_MS:.0f} ms and ratio <= {GOAL_RATIO:g}, payload < "
        f"{GOAL_PAYLOAD_BYTES // 1000} KB)"
    )
    return "\n".join(lines)


def _sources() -> dict[str, str | None]:
    """Short hashes of the measured code, which may be uncommitted work."""
    root = Path(__file__).resolve().parent.parent
    out: dict[str, str | None] = {}
    for name in ("callbacks/map.py", "geo_data/views.py"):
        path = root / name
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else None
    return out


def _caller(
    map_view: Callable[..., Any], map_state: type, ctx: Any, code: str, layers: tuple[str, ...]
) -> Callable[[], Any]:
    options = {"layers": layers} if layers else {}

    def call() -> Any:
        return map_view(ctx, map_state(area_code=code, now=END, **options))

    return call


def main(argv: list[str] | None = None) -> int:
    global DB_NAME, END  # --database measures another database, 'now' its newest report
    parser = argparse.ArgumentParser(prog="bench.map_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per level (30)")
    parser.add_argument(
        "--rebuild", action="store_true", help=f"drop and rebuild the {DB_NAME} database"
    )
    parser.add_argument(
        "--database",
        default=None,
        help="measure an existing database instead (e.g. gridwatch_city after `gridwatch etl"
        " demo --scale city`); 'now' is its newest report",
    )
    parser.add_argument(
        "--layers",
        default="",
        help="comma-separated map layers to draw (default: the map page's defaults),"
        " e.g. areas,hexes,incidents",
    )
    args = parser.parse_args(argv)
    layers = tuple(name for name in args.layers.split(",") if name)
    if args.database:
        DB_NAME = args.database
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    app_error = import_app()
    if app_error:
        say(f"the app package does not import ({app_error}); using its modules bare")
    from app.settings import Settings

    settings = Settings(db_name=DB_NAME)
    if settings.database_url:
        say("note: GRIDWATCH_DATABASE_URL is ignored; the benchmark uses the private cluster")
    if args.database:
        cluster, engine = open_bench_database(settings, DB_NAME, drop=False, say=say)
        load = {"reused": True}
        END = _scalar(engine, "SELECT date_trunc('minute', max(reported_at)) FROM cases")
    else:
        cluster, engine, load = prepare(settings, rebuild=args.rebuild)
    cases = _scalar(engine, "SELECT count(*) FROM cases")
    areas = pick_levels(engine)

    map_view, map_state, status = load_callback()
    ctx = None
    if map_view is None:
        say(f"callbacks.map.map_view not available yet ({status}); measuring the bare SQL only")
    else:
        from app.context import AppContext

        ctx = AppContext(settings, engine)

    levels: dict[str, dict[str, Any]] = {}
    with psycopg.connect(cluster.conninfo(DB_NAME), autocommit=True) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        for level, area in areas.items():
            call = (
                None
                if map_view is None
                else _caller(map_view, map_state, ctx, area["code"], layers)
            )
            say(f"measuring {level} {area['code']} {area['name']} ({area['cases']:,} cases) ...")
            levels[level] = measure_level(level, area, args.repeat, conn, call)

    print()
    print(table(levels), flush=True)
    if "total_s" in load:
        print(f"database build: {load['total_s']:.1f} s ({'reused' if load['reused'] else 'now'})")
    result = {
        "bench": "map",
        "cases": cases,
        "window": WINDOW,
        "now": END.isoformat(),
        "repeat": args.repeat,
        "layers": list(layers) or "default",
        "callback": status,
        "sources": _sources(),
        "goals": {
            "callback_p95_ms": GOAL_P95_MS,
            "ratio_p95": GOAL_RATIO,
            "payload_bytes": GOAL_PAYLOAD_BYTES,
        },
        "levels": levels,
        "all_goals_met": (
            None if map_view is None else all(r["goal_met"] for r in levels.values())
        ),
        "load_seconds": load.get("total_s"),
        "load": load,
        "host": {"cpus": os.cpu_count(), "postgres": server, "python": sys.version.split()[0]},
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
