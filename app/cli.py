"""The ``gridwatch`` command line."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from app.runtime import database_url, engine_for, main_cluster
from app.settings import Settings
from geo_data.actors import UnknownActorError, actor_by_username
from geo_data.cluster import ClusterError
from geo_data.loaders import LoadError, vacuum_after_load
from geo_data.models import CHANNELS as CHANNEL_CODES
from geo_data.reference import sync_categories
from geo_data.schema import migrate
from geo_data.stats import is_empty, load_stats

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _settings(ctx: click.Context) -> Settings:
    store = ctx.ensure_object(dict)
    if "settings" not in store:
        try:
            store["settings"] = Settings()
        except ValidationError as exc:
            _fail("; ".join(settings_problems(exc)))
    return store["settings"]


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per bad setting, naming its variable (``GRIDWATCH_TIMEZONE: unknown…``)."""
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"GRIDWATCH_{field.upper()}: {message}" if field else message)
    return problems


def _fail(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def migrate_all(engine: Engine) -> int:
    """Schema to head and the catalogue synced; returns the number of categories."""
    migrate(engine)
    with engine.begin() as conn:
        return sync_categories(conn)


@click.group(context_settings=CONTEXT)
@click.pass_context
def main(ctx: click.Context) -> None:
    """GridWatch: the command centre for urban grid governance.

    Settings come from GRIDWATCH_* environment variables (see README). Without
    GRIDWATCH_DATABASE_URL a private PostGIS cluster is provisioned and used.
    """
    _settings(ctx)


# -- db -------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def db() -> None:
    """Provision, start, stop and migrate the database."""


@db.command("up")
@click.pass_context
def db_up(ctx: click.Context) -> None:
    """Provision (first time) and start the private cluster; print its URL."""
    settings = _settings(ctx)
    if settings.database_url:
        click.echo("GRIDWATCH_DATABASE_URL is set: the private cluster is not used.")
        return
    try:
        url = database_url(settings)
    except ClusterError as exc:
        _fail(str(exc))
    click.echo(f"running: {_hide_password(url)}")


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the private cluster."""
    cluster = main_cluster(_settings(ctx))
    cluster.stop()
    click.echo("stopped")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say whether the private cluster runs, where its data lives, and its URL."""
    settings = _settings(ctx)
    if settings.database_url:
        click.echo(f"external database: {_hide_password(settings.database_url)}")
        return
    cluster = main_cluster(settings)
    if not cluster.is_initialised():
        click.echo(f"not provisioned (would live in {cluster.root}); run: gridwatch db up")
        sys.exit(3)
    state = "running" if cluster.is_running() else "stopped"
    click.echo(f"{state}: {_hide_password(cluster.url(settings.db_name))}")
    click.echo(f"data: {cluster.data_dir}\nlog: {cluster.log_file}")
    if state == "stopped":
        sys.exit(3)


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Bring the schema up to date and sync the category catalogue."""
    engine = _engine(ctx)
    n = migrate_all(engine)
    click.echo(f"schema at head; {n} categories")


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _engine(ctx: click.Context) -> Engine:
    try:
        engine = engine_for(_settings(ctx))
        ctx.call_on_close(engine.dispose)
        return engine
    except ClusterError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


# -- etl ------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def etl() -> None:
    """Load geodata and historical cases."""


@etl.command("load")
@click.argument(
    "kind",
    type=click.Choice(
        ["areas", "buildings", "cameras", "workers", "cases", "roads", "water", "landuse"]
    ),
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--crs",
    help="Coordinate system of the file if not declared in it, or to "
    "override it: EPSG:xxxx, or gcj02 for GCJ-02 lon/lat (converted to WGS-84).",
)
@click.option(
    "--level",
    type=click.Choice(["city", "district", "street", "community", "grid", "courtyard"]),
    help="Level of every row, for an areas file without a level column.",
)
@click.option(
    "--timezone",
    default="Asia/Shanghai",
    show_default=True,
    help="Zone of timestamps that carry none.",
)
@click.option(
    "--tolerance",
    default=0.01,
    show_default=True,
    help="Share of a child area allowed outside its parent.",
)
@click.option(
    "--as",
    "username",
    default="system",
    show_default=True,
    help="The user the load is recorded as.",
)
@click.pass_context
def etl_load(
    ctx: click.Context,
    kind: str,
    path: Path,
    crs: str | None,
    level: str | None,
    timezone: str,
    tolerance: float,
    username: str,
) -> None:
    """Load one file of KIND (GeoJSON, GeoPackage, Shapefile or CSV) in one transaction.

    Areas must be loaded before what lies in them. A bad file changes nothing and
    the error names each offending row. Roads, water and landuse are the basemap:
    columns kind, name_zh and name_en (or OpenStreetMap's highway, name, name:en).
    """
    from etl.load import load_file

    engine = _engine(ctx)
    started = time.monotonic()
    try:
        with engine.begin() as conn:
            actor = actor_by_username(conn, username)
            result, notes = load_file(
                conn,
                kind,
                path,
                actor,
                crs=crs,
                level=level,
                timezone=timezone,
                tolerance=tolerance,
            )
    except (LoadError, UnknownActorError) as exc:
        _fail(str(exc))
    vacuum_after_load(engine, [kind, "case_events", "case_feed"] if kind == "cases" else [kind])
    elapsed = time.monotonic() - started
    extra = "; ".join(notes + result.notes)
    click.echo(
        f"loaded {result.rows} {kind} from {path} in {elapsed:.1f}s"
        + (f" ({extra})" if extra else "")
    )


@etl.command("demo")
@click.option(
    "--scale",
    type=click.Choice(["district", "city"]),
    default="district",
    show_default=True,
    help="district: Chenghua in detail; city: all of Chengdu.",
)
@click.option("--seed", default=None, type=int, help="Random seed (default: the fixed demo seed).")
@click.option("--force", is_flag=True, help="Load even if the store already holds areas.")
@click.pass_context
def etl_demo(ctx: click.Context, scale: str, seed: int | None, force: bool) -> None:
    """Generate and load the demo city on Chenghua's real outline (deterministic)."""
    engine = _engine(ctx)
    migrate_all(engine)
    with engine.connect() as conn:
        if not is_empty(conn) and not force:
            _fail(
                "the store already holds areas; the demo loads into an empty store "
                "(reset with: gridwatch db reset)"
            )
    _load_demo(engine, scale, seed)


@etl.command("glyphs")
@click.option(
    "--font",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="OpenType/TrueType font or collection (default: Debian's Noto Sans CJK).",
)
@click.option("--family", default=None, help="The face of a collection to use.")
@click.option("--force", is_flag=True, help="Generate again even if the set is there.")
@click.pass_context
def etl_glyphs(ctx: click.Context, font: Path | None, family: str | None, force: bool) -> None:
    """Generate the map labels' glyphs (MapLibre SDF ranges) into the state directory.

    Skipped when they were generated from the same font already; takes a minute or two.
    """
    from etl import glyphs

    directory = glyphs.glyph_dir(_settings(ctx).state_dir)

    def step(done: int, total: int) -> None:
        if done % 30 == 0 or done == total:
            click.echo(f"  {done}/{total} ranges")

    try:
        built = glyphs.build(
            directory, font or glyphs.FONT, family or glyphs.FAMILY, force=force, progress=step
        )
    except (OSError, ValueError) as exc:
        _fail(str(exc))
    state = "already there" if built.skipped else f"generated in {built.seconds:.0f}s"
    click.echo(
        f"glyphs {state}: {built.ranges} ranges, {built.glyphs:,} glyphs,"
        f" {built.bytes / 1e6:.1f} MB in {built.directory}"
    )


def _load_demo(engine: Engine, scale: str, seed: int | None) -> None:
    from etl.demo_load import load_demo

    started = time.monotonic()
    report = load_demo(engine, scale=scale, seed=seed, progress=lambda m: click.echo(f"  {m}"))
    click.echo(f"demo city loaded in {time.monotonic() - started:.0f}s:")
    for name, n in report.items():
        click.echo(f"  {name:<12} {n:>9,}")


@db.command("reset")
@click.confirmation_option(prompt="Drop every table and load nothing?")
@click.pass_context
def db_reset(ctx: click.Context) -> None:
    """Drop the schema and migrate it anew (all data is lost)."""
    from geo_data.schema import reset

    engine = _engine(ctx)
    reset(engine)
    n = migrate_all(engine)
    click.echo(f"schema recreated; {n} categories")


# -- keys -------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def keys() -> None:
    """API keys of the channel systems that report events."""


@keys.command("add")
@click.option("--name", required=True, help="A name for the system using it, unique.")
@click.option("--channel", required=True, type=click.Choice(list(CHANNEL_CODES)))
@click.option("--rate", default=600, show_default=True, help="Events a minute.")
@click.pass_context
def keys_add(ctx: click.Context, name: str, channel: str, rate: int) -> None:
    """Create a key for CHANNEL and print it once (only its hash is stored)."""
    from sqlalchemy.exc import IntegrityError

    from geo_data.actors import system_actor
    from geo_data.api_keys import create_key

    engine = _engine(ctx)
    try:
        with engine.begin() as conn:
            key = create_key(conn, name, channel, system_actor(conn), rate)
    except IntegrityError:
        _fail(f"a key named {name!r} exists already")
    click.echo(f"{name} ({channel}, {rate}/min): {key}")
    click.echo("Keep it now: it cannot be shown again.", err=True)


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """The keys (never the secrets)."""
    from geo_data.api_keys import list_keys

    with _engine(ctx).connect() as conn:
        rows = list_keys(conn)
    for row in rows:
        state = "active" if row["active"] else "disabled"
        click.echo(
            f"{row['name']:<32} {row['channel']:<12} {row['rate_per_minute']:>7}/min"
            f"  {state:<8} {row['created_at']:%Y-%m-%d %H:%M}"
        )


@keys.command("disable")
@click.argument("name")
@click.pass_context
def keys_disable(ctx: click.Context, name: str) -> None:
    """Disable the key NAME (it stops working within 10 seconds)."""
    from geo_data.actors import system_actor
    from geo_data.api_keys import disable_key

    with _engine(ctx).begin() as conn:
        if not disable_key(conn, name, system_actor(conn)):
            _fail(f"no active key named {name!r}")
    click.echo(f"disabled {name}")


# -- users ------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def users() -> None:
    """Who may sign in: operators, supervisors (with an area), leaders, admins."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["operator", "supervisor", "leader",
              "admin"]))  # fmt: skip
@click.option("--area", "area_code", default=None, help="A supervisor's street or community code.")
@click.option("--name", "display_name", default=None, help="Shown on screens; default USERNAME.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given (never put it on a shared command line).",
)
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    role: str,
    area_code: str | None,
    display_name: str | None,
    password: str,
) -> None:
    """Create the user USERNAME."""
    from geo_data.users import UserError, create_user

    try:
        with _engine(ctx).begin() as conn:
            user = create_user(
                conn, username, password, role, display_name=display_name, area_code=area_code
            )
    except UserError as exc:
        _fail(str(exc))
    where = f" in {user.area_name_en} ({user.area_code})" if user.area_code else ""
    click.echo(f"added {user.username}: {user.role}{where}")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """The users, their roles and areas (never passwords)."""
    from geo_data.users import list_users

    with _engine(ctx).connect() as conn:
        rows = list_users(conn)
    for user in rows:
        state = "active" if user.active else "disabled"
        area = f"{user.area_code} {user.area_name_en}" if user.area_code else "everywhere"
        click.echo(f"{user.username:<20} {user.role:<11} {state:<9} {area}")


@users.command("disable")
@click.argument("username")
@click.pass_context
def users_disable(ctx: click.Context, username: str) -> None:
    """Disable USERNAME and end their sessions at once."""
    from geo_data.users import UserError, set_active

    try:
        with _engine(ctx).begin() as conn:
            set_active(conn, username, False)
    except UserError as exc:
        _fail(str(exc))
    click.echo(f"disabled {username}; their sessions have ended")


def demo_passwords(settings: Settings) -> dict[str, str]:
    """The demo accounts' passwords: generated once, kept (mode 600) in the state dir."""
    import secrets

    from etl.demo_users import DEMO_ACCOUNTS

    path = settings.state_dir / "demo-users.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    for account in DEMO_ACCOUNTS:
        known.setdefault(account.username, secrets.token_urlsafe(9))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=2))
    path.chmod(0o600)
    return known


