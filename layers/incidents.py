"""Open cases (``geo_data.views.open_incidents``) as markers coloured by severity.

Overdue cases get a red ring (a larger translucent marker beneath) and a larger marker.
"""

from __future__ import annotations

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
                lon=[float(x) for x in overdue["lon"]],
                lat=[float(y) for y in overdue["lat"]],
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
        late = [bool(x) for x in part["overdue"]]
        customdata = [
            [
                "case",
                int(case_id),
                category,
                label(CASE_STATUS, status, lang),
                age_text(age, lang),
                assignee if isinstance(assignee, str) else word("unassigned", lang),
                severity_name,
                word("overdue", lang) if is_late else word("on_time", lang),
            ]
            for case_id, category, status, age, assignee, is_late in zip(
                part["id"],
                names,
                part["status"],
                part["age_hours"],
                part["assignee"],
                late,
                strict=True,
            )
        ]
        traces.append(
            go.Scattermap(
                name=f"{word('case', lang)} · {severity_name}",
                lon=[float(x) for x in part["lon"]],
                lat=[float(y) for y in part["lat"]],
                mode="markers",
                marker={
                    "color": SEVERITY_COLOUR[severity],
                    "size": [OVERDUE_SIZE if x else MARKER_SIZE for x in late],
                    "opacity": 0.95,
                },
                customdata=customdata,
                hovertemplate=(
                    f"<b>{word('case', lang)} #%{{customdata[1]}}</b> · %{{customdata[6]}}<br>"
                    "%{customdata[2]}<br>"
                    f"{word('status', lang)}: %{{customdata[3]}} · %{{customdata[7]}}<br>"
                    f"{word('age', lang)}: %{{customdata[4]}}<br>"
                    f"{word('assignee', lang)}: %{{customdata[5]}}<extra></extra>"
                ),
                legendgroup="incidents",
                legendrank=51 + severity,
            )
        )
    return traces
