"""Live updates on every screen with a live model: one clientside callback
(``assets/live.js``) feeds the screen's model from the socket and ticks it each second.
The model draws the map, the counters and the ticker itself; nothing is sent back to the
server per event, and no figure is patched."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State

from app.context import AppContext


def register(app: Dash, ctx: AppContext) -> None:
    from app import ids  # here, not at import: app's package imports the callbacks

    app.clientside_callback(
        ClientsideFunction(namespace="gridwatch", function_name="applyFeed"),
        Output(ids.LIVE_STATUS, "children"),
        Input(ids.LIVE_SOCKET, "data-feed"),
        Input(ids.LIVE_TICK, "n_intervals"),
        Input(ids.LIVE_SOCKET, "connected"),
        State(ids.LIVE_STATE, "data"),
    )