def ensure_demo_accounts(settings: Settings, engine: Engine) -> None:
    """Create the demo's accounts if missing and print how to sign in."""
    from etl.demo_users import DEMO_ACCOUNTS, ensure_demo_users

    passwords = demo_passwords(settings)
    with engine.begin() as conn:
        ensure_demo_users(conn, passwords)
    click.echo("demo accounts (user / password):")
    for account in DEMO_ACCOUNTS:
        area = f", {account.area_level}" if account.area_level else ""
        click.echo(
            f"  {account.username:<11} {passwords[account.username]}  ({account.role}{area})"
        )
    click.echo(f"  (kept in {settings.state_dir / 'demo-users.json'})")


# -- sla --------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def sla() -> None:
    """Deadlines: escalate cases left overdue at their level."""


@sla.command("escalate")
@click.option(
    "--grace-minutes",
    type=click.FloatRange(min=0),
    default=None,
    help="Minutes past its deadline before a case escalates "
    "(default: GRIDWATCH_SLA_GRACE_MINUTES).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Cases at most (default: GRIDWATCH_SLA_BATCH).",
)
@click.option("--dry-run", is_flag=True, help="List the cases that would escalate; change nothing.")
@click.pass_context
def sla_escalate(
    ctx: click.Context, grace_minutes: float | None, limit: int | None, dry_run: bool
) -> None:
    """Escalate overdue cases one level now, as the system user (what the scheduler of
    serve and demo does every GRIDWATCH_SLA_INTERVAL_SECONDS)."""
    from datetime import timedelta

    from geo_data.sla import escalate_overdue, overdue_for_escalation

    settings = _settings(ctx)
    grace = timedelta(
        minutes=settings.sla_grace_minutes if grace_minutes is None else grace_minutes
    )
    limit = limit or settings.sla_batch
    engine = _engine(ctx)
    if dry_run:
        with engine.connect() as conn:  # rolled back on close: the row locks go with it
            cases = overdue_for_escalation(conn, grace=grace, limit=limit)
        for case in cases:
            click.echo(
                f"case {case.id:<10} {case.status:<12} {case.handling_level:<10}"
                f" due {case.due_at:%Y-%m-%d %H:%M %Z}"
            )
        click.echo(f"{len(cases)} case(s) would be escalated (dry run: nothing changed)")
        return
    with engine.begin() as conn:
        results = escalate_overdue(conn, grace=grace, limit=limit)
    click.echo(f"escalated {len(results)} case(s)")


