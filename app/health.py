"""``/healthz`` and Prometheus ``/metrics`` for the operators of the operators.

Health: the database answers, the feed listener (once started by the first screen) is
connected, and how far it lags behind the feed. Metrics: ingest rate and latency, HTTP
answers by route group and status, refusals by kind, connected Socket.IO clients,
emitted feed batches. Counters are per process (each gunicorn worker exposes its own;
Prometheus sums them).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from bisect import bisect_left
from collections import defaultdict

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.auth import current_user, request_token, user_of_token
from geo_data.feed import latest_seq

# A page asked for while the database is down: the banner, and a reload once it is back.
DEGRADED_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>GridWatch</title><link rel="stylesheet" href="/assets/base.css">
<script src="/assets/health.js"></script><script src="/assets/degraded.js"></script>
</head><body><div id="gw-degraded" class="gw-degraded" role="alert">
服务暂时不可用：数据库连接中断，正在自动重连。 Service degraded: the database is
unreachable; this page reloads by itself when it is back.</div></body></html>"""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GROUPS = (
    ("/api/v1/events", "ingest"),
    ("/api/v1/cases", "cases_api"),
    ("/open311/", "open311"),
    ("/_dash-update-component", "callback"),
    ("/live/", "catch_up"),
    ("/login", "login"),
    ("/export/", "export"),
)


class Metrics:
    """Counters and one latency histogram, rendered in Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.ingest_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.ingest_sum = 0.0
        self.ingest_count = 0
        self.events_stored = 0

    def observe(self, group: str, status: int, seconds: float, error: str | None) -> None:
        with self._lock:
            self.requests[(group, status)] += 1
            if error:
                self.errors[error] += 1
            if group == "ingest":
                self.ingest_buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
                self.ingest_sum += seconds
                self.ingest_count += 1
                if status in (200, 201):
                    self.events_stored += 1

    def render(self, clients: int, batches: int, lag: int | None) -> str:
        with self._lock:
            lines = [
                "# HELP gridwatch_http_requests_total Answers by route group and status.",
                "# TYPE gridwatch_http_requests_total counter",
            ]
            lines += [
                f'gridwatch_http_requests_total{{group="{grp}",status="{status}"}} {n}'
                for (grp, status), n in sorted(self.requests.items())
            ]
            lines += [
                "# HELP gridwatch_errors_total Refusals and failures by kind.",
                "# TYPE gridwatch_errors_total counter",
            ]
            lines += [
                f'gridwatch_errors_total{{kind="{kind}"}} {n}'
                for kind, n in sorted(self.errors.items())
            ]
            lines += [
                "# HELP gridwatch_ingest_seconds Latency of single-event ingest requests.",
                "# TYPE gridwatch_ingest_seconds histogram",
            ]
            running = 0
            for bound, n in zip((*LATENCY_BUCKETS, "+Inf"), self.ingest_buckets, strict=True):
                running += n
                lines.append(f'gridwatch_ingest_seconds_bucket{{le="{bound}"}} {running}')
            lines += [
                f"gridwatch_ingest_seconds_sum {self.ingest_sum:.6f}",
                f"gridwatch_ingest_seconds_count {self.ingest_count}",
                "# HELP gridwatch_ingest_accepted_total Ingest requests answered 200/201.",
                "# TYPE gridwatch_ingest_accepted_total counter",
                f"gridwatch_ingest_accepted_total {self.events_stored}",
            ]
        lines += [
            "# HELP gridwatch_socket_clients Connected Socket.IO clients in this process.",
            "# TYPE gridwatch_socket_clients gauge",
            f"gridwatch_socket_clients {clients}",
            "# HELP gridwatch_feed_batches_total Feed batches emitted to rooms.",
            "# TYPE gridwatch_feed_batches_total counter",
            f"gridwatch_feed_batches_total {batches}",
        ]
        if lag is not None:
            lines += [
                "# HELP gridwatch_feed_lag_entries Feed entries not yet pushed by this process.",
                "# TYPE gridwatch_feed_lag_entries gauge",
                f"gridwatch_feed_lag_entries {lag}",
            ]
        return "\n".join(lines) + "\n"


def _group(path: str) -> str:
    return next((name for prefix, name in GROUPS if path.startswith(prefix)), "other")


def install(server: Flask) -> Metrics:
    """Time every request, and add ``/healthz`` and ``/metrics``."""
    metrics = Metrics()
    server.extensions["gridwatch.metrics"] = metrics

    @server.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @server.after_request
    def count(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            error = None
            if response.status_code >= 400 and response.is_json:
                body = response.get_json(silent=True)
                error = body.get("error") if isinstance(body, dict) else None
            if response.status_code >= 500:
                error = error or f"http_{response.status_code}"
            metrics.observe(
                _group(request.path), response.status_code, time.perf_counter() - started, error
            )
        return response

    @server.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError) -> tuple[Response, int]:
        """The database is down or restarting: a clear 503, never a 500; the pool's
        pre-ping reconnects once it is back."""
        metrics.observe(_group(request.path), 503, 0.0, "database_unavailable")
        if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
            page = Response(DEGRADED_PAGE, status=503, mimetype="text/html")
            page.headers["Retry-After"] = "5"
            return page, 503
        response = jsonify(
            error="database_unavailable",
            message="the case store is unreachable; retry shortly",
        )
        response.headers["Retry-After"] = "5"
        return response, 503

    server.register_blueprint(_blueprint(metrics))
    return metrics


def _listener_state() -> tuple[str, int | None]:
    listener = current_app.extensions["gridwatch.listener"]
    engine = current_app.extensions["gridwatch"].engine
    if not listener._started:
        return "idle", None  # started by the first screen that connects
    with engine.connect() as conn:
        lag = max(0, latest_seq(conn) - listener.last_seq)
    return ("up" if listener.alive else "down"), lag


def _may_scrape() -> bool:
    """Prometheus on this host, or a signed-in admin."""
    try:
        if ipaddress.ip_address(request.remote_addr or "").is_loopback:
            return True
    except ValueError:
        pass
    token, _how = request_token()
    hours = current_app.extensions["gridwatch"].settings.session_hours
    user = current_user() or user_of_token(current_app.extensions["gridwatch"].engine, token, hours)
    return user is not None and user.role == "admin"


def _blueprint(metrics: Metrics) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        engine = current_app.extensions["gridwatch"].engine
        started = time.perf_counter()
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            listener, lag = _listener_state()
        except DBAPIError as exc:
            return jsonify(status="down", database="down", error=type(exc).__name__), 503
        ms = round((time.perf_counter() - started) * 1000, 1)
        ok = listener != "down"
        body = {"status": "ok" if ok else "degraded", "database": "ok", "database_ms": ms,
                "listener": listener, "feed_lag": lag}  # fmt: skip
        return jsonify(body), (200 if ok else 503)

    @bp.get("/metrics")
    def prometheus() -> tuple[Response, int]:
        if not _may_scrape():
            return jsonify(error="forbidden", message="metrics are for this host or admins"), 403
        from app.realtime import _users

        listener = current_app.extensions["gridwatch.listener"]
        try:
            _state, lag = _listener_state()
        except DBAPIError:
            lag = None
        text_ = metrics.render(len(_users), listener.emitted_batches, lag)
        return Response(text_, mimetype="text/plain; version=0.0.4"), 200

    return bp
