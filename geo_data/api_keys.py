"""Per-channel ingest keys. Only a key's SHA-256 is stored; the key is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_data.actors import Actor


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    name: str
    channel: str
    rate_per_minute: int


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    conn: Connection, name: str, channel: str, actor: Actor, rate_per_minute: int = 600
) -> str:
    """Create a key for ``channel``; returns the plaintext key (not stored anywhere)."""
    if actor.role != "admin":
        raise PermissionError("only an admin may create API keys")
    key = "gw_" + secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO api_keys (name, channel, key_hash, rate_per_minute)"
            " VALUES (:n, :c, :h, :r)"
        ),
        {"n": name, "c": channel, "h": hash_key(key), "r": rate_per_minute},
    )
    return key


def find_key(conn: Connection, key: str) -> ApiKeyInfo | None:
    """The active key matching ``key``, if any."""
    row = conn.execute(
        text(
            "SELECT id, name, channel, rate_per_minute FROM api_keys WHERE key_hash = :h AND active"
        ),
        {"h": hash_key(key)},
    ).first()
    return ApiKeyInfo(row.id, row.name, row.channel, row.rate_per_minute) if row else None


def list_keys(conn: Connection) -> list[dict[str, object]]:
    """Every key's name, channel, rate, state and creation time (never the key)."""
    rows = conn.execute(
        text(
            "SELECT name, channel, rate_per_minute, active, created_at FROM api_keys"
            " ORDER BY created_at, name"
        )
    ).mappings()
    return [dict(r) for r in rows]


def disable_key(conn: Connection, name: str, actor: Actor) -> bool:
    """Disable the key ``name``; False if there is none."""
    if actor.role != "admin":
        raise PermissionError("only an admin may disable API keys")
    done = conn.execute(
        text("UPDATE api_keys SET active = false WHERE name = :n AND active"), {"n": name}
    )
    return done.rowcount == 1
