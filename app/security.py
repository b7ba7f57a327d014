"""Security headers on every answer: a Content-Security-Policy that allows only this
server (plus a configured basemap host), no framing, no referrer leaks, no sniffing.

Dash's own inline bootstrap script is allowed by its hash (``Dash.csp_hashes``), not
by 'unsafe-inline'; styles need 'unsafe-inline' because Dash and plotly set element
styles. MapLibre builds its workers from blob: URLs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from dash import Dash
from flask import Response

from app.settings import Settings


def content_security_policy(script_hashes: list[str], basemap_url: str | None) -> str:
    tiles = ""
    if basemap_url:
        parts = urlsplit(basemap_url.replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
        if parts.scheme in ("http", "https") and parts.netloc:
            tiles = f" {parts.scheme}://{parts.netloc}"
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),  # Dash quotes its hashes
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob:{tiles}",
        "font-src": "'self' data:",
        "connect-src": f"'self'{tiles}",
        "worker-src": "'self' blob:",
        "child-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def install(dash_app: Dash, settings: Settings) -> None:
    """Add the headers; call after every callback is registered (the hashes cover
    inline clientside callbacks too)."""
    policy = content_security_policy(list(dash_app.csp_hashes()), settings.basemap_url)

    @dash_app.server.after_request
    def secure_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if settings.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
