"""Case density on H3 hexagons (``geo_data.views.hex_density``: h3, count).

Clicking a hexagon drills into the child area covering it: customdata starts with
``"hex"`` and the cell.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.geometry import hex_collection
from layers.labels import WINDOW, label, word
from layers.style import HEX_SCALE, Style, colorbar

HEX_OPACITY = 0.72


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    lang = style.lang
    window = label(WINDOW, style.window, lang)
    title = f"{word('hexes', lang)} · {window}"
    counts = [int(n) for n in frame["count"]]
    cells = [str(c) for c in frame["h3"]]
    return [
        go.Choroplethmap(
            name=title,
            geojson=hex_collection(cells),
            featureidkey="id",
            locations=cells,
            z=counts,
            zmin=0,
            zmax=max(max(counts), 1),
            colorscale=HEX_SCALE,
            colorbar=colorbar("hexes", f"{word('cases', lang)} · {window}", top=max(counts)),
            # Empty cells (the live window holds every cell of the area) stay transparent
            # until a case arrives in them.
            marker={
                "opacity": [HEX_OPACITY if n else 0.0 for n in counts],
                "line": {"color": "rgba(255,255,255,0.6)", "width": 0.5},
            },
            customdata=[["hex", c, n] for c, n in zip(cells, counts, strict=True)],
            hovertemplate=(
                f"{word('cases', lang)} · {window}: %{{customdata[2]}}<br>"
                f"<i>{word('click_to_drill', lang)}</i><extra></extra>"
            ),
            showlegend=True,
            legendrank=20,
            uid="hexes",  # the live model recolours this trace's source (assets/live.js)
        )
    ]
