"""The demo's sign-in accounts: one per role, plus a community supervisor."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_data.users import create_user, get_user


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    display_name: str
    area_level: str | None = None  # a supervisor's area: the first street / community


DEMO_ACCOUNTS = (
    DemoAccount("operator", "operator", "指挥中心值班员"),
    DemoAccount("supervisor", "supervisor", "街道主管", "street"),
    DemoAccount("community", "supervisor", "社区主管", "community"),
    DemoAccount("leader", "leader", "区领导"),
    DemoAccount("admin", "admin", "系统管理员"),
)


def _area_code(conn: Connection, level: str) -> str:
    """The first street by code; for a community, the first one in the *second* street,
    so the two supervisors' areas do not overlap (tests rely on that)."""
    if level == "street":
        sql = "SELECT code FROM areas WHERE level = 'street' ORDER BY code LIMIT 1"
    else:
        sql = (
            "SELECT c.code FROM areas c WHERE c.level = 'community' AND c.street_id ="
            " (SELECT id FROM areas WHERE level = 'street' ORDER BY code OFFSET 1 LIMIT 1)"
            " ORDER BY c.code LIMIT 1"
        )
    code = conn.execute(text(sql)).scalar()
    if code is None:
        raise LookupError(f"no {level} loaded: load the demo city first")
    return code


def ensure_demo_users(conn: Connection, passwords: dict[str, str]) -> list[tuple[str, str]]:
    """Create the demo accounts that do not exist yet with ``passwords[username]``;
    returns (username, role) of those created."""
    created = []
    for account in DEMO_ACCOUNTS:
        if get_user(conn, account.username) is not None:
            continue
        create_user(
            conn,
            account.username,
            passwords[account.username],
            account.role,
            display_name=account.display_name,
            area_code=_area_code(conn, account.area_level) if account.area_level else None,
        )
        created.append((account.username, account.role))
    return created
