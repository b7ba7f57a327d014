"""Resolve which database a command uses: the configured URL or the private cluster."""

from __future__ import annotations

from sqlalchemy import Engine

from app.settings import Settings
from geo_data.cluster import Cluster
from geo_data.db import make_engine


def main_cluster(settings: Settings) -> Cluster:
    return Cluster(settings.state_dir / "pg", settings.db_port)


def database_url(settings: Settings, *, start: bool = True) -> str:
    """``GRIDWATCH_DATABASE_URL`` if set, else the private cluster's (started if asked)."""
    if settings.database_url:
        return settings.database_url
    cluster = main_cluster(settings)
    if start:
        cluster.start()
        cluster.ensure_database(settings.db_name)
    return cluster.url(settings.db_name)


def engine_for(settings: Settings, *, start: bool = True) -> Engine:
    return make_engine(database_url(settings, start=start))
