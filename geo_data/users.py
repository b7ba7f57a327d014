"""Users who sign in: roles, areas and passwords (scrypt), kept in ``users``.

Roles: an operator acts on the whole jurisdiction; a supervisor sees and acts in one
street or community only; a leader reads everything and acts on nothing; an admin
manages users and data loads. Passwords are stored as scrypt hashes with their own
salt and cost, so the cost can be raised later without invalidating old hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_data.actors import Actor
from geo_data.models import ROLES

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and ~40 ms per check on this class of CPU
MIN_PASSWORD = 10
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")
SUPERVISOR_LEVELS = ("street", "community")
RESERVED = ("system",)


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: str
    area_id: int | None
    area_code: str | None
    area_name_zh: str | None
    area_name_en: str | None
    area_level: str | None
    active: bool

    def actor(self) -> Actor:
        return Actor(self.id, self.username, self.role, self.area_id)


def hash_password(password: str) -> str:
    """A self-describing scrypt hash: ``scrypt$n$r$p$salt$digest`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; constant time, False for no hash."""
    if not stored:
        # Spend the same time as a real check, so a missing user does not answer faster.
        hashlib.scrypt(b"x", salt=b"0" * 16, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


_USER_SQL = (
    "SELECT u.id, u.username, u.display_name, u.role, u.area_id, a.code AS area_code,"
    " a.name_zh AS area_name_zh, a.name_en AS area_name_en, a.level AS area_level, u.active"
    " FROM users u LEFT JOIN areas a ON a.id = u.area_id"
)


def create_user(
    conn: Connection,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    area_code: str | None = None,
) -> UserInfo:
    """Add a user. A supervisor needs a street or community; other roles see everything."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username) or username in RESERVED:
        raise UserError(
            "a username is 3-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter"
        )
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    _check_password_strength(password)
    area_id = None
    if role == "supervisor":
        if not area_code:
            raise UserError("a supervisor needs an area (--area CODE of a street or community)")
        area = conn.execute(
            text("SELECT id, level FROM areas WHERE code = :c"), {"c": area_code}
        ).first()
        if area is None:
            raise UserError(f"no area with code {area_code!r}")
        if area.level not in SUPERVISOR_LEVELS:
            raise UserError(f"a supervisor's area is a street or community, not a {area.level}")
        area_id = area.id
    elif area_code:
        raise UserError(f"a {role} sees the whole jurisdiction; give an area only to supervisors")
    if conn.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
        raise UserError(f"user {username!r} exists already")
    conn.execute(
        text(
            "INSERT INTO users (username, display_name, password_hash, role, area_id)"
            " VALUES (:u, :d, :h, :r, :a)"
        ),
        {
            "u": username,
            "d": (display_name or username).strip()[:128],
            "h": hash_password(password),
            "r": role,
            "a": area_id,
        },
    )
    user = get_user(conn, username)
    assert user is not None
    return user


def get_user(conn: Connection, username: str) -> UserInfo | None:
    row = conn.execute(text(_USER_SQL + " WHERE u.username = :u"), {"u": username}).first()
    return UserInfo(*row) if row else None


def user_by_id(conn: Connection, user_id: int) -> UserInfo | None:
    """The active user ``user_id``; None when unknown or disabled (a session ends with it)."""
    row = conn.execute(
        text(_USER_SQL + " WHERE u.id = :i AND u.active AND u.username <> 'system'"),
        {"i": user_id},
    ).first()
    return UserInfo(*row) if row else None


def list_users(conn: Connection) -> list[UserInfo]:
    rows = conn.execute(text(_USER_SQL + " WHERE u.username <> 'system' ORDER BY u.username"))
    return [UserInfo(*r) for r in rows]


def authenticate(conn: Connection, username: str, password: str) -> UserInfo | None:
    """The active user whose name and password match, else None (same time either way)."""
    name = username.strip().lower()
    storable = "\x00" not in name and name.encode(errors="replace").decode() == name
    row = None
    if storable:  # NUL or a lone surrogate cannot reach PostgreSQL (it was a 500)
        row = conn.execute(
            text("SELECT password_hash FROM users WHERE username = :u AND active"), {"u": name}
        ).first()
    if not check_password(password, row.password_hash if row else None):
        return None
    return get_user(conn, username.strip().lower())


def set_active(conn: Connection, username: str, active: bool) -> None:
    done = conn.execute(
        text("UPDATE users SET active = :a WHERE username = :u AND username <> 'system'"),
        {"a": active, "u": username},
    ).rowcount
    if not done:
        raise UserError(f"no user {username!r}")
    if not active:
        close_sessions_of(conn, username)


def set_password(conn: Connection, username: str, password: str) -> None:
    _check_password_strength(password)
    done = conn.execute(
        text("UPDATE users SET password_hash = :h WHERE username = :u AND username <> 'system'"),
        {"h": hash_password(password), "u": username},
    ).rowcount
    if not done:
        raise UserError(f"no user {username!r}")
    close_sessions_of(conn, username)


# -- sessions --------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, *, kind: str, hours: float) -> str:
    """A new session for ``user_id`` lasting ``hours`` of inactivity; returns its token."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO user_sessions (user_id, token_hash, kind, expires_at)"
            " VALUES (:u, :h, :k, now() + make_interval(secs => :s))"
        ),
        {"u": user_id, "h": _token_hash(token), "k": kind, "s": hours * 3600},
    )
    return token


def session_user(conn: Connection, token: str, *, hours: float) -> UserInfo | None:
    """The active user of a live session, sliding its expiry; None when it has ended."""
    # The expiry slides at most once a minute, so busy screens do not write per request.
    row = conn.execute(
        text(
            "WITH live AS (SELECT id, user_id, last_seen_at FROM user_sessions"
            " WHERE token_hash = :h AND revoked_at IS NULL AND expires_at > now()),"
            " touched AS (UPDATE user_sessions s SET last_seen_at = now(),"
            " expires_at = now() + make_interval(secs => :s) FROM live"
            " WHERE s.id = live.id AND live.last_seen_at < now() - interval '60 seconds')"
            " SELECT user_id FROM live"
        ),
        {"h": _token_hash(token), "s": hours * 3600},
    ).first()
    return user_by_id(conn, row.user_id) if row else None


def close_session(conn: Connection, token: str) -> None:
    conn.execute(
        text("UPDATE user_sessions SET revoked_at = now() WHERE token_hash = :h"),
        {"h": _token_hash(token)},
    )


def close_sessions_of(conn: Connection, username: str) -> int:
    """End every session of ``username`` (on disable or password change)."""
    return conn.execute(
        text(
            "UPDATE user_sessions SET revoked_at = now() WHERE revoked_at IS NULL"
            " AND user_id = (SELECT id FROM users WHERE username = :u)"
        ),
        {"u": username},
    ).rowcount
