"""GridWatch application factory."""

from __future__ import annotations

from app.factory import create_app

__all__ = ["create_app"]
