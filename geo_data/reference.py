"""Reference data every database carries: the category catalogue."""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo_data.catalogue import COLUMNS, load_categories

# What the database keeps of the catalogue: everything but the demo generator's mix.
CATEGORY_COLUMNS = tuple(c for c in COLUMNS if c not in ("severity_weights", "demo_weight"))


def sync_categories(conn: Connection) -> int:
    """Upsert the shipped catalogue into ``categories``; returns how many it holds."""
    rows = [{c: getattr(cat, c) for c in CATEGORY_COLUMNS} for cat in load_categories()]
    cols = ", ".join(CATEGORY_COLUMNS)
    values = ", ".join(f":{c}" for c in CATEGORY_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in CATEGORY_COLUMNS if c != "code")
    conn.execute(
        text(
            f"INSERT INTO categories ({cols}) VALUES ({values})"
            f" ON CONFLICT (code) DO UPDATE SET {updates}"
        ),
        rows,
    )
    return len(rows)
