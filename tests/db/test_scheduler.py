"""SLA escalation running by itself (the scheduler thread) and by hand (``gridwatch sla``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

import app.scheduler
from app.cli import main
from app.scheduler import SlaScheduler
from app.settings import Settings
from geo_data.cluster import Cluster
from tests.conftest import fresh_database, session_name
from tests.db.test_sla import case_row, overdue_case, small_city

HOUR = timedelta(hours=1)
INTERVAL = 0.2


@pytest.fixture(scope="module")
def sched_engine(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own with the small city: these tests commit."""
    engine = fresh_database(cluster, "gridwatch_scheduler_test")
    with engine.begin() as conn:
        small_city(conn, tmp_path_factory.mktemp("scheduler"))
    yield engine
    engine.dispose()
    cluster.drop_database(session_name("gridwatch_scheduler_test"))


@pytest.fixture
def engine_(sched_engine: Engine) -> Engine:
    """The module's database with no open case left by an earlier test."""
    with sched_engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'closed' WHERE status <> 'closed'"))
    return sched_engine


def _settings(**overrides: object) -> Settings:
    values = {"sla_interval_seconds": INTERVAL, "sla_grace_minutes": 60.0} | overrides
    return Settings(database_url=None, port=0, **values)


def _level(engine: Engine, case_id: int) -> str:
    with engine.connect() as conn:
        return case_row(conn, case_id).handling_level


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_scheduler_escalates_overdue_cases_each_interval_and_stops_promptly(
    engine_: Engine,
) -> None:
    with engine_.begin() as conn:
        first = overdue_case(conn, 2 * HOUR)
        waiting = overdue_case(conn, timedelta(minutes=30))  # within the hour's grace
    scheduler = SlaScheduler(engine_, _settings())
    scheduler.start()
    try:
        assert _wait_for(lambda: _level(engine_, first) == "street", 2 * INTERVAL + 1)
        with engine_.begin() as conn:  # overdue while the scheduler runs: the next pass
            later = overdue_case(conn, 3 * HOUR)
        assert _wait_for(lambda: _level(engine_, later) == "street", 2 * INTERVAL + 1)
        assert _level(engine_, waiting) == "community"
        assert scheduler.escalated == 2 and scheduler.alive
    finally:
        started = time.monotonic()
        scheduler.stop()
    assert time.monotonic() - started < 1.0
    assert not scheduler.alive


def test_scheduler_survives_a_database_error_and_retries_next_tick(
    engine_: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with engine_.begin() as conn:
        case_id = overdue_case(conn, 2 * HOUR)
    real = app.scheduler.escalate_overdue
    calls: list[int] = []

    def down_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(app.scheduler, "escalate_overdue", down_once)
    scheduler = SlaScheduler(engine_, _settings())
    with caplog.at_level(logging.ERROR, logger="app.scheduler"):
        scheduler.start()
        try:
            assert _wait_for(lambda: _level(engine_, case_id) == "street", 2 * INTERVAL + 1)
            assert scheduler.alive
        finally:
            scheduler.stop()
    assert "SLA pass failed" in caplog.text
    assert len(calls) >= 2


def test_scheduler_against_an_unreachable_database_keeps_trying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from geo_data.db import make_engine

    nowhere = make_engine("postgresql+psycopg://nobody:x@127.0.0.1:9/none?connect_timeout=1")
    scheduler = SlaScheduler(nowhere, _settings(sla_interval_seconds=0.05))
    with caplog.at_level(logging.ERROR, logger="app.scheduler"):
        scheduler.start()
        try:
            assert _wait_for(lambda: scheduler.passes >= 3, 5)
            assert scheduler.alive
        finally:
            scheduler.stop()
            nowhere.dispose()
    assert not scheduler.alive
    assert "SLA pass failed" in caplog.text


@pytest.fixture
def run(engine_: Engine):
    env = {"GRIDWATCH_DATABASE_URL": engine_.url.render_as_string(hide_password=False)}

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env=env, prog_name="gridwatch")
        return result.exit_code, result.output

    return invoke


def _audit_size(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT (SELECT count(*) FROM case_events), (SELECT count(*) FROM case_feed)")
        ).one()


def test_cli_dry_run_lists_what_would_escalate_and_writes_nothing(run, engine_: Engine) -> None:
    with engine_.begin() as conn:
        overdue = overdue_case(conn, 2 * HOUR)
        waiting = overdue_case(conn, timedelta(minutes=30))
    before = _audit_size(engine_)
    code, output = run("sla", "escalate", "--dry-run")
    assert code == 0, output
    assert f"case {overdue} " in output and f"case {waiting} " not in output
    assert "1 case(s) would be escalated (dry run: nothing changed)" in output
    assert _audit_size(engine_) == before
    assert _level(engine_, overdue) == "community"
    code, output = run("sla", "escalate", "--grace-minutes", "10", "--dry-run")
    assert "2 case(s) would be escalated" in output


def test_cli_escalates_as_the_system_within_the_limit(run, engine_: Engine) -> None:
    with engine_.begin() as conn:
        older, newer = overdue_case(conn, 3 * HOUR), overdue_case(conn, 2 * HOUR)
    code, output = run("sla", "escalate", "--limit", "1")
    assert (code, output.strip()) == (0, "escalated 1 case(s)")
    assert (_level(engine_, older), _level(engine_, newer)) == ("street", "community")
    with engine_.connect() as conn:
        actor = conn.execute(
            text("SELECT actor_name FROM case_events WHERE case_id = :id AND action = 'escalate'"),
            {"id": older},
        ).scalar_one()
    assert actor == "system"
    assert run("sla", "escalate", "--help")[0] == 0
