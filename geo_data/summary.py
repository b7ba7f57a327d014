"""The leader summary's figures: tiles, the 30-day trend, categories, rankings, leaderboard.

Each block is one SQL statement over the case store, scoped to an area with
``views._scope`` and read from indexes: the covering index on ``reported_at`` for what
was received in a period, the partial index on open cases and the covering index on
``closed_at`` for what was still open (or overdue) at a time and what was closed in a
period.

Periods are local calendar days (of the configured zone, ``geo_data.localtime``), so
every figure matches the case list a drill-through opens (``/ops?from=...&to=...``
filters local report days):

- *today* is local midnight to ``now``; *yesterday* is compared to the same time of day;
- *this month* is the 1st to ``now``; the previous month is compared to the same day and
  time (its whole length when it is shorter);
- *30 days* are today and the 29 days before; the previous 30 days are the 30 before
  those;
- the leaderboard's *week* is today and the 6 days before.

Counting rules, as on the map's panel:

- a *received* case is one reported in the period that is not a duplicate (``merged``);
  the rates' denominators also leave out ``rejected`` reports, which were never cases;
- a 30-day cohort is judged as it stood at the end of its period: the previous 30 days'
  closure is what had been closed by the time the current period began, so both periods
  had the same chance to close their cases;
- *open at* a time ``t``: reported by ``t``, not a duplicate, and not closed or rejected
  by ``t``; *overdue at* ``t``: open at ``t`` and past its due time. This is exact for
  ``now``; for an earlier time it reads today's due times (escalation sets a new one)
  and counts a case reopened since as open then.

Every function takes ``now`` explicitly: the demo's cases end when it was loaded, and
tests need a fixed reference time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from time import perf_counter
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from geo_data import localtime
from geo_data.models import CLOSED_STATUSES
from geo_data.views import LOCAL_TZ, AreaInfo, _params, _scope

TREND_DAYS = 30
WEEK_DAYS = 7
LEADERBOARD_SIZE = 20
CATEGORY_LIMIT = 10

_OPEN_STATUS = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in CLOSED_STATUSES))
_RECEIVED = "status NOT IN ('merged', 'rejected')"
_OPEN_COLUMNS = "reported_at, status, closed_at, due_at"  # what ``_open_at`` reads


# -- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    """The instants the summary compares, all time-zone aware; days are local."""

    now: datetime
    today: date
    today_start: datetime
    yesterday_start: datetime
    yesterday_same: datetime  # the same time of day yesterday
    month_start: datetime
    prev_month_start: datetime
    prev_month_same: datetime  # the same day and time last month (or its end)
    window_start: datetime  # the first of the 30 days
    prev_window_start: datetime
    week_start: datetime
    day_ago: datetime  # now - 24 h, for "overdue then"

    @property
    def window_first_day(self) -> date:
        return localtime.local_day(self.window_start)

    @property
    def week_first_day(self) -> date:
        return localtime.local_day(self.week_start)

    @property
    def month_first_day(self) -> date:
        return localtime.local_day(self.month_start)

    @property
    def earliest(self) -> datetime:
        """The earliest instant any tile reads from."""
        return min(self.prev_window_start, self.prev_month_start, self.yesterday_start)


def periods(now: datetime) -> Periods:
    """The periods of the summary at ``now`` (which must carry a time zone)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    local = localtime.local(now)
    today = local.date()
    today_start = localtime.midnight(today)
    month_start = localtime.midnight(today.replace(day=1))
    prev_month_first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    prev_month_days = calendar.monthrange(prev_month_first.year, prev_month_first.month)[1]
    if today.day <= prev_month_days:
        prev_month_same = datetime.combine(
            prev_month_first.replace(day=today.day),
            local.timetz().replace(tzinfo=None),
            localtime.zone(),
        )
    else:  # the 31st against a 30-day month: all of the previous month
        prev_month_same = month_start - timedelta(microseconds=1)
    window_start = today_start - timedelta(days=TREND_DAYS - 1)
    return Periods(
        now=now,
        today=today,
        today_start=today_start,
        yesterday_start=today_start - timedelta(days=1),
        yesterday_same=now - timedelta(days=1),
        month_start=month_start,
        prev_month_start=localtime.midnight(prev_month_first),
        prev_month_same=prev_month_same,
        window_start=window_start,
        prev_window_start=window_start - timedelta(days=TREND_DAYS),
        week_start=today_start - timedelta(days=WEEK_DAYS - 1),
        day_ago=now - timedelta(hours=24),
    )


