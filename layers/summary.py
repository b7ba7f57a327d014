"""The summary page's charts: query frames in, plotly figures (plain dicts) out.

Pure: nothing here reads the database or changes its input. The figures name only
local font families and carry no external resources, so they render on a closed network.
Every bar and point carries what a click needs to open the cases behind it
(``customdata``: the ISO day, or the category code).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go

FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
INK = "#1e293b"
MUTED = "#64748b"
GRID = "#e8edf3"
RECEIVED = "#2f6fed"
RECEIVED_TODAY = "#9dbaf7"
CLOSED = "#0f9d76"
OVERDUE = "#dc2626"
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TEXT = {
    "received": ("受理", "Received"),
    "closed": ("结案", "Closed"),
    "today_so_far": ("今日（截至目前）", "today so far"),
    "cases": ("件", "cases"),
    "open": ("未结", "open"),
    "overdue": ("超期", "overdue"),
    "closed_of": ("已结案", "closed"),
    "no_data": ("暂无数据", "No data"),
}


def _t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return en if lang == "en" else zh


def day_label(day: date, lang: str) -> str:
    """``11月22日`` / ``Nov 22``."""
    if lang == "en":
        return f"{MONTHS_EN[day.month - 1]} {day.day}"
    return f"{day.month}月{day.day}日"


def _layout(lang: str, **extra: Any) -> go.Layout:
    return go.Layout(
        font={"family": FONT, "size": 13, "color": INK},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel={"font": {"family": FONT, "size": 13}, "bgcolor": "#ffffff"},
        separators=".,",
        clickmode="event",
        dragmode=False,
        **extra,
    )


def _empty(lang: str, height: int) -> dict[str, Any]:
    layout = _layout(
        lang,
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": _t("no_data", lang),
                "showarrow": False,
                "font": {"size": 15, "color": MUTED},
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    return {"data": [], "layout": layout.to_plotly_json()}


def trend_figure(
    frame: pd.DataFrame, lang: str, height: int = 330, *, today_running: bool = True
) -> dict[str, Any]:
    """Received per day as bars and closed as a line; with ``today_running`` the last
    day (today, not over yet) is drawn lighter and marked.

    ``frame``: ``day`` (date), ``received``, ``closed``, oldest first.
    """
    if frame.empty:
        return _empty(lang, height)
    days = list(frame["day"])
    labels = [day_label(d, lang) for d in days]
    iso = [d.isoformat() for d in days]
    colours = [RECEIVED] * len(days)
    if today_running:
        colours[-1] = RECEIVED_TODAY
    unit = _t("cases", lang)
    sep = " " if lang == "en" else ""
    received = go.Bar(
        x=labels,
        y=list(frame["received"]),
        name=_t("received", lang),
        marker={"color": colours, "line": {"width": 0}},
        customdata=iso,
        hovertemplate=f"%{{y:,}}{sep}{unit}<extra></extra>",
    )
    closed = go.Scatter(
        x=labels,
        y=list(frame["closed"]),
        name=_t("closed", lang),
        mode="lines+markers",
        line={"color": CLOSED, "width": 2.5},
        marker={"size": 5, "color": CLOSED},
        customdata=iso,
        hovertemplate=f"%{{y:,}}{sep}{unit}<extra></extra>",
    )
    step = max(1, len(days) // 10)
    ticks = labels[::-1][::step][::-1]  # always label today
    layout = _layout(
        lang,
        height=height,
        margin={"l": 44, "r": 12, "t": 28, "b": 36},
        bargap=0.28,
        hovermode="x unified",
        legend={
            "orientation": "h",
            "x": 1,
            "xanchor": "right",
            "y": 1.02,
            "yanchor": "bottom",
            "font": {"size": 12, "color": MUTED},
        },
        xaxis={
            "type": "category",
            "tickvals": ticks,
            "tickfont": {"size": 12, "color": MUTED},
            "showgrid": False,
            "linecolor": GRID,
            "fixedrange": True,
        },
        yaxis={
            "gridcolor": GRID,
            "zeroline": False,
            "tickfont": {"size": 12, "color": MUTED},
            "tickformat": ",d",
            "rangemode": "tozero",
            "fixedrange": True,
        },
        annotations=[
            {
                "x": labels[-1],
                "y": max(int(frame["received"].iloc[-1]), int(frame["closed"].iloc[-1])),
                "text": _t("today_so_far", lang),
                "showarrow": True,
                "arrowhead": 0,
                "arrowcolor": "#cbd5e1",
                "ax": -40,
                "ay": -26,
                "xanchor": "right",
                "font": {"size": 11, "color": MUTED},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        ]
        if today_running
        else [],
    )
    return {
        "data": [received.to_plotly_json(), closed.to_plotly_json()],
        "layout": layout.to_plotly_json(),
    }


def categories_figure(frame: pd.DataFrame, lang: str, height: int = 330) -> dict[str, Any]:
    """Cases received per category as horizontal bars, the most on top, the count at
    the end of each bar; the hover adds how many are closed, open and overdue.

    ``frame``: ``code``, ``name_zh``, ``name_en``, ``received``, ``closed``, ``open``,
    ``overdue``, most received first.
    """
    if frame.empty:
        return _empty(lang, height)
    rows = frame.iloc[::-1]  # plotly draws the first row at the bottom
    names = list(rows["name_en"] if lang == "en" else rows["name_zh"])
    unit = _t("cases", lang)
    sep = " " if lang == "en" else ""
    custom = [
        [code, int(closed), int(open_), int(overdue)]
        for code, closed, open_, overdue in zip(
            rows["code"], rows["closed"], rows["open"], rows["overdue"], strict=True
        )
    ]
    top = int(frame["received"].max()) or 1
    bars = go.Bar(
        y=names,
        x=list(rows["received"]),
        orientation="h",
        name=_t("received", lang),
        marker={
            "color": list(rows["received"]),
            "colorscale": [[0, "#a9c2f5"], [1, RECEIVED]],
            "cmin": 0,
            "cmax": top,
            "line": {"width": 0},
        },
        text=[f"{v:,}" for v in rows["received"]],
        textposition="outside",
        cliponaxis=False,
        textfont={"size": 12, "color": INK},
        customdata=custom,
        hovertemplate=(
            f"<b>%{{y}}</b><br>{_t('received', lang)} %{{x:,}}{sep}{unit}"
            f" · {_t('closed_of', lang)} %{{customdata[1]:,}}"
            f"<br>{_t('open', lang)} %{{customdata[2]:,}}"
            f" · <span style='color:{OVERDUE}'>{_t('overdue', lang)} %{{customdata[3]:,}}</span>"
            "<extra></extra>"
        ),
    )
    layout = _layout(
        lang,
        height=height,
        margin={"l": 8, "r": 48, "t": 8, "b": 24},
        bargap=0.32,
        showlegend=False,
        xaxis={
            "gridcolor": GRID,
            "zeroline": False,
            "tickfont": {"size": 11, "color": MUTED},
            "tickformat": ",d",
            "range": [0, top * 1.14],
            "fixedrange": True,
        },
        yaxis={
            "automargin": True,
            "tickfont": {"size": 12, "color": INK},
            "ticksuffix": "  ",
            "fixedrange": True,
        },
    )
    return {"data": [bars.to_plotly_json()], "layout": layout.to_plotly_json()}
