"""The case list behind the supervisor console's table and every drill-through.

Filters come from a URL (``/ops?status=overdue&from=2026-11-01...``), so a number on the
summary page links to exactly the cases behind it. Dates are local days (of the configured zone),
``to`` inclusive, of the report time, or of the closing time with ``dates=closed`` (the
cases a worker closed this week, the closed line of the trend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from geo_data.models import CASE_STATUSES, CHANNELS, CLOSED_STATUSES
from geo_data.views import LOCAL_TZ, AreaInfo, _now, _params, _scope

STATUS_FILTERS = ("all", "open", "overdue", "closed", *CASE_STATUSES)
DATE_COLUMNS = {"reported": "reported_at", "closed": "closed_at"}  # what ``dates`` may name
MAX_ROWS = 2000
_OPEN = "c.status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))


class FilterError(ValueError):
    """A filter value that is not one the list understands."""


@dataclass(frozen=True)
class CaseFilters:
    status: str = "open"
    category: str | None = None
    channel: str | None = None
    severity: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    worker_id: int | None = None
    dates: str = "reported"  # which time date_from and date_to bound

    def __post_init__(self) -> None:
        if self.status not in STATUS_FILTERS:
            raise FilterError(f"unknown status {self.status!r}")
        if self.dates not in DATE_COLUMNS:
            raise FilterError(f"dates is one of {', '.join(DATE_COLUMNS)}")
        if self.channel is not None and self.channel not in CHANNELS:
            raise FilterError(f"unknown channel {self.channel!r}")
        if self.severity is not None and self.severity not in (1, 2, 3, 4):
            raise FilterError("severity is 1 to 4")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError("the start date is after the end date")


def filters_from_query(query: dict[str, str]) -> CaseFilters:
    """Filters from URL query values; malformed values fall back to 'no filter'."""

    def day(key: str) -> date | None:
        try:
            return date.fromisoformat(query.get(key, ""))
        except ValueError:
            return None

    def number(key: str) -> int | None:
        raw = query.get(key, "")
        return int(raw) if raw.isdigit() and len(raw) < 10 else None

    status = query.get("status", "open")
    channel = query.get("channel") or None
    severity = number("severity")
    start, end = day("from"), day("to")
    dates = query.get("dates", "reported")
    try:
        return CaseFilters(
            status=status if status in STATUS_FILTERS else "open",
            category=(query.get("category") or None),
            channel=channel if channel in CHANNELS else None,
            severity=severity if severity in (1, 2, 3, 4) else None,
            date_from=start,
            date_to=end if not (start and end and start > end) else None,
            worker_id=number("worker"),
            dates=dates if dates in DATE_COLUMNS else "reported",
        )
    except FilterError:
        return CaseFilters()


def list_cases(
    conn: Connection,
    area: AreaInfo,
    filters: CaseFilters,
    *,
    now: datetime | None = None,
    limit: int = MAX_ROWS,
    ids: list[int] | None = None,
) -> tuple[pd.DataFrame, int]:
    """(the newest ``limit`` matching cases, how many match in all); only among ``ids``
    when given (a live table re-reading the cases the feed named)."""
    now = _now(now)
    where = [_scope(area, "c")]
    if ids is not None:
        where.append("c.id = ANY(:ids)")
    params: dict[str, Any] = _params(area, now=now, tz=LOCAL_TZ, limit=limit)
    if ids is not None:
        params["ids"] = [int(i) for i in ids]
    if filters.status == "open":
        where.append(_OPEN)
    elif filters.status == "overdue":
        where += [_OPEN, "c.due_at < :now"]
    elif filters.status != "all":
        where.append("c.status = :status")
        params["status"] = filters.status
    for column, value in (
        ("category_code", filters.category),
        ("channel", filters.channel),
        ("severity", filters.severity),
        ("assignee_id", filters.worker_id),
    ):
        if value is not None:
            where.append(f"c.{column} = :{column}")
            params[column] = value
    column = DATE_COLUMNS[filters.dates]
    if filters.date_from:
        # Local midnight: a timestamp without zone, read as local time, is the instant.
        where.append(f"c.{column} >= (CAST(:date_from AS timestamp) AT TIME ZONE :tz)")
        params["date_from"] = filters.date_from
    if filters.date_to:
        where.append(f"c.{column} < ((CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE :tz)")
        params["date_to"] = filters.date_to
    sql = f"""
        SELECT c.id, c.reported_at, c.category_code,
               k.name_zh AS category_zh, k.name_en AS category_en, c.severity, c.status,
               c.channel, c.handling_level, s.name_zh AS street_zh, s.name_en AS street_en,
               m.name_zh AS community_zh, m.name_en AS community_en,
               w.name_zh AS assignee, c.due_at,
               ({_OPEN} AND c.due_at < :now) AS overdue, c.report_count,
               count(*) OVER () AS total
        FROM cases c
        JOIN categories k ON k.code = c.category_code
        LEFT JOIN areas s ON s.id = c.street_id
        LEFT JOIN areas m ON m.id = c.community_id
        LEFT JOIN workers w ON w.id = c.assignee_id
        WHERE {" AND ".join(where)}
        ORDER BY c.reported_at DESC, c.id DESC
        LIMIT :limit
    """
    frame = pd.read_sql_query(text(sql), conn, params=params)
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    return frame.drop(columns="total"), total