def _period_params(area: AreaInfo, p: Periods, **extra: object) -> dict[str, object]:
    return _params(
        area,
        now=p.now,
        today_start=p.today_start,
        yesterday_start=p.yesterday_start,
        yesterday_same=p.yesterday_same,
        month_start=p.month_start,
        prev_month_start=p.prev_month_start,
        prev_month_same=p.prev_month_same,
        window_start=p.window_start,
        prev_window_start=p.prev_window_start,
        week_start=p.week_start,
        day_ago=p.day_ago,
        earliest=p.earliest,
        tz=LOCAL_TZ,
        **extra,
    )


def _open_since(area: AreaInfo, since: str, columns: str) -> str:
    """Rows of the cases that may have been open at some time from ``:<since>`` to
    ``:now``: open now (the partial open-case index) and those closed or rejected after
    ``since`` (the closed_at index). ``_open_at`` picks those open at a given time."""
    return f"""
        SELECT {columns} FROM cases
        WHERE {_scope(area)} AND {_OPEN_STATUS} AND reported_at <= :now
        UNION ALL
        SELECT {columns} FROM cases
        WHERE {_scope(area)} AND closed_at > :{since} AND status IN ('closed', 'rejected')
          AND reported_at <= :now
    """


def _open_at(at: str) -> str:
    """Condition on rows of ``_open_since``: the case was open at ``:<at>``."""
    return f"(reported_at <= :{at} AND ({_OPEN_STATUS} OR closed_at > :{at}))"


# -- tiles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One headline figure with the same figure for the period it is compared with.

    ``unit``: count, rate (0-1) or hours. ``better``: which way is good (up or down).
    ``status``, ``date_from`` and ``date_to`` name the cases behind the figure as the
    case list filters them (local report days; no dates: as of now).
    """

    key: str
    value: float | None
    previous: float | None
    unit: str
    better: str
    status: str
    date_from: date | None = None
    date_to: date | None = None

    @property
    def change(self) -> float | None:
        """value - previous (for rates in points of 0-1), None when either is unknown."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def relative_change(self) -> float | None:
        """(value - previous) / previous for counts and hours; None without a base."""
        if self.change is None or not self.previous:
            return None
        return self.change / self.previous


TILE_KEYS = (
    "today",
    "month",
    "closure_rate",
    "on_time_rate",
    "satisfaction",
    "overdue",
    "handling_hours",
)


def _ratio(part: Any, whole: Any) -> float | None:
    return round(int(part) / int(whole), 4) if whole else None


