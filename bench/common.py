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
