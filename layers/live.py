"""Reports that arrive while a screen is open: empty traces the browser fills.

The page patches these two traces (``assets/live.js``) as feed batches arrive, so a
new case appears without the figure being sent again: one marker per new case, and a
ring that pulses for a few seconds around the newest.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.labels import word
from layers.style import Style

LIVE_MARKER_SIZE = 13
PULSE_SIZE = 34
PULSE_COLOUR = "rgba(37, 99, 235, 0.35)"
LIVE_OUTLINE = "#1d4ed8"


def to_traces(style: Style) -> list[BaseTraceType]:
    """[pulse ring, new reports]: both empty, in this order, filled by the browser."""
    return [
        go.Scattermap(
            name=word("live_pulse", style.lang),
            lon=[],
            lat=[],
            mode="markers",
            marker={"size": PULSE_SIZE, "color": PULSE_COLOUR},
            hoverinfo="skip",
            showlegend=False,
            legendgroup="live",
            uid="live-pulse",
        ),
        go.Scattermap(
            name=word("live_new", style.lang),
            lon=[],
            lat=[],
            mode="markers",
            marker={"size": LIVE_MARKER_SIZE, "color": LIVE_OUTLINE, "opacity": 0.95},
            customdata=[],
            hovertext=[],
            hovertemplate="%{hovertext}<extra></extra>",
            legendgroup="live",
            legendrank=60,
            uid="live-new",
        ),
    ]