def _hours(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def tiles(conn: Connection, area: AreaInfo, now: datetime) -> list[Tile]:
    """The headline figures of ``area`` at ``now``, in ``TILE_KEYS`` order.

    - ``today``: cases received since local midnight, against yesterday to the same time;
    - ``month``: received this month, against last month to the same day;
    - ``closure_rate``: of the cases received in the 30 days (not rejected), the share
      closed; against the previous 30 days as they stood when this period began;
    - ``on_time_rate``: of those closed, the share closed by their due time;
    - ``satisfaction``: of those closed with the resident's verdict, the share satisfied;
    - ``overdue``: cases open and past due now, against 24 hours ago;
    - ``handling_hours``: mean hours from report to closing of the closed cases.
    """
    p = periods(now)
    cur = "reported_at >= :window_start"
    prev = "reported_at >= :prev_window_start AND reported_at < :window_start"
    hours = "extract(epoch FROM closed_at - reported_at) / 3600.0"
    # Closed cases are read by closing time (the closed_at index): a case reported in a
    # period was closed after the period began.
    cur_closed = f"{cur} AND closed_at <= :now"
    prev_closed = f"{prev} AND closed_at < :window_start"
    row = (
        conn.execute(
            text(
                f"""
                SELECT r.*, k.*, o.*
                FROM (
                  SELECT
                    count(*) FILTER (WHERE reported_at >= :today_start
                                       AND status <> 'merged') AS today,
                    count(*) FILTER (WHERE reported_at >= :yesterday_start
                                       AND reported_at <= :yesterday_same
                                       AND status <> 'merged') AS yesterday,
                    count(*) FILTER (WHERE reported_at >= :month_start
                                       AND status <> 'merged') AS month,
                    count(*) FILTER (WHERE reported_at >= :prev_month_start
                                       AND reported_at <= :prev_month_same
                                       AND status <> 'merged') AS prev_month,
                    count(*) FILTER (WHERE {cur} AND {_RECEIVED}) AS received,
                    count(*) FILTER (WHERE {prev} AND {_RECEIVED}) AS prev_received
                  FROM cases
                  WHERE {_scope(area)} AND reported_at >= :earliest AND reported_at <= :now
                ) r, (
                  SELECT
                    count(*) FILTER (WHERE {cur_closed}) AS closed,
                    count(*) FILTER (WHERE {cur_closed} AND closed_at <= due_at) AS on_time,
                    count(satisfied) FILTER (WHERE {cur_closed}) AS rated,
                    count(*) FILTER (WHERE {cur_closed} AND satisfied) AS satisfied,
                    avg({hours}) FILTER (WHERE {cur_closed}) AS hours,
                    count(*) FILTER (WHERE {prev_closed}) AS prev_closed,
                    count(*) FILTER (WHERE {prev_closed} AND closed_at <= due_at)
                      AS prev_on_time,
                    count(satisfied) FILTER (WHERE {prev_closed}) AS prev_rated,
                    count(*) FILTER (WHERE {prev_closed} AND satisfied) AS prev_satisfied,
                    avg({hours}) FILTER (WHERE {prev_closed}) AS prev_hours
                  FROM cases
                  WHERE {_scope(area)} AND closed_at >= :prev_window_start
                    AND closed_at <= :now AND status = 'closed'
                ) k, (
                  SELECT count(*) FILTER (WHERE {_open_at("now")} AND due_at < :now) AS overdue,
                         count(*) FILTER (WHERE {_open_at("day_ago")} AND due_at < :day_ago)
                           AS overdue_before
                  FROM ({_open_since(area, "day_ago", _OPEN_COLUMNS)}) x
                ) o
                """
            ),
            _period_params(area, p),
        )
        .mappings()
        .one()
    )
    window = (p.window_first_day, p.today)
    return [
        Tile("today", row["today"], row["yesterday"], "count", "none", "all", p.today, p.today),
        Tile(
            "month",
            row["month"],
            row["prev_month"],
            "count",
            "none",
            "all",
            p.month_first_day,
            p.today,
        ),
        Tile(
            "closure_rate",
            _ratio(row["closed"], row["received"]),
            _ratio(row["prev_closed"], row["prev_received"]),
            "rate",
            "up",
            "closed",
            *window,
        ),
        Tile(
            "on_time_rate",
            _ratio(row["on_time"], row["closed"]),
            _ratio(row["prev_on_time"], row["prev_closed"]),
            "rate",
            "up",
            "closed",
            *window,
        ),
        Tile(
            "satisfaction",
            _ratio(row["satisfied"], row["rated"]),
            _ratio(row["prev_satisfied"], row["prev_rated"]),
            "rate",
            "up",
            "closed",
            *window,
        ),
        Tile("overdue", row["overdue"], row["overdue_before"], "count", "down", "overdue"),
        Tile(
            "handling_hours",
            _hours(row["hours"]),
            _hours(row["prev_hours"]),
            "hours",
            "down",
            "closed",
            *window,
        ),
    ]


# -- the trend ---------------------------------------------------------------------------------

TREND_COLUMNS = ["day", "received", "closed"]


def trend(conn: Connection, area: AreaInfo, now: datetime) -> pd.DataFrame:
    """Per local day of the 30 days (oldest first; today so far last): ``received``
    (reported that day, not duplicates) and ``closed`` (closed that day)."""
    p = periods(now)
    rows = conn.execute(
        text(
            f"""
            WITH days AS (
              SELECT CAST(:first_day AS date) + g AS day
              FROM generate_series(0, :n_days - 1) AS g
            ), received AS (
              SELECT (reported_at AT TIME ZONE :tz)::date AS day, count(*) AS n
              FROM cases
              WHERE {_scope(area)} AND reported_at >= :window_start AND reported_at <= :now
                AND status <> 'merged'
              GROUP BY 1
            ), closed AS (
              SELECT (closed_at AT TIME ZONE :tz)::date AS day, count(*) AS n
              FROM cases
              WHERE {_scope(area)} AND closed_at >= :window_start AND closed_at <= :now
                AND status = 'closed'
              GROUP BY 1
            )
            SELECT d.day, coalesce(r.n, 0) AS received, coalesce(c.n, 0) AS closed
            FROM days d LEFT JOIN received r USING (day) LEFT JOIN closed c USING (day)
            ORDER BY d.day
            """
        ),
        _period_params(area, p, first_day=p.window_first_day, n_days=TREND_DAYS),
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=TREND_COLUMNS)
    return frame.astype({"received": "int64", "closed": "int64"})


# -- categories --------------------------------------------------------------------------------

CATEGORY_COLUMNS = ["code", "name_zh", "name_en", "received", "closed", "open", "overdue"]


def categories(
    conn: Connection, area: AreaInfo, now: datetime, limit: int | None = CATEGORY_LIMIT
) -> pd.DataFrame:
    """Categories by cases received in the 30 days (most first; ``limit`` None: all with
    any), with how many of those are ``closed``, and how many of the category are
    ``open`` and ``overdue`` now (whenever reported)."""
    p = periods(now)
    rows = conn.execute(
        text(
            f"""
            SELECT k.code, k.name_zh, k.name_en, sum(x.received) AS received,
                   sum(x.closed) AS closed, sum(x.open) AS open, sum(x.overdue) AS overdue
            FROM (
              SELECT category_code, count(*) AS received,
                     count(*) FILTER (WHERE status = 'closed' AND closed_at <= :now) AS closed,
                     0 AS open, 0 AS overdue
              FROM cases
              WHERE {_scope(area)} AND reported_at >= :window_start AND reported_at <= :now
                AND status <> 'merged'
              GROUP BY category_code
              UNION ALL
              SELECT category_code, 0, 0, count(*) FILTER (WHERE {_open_at("now")}),
                     count(*) FILTER (WHERE {_open_at("now")} AND due_at < :now)
              FROM ({_open_since(area, "now", f"category_code, {_OPEN_COLUMNS}")}) o
              GROUP BY category_code
            ) x JOIN categories k ON k.code = x.category_code
            GROUP BY k.code, k.name_zh, k.name_en
            HAVING sum(x.received) + sum(x.open) > 0
            ORDER BY sum(x.received) DESC, sum(x.open) DESC, k.code
            LIMIT :limit
            """
        ),
        _period_params(area, p, limit=limit),
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=CATEGORY_COLUMNS)
    return frame.astype({c: "int64" for c in ("received", "closed", "open", "overdue")})


# -- rankings of the sub-areas -----------------------------------------------------------------

RANKING_COLUMNS = [
    "code",
    "level",
    "name_zh",
    "name_en",
    "population",
    "received",
    "closed",
    "on_time",
    "closure_rate",
    "on_time_rate",
    "open",
    "overdue",
]


def rankings(conn: Connection, area: AreaInfo, now: datetime) -> pd.DataFrame:
    """Every child area of ``area`` (streets of a district, communities of a street...)
    with its 30-day ``received`` (not rejected), ``closed`` and ``on_time`` counts, their
    rates, and ``open`` and ``overdue`` now; ordered by code (the page sorts)."""
    level = area.child_level
    if level is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RANKING_COLUMNS})
    p = periods(now)
    rows = conn.execute(
        text(
            f"""
            SELECT a.code, a.level, a.name_zh, a.name_en, a.population,
                   coalesce(w.received, 0), coalesce(w.closed, 0), coalesce(w.on_time, 0),
                   coalesce(o.open, 0), coalesce(o.overdue, 0)
            FROM areas a
            LEFT JOIN (
              SELECT {level}_id AS id,
                     count(*) FILTER (WHERE {_RECEIVED}) AS received,
                     count(*) FILTER (WHERE status = 'closed' AND closed_at <= :now) AS closed,
                     count(*) FILTER (WHERE status = 'closed' AND closed_at <= :now
                                        AND closed_at <= due_at) AS on_time
              FROM cases
              WHERE {_scope(area)} AND reported_at >= :window_start AND reported_at <= :now
              GROUP BY 1
            ) w ON w.id = a.id
            LEFT JOIN (
              SELECT {level}_id AS id, count(*) FILTER (WHERE {_open_at("now")}) AS open,
                     count(*) FILTER (WHERE {_open_at("now")} AND due_at < :now) AS overdue
              FROM ({_open_since(area, "now", f"{level}_id, {_OPEN_COLUMNS}")}) x
              GROUP BY 1
            ) o ON o.id = a.id
            WHERE a.parent_id = :area_id
            ORDER BY a.code
            """
        ),
        _period_params(area, p),
    ).all()
    records = []
    for code, lvl, zh, en, population, received, closed, on_time, open_, overdue in rows:
        records.append(
            (
                code,
                lvl,
                zh,
                en,
                population,
                int(received),
                int(closed),
                int(on_time),
                _ratio(closed, received),
                _ratio(on_time, closed),
                int(open_),
                int(overdue),
            )
        )
    return pd.DataFrame.from_records(records, columns=RANKING_COLUMNS)


