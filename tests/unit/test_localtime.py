"""One display zone (GRIDWATCH_TIMEZONE): the Python helper, its twin assets/timefmt.js,
the setting that checks it, and the page that carries it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from app.cli import main
from app.factory import with_timezone
from app.i18n import as_of_text, zone_label
from app.settings import Settings
from geo_data import localtime, views

ROOT = Path(__file__).resolve().parents[2]
TIMEFMT = ROOT / "assets" / "timefmt.js"
BUG = datetime(2026, 11, 1, 17, 42, 5, tzinfo=UTC)  # the wall's "17:42" beside 01:42


@pytest.fixture
def zone_named() -> Iterator[object]:
    """Switch the process's display zone for one test (as GRIDWATCH_TIMEZONE would)."""
    saved = localtime.ZONE_NAME

    def switch(name: str) -> None:
        localtime.ZONE_NAME = name
        localtime.zone.cache_clear()

    yield switch
    switch(saved)


def test_times_show_in_beijing_by_default_whatever_zone_they_carry() -> None:
    assert localtime.ZONE_NAME == views.LOCAL_TZ == "Asia/Shanghai"
    for moment in (BUG, BUG.astimezone(timezone(timedelta(hours=-5)))):
        assert localtime.fmt_hm(moment) == "01:42"
        assert localtime.fmt_hms(moment) == "01:42:05"
        assert localtime.fmt_minute(moment) == "2026-11-02 01:42"
        assert localtime.local_day(moment) == date(2026, 11, 2)
    assert localtime.fmt_date_long(BUG, "zh") == "2026年11月2日 星期一"
    assert localtime.fmt_date_long(BUG, "en") == "Mon 2 Nov 2026"


def test_a_naive_time_is_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="zone"):
        localtime.fmt_minute(datetime(2026, 11, 1, 17, 42))


def test_missing_times_and_pandas_times() -> None:
    assert localtime.fmt_minute(None) == "—"
    assert localtime.fmt_minute(pd.NaT) == "—"
    assert localtime.fmt_minute(pd.Timestamp("2026-11-01T17:42:05Z")) == "2026-11-02 01:42"
    assert localtime.utc_iso(BUG.astimezone(timezone(timedelta(hours=8)))) == (
        "2026-11-01T17:42:05+00:00"
    )


def test_local_midnight_follows_new_york_daylight_saving(zone_named) -> None:
    zone_named("America/New_York")
    assert localtime.midnight(date(2026, 11, 1)) == datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert localtime.midnight(date(2026, 11, 2)) == datetime(2026, 11, 2, 5, tzinfo=UTC)
    assert localtime.fmt_hm(datetime(2026, 11, 1, 5, 30, tzinfo=UTC)) == "01:30"  # EDT
    assert localtime.fmt_hm(datetime(2026, 11, 1, 6, 30, tzinfo=UTC)) == "01:30"  # EST


def test_labels_name_the_zone_and_keep_beijing_time_for_shanghai(zone_named) -> None:
    assert zone_label("zh") == "北京时间" and zone_label("en") == "Beijing time"
    assert as_of_text(BUG, "zh") == "数据截至 2026-11-02 01:42（北京时间）"
    zone_named("America/New_York")
    assert zone_label("zh") == zone_label("en") == "America/New_York"
    assert as_of_text(BUG, "en") == "As of 2026-11-01 12:42 (America/New_York)"  # EST


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/New_York"])
def test_python_and_javascript_print_the_same(zone: str, zone_named) -> None:
    node = shutil.which("node")
    assert node, "node (20 or later) is needed: assets/timefmt.js is tested against Python"
    zone_named(zone)
    start = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)  # across New York's spring forward
    moments = [start + timedelta(minutes=47 * k) for k in range(60)]
    moments += [datetime(2026, 11, 1, h, 30, tzinfo=UTC) for h in range(3, 9)]  # fall back
    script = (
        f"const t = require({json.dumps(str(TIMEFMT))});"
        "const at = JSON.parse(process.argv[1]); const tz = process.argv[2];"
        "process.stdout.write(JSON.stringify(at.map(v => [t.hm(v, 'zh', tz),"
        " t.hms(v, 'zh', tz), t.minute(v, 'zh', tz), t.day(v, 'zh', tz),"
        " t.dateLong(v, 'zh', tz), t.dateLong(v, 'en', tz)])));"
    )
    wire = json.dumps([localtime.utc_iso(m) for m in moments])
    out = subprocess.run(
        [node, "-e", script, wire, zone],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "TZ": "Pacific/Kiritimati"},  # neither side's zone
    )
    expected = [
        [
            localtime.fmt_hm(m),
            localtime.fmt_hms(m),
            localtime.fmt_minute(m),
            localtime.local_day(m).isoformat(),
            localtime.fmt_date_long(m, "zh"),
            localtime.fmt_date_long(m, "en"),
        ]
        for m in moments
    ]
    assert json.loads(out.stdout) == expected


def test_the_setting_accepts_a_zone_and_refuses_a_made_up_one(monkeypatch) -> None:
    monkeypatch.setenv("GRIDWATCH_TIMEZONE", "Europe/London")
    assert Settings().timezone == "Europe/London"
    for bad in ("Mars/Base", "", "Asia", "../etc/passwd"):
        monkeypatch.setenv("GRIDWATCH_TIMEZONE", bad)
        with pytest.raises(ValidationError, match="unknown time zone"):
            Settings()


def test_the_command_line_names_the_variable_in_one_line() -> None:
    result = CliRunner().invoke(main, ["db", "status"], env={"GRIDWATCH_TIMEZONE": "Mars/Base"})
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: GRIDWATCH_TIMEZONE: unknown time zone 'Mars/Base':"
        " use an IANA name such as Asia/Shanghai or UTC"
    ]


def test_the_page_carries_the_zone_escaped() -> None:
    index = "<!DOCTYPE html>\n<html>\n<head></head><body></body></html>"
    assert '<html data-timezone="Asia/Shanghai">' in with_timezone(index, "Asia/Shanghai")
    assert 'data-timezone="&quot;&gt;&lt;script&gt;"' in with_timezone(index, '"><script>')
