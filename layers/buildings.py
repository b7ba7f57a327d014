"""Building footprints coloured by use (``geo_data.views.buildings_in``)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from layers.geometry import feature_collection
from layers.labels import BUILDING_USE, label, word
from layers.style import BUILDING_USE_COLOUR, OTHER_COLOUR, Style, single_colour_scale


def to_traces(frame: pd.DataFrame, style: Style) -> list[BaseTraceType]:
    if frame.empty:
        return []
    lang = style.lang
    traces: list[BaseTraceType] = []
    uses = [u for u in BUILDING_USE_COLOUR if (frame["use"] == u).any()]
    others = sorted(set(frame["use"].dropna()) - set(uses)) + (
        [None] if frame["use"].isna().any() else []
    )
    for use in [*uses, *others]:
        part = frame[frame["use"].isna()] if use is None else frame[frame["use"] == use]
        if part.empty:
            continue
        names = part["name_en"] if lang == "en" else part["name_zh"]
        yards = part["courtyard_en"] if lang == "en" else part["courtyard_zh"]
        codes = [str(c) for c in part["code"]]
        use_name = label(BUILDING_USE, use, lang) if use else word("none", lang)
        colour = BUILDING_USE_COLOUR.get(use, OTHER_COLOUR)
        traces.append(
            go.Choroplethmap(
                name=f"{word('buildings', lang)} · {use_name}",
                geojson=feature_collection(codes, part["geometry"]),
                featureidkey="id",
                locations=codes,
                z=[1] * len(codes),
                colorscale=single_colour_scale(colour),
                showscale=False,
                marker={"opacity": 0.9, "line": {"color": "#475569", "width": 0.6}},
                customdata=[
                    [
                        "building",
                        code,
                        name if isinstance(name, str) else code,
                        "—" if floors is None or floors != floors else int(floors),
                        yard if isinstance(yard, str) else word("none", lang),
                        use_name,
                    ]
                    for code, name, floors, yard in zip(
                        codes, names, part["floors"], yards, strict=True
                    )
                ],
                hovertemplate=(
                    "<b>%{customdata[2]}</b><br>"
                    f"{word('courtyard', lang)}: %{{customdata[4]}}<br>"
                    f"{word('floors', lang)}: %{{customdata[3]}}<br>"
                    f"{word('use', lang)}: %{{customdata[5]}}<extra></extra>"
                ),
                showlegend=True,
                legendgroup="buildings",
                legendrank=30,
            )
        )
    return traces
