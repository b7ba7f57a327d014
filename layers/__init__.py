"""Pure functions from query results to plotly traces: ``to_traces(frame, style)``.

No module here touches the database or global state, and none changes its inputs.
"""

from __future__ import annotations

from layers import areas, buildings, cameras, hexes, incidents, outline, workers

# Switchable layers in drawing order (later ones on top); the outline is always drawn.
LAYERS = {
    "areas": areas,
    "hexes": hexes,
    "buildings": buildings,
    "cameras": cameras,
    "workers": workers,
    "incidents": incidents,
}
LAYER_NAMES = tuple(LAYERS)
__all__ = ["LAYERS", "LAYER_NAMES", "outline"]
