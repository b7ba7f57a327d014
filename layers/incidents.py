"""Open cases (``geo_data.views.open_incidents``) as markers coloured by severity.

Overdue cases get a red ring (a larger translucent marker beneath) and a larger marker.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.labels import CASE_STATUS, SEVERITY, age_text, label, word
from layers.style import OVERDUE_RING, SEVERITY_COLOUR, Style

MARKER_SIZE = 11
OVERDUE_SIZE = 14
RING_SIZE = 26


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    lang = style.lang
    traces: list[BaseTraceType] = []
    overdue = frame[frame["overdue"].astype(bool)]
    if not overdue.empty:
        traces.append(
            go.Scattermap(
                name=word("overdue_ring", lang),
                lon=overdue["lon"].to_numpy(dtype=float),
                lat=overdue["lat"].to_numpy(dtype=float),
                mode="markers",
                marker={"color": OVERDUE_RING, "size": RING_SIZE},
                hoverinfo="skip",
                legendgroup="incidents",
                legendrank=50,
            )
        )
    for severity in sorted(SEVERITY_COLOUR):
        part = frame[frame["severity"] == severity]
        if part.empty:
            continue
        severity_name = f"{severity} {label(SEVERITY, severity, lang)}"
        names = part["category_en"] if lang == "en" else part["category_zh"]
        late = part["overdue"].to_numpy(dtype=bool)
        # Variable parts per case in customdata, labels once in the template: the
        # payload stays small. A numpy array passes plotly's validation as one array
        # (nested Python lists are checked element by element: ~140 ms for 2,000 cases).
        customdata = np.array(
            [
                [
                    "case",
                    int(case_id),
                    escape(category),
                    label(CASE_STATUS, status, lang),
                    age_text(age, lang),
                    escape(assignee) if isinstance(assignee, str) else word("unassigned", lang),
                    word("overdue", lang) if is_late else word("on_time", lang),
                    int(reports),
                ]
                for case_id, category, status, age, assignee, is_late, reports in zip(
                    part["id"],
                    names,
                    part["status"],
                    part["age_hours"],
                    part["assignee"],
                    late,
                    part["report_count"],
                    strict=True,
                )
            ],
            dtype=object,
        )
        traces.append(
            go.Scattermap(
                name=f"{word('case', lang)} · {severity_name}",
                lon=part["lon"].to_numpy(dtype=float),
                lat=part["lat"].to_numpy(dtype=float),
                mode="markers",
                marker={
                    "color": SEVERITY_COLOUR[severity],
                    "size": np.where(late, OVERDUE_SIZE, MARKER_SIZE),
                    "opacity": 0.95,
                },
                customdata=customdata,
                hovertemplate=(
                    f"<b>{word('case', lang)} #%{{customdata[1]}}</b> · {severity_name}<br>"
                    "%{customdata[2]}<br>"
                    f"{word('status', lang)}: %{{customdata[3]}} · %{{customdata[6]}}<br>"
                    f"{word('age', lang)}: %{{customdata[4]}}<br>"
                    f"{word('assignee', lang)}: %{{customdata[5]}}<br>"
                    f"{word('reports', lang)}: %{{customdata[7]}}<extra></extra>"
                ),
                legendgroup="incidents",
                legendrank=51 + severity,
            )
        )
    return traces
