"""Sign-in, sessions and the checks every request passes.

A browser signs in at ``/login`` and holds a session token in Flask's signed,
HttpOnly, SameSite cookie; a handheld terminal trades a password for a bearer token at
``POST /api/v1/auth/token``. Either token names a row in ``user_sessions``, checked on
every request, so logout and disabling a user take effect at once.

Every request except the public ones (the login page, static files, health, and the
ingest API, which has its own keys) needs a live session. Requests that change
something and ride on the cookie must come from our own origin (CSRF).
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Response, g, jsonify, redirect, request, session
from markupsafe import escape
from sqlalchemy import Engine

from app.i18n import t
from geo_data.users import UserInfo, authenticate, close_session, open_session, session_user

PUBLIC_PREFIXES = (
    "/assets/",
    "/_dash-component-suites/",
    "/healthz",
    "/metrics",  # checks its own access: this host or an admin
    "/_favicon.ico",
    "/favicon.ico",
    "/api/v1/events",
    "/api/v1/categories",
    "/api/v1/openapi.json",
    "/api/v1/auth/token",
    "/open311/",
    "/login",
    "/socket.io/",  # the Socket.IO connect handler checks the session itself
)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOGIN_ATTEMPTS = 10  # per user name and per address in LOGIN_WINDOW_SECONDS
LOGIN_WINDOW_SECONDS = 300.0

# Which role may open which page.
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "/map": ("operator", "supervisor", "leader", "admin"),
    "/overview": ("operator", "leader", "admin"),
    "/ops": ("operator", "supervisor", "leader"),
    # the wall screen: a supervisor's shows their own area
    "/wall": ("operator", "supervisor", "leader", "admin"),
    # the leader summary: a supervisor's shows their own area
    "/summary": ("leader", "operator", "admin", "supervisor"),
}
HOME_BY_ROLE = {"operator": "/map", "supervisor": "/ops", "leader": "/summary", "admin": "/map"}


def current_user() -> UserInfo | None:
    """The signed-in user of this request (set by the request check), or None."""
    return g.get("user")


def _engine() -> Engine:
    from flask import current_app

    return current_app.extensions["gridwatch"].engine


def _hours() -> float:
    from flask import current_app

    return current_app.extensions["gridwatch"].settings.session_hours


def user_of_token(engine: Engine, token: str | None, hours: float) -> UserInfo | None:
    """The user of a session token, or None; used by requests and socket connects."""
    if not token or len(token) > 128:
        return None
    with engine.begin() as conn:
        return session_user(conn, token, hours=hours)


def request_token() -> tuple[str | None, str]:
    """The session token of this request and how it came: ``bearer`` or ``cookie``."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip(), "bearer"
    return session.get("token"), "cookie"


def same_origin() -> bool:
    """Whether a state-changing request comes from a page of this server."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False
    parts = urlsplit(source)
    return f"{parts.scheme}://{parts.netloc}" == request.host_url.rstrip("/")


def _wants_html() -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def check_request() -> Response | tuple[Response, int] | None:
    """Run before every request: public path, or a live session (and our origin)."""
    path = request.path
    if any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES):
        return None
    token, how = request_token()
    user = user_of_token(_engine(), token, _hours())
    if user is None:
        if _wants_html():
            return redirect(f"/login?next={quote(_safe_next(request.full_path), safe='/')}")
        return jsonify(error="unauthenticated", message="sign in first"), 401
    if how == "cookie" and request.method not in SAFE_METHODS and not same_origin():
        return jsonify(error="cross_origin", message="request from another site refused"), 403
    g.user = user
    g.token_kind = how
    return None


def _safe_next(target: str | None) -> str:
    """Only local paths: ``next`` must never send a user to another site."""
    target = (target or "").rstrip("?")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class LoginThrottle:
    """Refuse guessing: at most LOGIN_ATTEMPTS failures per name and per address."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = defaultdict(list)

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            recent = [s for s in self._failures[key] if now - s < LOGIN_WINDOW_SECONDS]
            self._failures[key] = recent
            if len(recent) >= LOGIN_ATTEMPTS:
                return True
        return False

    def failed(self, *keys: str) -> None:
        if len(self._failures) > 50_000:
            self._failures.clear()
        for key in keys:
            self._failures[key].append(time.monotonic())

    def reset(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


def install(server: Flask) -> None:
    """Session cookie settings, the request check and the sign-in routes."""
    settings = server.extensions["gridwatch"].settings
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="gridwatch_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
    )
    server.before_request(check_request)
    server.register_blueprint(_auth_blueprint(LoginThrottle()))


