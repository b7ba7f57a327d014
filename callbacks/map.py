"""The map: URL query <-> view state, the view itself, and drill-down on click.

The URL query is the single source of state (``?area=510108001&layers=areas,incidents
&metric=open&window=live``): controls and clicks only rewrite it, and the page renders
``map_view`` of what the query says, so a reload or a shared link shows the same view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, callback_context, no_update
from plotly.basedatatypes import BaseTraceType

from geo_data import views
from geo_data.feed import latest_seq
from layers import LAYER_NAMES, LAYERS, outline
from layers.basemap import BACKGROUND, map_style
from layers.labels import LEVEL, METRIC, label
from layers.style import Style

if TYPE_CHECKING:
    from app.context import AppContext

# ``app.ids`` is imported inside the functions that need it: importing ``app`` runs its
# factory, which imports the pages, which import this module; a top-level import would
# make ``from callbacks.map import map_view`` (the benchmark's entry point) circular.

DEFAULT_LAYERS = ("areas", "incidents")
LANGS = ("zh", "en")
# The map size (CSS pixels) the view is fitted to: the map on a 1280 x 800 screen, so the
# area fits there and sits with a margin on larger screens. (Plotly's own fitbounds does
# not work once a choropleth is on the map.)
VIEW_SIZE = (900, 640)
MAX_CAMERA_POINTS = 3000
MAX_WORKER_POINTS = 2000
FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"

MESSAGES = {
    "unknown_area": ("未找到区域代码“{code}”。", "No area has the code “{code}”."),
    "no_areas": ("尚未加载区域数据。", "No areas are loaded yet."),
    "outside_area": (
        "区域“{code}”不在您的管辖范围内。",
        "The area “{code}” lies outside your area.",
    ),
    "buildings_level": (
        "楼栋在社区、网格和院落层级显示。",
        "Buildings show at community, grid and courtyard level.",
    ),
    "cameras_aggregated": (
        "摄像头共 {n:,} 个，按六边形汇总显示。",
        "{n:,} cameras, shown per hexagon.",
    ),
    "workers_aggregated": (
        "网格员共 {n:,} 人，按社区汇总显示。",
        "{n:,} workers, shown per community.",
    ),
}


def message(key: str, lang: str, **values: object) -> str:
    zh, en = MESSAGES[key]
    return (en if lang == "en" else zh).format(**values)


@dataclass(frozen=True)
class MapState:
    """What the map shows; all of it lives in the URL query except ``now``.

    ``area_code`` None means the default area (Chenghua, else the topmost area);
    ``now`` None means the current time (tests pass the demo's end).
    """

    area_code: str | None = None
    layers: tuple[str, ...] = DEFAULT_LAYERS
    metric: str = "open"
    window: str = "live"
    lang: str = "zh"
    now: datetime | None = None
    # The viewer's own area (a supervisor's street or community), never from the URL:
    # the map opens there and refuses anything outside it.
    scope_code: str | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.layers if name not in LAYERS]
        if unknown:
            raise ValueError(f"unknown layers {unknown}; known: {', '.join(LAYER_NAMES)}")
        if self.metric not in views.METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; one of {views.METRICS}")
        if self.window not in views.WINDOWS:
            raise ValueError(f"unknown window {self.window!r}; one of {tuple(views.WINDOWS)}")
        if self.lang not in LANGS:
            raise ValueError(f"unknown language {self.lang!r}; one of {LANGS}")


@dataclass(frozen=True)
class MapView:
    """A rendered view: the figure as a plain dict, the breadcrumb and the side panel."""

    state: MapState
    figure: dict[str, Any]
    breadcrumb: list[tuple[str, str]]
    panel: dict[str, Any]
    area: views.AreaInfo | None = None
    message: str | None = None
    polygons: int = 0
    points: int = 0
    now: datetime | None = None
    notes: list[str] = field(default_factory=list)
    feed_upto: int = 0  # the feed position the view's data includes
    # What the browser's live model recolours from its counts (None: no live cases shown):
    # {"children": {uid, column, metric, codes, population}, "hexes": {uid, resolution}}.
    live: dict[str, Any] | None = None


# -- URL query <-> state ----------------------------------------------------------------


def state_from_query(query: Mapping[str, str] | str | None) -> MapState:
    """The state a URL query describes; unknown or malformed values fall back to defaults."""
    if query is None or isinstance(query, str):
        query = dict(parse_qsl((query or "").lstrip("?"), keep_blank_values=True))
    defaults = MapState()
    area = (query.get("area") or "").strip()[:32] or None
    if "layers" in query:
        asked = [name.strip() for name in query["layers"].split(",")]
        layers = tuple(name for name in LAYER_NAMES if name in asked)
    else:
        layers = defaults.layers
    metric = query.get("metric", defaults.metric)
    window = query.get("window", defaults.window)
    lang = query.get("lang", defaults.lang)
    return MapState(
        area_code=area,
        layers=layers,
        metric=metric if metric in views.METRICS else defaults.metric,
        window=window if window in views.WINDOWS else defaults.window,
        lang=lang if lang in LANGS else defaults.lang,
    )


def query_string(state: MapState) -> str:
    """``?area=...&layers=...&metric=...&window=...`` (``&lang=en`` when English)."""
    params: dict[str, str] = {}
    if state.area_code:
        params["area"] = state.area_code
    params["layers"] = ",".join(state.layers)
    params["metric"] = state.metric
    params["window"] = state.window
    if state.lang != "zh":
        params["lang"] = state.lang
    return "?" + urlencode(params, safe=",")


def href(state: MapState, **changes: Any) -> str:
    """The map's URL for ``state`` with ``changes`` (e.g. ``area_code=...``)."""
    return "/map" + query_string(replace(state, **changes))


# -- the view ---------------------------------------------------------------------------


def fit_view(
    bbox: tuple[float, float, float, float], size: tuple[int, int] = VIEW_SIZE
) -> tuple[dict[str, float], float]:
    """Centre and MapLibre zoom that fit ``bbox`` (west, south, east, north) in ``size``."""
    west, south, east, north = bbox

    def mercator_y(lat: float) -> float:
        lat = max(min(lat, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    width, height = size
    span_x = max(east - west, 1e-6) / 360.0
    span_y = max(mercator_y(north) - mercator_y(south), 1e-8) / (2 * math.pi)
    # MapLibre's world is 512 px wide at zoom 0; keep a margin around the area.
    zoom = math.log2(min(width / (512 * span_x), height / (512 * span_y)) * 0.88)
    centre_y = (mercator_y(north) + mercator_y(south)) / 2
    centre = {
        "lon": round((west + east) / 2, 6),
        "lat": round(math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2), 6),
    }
    return centre, round(max(2.0, min(zoom, 19.5)), 2)


def figure_dict(
    traces: list[BaseTraceType],
    *,
    centre: dict[str, float],
    zoom: float,
    revision: str,
    basemap_url: str | None,
) -> dict[str, Any]:
    """The map figure as a plain dict (what the browser receives).

    The traces are validated plotly objects already; copying each once into the dict is
    a third of what wrapping them in a ``go.Figure`` and calling ``to_dict`` costs.
    """
    layout = go.Layout(
        map={"style": map_style(basemap_url), "center": centre, "zoom": zoom},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor=BACKGROUND,
        font={"family": FONT, "size": 12, "color": "#1e293b"},
        hoverlabel={"font": {"family": FONT, "size": 12}, "align": "left"},
        legend={
            "x": 0.01,
            "y": 0.99,
            "xanchor": "left",
            "yanchor": "top",
            "bgcolor": "rgba(255,255,255,0.88)",
            "bordercolor": "#cbd5e1",
            "borderwidth": 1,
            "font": {"size": 11},
            "itemsizing": "constant",
            "groupclick": "toggleitem",
        },
        clickmode="event",
        uirevision=revision,
        showlegend=True,
    )
    return {
        "data": [trace_json(trace) for trace in traces],
        "layout": layout.to_plotly_json(),
    }


def trace_json(trace: BaseTraceType) -> dict[str, Any]:
    """A trace's validated properties as the dict plotly keeps them, without the deep copy
    ``to_plotly_json`` makes.

    The layers build every trace afresh for one figure and nothing else holds it, so the
    copy guards nothing; it was a fifth of the city map's time (element by element
    through 2,000 cases' customdata).
    """
    if trace.figure is not None:  # held by a figure, which may change it: copy
        return trace.to_plotly_json()
    return trace._props  # plotly's own store, which to_plotly_json deep-copies


def _count(traces: list[BaseTraceType]) -> tuple[int, int]:
    polygons = points = 0
    for trace in traces:
        if trace.type == "choroplethmap":
            polygons += len(trace.geojson["features"])
        else:
            points += sum(1 for x in trace.lon if x is not None)
    return polygons, points


def _message_view(
    ctx: AppContext, state: MapState, text: str, centre_bbox: tuple | None = None
) -> MapView:
    centre, zoom = fit_view(centre_bbox) if centre_bbox else ({"lon": 104.07, "lat": 30.67}, 9.0)
    figure = figure_dict(
        [], centre=centre, zoom=zoom, revision="none", basemap_url=ctx.settings.basemap_url
    )
    return MapView(state=state, figure=figure, breadcrumb=[], panel={}, message=text)


def map_view(ctx: AppContext, state: MapState) -> MapView:
    """Everything the map page shows for ``state``, queried in one connection.

    An unknown area code gives a view with ``message`` set (and an empty map), not an error.
    """
    now = state.now or datetime.now(UTC)  # to the microsecond: a case reported this second shows
    lang = state.lang
    layers = set(state.layers)
    frames: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    with ctx.engine.connect() as conn:
        # Read the feed position before the data: a change committed in between is then
        # shown twice at worst (once live), never missed.
        feed_upto = latest_seq(conn)
        code = state.area_code or state.scope_code or views.default_area_code(conn)
        if code is None:
            return _message_view(ctx, state, message("no_areas", lang))
        area = views.area_info(conn, code)
        if area is None:
            return _message_view(ctx, state, message("unknown_area", lang, code=code))
        if state.scope_code and state.scope_code not in {ref.code for ref in area.chain}:
            return _message_view(ctx, state, message("outside_area", lang, code=code))
        children = views.child_areas(conn, area, state.metric, state.window, now=now)
        if "areas" in layers:
            frames["areas"] = children
        if "hexes" in layers:
            frames["hexes"] = views.hex_density(conn, area, window=state.window, now=now)
        if "buildings" in layers:
            frames["buildings"] = views.buildings_in(conn, area)
            if area.level not in views.BUILDING_LEVELS:
                notes.append(message("buildings_level", lang))
        if "cameras" in layers:
            frames["cameras"] = views.cameras_in(conn, area, max_points=MAX_CAMERA_POINTS)
            if "h3" in frames["cameras"].columns:
                n = int(frames["cameras"]["count"].sum())
                notes.append(message("cameras_aggregated", lang, n=n))
        if "workers" in layers:
            frames["workers"] = views.workers_in(conn, area, max_points=MAX_WORKER_POINTS)
            if "count" in frames["workers"].columns:
                n = int(frames["workers"]["count"].sum())
                notes.append(message("workers_aggregated", lang, n=n))
        if "hexes" in layers and state.window == "live":
            # Every cell of the area, empty ones transparent: the live counts light them.
            frames["hexes"] = with_empty_cells(frames["hexes"], area, conn)
        figures = views.area_figures(conn, area, now)
        boundary = views.area_outline(conn, area)

    style = Style(lang=lang, metric=state.metric, window=state.window, faded="hexes" in layers)
    traces: list[BaseTraceType] = []
    for name in ("areas", "hexes", "buildings"):
        if name in frames:
            traces += LAYERS[name].to_traces(frames[name], style)
    traces += outline.to_traces(pd.DataFrame({"code": [area.code], "geometry": [boundary]}), style)
    for name in ("cameras", "workers"):
        if name in frames:
            traces += LAYERS[name].to_traces(frames[name], style)
    # Open cases are not traces: the browser's live model draws them (layers.live).
    live_config = live_counts(area, frames, state) if "incidents" in layers else None

    centre, zoom = fit_view(area.bbox)
    figure = figure_dict(
        traces,
        centre=centre,
        zoom=zoom,
        revision=f"{area.code}",
        basemap_url=ctx.settings.basemap_url,
    )
    polygons, points = _count(traces)
    resolved = replace(state, area_code=area.code, now=state.now)
    return MapView(
        state=resolved,
        figure=figure,
        breadcrumb=[(ref.code, ref.name(lang)) for ref in visible_chain(area, state.scope_code)],
        panel=_panel(area, figures, children, state, notes),
        area=area,
        polygons=polygons,
        points=points,
        now=now,
        notes=notes,
        feed_upto=feed_upto,
        live=live_config,
    )


def with_empty_cells(frame: pd.DataFrame, area: views.AreaInfo, conn: Any) -> pd.DataFrame:
    """``frame`` (h3, count) with every other cell of the area at zero."""
    cells = views.area_cells(conn, area, views.HEX_RESOLUTION[area.level])
    present = set(frame["h3"])
    missing = [c for c in cells if c not in present]
    if not missing:
        return frame
    empty = pd.DataFrame({"h3": missing, "count": [0] * len(missing)})
    return pd.concat([frame, empty], ignore_index=True)


def live_counts(
    area: views.AreaInfo, frames: dict[str, pd.DataFrame], state: MapState
) -> dict[str, Any]:
    """What the browser recolours from its live counts: the sub-areas (open and overdue
    are counts of open cases now; per 1,000 follows them in the live window) and the
    hexagons of the live window."""
    out: dict[str, Any] = {}
    children = frames.get("areas")
    live_metric = state.metric in ("open", "overdue") or state.window == "live"
    if children is not None and not children.empty and area.child_level and live_metric:
        out["children"] = {
            "uid": "areas",
            "column": f"{area.child_level}_id",
            "metric": state.metric,
            "codes": {
                str(int(i)): code for i, code in zip(children["id"], children["code"], strict=True)
            },
            "population": {
                str(int(i)): None if pd.isna(p) else int(p)
                for i, p in zip(children["id"], children["population"], strict=True)
            },
        }
    hexes = frames.get("hexes")
    if hexes is not None and not hexes.empty and state.window == "live":
        out["hexes"] = {"uid": "hexes", "resolution": views.HEX_RESOLUTION[area.level]}
    return out


def visible_chain(area: views.AreaInfo, scope_code: str | None) -> tuple[views.AreaRef, ...]:
    """The breadcrumb from the viewer's own area down (everything above it is not theirs)."""
    codes = [ref.code for ref in area.chain]
    return area.chain[codes.index(scope_code) :] if scope_code in codes else area.chain


def _panel(
    area: views.AreaInfo,
    figures: dict[str, Any],
    children: pd.DataFrame,
    state: MapState,
    notes: list[str],
) -> dict[str, Any]:
    lang = state.lang
    ranking = []
    if not children.empty:
        ranked = children.assign(_v=children["value"].fillna(0)).sort_values(
            ["_v", "code"], ascending=[False, True]
        )
        names = ranked["name_en"] if lang == "en" else ranked["name_zh"]
        ranking = [
            {"code": code, "name": name, "value": None if v != v else v}
            for code, name, v in zip(ranked["code"], names, ranked["value"], strict=True)
        ][:5]
    return {
        **figures,
        "area": {
            "code": area.code,
            "name": area.name(lang),
            "level": area.level,
            "level_name": label(LEVEL, area.level, lang),
            "population": area.population,
            "area_km2": round(area.area_m2 / 1e6, 2),
            "children": len(children),
            "child_level_name": label(LEVEL, area.child_level, lang) if area.child_level else None,
        },
        "metric_name": label(METRIC, state.metric, lang),
        "ranking": ranking,
        "notes": list(notes),
    }


# -- clicks and controls ------------------------------------------------------------------


def drill_target(ctx: AppContext, state: MapState, click_data: dict | None) -> str | None:
    """The area code a click on the map leads to, or None (a click on a point, or nothing).

    Area polygons carry their code; a hexagon leads to the child area covering most of it.
    """
    points = (click_data or {}).get("points") or []
    if not points:
        return None
    custom = points[0].get("customdata")
    if not isinstance(custom, list | tuple) or len(custom) < 2:
        return None
    kind, key = custom[0], str(custom[1])
    if kind == "area":
        return key
    if kind in ("hex", "camera_hex"):
        with ctx.engine.connect() as conn:
            code = state.area_code or state.scope_code or views.default_area_code(conn)
            area = views.area_info(conn, code) if code else None
            return views.child_at_cell(conn, area, key) if area else None
    return None


def next_search(
    ctx: AppContext,
    search: str | None,
    *,
    trigger: str | None,
    layers: list[str] | None = None,
    metric: str | None = None,
    window: str | None = None,
    click_data: dict | None = None,
) -> str | None:
    """The URL query after a control change or a map click; None when nothing changes."""
    from app import ids

    state = state_from_query(search)
    if trigger == ids.MAP_GRAPH:
        target = drill_target(ctx, state, click_data)
        if target is None:
            return None
        state = replace(state, area_code=target)
    elif trigger in (ids.MAP_LAYERS, ids.MAP_METRIC, ids.MAP_WINDOW):
        state = replace(
            state,
            layers=tuple(n for n in LAYER_NAMES if n in (layers or [])),
            metric=metric if metric in views.METRICS else state.metric,
            window=window if window in views.WINDOWS else state.window,
        )
    else:
        return None
    return None if state == state_from_query(search) else query_string(state)


def register(app: Dash, ctx: AppContext) -> None:
    from app import ids

    def on_change(
        layers: list[str] | None,
        metric: str | None,
        window: str | None,
        click_data: dict | None,
        search: str | None,
    ) -> str:
        new = next_search(
            ctx,
            search,
            trigger=callback_context.triggered_id,
            layers=layers,
            metric=metric,
            window=window,
            click_data=click_data,
        )
        return no_update if new is None else new

    app.callback(
        Output(ids.URL, "search"),
        # Optional: the wall screen shows MAP_GRAPH without the map page's controls.
        Input(ids.MAP_LAYERS, "value", allow_optional=True),
        Input(ids.MAP_METRIC, "value", allow_optional=True),
        Input(ids.MAP_WINDOW, "value", allow_optional=True),
        Input(ids.MAP_GRAPH, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(on_change)
