"""CSV downloads of the summary's tables: ``GET /export/<table>.csv?area=CODE``.

The request check in ``app.auth`` has already demanded a session; here the role and the
area are checked as the summary page checks them, so a download shows exactly what the
page shows. Table names are a fixed list (anything else is 404), so nothing in the URL
reaches a file or a query. Files are UTF-8 with a byte-order mark, so Excel opens the
Chinese headings correctly; worker phones are masked for roles that may not see them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import datetime

import pandas as pd
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import Connection

from app.auth import PAGE_ROLES, current_user
from app.pages.summary import as_of, choose_area, rate_text
from app.privacy import mask_phone, may_see_personal
from geo_data import summary as figures
from geo_data.users import UserInfo
from geo_data.views import AreaInfo
from layers.labels import LEVEL, WORKER_TIER, label

BOM = "\ufeff"

HEADINGS = {
    "code": ("区域代码", "Area code"),
    "area": ("区域", "Area"),
    "level": ("层级", "Level"),
    "population": ("人口", "Population"),
    "received": ("近30天受理", "Received (30 days)"),
    "closed": ("结案", "Closed"),
    "on_time": ("按期结案", "Closed on time"),
    "closure_rate": ("结案率", "Closure rate"),
    "on_time_rate": ("按期结案率", "On-time rate"),
    "open": ("未结", "Open"),
    "overdue": ("超期", "Overdue"),
    "rank": ("名次", "Rank"),
    "worker_code": ("工号", "Worker code"),
    "worker": ("姓名", "Name"),
    "tier": ("类别", "Tier"),
    "phone": ("电话", "Phone"),
    "grid": ("网格", "Grid"),
    "community": ("社区", "Community"),
    "rated": ("评价数", "Rated"),
    "satisfied": ("满意", "Satisfied"),
    "satisfaction": ("满意率", "Satisfaction"),
    "reopened": ("重办", "Reopened"),
    "hours": ("平均用时（小时）", "Mean hours to close"),
    "category_code": ("类别代码", "Category code"),
    "category": ("类别", "Category"),
    "day": ("日期", "Date"),
    "day_received": ("受理", "Received"),
    "day_closed": ("结案", "Closed"),
}


def _head(keys: Iterable[str], lang: str) -> list[str]:
    return [HEADINGS[k][1] if lang == "en" else HEADINGS[k][0] for k in keys]


def _none(value: object) -> object:
    return "" if value is None else value


def _rankings(frame: pd.DataFrame, user: UserInfo, lang: str) -> list[list[object]]:
    keys = ["code", "area", "level", "population", "received", "closed", "on_time"]
    keys += ["closure_rate", "on_time_rate", "open", "overdue"]
    rows: list[list[object]] = [_head(keys, lang)]
    for r in frame.itertuples(index=False):
        rows.append(
            [
                r.code,
                r.name_en if lang == "en" else r.name_zh,
                label(LEVEL, r.level, lang),
                _none(r.population),
                r.received,
                r.closed,
                r.on_time,
                _none(None if r.closure_rate is None else rate_text(r.closure_rate)),
                _none(None if r.on_time_rate is None else rate_text(r.on_time_rate)),
                r.open,
                r.overdue,
            ]
        )
    return rows


def _leaderboard(frame: pd.DataFrame, user: UserInfo, lang: str) -> list[list[object]]:
    personal = may_see_personal(user)
    keys = ["rank", "worker_code", "worker", "tier", "phone", "grid", "community", "closed"]
    keys += ["on_time", "on_time_rate", "rated", "satisfied", "satisfaction", "reopened", "hours"]
    rows: list[list[object]] = [_head(keys, lang)]
    for r in frame.itertuples(index=False):
        rows.append(
            [
                r.rank,
                r.code,
                r.name,
                label(WORKER_TIER, r.tier, lang),
                _none(r.phone if personal else mask_phone(r.phone)),
                _none(r.grid_en if lang == "en" else r.grid_zh),
                _none(r.community_en if lang == "en" else r.community_zh),
                r.closed,
                r.on_time,
                _none(None if r.on_time_rate is None else rate_text(r.on_time_rate)),
                r.rated,
                r.satisfied,
                _none(None if r.satisfaction is None else rate_text(r.satisfaction)),
                r.reopened,
                _none(r.hours),
            ]
        )
    return rows


def _categories(frame: pd.DataFrame, user: UserInfo, lang: str) -> list[list[object]]:
    keys = ["category_code", "category", "received", "closed", "open", "overdue"]
    rows: list[list[object]] = [_head(keys, lang)]
    for r in frame.itertuples(index=False):
        name = r.name_en if lang == "en" else r.name_zh
        rows.append([r.code, name, r.received, r.closed, r.open, r.overdue])
    return rows


def _trend(frame: pd.DataFrame, user: UserInfo, lang: str) -> list[list[object]]:
    rows: list[list[object]] = [_head(["day", "day_received", "day_closed"], lang)]
    for r in frame.itertuples(index=False):
        rows.append([r.day.isoformat(), r.received, r.closed])
    return rows


Rows = Callable[[pd.DataFrame, UserInfo, str], list[list[object]]]
Query = Callable[[Connection, AreaInfo, datetime], pd.DataFrame]
# table -> (its query, its rows); the categories file lists every category, not the top 10
TABLES: dict[str, tuple[Query, Rows]] = {
    "rankings": (figures.rankings, _rankings),
    "leaderboard": (figures.leaderboard, _leaderboard),
    "categories": (lambda conn, area, now: figures.categories(conn, area, now, None), _categories),
    "trend": (figures.trend, _trend),
}


def to_csv(rows: list[list[object]]) -> str:
    """The rows as CSV text with a byte-order mark (Excel reads it as UTF-8)."""
    out = io.StringIO()
    out.write(BOM)
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _refuse(status: int, error: str, text: str) -> tuple[Response, int]:
    return jsonify(error=error, message=text), status


exports = Blueprint("exports", __name__)


@exports.get("/export/<table>.csv")
def export_table(table: str) -> Response | tuple[Response, int]:
    """One of the summary's tables for the area asked (``?area=``, ``&date=``,
    ``&lang=en``), as the signed-in user may see it."""
    if table not in TABLES:
        return _refuse(404, "unknown_table", f"no table to export; one of {', '.join(TABLES)}")
    user = current_user()
    if user is None:  # the request check answers first; never reached with a session
        return _refuse(401, "unauthenticated", "sign in first")
    if user.role not in PAGE_ROLES.get("/summary", ()):
        return _refuse(403, "forbidden", "your role may not export the summary")
    lang = "en" if request.args.get("lang") == "en" else "zh"
    now, day = as_of(dict(request.args))
    engine = current_app.extensions["gridwatch"].engine
    with engine.connect() as conn:
        choice = choose_area(conn, user, request.args.get("area"))
        if choice.area is None:
            if choice.error == "outside_area":
                return _refuse(403, "outside_area", "that area lies outside yours")
            return _refuse(404, "unknown_area", "no area has that code")
        query, rows = TABLES[table]
        frame = query(conn, choice.area, now)
    body = to_csv(rows(frame, user, lang))
    stamp = (day or figures.periods(now).today).strftime("%Y%m%d")
    filename = f"summary-{table}-{choice.area.code}-{stamp}.csv"
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def refuse_other_paths() -> tuple[Response, int] | None:
    """Run before each request, after the session check: under /export/ only the table
    route answers; anything else (``/export//etc/passwd.csv``, ``…/../x``) is a JSON 404
    instead of the app's page shell."""
    if request.path.startswith("/export/") and request.endpoint != "exports.export_table":
        return _refuse(404, "unknown_table", f"no table to export; one of {', '.join(TABLES)}")
    return None
