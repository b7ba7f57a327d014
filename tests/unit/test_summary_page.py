"""The summary's pure parts: its charts, its numbers in the locale, and where clicks lead."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from app import ids
from app.exports import BOM, to_csv
from app.pages.summary import change_text, ops_href, summary_href, value_text
from callbacks.summary import target
from geo_data.summary import Tile
from layers import summary as charts

DAYS = [date(2026, 10, 3) + timedelta(days=i) for i in range(30)]
TREND = pd.DataFrame({"day": DAYS, "received": range(30), "closed": range(30, 60)})
CATEGORIES = pd.DataFrame(
    {
        "code": ["A", "B"],
        "name_zh": ["暴露垃圾", "道路不洁"],
        "name_en": ["Exposed rubbish", "Dirty road"],
        "received": [1234, 56],
        "closed": [1200, 50],
        "open": [30, 6],
        "overdue": [3, 0],
    }
)
CONTEXT = {"area": "510108", "lang": "zh", "date": None, "from": "2026-10-03", "to": "2026-11-01"}


def test_trend_figure_bars_received_and_lines_closed() -> None:
    figure = charts.trend_figure(TREND, "zh")
    bars, line = figure["data"]
    assert bars["type"] == "bar" and line["type"] == "scatter"
    assert list(bars["y"]) == list(range(30)) and list(line["y"]) == list(range(30, 60))
    assert bars["x"][0] == "10月3日" and bars["x"][-1] == "11月1日"
    assert bars["customdata"][-1] == "2026-11-01"  # what a click opens
    assert bars["marker"]["color"][-1] != bars["marker"]["color"][0]  # today is running
    english = charts.trend_figure(TREND, "en", today_running=False)
    assert english["data"][0]["x"][-1] == "Nov 1"
    assert len(set(english["data"][0]["marker"]["color"])) == 1
    assert not english["layout"].get("annotations")


def test_categories_figure_puts_the_most_on_top() -> None:
    figure = charts.categories_figure(CATEGORIES, "en")
    (bars,) = figure["data"]
    assert bars["orientation"] == "h"
    assert list(bars["y"]) == ["Dirty road", "Exposed rubbish"]  # plotly draws bottom up
    assert list(bars["text"]) == ["56", "1,234"]
    assert [c[0] for c in bars["customdata"]] == ["B", "A"]


def test_figures_are_offline_and_empty_frames_say_so() -> None:
    for figure in (charts.trend_figure(TREND, "zh"), charts.categories_figure(CATEGORIES, "zh")):
        text = json.dumps(figure, default=str)
        assert "http" not in text and "mathjax" not in text.lower()
        assert "Noto Sans CJK SC" in text
    empty = charts.trend_figure(TREND.iloc[0:0], "zh")
    assert empty["data"] == [] and empty["layout"]["annotations"][0]["text"] == "暂无数据"


@pytest.mark.parametrize(
    ("tile", "lang", "value", "change", "tone"),
    [
        (Tile("today", 1234, 1000, "count", "none", "all"), "zh", "1,234", "▲ 23.4%", "neutral"),
        (
            Tile("closure_rate", 0.923, 0.9, "rate", "up", "closed"),
            "zh",
            "92.3%",
            "▲ 2.3个百分点",
            "good",
        ),
        (
            Tile("closure_rate", 0.88, 0.9, "rate", "up", "closed"),
            "en",
            "88.0%",
            "▼ 2.0 pts",
            "bad",
        ),
        (Tile("overdue", 12, 20, "count", "down", "overdue"), "zh", "12", "▼ 40.0%", "good"),
        (
            Tile("handling_hours", 20.5, 18.0, "hours", "down", "closed"),
            "zh",
            "20.5小时",
            "▲ 13.9%",
            "bad",
        ),
        (
            Tile("handling_hours", 20.5, 18.0, "hours", "down", "closed"),
            "en",
            "20.5 h",
            "▲ 13.9%",
            "bad",
        ),
        (Tile("overdue", 3, 0, "count", "down", "overdue"), "zh", "3", "▲ +3", "bad"),
        (Tile("satisfaction", None, 0.9, "rate", "up", "closed"), "zh", "—", "—", "flat"),
        (Tile("today", 7, 7, "count", "none", "all"), "en", "7", "no change", "flat"),
    ],
)
def test_numbers_and_changes_in_the_locale(
    tile: Tile, lang: str, value: str, change: str, tone: str
) -> None:
    assert value_text(tile, tile.value, lang) == value
    assert change_text(tile, lang) == (change, tone)


def test_links_carry_exactly_the_case_console_keys() -> None:
    assert ops_href("510108", "closed", "zh", date(2026, 10, 3), date(2026, 11, 1)) == (
        "/ops?area=510108&status=closed&from=2026-10-03&to=2026-11-01"
    )
    assert ops_href("510108001", "overdue", "en", category="E0501", worker=42) == (
        "/ops?area=510108001&status=overdue&category=E0501&worker=42&lang=en"
    )
    assert summary_href("510108", "zh") == "/summary?area=510108"
    assert summary_href("510108", "en", date(2026, 10, 31), "overdue") == (
        "/summary?area=510108&date=2026-10-31&sort=overdue&lang=en"
    )


def test_a_trend_bar_opens_that_days_cases() -> None:
    click = {"points": [{"customdata": "2026-10-20", "x": "10月20日"}]}
    assert target(ids.SUMMARY_TREND, click, None, None, CONTEXT) == (
        "/ops?area=510108&status=all&from=2026-10-20&to=2026-10-20"
    )
    assert target(ids.SUMMARY_TREND, {"points": []}, None, None, CONTEXT) is None
    assert target(ids.SUMMARY_TREND, {"points": [{"customdata": "x"}]}, None, None, CONTEXT) is None


def test_a_category_bar_opens_the_categorys_cases() -> None:
    click = {"points": [{"customdata": ["E0501", 10, 2, 1]}]}
    assert target(ids.SUMMARY_CATEGORIES, None, click, None, CONTEXT) == (
        "/ops?area=510108&status=all&from=2026-10-03&to=2026-11-01&category=E0501"
    )
    assert target(ids.SUMMARY_CATEGORIES, None, {"points": [{}]}, None, CONTEXT) is None


def test_a_picked_date_looks_back_and_today_stays_live() -> None:
    assert target(ids.SUMMARY_DATE, None, None, "2026-10-31", CONTEXT) == (
        "/summary?area=510108&date=2026-10-31"
    )
    assert target(ids.SUMMARY_DATE, None, None, "2026-11-01", CONTEXT) is None
    assert target(ids.SUMMARY_DATE, None, None, "not a date", CONTEXT) is None
    assert target(ids.SUMMARY_DATE, None, None, "2026-10-31", None) is None


def test_csv_text_starts_with_a_byte_order_mark() -> None:
    text = to_csv([["区域", "受理"], ["猛追湾街道", 1234], ['a "quoted", name', 1]])
    assert text.startswith(BOM)
    assert text.removeprefix(BOM).splitlines() == [
        "区域,受理",
        "猛追湾街道,1234",
        '"a ""quoted"", name",1',
    ]


def test_rankings_sort_best_first_and_areas_without_cases_last() -> None:
    from app.pages.summary import _sorted_rankings

    frame = pd.DataFrame(
        {
            "code": ["s1", "s2", "s3", "s4"],
            "closure_rate": [0.9, None, 0.95, 0.9],
            "overdue": [1, 0, 7, 3],
        }
    )
    assert list(_sorted_rankings(frame, "closure_rate")["code"]) == ["s3", "s1", "s4", "s2"]
    assert list(_sorted_rankings(frame, "overdue")["code"]) == ["s3", "s4", "s1", "s2"]
