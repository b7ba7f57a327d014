"""The category and channel catalogue: the shipped CSV, its validation, and look-ups."""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from geo_data.catalogue import (
    CHANNELS,
    COLUMNS,
    Category,
    categories_frame,
    category,
    channel_codes,
    load_categories,
    sla_hours,
)

SHIPPED_CSV = Path(__file__).parents[2] / "geo_data" / "catalogue" / "categories.csv"

GOOD_COMPONENT = {
    "code": "0101",
    "kind": "component",
    "class_code": "01",
    "class_zh": "公用设施",
    "class_en": "Public utilities",
    "name_zh": "上水井盖",
    "name_en": "Water-supply manhole cover",
    "sla_hours_s1": "2",
    "sla_hours_s2": "4",
    "sla_hours_s3": "8",
    "sla_hours_s4": "24",
    "default_severity": "3",
    "severity_weights": "0.1|0.2|0.4|0.3",
    "demo_weight": "6",
    "urgent": "true",
}
GOOD_EVENT = {
    "code": "E0102",
    "kind": "event",
    "class_code": "E01",
    "class_zh": "市容环境",
    "class_en": "City appearance and sanitation",
    "name_zh": "暴露垃圾",
    "name_en": "Exposed rubbish",
    "sla_hours_s1": "2",
    "sla_hours_s2": "4",
    "sla_hours_s3": "8",
    "sla_hours_s4": "24",
    "default_severity": "3",
    "severity_weights": "0.01|0.09|0.5|0.4",
    "demo_weight": "110",
    "urgent": "false",
}


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header or list(COLUMNS))
        for row in rows:
            writer.writerow([row[column] for column in COLUMNS])
    return path


def bad_row_csv(tmp_path: Path, **changes: str) -> Path:
    """A two-row CSV whose second data row (file line 3) carries ``changes``."""
    return write_csv(tmp_path / "categories.csv", [GOOD_COMPONENT, {**GOOD_EVENT, **changes}])


def names_row(line: int, code: str) -> str:
    """Pattern for the row reference every validation message must carry."""
    return re.escape(f"line {line} (code '{code}')")


# --- the shipped catalogue -------------------------------------------------------------


def test_shipped_catalogue_loads_and_passes_validation():
    categories = load_categories()
    assert 35 <= len(categories) <= 50
    assert all(isinstance(cat, Category) for cat in categories)
    assert len({cat.code for cat in categories}) == len(categories)


def test_shipped_catalogue_reads_the_same_through_an_explicit_path():
    assert load_categories(SHIPPED_CSV) == load_categories()


def test_shipped_catalogue_is_loaded_once():
    assert load_categories() is load_categories()


def test_every_standard_class_of_both_kinds_is_present():
    classes = {(cat.kind, cat.class_code, cat.class_zh) for cat in load_categories()}
    assert {
        ("component", "01", "公用设施"),
        ("component", "02", "道路交通"),
        ("component", "03", "市容环境"),
        ("component", "04", "园林绿化"),
        ("component", "05", "房屋土地"),
        ("component", "06", "其他设施"),
        ("event", "E01", "市容环境"),
        ("event", "E02", "宣传广告"),
        ("event", "E03", "施工管理"),
        ("event", "E04", "突发事件"),
        ("event", "E05", "街面秩序"),
        ("event", "E06", "其他事件"),
    } <= classes


def test_grid_governance_case_types_from_the_domain_brief_are_present():
    names = {cat.name_zh for cat in load_categories()}
    assert {
        "邻里纠纷",
        "安全隐患",
        "独居老人一键呼叫",
        "烟感报警",
        "水浸报警",
        "电梯困人",
        "门禁异常",
        "车辆违停告警",
    } <= names


def test_life_safety_categories_are_urgent_and_fast():
    by_name = {cat.name_zh: cat for cat in load_categories()}
    for name in ("独居老人一键呼叫", "烟感报警", "电梯困人", "燃气管道破裂", "火灾", "爆炸"):
        assert by_name[name].urgent, name
    for name in ("非法小广告", "机动车乱停放", "邻里纠纷", "广告牌匾"):
        assert not by_name[name].urgent, name
    for cat in load_categories():
        if cat.urgent:
            assert cat.sla_hours_s1 <= 2, cat.code


