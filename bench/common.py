"""What the benchmarks share: their database on the private cluster, and host facts."""

from __future__ import annotations

import os
import sys
from typing import Any

from sqlalchemy import Engine

from app.settings import Settings
from geo_data.cluster import Cluster
from geo_data.db import make_engine


def open_bench_database(
    settings: Settings, name: str, *, drop: bool, say: Any = print
) -> tuple[Cluster, Engine]:
    """The benchmark's own database on the private cluster, migrated (dropped first if
    asked)."""
    from app.cli import migrate_all
    from app.runtime import main_cluster

    cluster = main_cluster(settings)
    cluster.start()
    if drop:
        say(f"dropping {name}")
        cluster.drop_database(name)
    cluster.ensure_database(name)
    engine = make_engine(cluster.url(name))
    migrate_all(engine)
    return cluster, engine


def host_info(server_version: str) -> dict[str, Any]:
    """The machine a figure was measured on (for the JSON line)."""
    return {
        "cpus": os.cpu_count(),
        "postgres": server_version,
        "python": sys.version.split()[0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


BENCH_USER = "bench-operator"


def bench_credentials(engine: Engine) -> tuple[str, str]:
    """(username, password) of the benchmarks' operator, (re)created with a fresh random
    password each run: screens and socket clients must sign in like everyone else."""
    import secrets

    from sqlalchemy import text

    from geo_data.users import create_user, get_user, set_password

    password = secrets.token_urlsafe(16)
    with engine.begin() as conn:
        if get_user(conn, BENCH_USER) is None:
            create_user(conn, BENCH_USER, password, "operator", display_name="Benchmark")
        else:
            set_password(conn, BENCH_USER, password)
            conn.execute(text("UPDATE users SET active = true WHERE username = :u"),
                         {"u": BENCH_USER})  # fmt: skip
    return BENCH_USER, password


def bench_token(engine: Engine, hours: float = 4.0) -> str:
    """A bearer token of the benchmarks' operator (for Socket.IO ``auth``)."""
    from geo_data.users import get_user, open_session

    bench_credentials(engine)
    with engine.begin() as conn:
        user = get_user(conn, BENCH_USER)
        assert user is not None
        return open_session(conn, user.id, kind="token", hours=hours)
