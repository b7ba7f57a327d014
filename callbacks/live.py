"""Live updates on the map: a clientside callback (``assets/live.js``) applies feed
batches to the figure with a Patch, so nothing is re-sent from the server per event."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State

from app.context import AppContext


def register(app: Dash, ctx: AppContext) -> None:
    from app import ids  # here, not at import: app's package imports the callbacks

    app.clientside_callback(
        ClientsideFunction(namespace="gridwatch", function_name="applyFeed"),
        Output(ids.MAP_GRAPH, "figure"),
        Output(ids.LIVE_STATE, "data"),
        Output(ids.LIVE_TICKER, "children"),
        Output(ids.LIVE_STATUS, "children"),
        Output(ids.MAP_KPI_OPEN, "children"),
        Output(ids.MAP_KPI_NEW_TODAY, "children"),
        Input(ids.LIVE_SOCKET, "data-feed"),
        Input(ids.LIVE_TICK, "n_intervals"),
        Input(ids.LIVE_SOCKET, "connected"),
        State(ids.LIVE_STATE, "data"),
        prevent_initial_call=True,
    )