def test_default_severity_is_the_most_likely_one():
    for cat in load_categories():
        assert cat.severity_weights[cat.default_severity - 1] == max(cat.severity_weights), cat.code


def test_demo_mix_is_dominated_by_street_order_and_sanitation():
    cats = load_categories()
    total = sum(cat.demo_weight for cat in cats)
    common = sum(cat.demo_weight for cat in cats if cat.class_code in ("E01", "E05"))
    assert common / total > 0.4
    weight = {cat.name_zh: cat.demo_weight for cat in cats}
    assert weight["机动车乱停放"] > 100 * weight["爆炸"]
    assert weight["邻里纠纷"] > weight["独居老人一键呼叫"] > weight["爆炸"]


def test_category_rows_are_frozen():
    cat = load_categories()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cat.urgent = not cat.urgent  # type: ignore[misc]


# --- the frame and look-ups ------------------------------------------------------------


def test_frame_has_the_csv_columns_in_order():
    with SHIPPED_CSV.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    frame = categories_frame()
    assert list(frame.columns) == header == list(COLUMNS)
    assert len(frame) == len(load_categories())


def test_frame_parses_weights_to_four_float_tuples_and_types_the_numbers():
    frame = categories_frame()
    for weights in frame["severity_weights"]:
        assert isinstance(weights, tuple)
        assert len(weights) == 4
        assert all(isinstance(w, float) for w in weights)
        assert sum(weights) == pytest.approx(1.0)
    assert frame["urgent"].dtype == bool
    assert frame["default_severity"].dtype == np.int64
    assert frame["sla_hours_s1"].dtype == np.float64
    row = frame.set_index("code").loc["0101"]
    assert row["severity_weights"] == (0.1, 0.2, 0.4, 0.3)
    assert row["sla_hours_s4"] == 24.0


def test_frame_is_a_fresh_copy_each_call():
    frame = categories_frame()
    frame.loc[0, "sla_hours_s1"] = 999.0
    assert categories_frame().loc[0, "sla_hours_s1"] != 999.0
    assert load_categories()[0].sla_hours_s1 != 999.0


@pytest.mark.parametrize(
    ("code", "expected"),
    [("0101", (2, 4, 8, 24)), ("0307", (24, 48, 72, 120)), ("E9101", (0.5, 1, 2, 4))],
)
def test_sla_hours_by_code_and_severity(code, expected):
    assert tuple(sla_hours(code, severity) for severity in (1, 2, 3, 4)) == expected


def test_sla_hours_accepts_numpy_integers():
    assert sla_hours("0101", np.int64(4)) == 24.0


def test_sla_hours_rejects_unknown_code():
    with pytest.raises(KeyError, match="X9999"):
        sla_hours("X9999", 1)


@pytest.mark.parametrize("severity", [0, 5, -1, 2.0, True, "1"])
def test_sla_hours_rejects_severity_outside_one_to_four(severity):
    with pytest.raises(ValueError, match="severity"):
        sla_hours("0101", severity)


def test_category_lookup_returns_the_row():
    assert category("E0505").name_zh == "机动车乱停放"


# --- channels --------------------------------------------------------------------------


def test_eight_channels_in_the_order_the_schema_uses():
    assert channel_codes() == (
        "hotline",
        "web",
        "app",
        "wechat",
        "grid_worker",
        "iot_sensor",
        "video_ai",
        "walk_in",
    )
    assert [channel.name_zh for channel in CHANNELS][:2] == ["市民热线 12345", "网站"]
    assert all(channel.name_zh and channel.name_en for channel in CHANNELS)


def test_channel_codes_match_the_case_table_constraint():
    models = pytest.importorskip("geo_data.models")
    assert tuple(models.CHANNELS) == channel_codes()


def test_channels_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CHANNELS[0].code = "fax"  # type: ignore[misc]


# --- validation ------------------------------------------------------------------------


def test_a_valid_tmp_csv_loads(tmp_path):
    path = write_csv(tmp_path / "ok.csv", [GOOD_COMPONENT, GOOD_EVENT])
    codes = [cat.code for cat in load_categories(path)]
    assert codes == ["0101", "E0102"]


