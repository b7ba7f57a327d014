"""Alembic environment: runs on the connection handed over by ``geo_data.schema``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from geo_data.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):
    # PostGIS owns spatial_ref_sys and its topology/tiger schemas.
    return not (type_ == "table" and name == "spatial_ref_sys")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