# -- the weekly grid-worker leaderboard --------------------------------------------------------

LEADERBOARD_COLUMNS = [
    "rank",
    "worker_id",
    "code",
    "name",
    "tier",
    "phone",
    "grid_zh",
    "grid_en",
    "community_zh",
    "community_en",
    "closed",
    "on_time",
    "on_time_rate",
    "rated",
    "satisfied",
    "satisfaction",
    "reopened",
    "hours",
]


def leaderboard(
    conn: Connection, area: AreaInfo, now: datetime, limit: int = LEADERBOARD_SIZE
) -> pd.DataFrame:
    """The week's grid workers by the cases of ``area`` they closed (today and the 6 days
    before, by closing time): ``closed``, ``on_time`` and its rate, ``satisfaction`` of the
    residents who gave a verdict, ``reopened``: cases reopened in the week that count
    against them (``case_events`` 'reopen' naming them as handler), and mean ``hours``
    from report to closing. Ordered by closed, on time, satisfied, fewest reopened.

    ``phone`` is the worker's number unmasked: the caller masks it for roles that may not
    see personal data.
    """
    p = periods(now)
    rows = conn.execute(
        text(
            f"""
            WITH closed AS (
              SELECT assignee_id AS worker_id, count(*) AS closed,
                     count(*) FILTER (WHERE closed_at <= due_at) AS on_time,
                     count(satisfied) AS rated,
                     count(*) FILTER (WHERE satisfied) AS satisfied,
                     avg(extract(epoch FROM closed_at - reported_at) / 3600.0) AS hours
              FROM cases
              WHERE {_scope(area)} AND closed_at >= :week_start AND closed_at <= :now
                AND status = 'closed' AND assignee_id IS NOT NULL
              GROUP BY assignee_id
            ), reopened AS (
              SELECT (e.data ->> 'handler_id')::bigint AS worker_id, count(*) AS reopened
              FROM case_events e JOIN cases c ON c.id = e.case_id
              WHERE e.action = 'reopen' AND e.at >= :week_start AND e.at <= :now
                AND {_scope(area, "c")} AND jsonb_typeof(e.data -> 'handler_id') = 'number'
              GROUP BY 1
            )
            SELECT w.id, w.code, w.name_zh, w.tier, w.phone,
                   g.name_zh AS grid_zh, g.name_en AS grid_en,
                   m.name_zh AS community_zh, m.name_en AS community_en,
                   k.closed, k.on_time, k.rated, k.satisfied,
                   coalesce(r.reopened, 0) AS reopened, k.hours
            FROM closed k
            JOIN workers w ON w.id = k.worker_id
            LEFT JOIN reopened r ON r.worker_id = k.worker_id
            LEFT JOIN areas g ON g.id = coalesce(w.home_grid_id, w.grid_id)
            LEFT JOIN areas m ON m.id = w.community_id
            ORDER BY k.closed DESC, k.on_time DESC, k.satisfied DESC,
                     coalesce(r.reopened, 0), w.code
            LIMIT :limit
            """
        ),
        _period_params(area, p, limit=int(limit)),
    ).all()
    records = []
    for rank, r in enumerate(rows, start=1):
        records.append(
            (
                rank,
                int(r.id),
                r.code,
                r.name_zh,
                int(r.tier),
                r.phone,
                r.grid_zh,
                r.grid_en,
                r.community_zh,
                r.community_en,
                int(r.closed),
                int(r.on_time),
                _ratio(r.on_time, r.closed),
                int(r.rated),
                int(r.satisfied),
                _ratio(r.satisfied, r.rated),
                int(r.reopened),
                _hours(r.hours),
            )
        )
    return pd.DataFrame.from_records(records, columns=LEADERBOARD_COLUMNS)


# -- everything at once --------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    area: AreaInfo
    periods: Periods
    tiles: list[Tile]
    trend: pd.DataFrame
    categories: pd.DataFrame
    rankings: pd.DataFrame
    leaderboard: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def summary(conn: Connection, area: AreaInfo, now: datetime) -> Summary:
    """All the blocks of the summary page for ``area`` at ``now`` (one statement each)."""
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any, *args: Any) -> Any:
        start = perf_counter()
        result = fn(*args)
        timings[name] = round((perf_counter() - start) * 1000, 1)
        return result

    return Summary(
        area=area,
        periods=periods(now),
        tiles=timed("tiles", tiles, conn, area, now),
        trend=timed("trend", trend, conn, area, now),
        categories=timed("categories", categories, conn, area, now),
        rankings=timed("rankings", rankings, conn, area, now),
        leaderboard=timed("leaderboard", leaderboard, conn, area, now),
        timings=timings,
    )
