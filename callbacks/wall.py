"""The wall screen: its dark map, the figures and overdue list refreshed every 30 s, the
optional auto-tour through the child areas, and the clock.

The wall carries the live ids, so ``assets/live.js`` keeps its map, open count, overdue
count and new-today count equal to the store as the feed arrives: the map is never
redrawn to stay true. The tour moves the camera over the same figure. What the feed does
not carry (closure rates, the overdue list's ages) the server refreshes every
``FIGURES_SECONDS``; each refresh replaces what it shows, so nothing grows while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from dash import ClientsideFunction, Dash, Input, Output, Patch, State
from dash.exceptions import PreventUpdate

from app.auth import PAGE_ROLES
from callbacks.map import LANGS, MapState, MapView, fit_view, map_view
from geo_data import views
from geo_data.feed import latest_seq
from geo_data.models import LEVELS
from geo_data.users import UserInfo
from geo_data.wall import OverdueCase, overdue_cases, tour_stops
from layers.dark import darken

if TYPE_CHECKING:
    from app.context import AppContext

WALL_LAYERS = ("areas", "incidents")
FIGURES_SECONDS = 30
TOUR_SECONDS = (10, 3600)  # the shortest and longest stop ``?tour=`` may ask for
# The map's size (CSS px) on a 1920 x 1080 wall; the browser refits to the real size
# (``assets/wall.js``), so a 4K wall at 100 % scaling shows the area as large.
WALL_VIEW_SIZE = (1300, 830)
WALL_SCALE = 1.25  # markers and map text, read from metres away


@dataclass(frozen=True)
class WallConfig:
    """What the wall shows, kept in the page (``ids.WALL_CONFIG``) for its callbacks.

    ``area_code`` and ``level``: the wall's own area (resolved at render); ``tour``:
    seconds per stop or None; ``stops``: the child areas the tour visits, in order.
    """

    area_code: str | None = None
    level: str | None = None
    lang: str = "zh"
    tour: int | None = None
    stops: tuple[str, ...] = field(default_factory=tuple)

    def to_store(self) -> dict[str, Any]:
        return {
            "area": self.area_code,
            "level": self.level,
            "lang": self.lang,
            "tour": self.tour,
            "stops": list(self.stops),
        }

    @classmethod
    def from_store(cls, data: Any) -> WallConfig:
        """The config a page sent back; anything malformed raises ``PreventUpdate``."""
        if not isinstance(data, dict):
            raise PreventUpdate
        area, lang, tour = data.get("area"), data.get("lang"), data.get("tour")
        level = data.get("level")
        stops = data.get("stops") or []
        if not isinstance(area, str) or lang not in LANGS or not isinstance(stops, list):
            raise PreventUpdate
        return cls(
            area_code=area[:32],
            level=level if isinstance(level, str) and level in LEVELS else None,
            lang=lang,
            tour=tour if isinstance(tour, int) else None,
            stops=tuple(str(s)[:32] for s in stops[:100]),
        )


def config_from_query(query: dict[str, str] | str | None) -> WallConfig:
    """``?area=...&lang=en&tour=20``; unknown values fall back to defaults."""
    if query is None or isinstance(query, str):
        query = dict(parse_qsl((query or "").lstrip("?")))
    lang = query.get("lang", "zh")
    area = (query.get("area") or "").strip()[:32] or None
    return WallConfig(
        area_code=area, lang=lang if lang in LANGS else "zh", tour=tour_seconds(query)
    )


def tour_seconds(query: dict[str, str]) -> int | None:
    """Seconds per tour stop from ``?tour=``, clamped to ``TOUR_SECONDS``; None without."""
    raw = (query.get("tour") or "").strip()
    if not raw.isdigit():
        return None
    low, high = TOUR_SECONDS
    return max(low, min(int(raw), high))


def wall_state(config: WallConfig, user: UserInfo, area_code: str | None = None) -> MapState:
    """The map state of the wall (or of a tour stop): areas and open cases, the viewer's
    own area as scope."""
    return MapState(
        area_code=area_code or config.area_code,
        layers=WALL_LAYERS,
        scope_code=user.area_code,
        lang=config.lang,
    )


def wall_view(ctx: AppContext, state: MapState) -> MapView:
    """``map_view`` of ``state`` in the wall's dark style, fitted to the wall's map size;
    ``layout.meta.bbox`` lets the browser refit it to the screen it is on."""
    view = map_view(ctx, state)
    figure = darken(view.figure, ctx.settings.basemap_url, scale=WALL_SCALE)
    layout = figure["layout"]
    if view.area is not None:
        centre, zoom = fit_view(view.area.bbox, WALL_VIEW_SIZE)
        layout["map"] = {**layout["map"], "center": centre, "zoom": zoom}
        layout["meta"] = {"bbox": list(view.area.bbox), "fit": None, "scale": 1}
    return replace(view, figure=figure)


def may_open(user: UserInfo | None) -> bool:
    """Whether ``user``'s role may open the wall at all."""
    return user is not None and user.role in PAGE_ROLES.get("/wall", ())


def may_see(user: UserInfo | None, area: views.AreaInfo) -> bool:
    """Whether ``user`` may watch ``area`` on a wall (their own area or below it)."""
    if user is None or not may_open(user):
        return False
    return not user.area_code or user.area_code in {ref.code for ref in area.chain}


