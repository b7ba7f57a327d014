"""The map style: offline by default (a plain background, nothing fetched).

MapLibre fetches glyphs only for text and symbol layers, so the style has no
``glyphs``, no ``sprite`` and no remote source unless a local raster tile server is
configured (``GRIDWATCH_BASEMAP_URL``).
"""

from __future__ import annotations

from typing import Any

BACKGROUND = "#e6eaf0"


def map_style(basemap_url: str | None = None, *, background: str = BACKGROUND) -> dict[str, Any]:
    """A MapLibre style dict: the background, plus ``basemap_url``'s raster tiles if given."""
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": background}}
    ]
    # Never an empty ``sources``: a patched figure loses empty objects on its way to
    # plotly, and MapLibre then rejects the style ("missing required property sources").
    sources: dict[str, Any] = {
        "empty": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}
    }
    if basemap_url:
        sources["basemap"] = {"type": "raster", "tiles": [basemap_url], "tileSize": 256}
        layers.append(
            {
                "id": "basemap",
                "type": "raster",
                "source": "basemap",
                "paint": {"raster-opacity": 0.9},
            }
        )
    return {"version": 8, "name": "gridwatch", "sources": sources, "layers": layers}