def start_sla_scheduler(settings: Settings, engine: Engine) -> None:
    """The SLA scheduler thread of this process, if enabled."""
    if not settings.sla_enabled:
        return
    from app.scheduler import SlaScheduler

    SlaScheduler(engine, settings).start()
    click.echo(
        f"SLA escalation: every {settings.sla_interval_seconds:g}s, "
        f"{settings.sla_grace_minutes:g} min grace"
    )


# -- feed -------------------------------------------------------------------------------


@main.group(context_settings=CONTEXT)
def feed() -> None:
    """Event sources: the simulator (and, with their brokers, sensor feeds)."""


def simulator_keys(settings: Settings, engine: Engine) -> dict[str, str]:
    """One API key per channel for the simulator, kept (mode 600) in the state directory."""
    from geo_data.actors import system_actor
    from geo_data.api_keys import create_key, find_key
    from geo_data.models import CHANNELS

    path = settings.state_dir / "simulator-keys.json"
    keys: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    with engine.begin() as conn:
        for channel in CHANNELS:
            if keys.get(channel) and find_key(conn, keys[channel]):
                continue
            name = f"simulator-{channel}-{int(time.time())}"
            keys[channel] = create_key(conn, name, channel, system_actor(conn), 100_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


def make_simulator(settings: Settings, engine: Engine, url: str, invalid_share: float):
    from etl.feeds.simulator import Simulator
    from geo_data.jurisdiction import jurisdiction_outline

    with engine.connect() as conn:
        outline = jurisdiction_outline(conn)
    return Simulator(url, simulator_keys(settings, engine), outline, invalid_share=invalid_share)


@feed.command("simulate")
@click.option("--rate", default=1.0, show_default=True, help="Events per second.")
@click.option("--duration", default=60.0, show_default=True, help="Seconds; 0 runs forever.")
@click.option("--url", default=None, help="The app's base URL (default: this host's serve URL).")
@click.option(
    "--invalid-share",
    default=0.05,
    show_default=True,
    help="Share of malformed events, which the API must refuse.",
)
@click.option("--follow-clock", is_flag=True, help="Follow Beijing's time-of-day rhythm.")
@click.pass_context
def feed_simulate(
    ctx: click.Context,
    rate: float,
    duration: float,
    url: str | None,
    invalid_share: float,
    follow_clock: bool,
) -> None:
    """Post realistic events through the public API (channels, categories, hot spots,
    repeat reports, and a share of invalid ones)."""
    settings = _settings(ctx)
    engine = _engine(ctx)
    url = url or f"http://{settings.host}:{settings.port}"
    sim = make_simulator(settings, engine, url, invalid_share)
    click.echo(f"posting ~{rate}/s to {url} for {duration or 'ever'}s")
    tally = sim.run(rate, duration, follow_clock=follow_clock, report=click.echo)
    click.echo(f"done: {tally.summary()}")


def make_case_worker(engine: Engine, rate: float, speed: float | None = None, seed: int = 0):
    """The simulated case-worker, at ``speed`` or at the one that keeps the open backlog
    near its size now while the feed posts ``rate`` reports a second; and that size."""
    from etl.feeds.lifecycle import CaseWorker, demo_policy
    from geo_data.lifecycle_queries import open_case_count

    with engine.connect() as conn:
        backlog = open_case_count(conn)
    return CaseWorker(engine, demo_policy(rate, backlog, seed=seed, speed=speed)), backlog


@feed.command("work")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Times faster than real life (default: what keeps the open backlog at its size "
    "now under --rate, by Little's law).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="Reports a second the feed posts (demo's --rate); sets the default speed.",
)
@click.option("--duration", default=0.0, show_default=True, help="Seconds; 0 runs forever.")
@click.option("--seed", default=0, show_default=True, help="Seed of the worker's decisions.")
@click.pass_context
def feed_work(
    ctx: click.Context, speed: float | None, rate: float, duration: float, seed: int
) -> None:
    """Work the open cases through the cycle as the demo's operator: accept, dispatch to
    the nearest available worker, start, handle, verify, close on the resident's
    confirmation; some rejected, escalated, reassigned, merged, reopened or left overdue."""
    import logging
    import signal

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    worker, backlog = make_case_worker(_engine(ctx), rate, speed, seed)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(
        f"working {backlog} open cases at {worker.policy.speed:.0f}x real time"
        f" ({rate:g} reports/s) for {duration or 'ever'}s"
    )
    try:
        worker.run(stop, duration, report=click.echo)
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"done: {worker.tally.summary()}")


def mqtt_key(settings: Settings, engine: Engine) -> str:
    """The MQTT bridge's own iot_sensor API key (so its cases are attributed to it),
    kept (mode 600) in the state directory."""
    from geo_data.actors import system_actor
    from geo_data.api_keys import create_key, find_key

    path = settings.state_dir / "mqtt-key"
    key = path.read_text().strip() if path.exists() else ""
    with engine.begin() as conn:
        if key and find_key(conn, key):
            return key
        name = f"mqtt-iot_sensor-{int(time.time())}"
        key = create_key(conn, name, "iot_sensor", system_actor(conn), 10_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # before the key is written, also if the file existed
    path.write_text(key)
    return key


@feed.command("mqtt")
@click.option("--broker", required=True, help="The MQTT broker as HOST:PORT.")
@click.option("--topic", default="gridwatch/sensors/#", show_default=True, help="Topic filter.")
@click.option("--url", default=None, help="The app's base URL (default: this host's serve URL).")
@click.option(
    "--debounce",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds during which repeats from one sensor and kind are counted, not posted.",
)
@click.option(
    "--client-id",
    default=None,
    help="MQTT client id; with one the broker keeps the session (and QoS 1 alerts) "
    "while the bridge is away.",
)
@click.pass_context
def feed_mqtt(
    ctx: click.Context,
    broker: str,
    topic: str,
    url: str | None,
    debounce: float,
    client_id: str | None,
) -> None:
    """Post IoT sensor alerts from an MQTT broker through the public API (iot_sensor
    channel), de-bounced; the message format is in etl/feeds/mqtt.py."""
    import logging
    import signal

    from etl.feeds.mqtt import Delivery, MqttFeed, SensorBridge, parse_broker

    try:
        host, port = parse_broker(broker)
    except ValueError as exc:
        _fail(str(exc))
    settings = _settings(ctx)
    engine = _engine(ctx)
    url = url or f"http://{settings.host}:{settings.port}"
    key = mqtt_key(settings, engine)
    engine.dispose()  # the bridge talks HTTP only
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    bridge = SensorBridge(debounce)
    mqtt_feed = MqttFeed(bridge, Delivery(url, key, bridge), host, port, topic, client_id=client_id)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"{host}:{port} {topic} -> {url}/api/v1/events (debounce {debounce:g}s)")
    try:
        mqtt_feed.run(stop)
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"done: {bridge.tally.summary()}")