@dataclass(frozen=True)
class WallFigures:
    """The wall's figures at ``now``: ``views.area_figures`` and the overdue list."""

    figures: dict[str, Any]
    overdue: list[OverdueCase]
    overdue_total: int
    now: datetime
    upto: int = 0  # the feed position the figures include


def wall_figures(
    ctx: AppContext, user: UserInfo | None, area_code: str, now: datetime | None = None
) -> WallFigures:
    """The figures for the wall of ``area_code``; ``PreventUpdate`` when the user may not
    see it (a page tampered with, or a session that changed role)."""
    now = now or datetime.now(UTC)
    with ctx.engine.connect() as conn:
        upto = latest_seq(conn)  # before the figures: the live model rebases on it
        area = views.area_info(conn, area_code)
        if area is None or not may_see(user, area):
            raise PreventUpdate
        figures = views.area_figures(conn, area, now)
        overdue, total = overdue_cases(conn, area, now=now)
    return WallFigures(figures=figures, overdue=overdue, overdue_total=total, now=now, upto=upto)


def stops_of(ctx: AppContext, area: views.AreaInfo) -> tuple[str, ...]:
    with ctx.engine.connect() as conn:
        return tuple(tour_stops(conn, area))


# -- the callbacks' bodies (plain functions, so tests call them) ---------------------------


def refresh(
    ctx: AppContext, user: UserInfo | None, config_data: Any, now: datetime | None = None
) -> tuple[Any, ...]:
    """Every ``FIGURES_SECONDS``: the rate tiles, the overdue list, and the store's
    counts with their feed position, which the live model takes as its new base (the
    "new today" count starts again at midnight)."""
    from app.pages import wall as page

    config = WallConfig.from_store(config_data)
    data = wall_figures(ctx, user, config.area_code or "", now)
    figures, lang = data.figures, config.lang
    live = Patch()
    live["rebase"] = {
        "open": figures["open"],
        "new_today": figures["new_today"],
        "upto": data.upto,
    }
    return (
        page.overdue_items(data.overdue, lang, page.place_levels(config.level)),
        page.overdue_total_text(data.overdue_total, lang),
        page.percent(figures["closure_rate"]),
        page.percent(figures["on_time_rate"]),
        live,
        page.updated_text(data.now, lang),
    )


def tour_stop(config: WallConfig, n: int) -> tuple[int, str]:
    """The ``n``-th tour tick's stop: (index, area code); index 0 is the wall's own area.

    The stops come in order and then the whole area again.
    """
    if not config.tour or not config.stops:
        return 0, config.area_code or ""
    index = n % (len(config.stops) + 1)
    return index, (config.area_code or "") if index == 0 else config.stops[index - 1]


def tour_move(
    ctx: AppContext, user: UserInfo | None, config_data: Any, n: int | None
) -> tuple[Any, Any]:
    """A tour tick: where the camera goes (the stop's extent) and the tour caption. The
    figure stays: its live cases and colours stay true wherever the camera is."""
    from app.pages import wall as page

    config = WallConfig.from_store(config_data)
    index, code = tour_stop(config, int(n or 0))
    with ctx.engine.connect() as conn:
        area = views.area_info(conn, code)
    if area is None or not may_see(user, area):
        raise PreventUpdate  # outside the viewer's area, or gone
    camera = {"bbox": list(area.bbox), "n": int(n or 0)}
    return camera, page.tour_caption(area.name(config.lang), index, len(config.stops), config)


def register(app: Dash, ctx: AppContext) -> None:
    from app import ids
    from app.auth import current_user

    app.callback(
        Output(ids.WALL_OVERDUE, "children"),
        Output(ids.WALL_OVERDUE_TOTAL, "children"),
        Output(ids.WALL_KPI_CLOSURE, "children"),
        Output(ids.WALL_KPI_ON_TIME, "children"),
        Output(ids.LIVE_STATE, "data", allow_duplicate=True),
        Output(ids.WALL_UPDATED, "children"),
        Input(ids.WALL_REFRESH_TICK, "n_intervals"),
        State(ids.WALL_CONFIG, "data"),
        prevent_initial_call=True,
    )(lambda _n, config: refresh(ctx, current_user(), config))

    app.callback(
        Output(ids.WALL_CAMERA, "data"),
        Output(ids.WALL_TOUR, "children"),
        Input(ids.WALL_MAP_TICK, "n_intervals"),
        State(ids.WALL_CONFIG, "data"),
        prevent_initial_call=True,
    )(lambda n, config: tour_move(ctx, current_user(), config, n))

    app.clientside_callback(
        ClientsideFunction(namespace="gridwatchWall", function_name="move"),
        Output(ids.WALL_TOUR, "title"),
        Input(ids.WALL_CAMERA, "data"),
        prevent_initial_call=True,
    )

    # The clock, the link status and fitting the map to the screen: in the browser.
    app.clientside_callback(
        ClientsideFunction(namespace="gridwatchWall", function_name="tick"),
        Output(ids.WALL_CLOCK, "children"),
        Output(ids.WALL_LINK, "className"),
        Output(ids.MAP_GRAPH, "figure", allow_duplicate=True),
        Input(ids.WALL_CLOCK_TICK, "n_intervals"),
        State(ids.LIVE_SOCKET, "connected"),
        State(ids.WALL_CONFIG, "data"),
        prevent_initial_call=True,
    )
