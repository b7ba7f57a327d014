"""The wall screen's queries: the longest-overdue open cases, the latest reports and the
stops of the auto-tour.

Like ``geo_data.views`` they take a Connection, an ``AreaInfo`` and an explicit ``now``
(tests pass the demo's end), and count on the stored area-id columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from geo_data import localtime
from geo_data.views import _OPEN, AreaInfo, _now, _params, _scope

OVERDUE_ROWS = 12
RECENT_ROWS = 12
MAX_TOUR_STOPS = 40  # a community has a few dozen grids at most; never tour more


@dataclass(frozen=True)
class OverdueCase:
    """An open case past its due time, with where it lies (names per level below the
    district, None where the case has no area at that level)."""

    id: int
    category_code: str
    category_zh: str
    category_en: str
    severity: int
    status: str
    due_at: datetime
    overdue_hours: float
    street: tuple[str, str] | None  # (zh, en)
    community: tuple[str, str] | None
    grid: tuple[str, str] | None

    def category(self, lang: str) -> str:
        return self.category_en if lang == "en" else self.category_zh


def overdue_cases(
    conn: Connection, area: AreaInfo, *, now: datetime | None = None, limit: int = OVERDUE_ROWS
) -> tuple[list[OverdueCase], int]:
    """The open cases in ``area`` past their due time at ``now``, longest overdue first
    (at most ``limit``), and how many there are in all.

    Ties (same due time) are broken by case id, so the list is stable between refreshes.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = _now(now)
    rows = conn.execute(
        text(
            f"""
            SELECT c.id, c.category_code, cat.name_zh, cat.name_en, c.severity, c.status,
                   c.due_at,
                   round((extract(epoch FROM (:now - c.due_at)) / 3600)::numeric, 1)
                       AS overdue_hours,
                   s.name_zh AS street_zh, s.name_en AS street_en,
                   m.name_zh AS community_zh, m.name_en AS community_en,
                   g.name_zh AS grid_zh, g.name_en AS grid_en,
                   count(*) OVER () AS total
            FROM cases c
            JOIN categories cat ON cat.code = c.category_code
            LEFT JOIN areas s ON s.id = c.street_id
            LEFT JOIN areas m ON m.id = c.community_id
            LEFT JOIN areas g ON g.id = c.grid_id
            WHERE {_scope(area, "c")} AND c.{_OPEN} AND c.reported_at <= :now
              AND c.due_at < :now
            ORDER BY c.due_at, c.id
            LIMIT :limit
            """
        ),
        _params(area, now=now, limit=int(limit)),
    ).mappings()
    cases: list[OverdueCase] = []
    total = 0
    for row in rows:
        total = int(row["total"])
        cases.append(
            OverdueCase(
                id=int(row["id"]),
                category_code=row["category_code"],
                category_zh=row["name_zh"],
                category_en=row["name_en"],
                severity=int(row["severity"]),
                status=row["status"],
                due_at=row["due_at"],
                overdue_hours=float(row["overdue_hours"]),
                street=_names(row, "street"),
                community=_names(row, "community"),
                grid=_names(row, "grid"),
            )
        )
    return cases, total


def _names(row: Any, level: str) -> tuple[str, str] | None:
    zh = row[f"{level}_zh"]
    return None if zh is None else (zh, row[f"{level}_en"])


def recent_reports(
    conn: Connection, area: AreaInfo, *, now: datetime | None = None, limit: int = RECENT_ROWS
) -> list[dict[str, Any]]:
    """The latest reports in ``area`` (newest first), shaped like the live ticker's rows
    (``assets/live.js``): id, category, severity, status, at (ISO time)."""
    now = _now(now)
    rows = conn.execute(
        text(
            f"""
            SELECT id, category_code, severity, status, reported_at
            FROM cases
            WHERE {_scope(area)} AND reported_at <= :now
            ORDER BY reported_at DESC, id DESC
            LIMIT :limit
            """
        ),
        _params(area, now=now, limit=int(limit)),
    ).all()
    return [
        {
            "id": int(r.id),
            "category": r.category_code,
            "severity": int(r.severity),
            "status": r.status,
            "at": localtime.utc_iso(r.reported_at),
        }
        for r in rows
    ]


def tour_stops(conn: Connection, area: AreaInfo, limit: int = MAX_TOUR_STOPS) -> list[str]:
    """The codes of ``area``'s children in code order: the stops of the wall's tour."""
    return list(
        conn.execute(
            text("SELECT code FROM areas WHERE parent_id = :id ORDER BY code LIMIT :limit"),
            {"id": area.id, "limit": int(limit)},
        ).scalars()
    )