# -- stats, serve, demo ----------------------------------------------------------------


@main.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts per table and per area level."""
    engine = _engine(ctx)
    with engine.connect() as conn:
        figures = load_stats(conn)
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    for section, values in figures.items():
        click.echo(section.replace("_", " ") + ":")
        for name, n in values.items():
            click.echo(f"  {name:<14} {n:>9,}")


@main.command("serve")
@click.option("--host", default=None, help="Default: GRIDWATCH_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: GRIDWATCH_PORT (8050).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Above 1: gunicorn with this many processes on the one port (production).",
)
@click.option("--threads", default=200, show_default=True, help="Threads per gunicorn worker.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int,
          threads: int) -> None:  # fmt: skip
    """Serve the app (Werkzeug for one process, gunicorn for several)."""
    settings = _settings(ctx)
    engine = _engine(ctx)
    migrate_all(engine)
    host, port = host or settings.host, port or settings.port
    if workers > 1:
        _exec_gunicorn(settings, engine, host, port, workers, threads)
    from app import create_app

    app = create_app(settings, engine=engine)
    start_sla_scheduler(settings, engine)
    click.echo(f"GridWatch on http://{host}:{port}/")
    sio = app.server.extensions["socketio"]
    # Werkzeug serves websockets here; --workers N runs gunicorn instead.
    sio.run(app.server, host=host, port=port, debug=False, allow_unsafe_werkzeug=True)


def _exec_gunicorn(
    settings: Settings, engine: Engine, host: str, port: int, workers: int, threads: int
) -> None:
    """Replace this process with gunicorn running ``app.wsgi`` in ``workers`` processes
    (threaded workers: a websocket holds one thread)."""
    import os

    env = dict(os.environ)
    if not settings.database_url:  # the workers must find the same private cluster
        env["GRIDWATCH_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["GRIDWATCH_SECRET_KEY"] = settings.resolved_secret_key()  # one key for all workers
    engine.dispose()
    click.echo(f"GridWatch on http://{host}:{port}/ ({workers} gunicorn workers)")
    args = [
        sys.executable, "-m", "gunicorn", "app.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", str(threads),
        "--timeout", "60", "--graceful-timeout", "10", "--keep-alive", "30",
        "--access-logfile", "-", "--error-logfile", "-",
    ]  # fmt: skip
    os.execve(sys.executable, args, env)


@main.command("demo")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
@click.option("--rate", default=0.5, show_default=True, help="Simulated events per second.")
@click.pass_context
def demo(ctx: click.Context, host: str | None, port: int | None, rate: float) -> None:
    """db up + migrate + demo city (if empty) + simulated feed and case-worker + serve."""
    engine = _engine(ctx)
    migrate_all(engine)
    with engine.connect() as conn:
        empty = is_empty(conn)
    if empty:
        click.echo("loading the demo city (first run only)...")
        _load_demo(engine, "district", None)
    settings = _settings(ctx)
    ensure_demo_accounts(settings, engine)
    base = f"http://{host or settings.host}:{port or settings.port}"
    sim = make_simulator(settings, engine, base, invalid_share=0.05)
    threading.Thread(
        target=sim.run,
        args=(rate, 0),
        kwargs={"follow_clock": False},
        daemon=True,
        name="simulator",
    ).start()
    click.echo(f"simulated feed: ~{rate} events/s through {base}/api/v1/events")
    worker, backlog = make_case_worker(engine, rate)
    worker.start()
    click.echo(
        f"simulated case-worker: {backlog} open cases kept near that many, worked at"
        f" {worker.policy.speed:.0f}x real time (gridwatch feed work)"
    )
    ctx.invoke(serve, host=host, port=port)
