"""The current area's own boundary as a line, so its extent shows at every level.

Input: a frame with ``code`` and ``geometry`` (GeoJSON Polygon or MultiPolygon).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.geometry import line_coordinates
from layers.labels import word
from layers.style import OUTLINE_COLOUR, Style


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    lons, lats = line_coordinates(frame["geometry"])
    return [
        go.Scattermap(
            name=word("outline", style.lang),
            lon=lons,
            lat=lats,
            mode="lines",
            line={"color": OUTLINE_COLOUR, "width": 2.5},
            hoverinfo="skip",
            showlegend=True,
            legendrank=1,
        )
    ]
