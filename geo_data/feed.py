"""Reading the live feed: entries after a sequence number, optionally for one area."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

AREA_COLUMNS = ("district_id", "street_id", "community_id", "grid_id")


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    area_ids: tuple[int | None, ...]  # district, street, community, grid
    case: dict[str, Any]

    def as_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "case": self.case}


def latest_seq(conn: Connection) -> int:
    return conn.execute(text("SELECT coalesce(max(seq), 0) FROM case_feed")).scalar_one()


def entries_after(
    conn: Connection,
    since: int,
    *,
    limit: int = 5000,
    area_level: str | None = None,
    area_id: int | None = None,
) -> list[Entry]:
    """Entries with seq > ``since`` in seq order; within one area when given."""
    where = "seq > :since"
    params: dict[str, Any] = {"since": since, "limit": limit}
    if area_level is not None:
        column = f"{area_level}_id"
        if column not in AREA_COLUMNS:
            raise ValueError(f"no feed column for level {area_level!r}")
        where += f" AND {column} = :area"
        params["area"] = area_id
    rows = conn.execute(
        text(
            f"SELECT seq, kind, {', '.join(AREA_COLUMNS)}, payload FROM case_feed"
            f" WHERE {where} ORDER BY seq LIMIT :limit"
        ),
        params,
    )
    return [
        Entry(r.seq, r.kind, (r.district_id, r.street_id, r.community_id, r.grid_id), r.payload)
        for r in rows
    ]


def feed_scope(conn: Connection, area_id: int) -> tuple[str, int] | None:
    """(level, id) to filter the feed by for a screen watching ``area_id``.

    The feed carries district to grid ids; a courtyard is watched through its grid, the
    city (or an unknown id) is not a scope.
    """
    row = conn.execute(
        text("SELECT level, id, grid_id FROM areas WHERE id = :id"), {"id": area_id}
    ).first()
    if row is None or row.level == "city":
        return None
    if row.level == "courtyard":
        return ("grid", row.grid_id) if row.grid_id else None
    return row.level, row.id
