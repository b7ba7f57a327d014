"""Reference data every database carries: the category catalogue."""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo_data.catalogue import load_categories

CATEGORY_COLUMNS = (
    "code",
    "kind",
    "class_code",
    "class_zh",
    "class_en",
    "name_zh",
    "name_en",
    "sla_hours_s1",
    "sla_hours_s2",
    "sla_hours_s3",
    "sla_hours_s4",
    "default_severity",
    "urgent",
)


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
