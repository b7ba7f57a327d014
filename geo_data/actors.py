"""Who is acting: every write in the store takes an :class:`Actor`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

SYSTEM_USERNAME = "system"


@dataclass(frozen=True)
class Actor:
    """The acting user as the store sees it (no password, no session)."""

    id: int
    username: str
    role: str
    area_id: int | None = None

    @property
    def label(self) -> str:
        return self.username

    @property
    def is_system(self) -> bool:
        """The built-in actor of automatic work, not a person."""
        return self.username == SYSTEM_USERNAME


class UnknownActorError(LookupError):
    """No active user of that name."""


def actor_by_username(conn: Connection, username: str) -> Actor:
    """The active user ``username`` as an Actor."""
    row = conn.execute(
        text("SELECT id, username, role, area_id FROM users WHERE username = :u AND active"),
        {"u": username},
    ).first()
    if row is None:
        raise UnknownActorError(f"no active user named {username!r}")
    return Actor(row.id, row.username, row.role, row.area_id)


def system_actor(conn: Connection) -> Actor:
    """The built-in actor of automatic work (ETL, demo load, SLA escalation)."""
    return actor_by_username(conn, SYSTEM_USERNAME)
