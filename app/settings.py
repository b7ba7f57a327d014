"""Typed settings read from the environment (prefix ``GRIDWATCH_``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo_data import localtime


def default_state_dir() -> Path:
    """Where the private cluster and generated secrets live.

    As root the directory must be reachable by the ``postgres`` user that runs the
    cluster, so it cannot sit under ``/root``.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/gridwatch")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gridwatch"


class Settings(BaseSettings):
    """Everything configurable about a GridWatch process."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="An existing PostGIS database; unset means the private cluster.",
    )
    state_dir: Path = Field(default_factory=default_state_dir)
    db_port: int = Field(default=55432, description="Port of the private cluster (127.0.0.1).")
    db_name: str = "gridwatch"
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key: str | None = Field(default=None, description="Flask session key.")
    basemap_url: str | None = Field(
        default=None,
        description="Optional raster tile URL template of a local tile server, {z}/{x}/{y}.",
    )
    language: str = "zh"
    timezone: str = Field(
        default=localtime.DEFAULT_ZONE,
        description="The IANA zone every time is shown in and local days are counted in.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, description="A session ends after this long without a request."
    )
    secure_cookies: bool = Field(
        default=False, description="Mark the session cookie Secure (set when served over HTTPS)."
    )
    sla_enabled: bool = Field(
        default=True, description="Escalate overdue cases automatically in serve and demo."
    )
    sla_grace_minutes: float = Field(
        default=60.0, ge=0, description="How long past its deadline a case waits to escalate."
    )
    sla_interval_seconds: float = Field(
        default=60.0, gt=0, description="Seconds between two escalation passes."
    )
    sla_batch: int = Field(default=200, gt=0, description="Cases escalated per pass at most.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return localtime.check_zone(value)

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the state directory."""
        if self.secret_key:
            return self.secret_key
        path = self.state_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
