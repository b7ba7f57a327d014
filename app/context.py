"""What callbacks and pages need from the running app, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from app.settings import Settings


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
