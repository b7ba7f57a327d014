"""Engines for the case store."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with pre-ping, so a restarted database does not fail the next request."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)
