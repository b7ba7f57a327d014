"""Cameras (``geo_data.views.cameras_in``): points coloured by status and sized by tier,
or, when the view aggregated them, hexagons coloured by the share not online."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.geometry import hex_collection
from layers.labels import CAMERA_STATUS, CAMERA_TIER, label, word
from layers.style import (
    CAMERA_STATUS_COLOUR,
    CAMERA_TIER_SIZE,
    HEALTH_SCALE,
    Style,
    colorbar,
)


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    if "h3" in frame.columns:
        return _hexes(frame, style)
    return _points(frame, style)


def _points(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    lang = style.lang
    traces: list[BaseTraceType] = []
    for status, colour in CAMERA_STATUS_COLOUR.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        status_name = label(CAMERA_STATUS, status, lang)
        traces.append(
            go.Scattermap(
                name=f"{word('cameras', lang)} · {status_name}",
                lon=[float(x) for x in part["lon"]],
                lat=[float(y) for y in part["lat"]],
                mode="markers",
                marker={
                    "color": colour,
                    "size": [CAMERA_TIER_SIZE.get(t, 7) for t in part["tier"]],
                    "opacity": 0.9,
                },
                customdata=[
                    [
                        "camera",
                        code,
                        name if isinstance(name, str) else code,
                        label(CAMERA_TIER, tier, lang),
                        status_name,
                    ]
                    for code, name, tier in zip(
                        part["code"], part["name_zh"], part["tier"], strict=True
                    )
                ],
                hovertemplate=(
                    f"<b>{word('camera', lang)} %{{customdata[1]}}</b><br>"
                    "%{customdata[2]}<br>"
                    f"{word('tier', lang)}: %{{customdata[3]}}<br>"
                    f"{word('status', lang)}: %{{customdata[4]}}<extra></extra>"
                ),
                legendgroup="cameras",
                legendgrouptitle={
                    "text": f"{word('cameras', lang)} · {word('size_is_tier', lang)}",
                    "font": {"size": 11},
                },
                legendrank=40,
            )
        )
    return traces


def _hexes(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    lang = style.lang
    cells = [str(c) for c in frame["h3"]]
    counts = [int(n) for n in frame["count"]]
    not_online = [
        round((int(off) + int(fault)) / n, 3) if n else 0.0
        for off, fault, n in zip(frame["offline"], frame["fault"], counts, strict=True)
    ]
    tiers = list(CAMERA_TIER)
    statuses = list(CAMERA_STATUS)
    customdata = []
    for i, (cell, n) in enumerate(zip(cells, counts, strict=True)):
        row = frame.iloc[i]
        by_status = " · ".join(f"{label(CAMERA_STATUS, s, lang)} {int(row[s])}" for s in statuses)
        by_tier = " · ".join(
            f"{label(CAMERA_TIER, t, lang)} {int(row[f'tier_{t}'])}" for t in tiers
        )
        customdata.append(["camera_hex", cell, n, by_status, by_tier])
    title = f"{word('cameras', lang)} · {word('aggregated', lang)}"
    return [
        go.Choroplethmap(
            name=title,
            geojson=hex_collection(cells),
            featureidkey="id",
            locations=cells,
            z=not_online,
            zmin=0,
            zmax=1,
            colorscale=HEALTH_SCALE,
            colorbar=colorbar("cameras", f"{word('cameras', lang)} {word('online_share', lang)}"),
            marker={"opacity": 0.6, "line": {"color": "#ffffff", "width": 0.4}},
            customdata=customdata,
            hovertemplate=(
                f"<b>{word('cameras', lang)}: %{{customdata[2]}}</b><br>"
                "%{customdata[3]}<br>%{customdata[4]}<extra></extra>"
            ),
            showlegend=True,
            legendgroup="cameras",
            legendrank=40,
        )
    ]
