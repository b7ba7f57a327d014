"""Personal data on screens and in answers: shown only to roles that act on cases.

Dispatchers (operators, and supervisors in their own area) call reporters and workers,
so they see phones and names; leaders and admins see them masked.
"""

from __future__ import annotations

from geo_data.users import UserInfo

PERSONAL_ROLES = ("operator", "supervisor")


def may_see_personal(user: UserInfo | None) -> bool:
    return user is not None and user.role in PERSONAL_ROLES


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``: enough to tell numbers apart, not to call."""
    if not phone:
        return phone
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """``张三丰`` -> ``张**``; ``Li Wei`` -> ``L*****``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