def test_duplicate_code_is_rejected_naming_both_rows(tmp_path):
    path = write_csv(tmp_path / "dup.csv", [GOOD_COMPONENT, GOOD_EVENT, GOOD_COMPONENT])
    with pytest.raises(ValueError, match=names_row(4, "0101") + ".*duplicate.*line 2"):
        load_categories(path)


@pytest.mark.parametrize(
    "sla",
    [("8", "4", "8", "24"), ("2", "4", "24", "8"), ("2", "4", "8", "7.5")],
    ids=["s1>s2", "s3>s4", "s4<s3-fraction"],
)
def test_sla_that_shrinks_as_severity_eases_is_rejected(tmp_path, sla):
    changes = {f"sla_hours_s{i}": hours for i, hours in enumerate(sla, start=1)}
    with pytest.raises(ValueError, match=names_row(3, "E0102") + ".*SLA hours must not decrease"):
        load_categories(bad_row_csv(tmp_path, **changes))


@pytest.mark.parametrize("weights", ["0.1|0.2|0.4|0.4", "0.25|0.25|0.25|0.2", "1|1|0|0"])
def test_weights_not_summing_to_one_are_rejected(tmp_path, weights):
    with pytest.raises(ValueError, match=names_row(3, "E0102") + ".*sum to"):
        load_categories(bad_row_csv(tmp_path, severity_weights=weights))


@pytest.mark.parametrize("kind", ["widget", "Event", ""])
def test_unknown_kind_is_rejected(tmp_path, kind):
    with pytest.raises(ValueError, match=names_row(3, "E0102") + ".*unknown kind"):
        load_categories(bad_row_csv(tmp_path, kind=kind))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sla_hours_s1": "0"}, "must be positive"),
        ({"sla_hours_s1": "-1"}, "must be positive"),
        ({"sla_hours_s2": "soon"}, "sla_hours_s2 is not a number"),
        ({"sla_hours_s4": "inf"}, "must be finite"),
        ({"severity_weights": "0.5|0.5|0"}, "needs 4 values"),
        ({"severity_weights": "0.5|0.6|-0.1|0"}, "must not be negative"),
        ({"severity_weights": "0.5|x|0.5|0"}, "severity_weights is not a number"),
        ({"default_severity": "5"}, "default_severity must be 1-4"),
        ({"default_severity": "high"}, "default_severity must be 1-4"),
        ({"demo_weight": "0"}, "demo_weight must be positive"),
        ({"urgent": "yes"}, "urgent must be true or false"),
        ({"code": "E0202"}, "code must be class_code"),
        ({"code": "0102", "class_code": "01"}, "class_code must be ENN"),
        ({"name_zh": " "}, "name_zh is empty"),
        ({"class_zh": "市容"}, "class E01 is named"),
    ],
)
def test_other_bad_cells_are_rejected_naming_the_row(tmp_path, changes, reason):
    extra = {**GOOD_EVENT, "code": "E0101", "name_zh": "私搭乱建", "name_en": "Structure"}
    code = changes.get("code", "E0102")
    path = write_csv(tmp_path / "bad.csv", [extra, {**GOOD_EVENT, **changes}])
    with pytest.raises(ValueError, match=names_row(3, code) + ".*" + re.escape(reason)):
        load_categories(path)


def test_row_with_missing_fields_is_rejected(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(",".join(COLUMNS) + "\n0101,component,01,公用设施\n", encoding="utf-8")
    with pytest.raises(ValueError, match=names_row(2, "0101") + ".*expected 15 fields"):
        load_categories(path)


def test_wrong_header_is_rejected(tmp_path):
    header = [*COLUMNS[:-1], "is_urgent"]
    path = write_csv(tmp_path / "header.csv", [GOOD_COMPONENT], header=header)
    with pytest.raises(ValueError, match="header must be"):
        load_categories(path)


def test_empty_catalogue_is_rejected(tmp_path):
    path = write_csv(tmp_path / "empty.csv", [])
    with pytest.raises(ValueError, match="no categories"):
        load_categories(path)


def test_the_message_names_the_file(tmp_path):
    path = bad_row_csv(tmp_path, kind="widget")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_categories(path)