def _auth_blueprint(throttle: LoginThrottle) -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.get("/login")
    def login_form() -> Response:
        return _login_page(request.args.get("lang", "zh"), request.args.get("next", "/"))

    @bp.post("/login")
    def login() -> Response | tuple[Response, int]:
        lang = request.form.get("lang", "zh")
        target = _safe_next(request.form.get("next"))
        if not same_origin():
            return _login_page(lang, target, error=t("login_cross_site", lang)), 403
        username = request.form.get("username", "")[:64]
        password = request.form.get("password", "")[:256]
        keys = (f"user:{username.lower()}", f"addr:{request.remote_addr}")
        if throttle.blocked(*keys):
            return _login_page(lang, target, error=t("login_throttled", lang)), 429
        with _engine().begin() as conn:
            user = authenticate(conn, username, password)
            token = open_session(conn, user.id, kind="browser", hours=_hours()) if user else None
        if user is None or token is None:
            throttle.failed(*keys)
            return _login_page(lang, target, error=t("login_failed", lang)), 401
        throttle.reset(*keys)
        session.clear()
        session.permanent = True
        session["token"] = token
        session["lang"] = lang
        home = HOME_BY_ROLE.get(user.role, "/")
        return redirect(target if target != "/" else home)

    @bp.post("/logout")
    def logout() -> Response:
        token = session.get("token")
        if token:
            with _engine().begin() as conn:
                close_session(conn, token)
        lang = session.get("lang", "zh")
        session.clear()
        return redirect(f"/login?lang={lang}")

    @bp.post("/api/v1/auth/token")
    def token() -> tuple[Response, int]:
        """Handheld terminals: ``{"username", "password"}`` -> a bearer token."""
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("username", "password")
        ):
            return jsonify(
                error="validation_failed", message="send JSON with username and password"
            ), 400
        keys = (f"user:{body['username'][:64].lower()}", f"addr:{request.remote_addr}")
        if throttle.blocked(*keys):
            return jsonify(error="throttled", message="too many failed sign-ins; wait"), 429
        with _engine().begin() as conn:
            user = authenticate(conn, body["username"][:64], body["password"][:256])
            issued = open_session(conn, user.id, kind="token", hours=_hours()) if user else None
        if user is None or issued is None:
            throttle.failed(*keys)
            return jsonify(error="invalid_credentials", message="wrong user name or password"), 401
        return jsonify(token=issued, token_type="Bearer", role=user.role, area_id=user.area_id), 200

    return bp


def _login_page(lang: str, target: str, error: str | None = None) -> Response:
    lang = "en" if lang == "en" else "zh"
    other = "zh" if lang == "en" else "en"
    message = f'<p class="login-error" role="alert">{escape(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("sign_in", lang))} · GridWatch</title>
<link rel="stylesheet" href="/assets/base.css"><link rel="stylesheet" href="/assets/login.css">
<script src="/assets/health.js"></script>
</head><body class="login-body">
<main class="login-card">
  <div class="login-brand"><span class="login-logo">◆</span>
    <div><h1>{escape(t("brand", lang))}</h1><p>GridWatch</p></div></div>
  <form method="post" action="/login" autocomplete="on">
    <input type="hidden" name="next" value="{escape(_safe_next(target))}">
    <input type="hidden" name="lang" value="{lang}">
    <label>{escape(t("username", lang))}
      <input name="username" autocomplete="username" required autofocus maxlength="64"></label>
    <label>{escape(t("password", lang))}
      <input name="password" type="password" autocomplete="current-password" required
        maxlength="256"></label>
    {message}
    <button type="submit">{escape(t("sign_in", lang))}</button>
  </form>
  <a class="login-lang" href="/login?lang={other}&next={quote(_safe_next(target), safe="/")}">
    {escape(t("switch_lang", lang))}</a>
</main></body></html>"""
    return Response(page, mimetype="text/html")
