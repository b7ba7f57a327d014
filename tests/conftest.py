"""Shared fixtures: a real PostGIS cluster started by the test session.

The cluster lives beside the demo's (``<state dir>/pg-test``) on its own port with
``fsync=off``; each session gets a freshly migrated database, and each test a
connection whose transaction is rolled back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine

from app.settings import Settings
from geo_data.actors import Actor, system_actor
from geo_data.cluster import Cluster
from geo_data.db import make_engine
from geo_data.reference import sync_categories
from geo_data.schema import migrate
from geo_data.users import UserInfo

TEST_PORT = int(os.environ.get("GRIDWATCH_TEST_DB_PORT", "55433"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(database_url=None, port=0)


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> Iterator[Cluster]:
    test_cluster = Cluster(settings.state_dir / "pg-test", TEST_PORT, for_tests=True)
    test_cluster.start()
    _drop_stale_databases(test_cluster)
    yield test_cluster
    for base in ("gridwatch_test", "gridwatch_demo_test", "gridwatch_cli_test"):
        test_cluster.drop_database(session_name(base))


SESSION_SUFFIX = f"_{os.getpid()}"


def session_name(base: str) -> str:
    """A database name private to this test session, so parallel runs never collide."""
    return base + SESSION_SUFFIX


def _drop_stale_databases(cluster: Cluster) -> None:
    """Drop test databases left by sessions whose process is gone (killed runs)."""
    import psycopg

    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname ~ '^gridwatch_.*_[0-9]+$'"
            )
        ]
    for name in names:
        pid = int(name.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            cluster.drop_database(name)
        except PermissionError:
            pass  # alive, someone else's


def fresh_database(cluster: Cluster, base: str) -> Engine:
    """Create this session's ``base`` database anew, migrated, with the catalogue."""
    name = session_name(base)
    cluster.drop_database(name)
    cluster.ensure_database(name)
    engine = make_engine(cluster.url(name))
    migrate(engine)
    with engine.begin() as conn:
        sync_categories(conn)
    return engine


@pytest.fixture(scope="session")
def engine(cluster: Cluster) -> Iterator[Engine]:
    test_engine = fresh_database(cluster, "gridwatch_test")
    yield test_engine
    test_engine.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


DEMO_END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_engine(cluster: Cluster) -> Iterator[Engine]:
    """The full demo city (Chenghua), loaded once per session; tests must not write to it."""
    from etl.demo_load import load_demo

    demo = fresh_database(cluster, "gridwatch_demo_test")
    load_demo(demo, end=DEMO_END)
    yield demo
    demo.dispose()


TEST_PASSWORD = "grid-watch-test-1"


@pytest.fixture(scope="session")
def demo_users(demo_engine: Engine) -> dict[str, UserInfo]:
    """The demo accounts (operator, supervisor of a street, ``community`` supervisor of a
    community in another street, leader, admin), all with ``TEST_PASSWORD``."""
    from etl.demo_users import DEMO_ACCOUNTS, ensure_demo_users
    from geo_data.users import get_user

    with demo_engine.begin() as conn:
        ensure_demo_users(conn, {a.username: TEST_PASSWORD for a in DEMO_ACCOUNTS})
        return {a.username: get_user(conn, a.username) for a in DEMO_ACCOUNTS}


@pytest.fixture(scope="session")
def bearer(demo_engine: Engine, demo_users: dict[str, UserInfo]) -> Callable[[str], dict]:
    """``bearer("operator")``: an Authorization header of a fresh session of that user."""
    from geo_data.users import open_session

    def header(username: str) -> dict[str, str]:
        with demo_engine.begin() as conn:
            token = open_session(conn, demo_users[username].id, kind="token", hours=1)
        return {"Authorization": f"Bearer {token}"}

    return header


@pytest.fixture
def demo(demo_engine: Engine) -> Iterator[Connection]:
    """A connection to the demo city inside a transaction rolled back afterwards."""
    with demo_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture(scope="session")
def new_api_key(demo_engine: Engine) -> Callable[..., str]:
    """Make (and commit) an API key in the demo database: ``new_api_key("app", rate)``."""
    import uuid

    from geo_data.api_keys import create_key

    def make(channel: str, rate_per_minute: int = 600) -> str:
        with demo_engine.begin() as conn:
            name = f"test-{channel}-{uuid.uuid4().hex[:10]}"
            return create_key(conn, name, channel, system_actor(conn), rate_per_minute)

    return make


@pytest.fixture
def system(conn: Connection) -> Actor:
    return system_actor(conn)
