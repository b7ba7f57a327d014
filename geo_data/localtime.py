"""The one time zone every time is shown in, and the Python side's formatting of it.

Times are stored and sent as UTC; people read them in the configured zone,
``GRIDWATCH_TIMEZONE`` (default Asia/Shanghai), never in the zone of whichever machine
or browser happens to show them. SQL day boundaries (``AT TIME ZONE :tz``) use
``ZONE_NAME``; pages format with the helpers here; ``assets/timefmt.js`` is the same
helper for the browser, reading the zone the page carries (``<html data-timezone>``).

The variable is read here, not from ``app.settings``, because ``geo_data`` does not
import ``app``; the settings validate the same variable at startup, so a bad name is
reported there as one line instead of surfacing here at first use.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_VAR = "GRIDWATCH_TIMEZONE"
DEFAULT_ZONE = "Asia/Shanghai"
ZONE_NAME: str = os.environ.get(ENV_VAR, DEFAULT_ZONE)

_WEEKDAYS_ZH = "一二三四五六日"  # Monday first, as date.weekday() counts
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def check_zone(name: str) -> str:
    """``name`` if it is an IANA zone this machine knows, else a ValueError saying so."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # '', '../x', 'Asia'
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai or UTC"
        ) from exc
    return name


@cache
def zone() -> ZoneInfo:
    """The configured zone (checked at first use, so importing never fails)."""
    try:
        return ZoneInfo(check_zone(ZONE_NAME))
    except ValueError as exc:
        raise ValueError(f"{ENV_VAR}: {exc}") from None


def is_beijing() -> bool:
    """Whether the zone is Beijing time, which labels name as 北京时间 / Beijing time."""
    return ZONE_NAME == DEFAULT_ZONE


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time to show must carry its zone (store and send UTC)")
    return moment


def local(moment: datetime) -> datetime:
    """An aware instant in the configured zone; a naive one is refused, since it could
    be in any zone."""
    return _aware(moment).astimezone(zone())


def fmt_minute(moment: datetime | None, missing: str = "—") -> str:
    """``YYYY-MM-DD HH:MM`` in the configured zone (``missing`` for None or NaT)."""
    if moment is None or moment != moment:  # NaT is not equal to itself
        return missing
    return f"{local(moment):%Y-%m-%d %H:%M}"


def fmt_hm(moment: datetime) -> str:
    """``HH:MM`` (24-hour) in the configured zone."""
    return f"{local(moment):%H:%M}"


def fmt_hms(moment: datetime) -> str:
    """``HH:MM:SS`` (24-hour) in the configured zone."""
    return f"{local(moment):%H:%M:%S}"


def fmt_date_long(moment: datetime, lang: str) -> str:
    """The day with its weekday: ``Sun 1 Nov 2026`` or ``2026年11月1日 星期日``."""
    day = local(moment)
    if lang == "en":  # not %a/%b: those follow the process's locale
        return f"{_WEEKDAYS_EN[day.weekday()]} {day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日 星期{_WEEKDAYS_ZH[day.weekday()]}"


def utc_iso(moment: datetime) -> str:
    """The instant as the wire carries it: UTC ISO 8601 (``2026-11-01T12:00:00+00:00``)."""
    return _aware(moment).astimezone(UTC).isoformat()


def local_day(moment: datetime) -> date:
    """The local calendar day ``moment`` falls on."""
    return local(moment).date()


def midnight(day: date) -> datetime:
    """The instant the local day ``day`` begins."""
    return datetime.combine(day, time(0), zone())
