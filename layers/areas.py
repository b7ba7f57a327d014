"""The children of the current area as a choropleth coloured by the chosen metric.

Input: ``geo_data.views.child_areas`` (code, level, names, population, open, overdue,
in_window, per_1000, value, geometry). Clicking a polygon drills into it: customdata
starts with ``"area"`` and the child's code.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.geometry import feature_collection
from layers.labels import LEVEL, METRIC, WINDOW, label, word
from layers.style import AREA_EDGE, AREA_SCALE, Style, colorbar


def _number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}"


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    lang = style.lang
    level = label(LEVEL, frame["level"].iloc[0], lang)
    metric = label(METRIC, style.metric, lang)
    names = frame["name_en"] if lang == "en" else frame["name_zh"]
    values = [0.0 if v is None or v != v else float(v) for v in frame["value"]]
    in_window = f"{word('in_window', lang)} · {label(WINDOW, style.window, lang)}"
    customdata = [
        [
            "area",
            code,
            name,
            _number(op),
            _number(od),
            _number(iw),
            _number(p),
            _number(pop),
        ]
        for code, name, op, od, iw, p, pop in zip(
            frame["code"],
            names,
            frame["open"],
            frame["overdue"],
            frame["in_window"],
            frame["per_1000"],
            frame["population"],
            strict=True,
        )
    ]
    hover = (
        "<b>%{customdata[2]}</b><br>"
        f"{word('open', lang)}: %{{customdata[3]}}<br>"
        f"{word('overdue', lang)}: %{{customdata[4]}}<br>"
        f"{in_window}: %{{customdata[5]}}<br>"
        f"{word('per_1000', lang)}: %{{customdata[6]}}<br>"
        f"{word('population', lang)}: %{{customdata[7]}}<br>"
        f"<i>{word('click_to_drill', lang)}</i><extra></extra>"
    )
    return [
        go.Choroplethmap(
            name=f"{level} · {metric}",
            geojson=feature_collection(frame["code"], frame["geometry"]),
            featureidkey="id",
            locations=[str(c) for c in frame["code"]],
            z=values,
            zmin=0,
            zmax=max(max(values), 1.0),
            colorscale=AREA_SCALE,
            colorbar=colorbar(
                "areas", metric, top=None if style.metric == "per_1000" else max(values)
            ),
            marker={
                "opacity": 0.25 if style.faded else 0.78,
                "line": {"color": AREA_EDGE, "width": 1.5},
            },
            customdata=customdata,
            hovertemplate=hover,
            showlegend=True,
            legendrank=10,
            uid="areas",  # the live model recolours this trace's source (assets/live.js)
        )
    ]
