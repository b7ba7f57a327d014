"""Counts of what is loaded, per table and per area level (``gridwatch stats``)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo_data.models import LEVELS

COUNTED_TABLES = (
    "areas",
    "buildings",
    "cameras",
    "workers",
    "cases",
    "case_events",
    "users",
    "categories",
    "roads",
    "water",
    "landuse",
)


def table_counts(conn: Connection) -> dict[str, int]:
    union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in COUNTED_TABLES)
    return {name: int(n) for name, n in conn.execute(text(union))}


def load_stats(conn: Connection) -> dict[str, object]:
    """Everything a script needs to check a load: tables, area levels, case mix."""
    levels = dict.fromkeys(LEVELS, 0)
    levels |= {
        lv: int(n)
        for lv, n in conn.execute(text("SELECT level, count(*) FROM areas GROUP BY level"))
    }
    statuses = {
        s: int(n)
        for s, n in conn.execute(text("SELECT status, count(*) FROM cases GROUP BY status"))
    }
    workers = {
        f"tier_{t}": int(n)
        for t, n in conn.execute(text("SELECT tier, count(*) FROM workers GROUP BY tier"))
    }
    cameras = {
        t: int(n) for t, n in conn.execute(text("SELECT tier, count(*) FROM cameras GROUP BY tier"))
    }
    return {
        "tables": table_counts(conn),
        "areas_by_level": levels,
        "cases_by_status": statuses,
        "workers_by_tier": workers,
        "cameras_by_tier": cameras,
    }


def is_empty(conn: Connection) -> bool:
    """No areas loaded yet (the demo loads itself only into an empty store)."""
    return conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM areas)")).scalar_one()
