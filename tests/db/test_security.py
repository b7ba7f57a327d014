"""Security headers on every answer, and the policy they carry."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from app import create_app
from app.security import content_security_policy
from app.settings import Settings


def test_every_answer_carries_the_security_headers(
    settings: Settings, demo_engine: Engine, bearer: Callable
) -> None:
    client = create_app(settings, engine=demo_engine).server.test_client()
    for path, headers in (
        ("/login", {}),
        ("/healthz", {}),
        ("/_dash-layout", bearer("operator")),
        ("/api/v1/cases/1", {}),  # a refusal too
        ("/nowhere", {}),
    ):
        response = client.get(path, headers=headers)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        script = next(d for d in csp.split("; ") if d.startswith("script-src"))
        assert "unsafe-inline" not in script and "unsafe-eval" not in script
        assert "'sha256-" in script  # Dash's inline bootstrap, allowed by its hash only
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_only_a_configured_basemap_host_is_added() -> None:
    plain = content_security_policy([], None)
    assert "http" not in plain
    tiles = content_security_policy([], "http://tiles.intranet:8080/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: http://tiles.intranet:8080" in tiles
    assert "javascript" not in content_security_policy([], "javascript:alert(1)")
