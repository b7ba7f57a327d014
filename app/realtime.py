"""Live updates: the database announces feed entries, each app process pushes them.

Every process runs one listener thread: it LISTENs on ``case_feed``, wakes on a
notification, reads the entries after the last seq it pushed, and emits one batch per
Socket.IO room (commits within 20 ms share a batch; a busy feed is batched at most
every 100 ms, so fan-out to many screens stays affordable). A client sits in
exactly one room (``all``, or ``area:<id>`` of the area it watches), so it never
receives an entry twice; each batch carries ``after`` and ``upto``, the feed range it
covers, and a client sends its position back to catch up after reconnecting.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Blueprint, Response, g, jsonify, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room, leave_room
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from app.auth import user_of_token
from geo_data import views
from geo_data.case_list import filters_from_query, list_cases
from geo_data.feed import Entry, entries_after, feed_scope, latest_seq, snapshot
from geo_data.jurisdiction import area_within
from geo_data.users import UserInfo

log = logging.getLogger(__name__)
BATCH_SECONDS = 0.25  # the longest a listener waits before checking for changes anyway
GATHER_SECONDS = 0.02  # after a notification: let a burst of commits join one batch
MIN_INTERVAL_SECONDS = 0.1  # between batches when the feed is busy
CATCH_UP_LIMIT = 5000
ROWS_LIMIT = 1000  # case ids one /live/rows request may name
SNAPSHOT_LIMIT = 2000  # open cases a screen holds at most (the most urgent first)
ALL_ROOM = "all"


def attach_socketio(
    server: Any, engine: Engine, session_hours: float = 12.0
) -> tuple[SocketIO, FeedListener]:
    """A Socket.IO server for this app (threading mode, same origin only), its listener
    and the HTTP catch-up route.

    One per app rather than a module global, so apps built side by side (tests, bench)
    keep their own handlers and database.
    """
    sio = SocketIO(server, async_mode="threading", cors_allowed_origins=None)
    listener = FeedListener(engine, sio)
    register_socket_handlers(sio, engine, listener, session_hours)
    server.register_blueprint(_live_blueprint(engine))
    return sio, listener


def catch_up(engine: Engine, since: int) -> dict[str, Any]:
    """What a client that has applied everything up to ``since`` is missing."""
    level, area_id = _scope_of_client()
    with engine.connect() as conn:
        # The position first: an entry committed after it is left for the next batch. (Read
        # after the entries, it could name an entry they did not hold, which the client
        # would then skip for good.)
        upto = latest_seq(conn)
        entries = entries_after(
            conn, since, limit=CATCH_UP_LIMIT + 1, area_level=level, area_id=area_id
        )
        entries = [e for e in entries if e.seq <= upto]
    if len(entries) > CATCH_UP_LIMIT:
        return {"entries": [], "after": since, "upto": upto, "reload": True}
    return {"entries": [e.as_message() for e in entries], "after": since, "upto": upto}


def _live_blueprint(engine: Engine) -> Blueprint:
    """``GET /live/feed?since=N``: catch-up for browsers, whose Socket.IO component
    cannot emit; a batch whose ``after`` is beyond what the page applied triggers it."""
    live = Blueprint("live", __name__, url_prefix="/live")

    @live.get("/snapshot")
    def open_cases() -> tuple[Response, int]:
        """The open cases a screen of ``?area=CODE`` starts its live model from."""
        code = request.args.get("area", "").strip()
        user: UserInfo | None = g.get("user")
        if user is None:
            return jsonify(error="unauthenticated", message="sign in first"), 401
        if not code or len(code) > 32 or not code.isalnum():
            return jsonify(error="bad_area", message="area must be an area code"), 400
        with engine.connect() as conn:
            area = views.area_info(conn, code)
            if area is None or not _may_watch(user, area):
                # Outside the user's area answers as if it did not exist (as cases do).
                return jsonify(error="not_found", message=f"no area {code} in your area"), 404
            shot = snapshot(conn, area, limit=SNAPSHOT_LIMIT)
        return jsonify(shot.as_message()), 200

    @live.get("/rows")
    def table_rows() -> tuple[Response, int]:
        """The console's rows for the cases ``?ids=1,2`` that match its filters (the
        page's own query), formatted as the table shows them: a live table adds, updates
        and removes rows with them (``assets/live.js``)."""
        from app.pages.ops import grid_rows  # pages import the app package at load

        user: UserInfo | None = g.get("user")
        if user is None:
            return jsonify(error="unauthenticated", message="sign in first"), 401
        raw = request.args.get("ids", "")
        parts = [p for p in raw.split(",") if p]
        if not parts or len(parts) > ROWS_LIMIT or not all(p.isdigit() for p in parts):
            return jsonify(
                error="bad_ids", message=f"ids must be 1 to {ROWS_LIMIT} case ids, comma-separated"
            ), 400
        code = request.args.get("area", "").strip()
        lang = "en" if request.args.get("lang") == "en" else "zh"
        with engine.connect() as conn:
            area = views.area_info(conn, code) if code.isalnum() and len(code) <= 32 else None
            if area is None or not _may_watch(user, area):
                return jsonify(error="not_found", message=f"no area {code} in your area"), 404
            frame, _ = list_cases(
                conn, area, filters_from_query(request.args.to_dict()), ids=[int(p) for p in parts]
            )
        return jsonify({"ids": [int(p) for p in parts], "rows": grid_rows(frame, lang)}), 200

    @live.get("/feed")
    def feed() -> tuple[Response, int]:
        raw = request.args.get("since", "")
        if not raw.isdigit():
            return jsonify(error="bad_since", message="since must be an integer >= 0"), 400
        return jsonify(catch_up(engine, int(raw))), 200

    return live


def _may_watch(user: UserInfo, area: views.AreaInfo) -> bool:
    """A supervisor watches their own area or one inside it; others anything."""
    return user.area_code is None or user.area_code in {ref.code for ref in area.chain}


def sent_ms() -> float:
    """Wall-clock send time in ms, so a screen can measure delivery latency."""
    return round(time.time() * 1000, 1)


def rooms_of(entry: Entry) -> list[str]:
    """The rooms an entry is pushed to: everyone's, and each area it lies in."""
    return [ALL_ROOM] + [f"area:{area_id}" for area_id in entry.area_ids if area_id]


