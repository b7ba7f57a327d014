"""Reading the live feed: entries after a sequence number, optionally for one area, and
the snapshot of open cases a screen starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from geo_data import views
from geo_data.case_store import FEED_PAYLOAD_SQL

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


@dataclass(frozen=True)
class Snapshot:
    """The open cases of an area as feed payloads, and the feed position they reflect.

    ``complete``: every open case is in ``cases`` (else the ``limit`` most urgent);
    ``open`` and ``new_today`` count the whole area either way.
    """

    upto: int
    cases: list[dict[str, Any]]
    complete: bool
    open: int
    new_today: int

    def as_message(self) -> dict[str, Any]:
        return {
            "upto": self.upto,
            "cases": self.cases,
            "complete": self.complete,
            "open": self.open,
            "new_today": self.new_today,
        }


def snapshot(
    conn: Connection, area: views.AreaInfo, *, limit: int = 2000, now: datetime | None = None
) -> Snapshot:
    """The open cases of ``area``, most severe and most urgent first, shaped as the feed
    carries them.

    The feed position is read first: a change committed in between is then applied
    twice at worst (the model keeps the later state), never missed.
    """
    upto = latest_seq(conn)
    now = now or datetime.now(UTC)
    scope = views._scope(area, "c")
    rows = conn.execute(
        text(
            f"""
            SELECT {FEED_PAYLOAD_SQL} AS payload, count(*) OVER () AS total
            FROM cases c
            WHERE {scope} AND c.{views._OPEN}
            ORDER BY c.severity, c.due_at, c.id
            LIMIT :limit
            """
        ),
        views._params(area, limit=int(limit)),
    ).all()
    total = int(rows[0].total) if rows else 0
    new_today = conn.execute(
        text(
            f"""
            SELECT count(*) FROM cases c
            WHERE {scope} AND c.status <> 'merged'
              AND c.reported_at >= (date_trunc('day', :now AT TIME ZONE :tz) AT TIME ZONE :tz)
            """
        ),
        views._params(area, now=now, tz=views.LOCAL_TZ),
    ).scalar_one()
    return Snapshot(
        upto=upto,
        cases=[r.payload for r in rows],
        complete=total <= len(rows),
        open=total,
        new_today=int(new_today),
    )
