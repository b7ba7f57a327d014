"""Reads behind the Open311 GeoReport v2 interface: cases as the public may see them.

Open311 calls a case a *service request*. What leaves here carries no personal data:
the reporter's name and phone are never selected. Listings follow the spec's response
volume rule: a span of at most 90 days (the most recent 90 by default) and at most
1,000 requests, newest first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BIGINT, TEXT

from geo_data.models import CLOSED_STATUSES

MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
OPEN311_STATUSES = ("open", "closed")

_CLOSED_SQL = "c.status IN (" + ", ".join(f"'{s}'" for s in CLOSED_STATUSES) + ")"

# The agency responsible is the area at the case's handling level.
_SELECT = f"""
    SELECT c.id, c.status, c.category_code, k.name_zh AS service_name_zh,
           k.name_en AS service_name_en, c.description, c.reported_at, c.due_at,
           CASE WHEN {_CLOSED_SQL} THEN coalesce(c.closed_at, ev.last_at, c.updated_at)
                ELSE coalesce(ev.last_at, c.updated_at) END AS updated_at,
           round(ST_X(c.geom)::numeric, 6)::float8 AS lon,
           round(ST_Y(c.geom)::numeric, 6)::float8 AS lat,
           c.media_url, c.duplicate_of_id, a.name_zh AS agency_zh, a.name_en AS agency_en
    FROM cases c
    JOIN categories k ON k.code = c.category_code
    LEFT JOIN areas a ON a.id = CASE c.handling_level WHEN 'community' THEN c.community_id
                                                      WHEN 'street' THEN c.street_id
                                                      ELSE c.district_id END
    LEFT JOIN LATERAL (
        SELECT max(e.at) AS last_at FROM case_events e WHERE e.case_id = c.id
    ) ev ON true
"""


@dataclass(frozen=True)
class PublicCase:
    """A case as an Open311 client may see it (no reporter name or phone)."""

    id: int
    status: str
    category_code: str
    service_name_zh: str
    service_name_en: str
    description: str
    reported_at: datetime
    updated_at: datetime
    due_at: datetime
    lon: float
    lat: float
    media_url: str | None
    duplicate_of_id: int | None
    agency_zh: str | None
    agency_en: str | None

    @property
    def open311_status(self) -> str:
        """``closed`` once the case is closed, rejected or merged; else ``open``."""
        return open311_status(self.status)


@dataclass(frozen=True)
class Window:
    """The range of ``reported_at`` (requested_datetime) a listing covers, inclusive."""

    start: datetime
    end: datetime


def open311_status(status: str) -> str:
    """The Open311 status (open/closed) of a case status."""
    return "closed" if status in CLOSED_STATUSES else "open"


def request_window(start: datetime | None, end: datetime | None, now: datetime) -> Window:
    """The window a listing covers: the most recent 90 days unless dates are given.

    With only a start, the 90 days from it; with only an end, the 90 days up to it.
    ValueError if the end precedes the start, the span exceeds 90 days, or the dates
    are too near the calendar's ends to add 90 days.
    """
    try:
        if start is None and end is None:
            start, end = now - MAX_SPAN, now
        elif start is None and end is not None:
            start = end - MAX_SPAN
        elif end is None and start is not None:
            end = start + MAX_SPAN
    except OverflowError:
        raise ValueError("start_date or end_date is out of range") from None
    assert start is not None and end is not None
    if end < start:
        raise ValueError("end_date is before start_date")
    if end - start > MAX_SPAN:
        raise ValueError("start_date to end_date may not span more than 90 days")
    return Window(start, end)


def cases_by_id(conn: Connection, ids: Sequence[int]) -> list[PublicCase]:
    """The cases with these ids that exist, in the order asked."""
    if not ids:
        return []
    rows = conn.execute(
        text(f"{_SELECT} WHERE c.id = ANY(:ids) ORDER BY array_position(:ids, c.id)").bindparams(
            bindparam("ids", type_=ARRAY(BIGINT))
        ),
        {"ids": list(ids)},
    )
    return [PublicCase(**row._mapping) for row in rows]


def cases_in_window(
    conn: Connection,
    window: Window,
    *,
    category_codes: Collection[str] = (),
    statuses: Collection[str] = (),
    limit: int = MAX_REQUESTS,
) -> list[PublicCase]:
    """Cases reported within ``window``, newest first, at most ``limit`` (<= 1,000).

    ``category_codes`` and ``statuses`` (Open311's open/closed) narrow the listing;
    empty means all.
    """
    unknown = set(statuses) - set(OPEN311_STATUSES)
    if unknown:
        raise ValueError(f"unknown Open311 statuses: {', '.join(sorted(unknown))}")
    where = ["c.reported_at BETWEEN :start AND :end"]
    params: dict[str, object] = {
        "start": window.start,
        "end": window.end,
        "limit": min(limit, MAX_REQUESTS),
    }
    if category_codes:
        where.append("c.category_code = ANY(:codes)")
        params["codes"] = list(category_codes)
    if set(statuses) == {"open"}:
        where.append(f"NOT {_CLOSED_SQL}")
    elif set(statuses) == {"closed"}:
        where.append(_CLOSED_SQL)
    statement = text(
        f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY c.reported_at DESC, c.id DESC LIMIT :limit"
    )
    if category_codes:
        statement = statement.bindparams(bindparam("codes", type_=ARRAY(TEXT)))
    return [PublicCase(**row._mapping) for row in conn.execute(statement, params)]