class FeedListener:
    """One thread per process turning NOTIFYs into batched Socket.IO emits."""

    def __init__(self, engine: Engine, sio: SocketIO) -> None:
        self.engine = engine
        self.sio = sio
        self.last_seq = 0
        self.emitted_batches = 0
        self._last_emit = 0.0
        self.alive = False
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._batch_hooks: list[Callable[[int], None]] = []

    def after_batch(self, hook: Callable[[int], None]) -> None:
        """Call ``hook(upto)`` after each pumped batch (the tile cache drops the live
        tiles the batch superseded). A failing hook is logged, never stops the feed."""
        self._batch_hooks.append(hook)

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        with self.engine.connect() as conn:
            self.last_seq = latest_seq(conn)
        threading.Thread(target=self._run, name="feed-listener", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute("LISTEN case_feed")
                    self.alive = True
                    backoff = 0.5
                    self._pump()  # anything committed while we were away
                    while not self._stop.is_set():
                        # Wake on the first notification (not at the end of a window),
                        # let a burst gather briefly, then push all of it as one batch.
                        notified = list(conn.notifies(timeout=BATCH_SECONDS, stop_after=1))
                        if notified:
                            # Quiet feed: push at once. Busy feed: at most one batch per
                            # MIN_INTERVAL, so fan-out to many screens stays affordable.
                            ready_at = self._last_emit + MIN_INTERVAL_SECONDS
                            time.sleep(max(GATHER_SECONDS, ready_at - time.monotonic()))
                            self._pump()
                            self._last_emit = time.monotonic()
            except (psycopg.OperationalError, OSError, DBAPIError) as exc:
                # DBAPIError: the pump's own queries (SQLAlchemy) when the database
                # restarts; without it the thread died and the feed went silent.
                self.alive = False
                log.warning("feed listener lost the database (%s); retrying", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _pump(self) -> None:
        """Emit every entry after ``last_seq``, one batch per room."""
        while True:
            with self.engine.connect() as conn:
                entries = entries_after(conn, self.last_seq, limit=CATCH_UP_LIMIT)
            if not entries:
                return
            after, upto = self.last_seq, entries[-1].seq
            by_room: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for entry in entries:
                for room in rooms_of(entry):
                    by_room[room].append(entry.as_message())
            for room, messages in by_room.items():
                batch = {"entries": messages, "after": after, "upto": upto, "sent": sent_ms()}
                self.sio.emit("feed", batch, to=room)
                self.emitted_batches += 1
            self.last_seq = upto
            for hook in self._batch_hooks:
                try:
                    hook(upto)
                except Exception:
                    log.exception("feed batch hook failed")
            if len(entries) < CATCH_UP_LIMIT:
                return


_watching: dict[str, tuple[str, int]] = {}  # Socket.IO sid -> (level, area id) it watches
_users: dict[str, UserInfo] = {}  # Socket.IO sid -> the signed-in user behind it


def _scope_of_client() -> tuple[str | None, int | None]:
    """The (level, area id) the client watches; (None, None) for everything.

    Over Socket.IO a client narrows itself to one area (connect auth ``area_id`` or a
    ``watch`` message); a supervisor is never wider than their own area. Over HTTP the
    scope is the signed-in user's area.
    """
    sid = getattr(request, "sid", None)
    if sid:
        return _watching.get(sid, (None, None))
    user: UserInfo | None = g.get("user")
    if user is not None and user.area_id is not None:
        return user.area_level, user.area_id
    return None, None


def _watch(engine: Engine, area_id: Any) -> tuple[str, str | None]:
    """Move the client to the room of ``area_id`` (None: everything it may see);
    (room, refusal). A supervisor may watch their own area or an area inside it."""
    sid = request.sid
    user = _users.get(sid)
    if user is None:
        return "", "not signed in"
    if area_id is None and user.area_id is not None:
        area_id = user.area_id
    if area_id is None:
        scope = None
    elif not isinstance(area_id, int) or isinstance(area_id, bool) or area_id <= 0:
        return "", "area_id must be a positive integer"
    else:
        with engine.connect() as conn:
            scope = feed_scope(conn, area_id)
            inside = user.area_id is None or area_within(conn, area_id, user.area_id)
        if scope is None:
            return "", f"no area {area_id} to watch"
        if not inside:
            return "", f"area {area_id} lies outside your area"
    old = _watching.pop(sid, None)
    leave_room(ALL_ROOM if old is None else f"area:{old[1]}")
    if scope is None:
        join_room(ALL_ROOM)
        return ALL_ROOM, None
    _watching[sid] = scope
    join_room(f"area:{scope[1]}")
    return f"area:{scope[1]}", None


def register_socket_handlers(
    sio: SocketIO, engine: Engine, listener: FeedListener, session_hours: float = 12.0
) -> None:
    @sio.on("connect")
    def on_connect(auth: Any = None) -> bool:
        # A browser brings its session cookie; other clients a bearer token in ``auth``.
        token = auth.get("token") if isinstance(auth, dict) else None
        user = user_of_token(engine, token if isinstance(token, str) else session.get("token"),
                             session_hours)  # fmt: skip
        if user is None:
            raise ConnectionRefusedError("unauthenticated: sign in first")
        listener.start()
        _users[request.sid] = user
        area_id = auth.get("area_id") if isinstance(auth, dict) else None
        room, refusal = _watch(engine, area_id)
        if refusal:
            emit("refused", {"event": "connect", "reason": refusal})
            room, _ = _watch(engine, None)  # the widest scope this user may see
        with engine.connect() as conn:
            emit(
                "hello",
                {
                    "room": room or ALL_ROOM,
                    "upto": latest_seq(conn),
                    "sid": request.sid,
                    "pid": os.getpid(),
                },
            )  # which process serves this client
        return True

    @sio.on("disconnect")
    def on_disconnect(*_args: Any) -> None:
        _watching.pop(request.sid, None)
        _users.pop(request.sid, None)

    @sio.on("watch")
    def on_watch(message: Any) -> None:
        area_id = message.get("area_id") if isinstance(message, dict) else "missing"
        room, refusal = _watch(engine, area_id)
        if refusal:
            emit("refused", {"event": "watch", "reason": refusal})
            return
        with engine.connect() as conn:
            emit("watching", {"room": room, "upto": latest_seq(conn)})

    @sio.on("catch_up")
    def on_catch_up(message: Any) -> None:
        since = message.get("since") if isinstance(message, dict) else None
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            emit("refused", {"event": "catch_up", "reason": "since must be an integer >= 0"})
            return
        emit("feed", catch_up(engine, since))


__all__ = ["FeedListener", "attach_socketio", "register_socket_handlers"]
