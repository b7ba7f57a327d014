"""Grid workers (``geo_data.views.workers_in``) coloured by status, phone masked.

When the view aggregated them per community, one bubble per community sized by the
number of workers, with the count per status in the hover.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.labels import WORKER_STATUS, WORKER_TIER, label, word
from layers.style import WORKER_STATUS_COLOUR, Style


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    if "count" in frame.columns:
        return _groups(frame, style)
    return _points(frame, style)


def _points(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    lang = style.lang
    traces: list[BaseTraceType] = []
    for status, colour in WORKER_STATUS_COLOUR.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        status_name = label(WORKER_STATUS, status, lang)
        traces.append(
            go.Scattermap(
                name=f"{word('workers', lang)} · {status_name}",
                lon=[float(x) for x in part["lon"]],
                lat=[float(y) for y in part["lat"]],
                mode="markers",
                marker={"color": colour, "size": 8, "opacity": 0.85},
                customdata=[
                    [
                        "worker",
                        code,
                        name,
                        phone if isinstance(phone, str) else "—",
                        status_name,
                        label(WORKER_TIER, int(tier), lang),
                    ]
                    for code, name, phone, tier in zip(
                        part["code"], part["name_zh"], part["phone"], part["tier"], strict=True
                    )
                ],
                hovertemplate=(
                    f"<b>{word('worker', lang)} %{{customdata[2]}}</b> (%{{customdata[3]}})<br>"
                    "%{customdata[5]}<br>"
                    f"{word('status', lang)}: %{{customdata[4]}}<extra></extra>"
                ),
                legendgroup="workers",
                legendrank=70,
            )
        )
    return traces


def _groups(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    lang = style.lang
    names = frame["name_en"] if lang == "en" else frame["name_zh"]
    counts = [int(n) for n in frame["count"]]
    customdata = []
    for i, (code, name, n) in enumerate(zip(frame["code"], names, counts, strict=True)):
        row = frame.iloc[i]
        by_status = " · ".join(
            f"{label(WORKER_STATUS, s, lang)} {int(row[s])}" for s in WORKER_STATUS_COLOUR
        )
        customdata.append(["worker_group", code, name, n, by_status])
    return [
        go.Scattermap(
            name=f"{word('workers', lang)} · {word('by_community', lang)}",
            lon=[float(x) for x in frame["lon"]],
            lat=[float(y) for y in frame["lat"]],
            mode="markers",
            marker={
                "color": WORKER_STATUS_COLOUR["available"],
                "size": [round(6 + 2.2 * math.sqrt(n), 1) for n in counts],
                "opacity": 0.55,
            },
            customdata=customdata,
            hovertemplate=(
                f"<b>%{{customdata[2]}}</b><br>{word('workers', lang)}: %{{customdata[3]}}<br>"
                "%{customdata[4]}<extra></extra>"
            ),
            legendgroup="workers",
            legendrank=70,
        )
    ]
