"""The case catalogue: categories (what a case is about) and channels (how it arrived).

Categories follow the national digital city-management taxonomy, GB/T 30428.2 (formerly
CJ/T 214-2007, "城市市政综合监管信息系统 管理部件和事件"), which sorts problems into
*components* (部件: street furniture and facilities, a problem is "the thing is broken")
and *events* (事件: behaviour or occurrences, "something is happening"). Both use a
two-digit class code followed by a two-digit subclass code:

- components: class 01 公用设施, 02 道路交通, 03 市容环境, 04 园林绿化, 05 房屋土地,
  06 其他设施; code = class + subclass, e.g. ``0101`` 上水井盖 (water-supply manhole cover).
  In the standard a single facility is then ``<6-digit district><class><subclass><serial>``,
  e.g. ``320508 01 01 000001``.
- events: class 01 市容环境, 02 宣传广告, 03 施工管理, 04 突发事件, 05 街面秩序,
  06 其他事件. Their numbers overlap the components' (``0101`` is also 私搭乱建), so
  GridWatch prefixes events with ``E``: ``E0101``. ``class_code`` carries the same prefix
  (``E01``), so every code starts with its class code.

Subclass numbers are those of the standard's tables as reproduced in public city-platform
seed data (the official text was not at hand); the six class names of each kind are the
standard's own. Check the numbers against the official tables before exchanging codes
with another city platform. Only the subclasses GridWatch needs are listed.

GridWatch extensions, outside the standard, use numbers 90-98 so that they cannot collide
with the standard's upward numbering (99 is kept for an "other" catch-all):

- subclasses ``E0490`` 火灾 (fire) and ``E0491`` 爆炸 (explosion) in 突发事件;
- event classes for grid governance from the domain brief: ``E90`` 基层治理 (disputes,
  safety hazards, noise), ``E91`` 特殊人群关爱 (one-key alerts from vulnerable residents),
  ``E92`` 物联感知告警 (IoT alarms: smoke, water leak, lift entrapment, access control,
  parking).

Severity runs from 1 (特别紧急, most severe) to 4 (一般). ``sla_hours_sN`` is the time
allowed to close a case at severity N, so it never decreases from s1 to s4;
``severity_weights`` gives how often each severity occurs, ``demo_weight`` how often the
category occurs in a realistic case mix (relative, any scale), and ``urgent`` marks
life-safety categories that jump the queue.
"""

from __future__ import annotations

import csv
import io
import math
import operator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Literal

import pandas as pd

__all__ = [
    "CHANNELS",
    "COLUMNS",
    "KINDS",
    "SEVERITIES",
    "Category",
    "Channel",
    "categories_frame",
    "category",
    "channel_codes",
    "load_categories",
    "sla_hours",
]

Kind = Literal["component", "event"]

KINDS: tuple[Kind, ...] = ("component", "event")
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4)
COLUMNS: tuple[str, ...] = (
    "code",
    "kind",
    "class_code",
    "class_zh",
    "class_en",
    "name_zh",
    "name_en",
    "sla_hours_s1",
    "sla_hours_s2",
    "sla_hours_s3",
    "sla_hours_s4",
    "default_severity",
    "severity_weights",
    "demo_weight",
    "urgent",
)
_CSV_NAME = "categories.csv"
_CODE_PREFIX: dict[str, str] = {"component": "", "event": "E"}
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Category:
    """One leaf of the catalogue: what a case is about, and how fast it must be closed."""

    code: str
    kind: Kind
    class_code: str
    class_zh: str
    class_en: str
    name_zh: str
    name_en: str
    sla_hours_s1: float
    sla_hours_s2: float
    sla_hours_s3: float
    sla_hours_s4: float
    default_severity: int
    severity_weights: tuple[float, float, float, float]
    demo_weight: float
    urgent: bool

    def sla_hours(self, severity: int) -> float:
        """Hours allowed to close a case of this category at ``severity`` (1-4)."""
        hours = (self.sla_hours_s1, self.sla_hours_s2, self.sla_hours_s3, self.sla_hours_s4)
        return hours[_check_severity(severity) - 1]


@dataclass(frozen=True, slots=True)
class Channel:
    """A way a case reaches the platform."""

    code: str
    name_zh: str
    name_en: str


CHANNELS: tuple[Channel, ...] = (
    Channel("hotline", "市民热线 12345", "Citizen hotline 12345"),
    Channel("web", "网站", "Web portal"),
    Channel("app", "移动应用", "Mobile app"),
    Channel("wechat", "微信", "WeChat"),
    Channel("grid_worker", "网格员上报", "Grid-worker report"),
    Channel("iot_sensor", "物联感知", "IoT sensor"),
    Channel("video_ai", "视频智能分析", "Video analytics"),
    Channel("walk_in", "来访", "Walk-in visit"),
)


def channel_codes() -> tuple[str, ...]:
    """The channel codes, in display order (the values ``cases.channel`` may take)."""
    return tuple(channel.code for channel in CHANNELS)


def load_categories(path: str | Path | None = None) -> tuple[Category, ...]:
    """Read and validate the category CSV: the shipped one (cached) or the one at ``path``.

    Raises ValueError naming the file, line and code of the first bad row, so a broken
    catalogue stops the app at start-up instead of mis-timing cases later.
    """
    if path is None:
        return _shipped_categories()
    path = Path(path)
    return _parse(path.read_text(encoding="utf-8"), source=str(path))


def category(code: str) -> Category:
    """The shipped category with this code; KeyError if there is none."""
    try:
        return _by_code()[code]
    except KeyError:
        raise KeyError(f"unknown category code {code!r}") from None


def sla_hours(code: str, severity: int) -> float:
    """Hours allowed to close a case of category ``code`` at ``severity`` (1 = most severe)."""
    return category(code).sla_hours(severity)


def categories_frame(path: str | Path | None = None) -> pd.DataFrame:
    """The categories as a DataFrame with the CSV's columns, typed (weights as 4-tuples).

    A fresh frame each call, so callers may modify it.
    """
    rows = [{column: getattr(cat, column) for column in COLUMNS} for cat in load_categories(path)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(
        {
            "sla_hours_s1": "float64",
            "sla_hours_s2": "float64",
            "sla_hours_s3": "float64",
            "sla_hours_s4": "float64",
            "default_severity": "int64",
            "demo_weight": "float64",
            "urgent": "bool",
        }
    )


@cache
def _shipped_categories() -> tuple[Category, ...]:
    text = resources.files(__name__).joinpath(_CSV_NAME).read_text(encoding="utf-8")
    return _parse(text, source=_CSV_NAME)


@cache
def _by_code() -> dict[str, Category]:
    return {cat.code: cat for cat in _shipped_categories()}


def _parse(text: str, source: str) -> tuple[Category, ...]:
    """Parse CSV text into categories, checking every row and the table as a whole."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{source}: header must be {','.join(COLUMNS)}; got {reader.fieldnames!r}")
    categories: list[Category] = []
    seen: dict[str, int] = {}
    class_names: dict[str, tuple[str, str, int]] = {}
    for row in reader:
        line = reader.line_num
        where = f"{source} line {line} (code {(row.get('code') or '').strip()!r})"
        cat = _parse_row(row, where)
        if cat.code in seen:
            raise ValueError(f"{where}: duplicate code, first defined on line {seen[cat.code]}")
        seen[cat.code] = line
        names = class_names.setdefault(cat.class_code, (cat.class_zh, cat.class_en, line))
        if names[:2] != (cat.class_zh, cat.class_en):
            raise ValueError(
                f"{where}: class {cat.class_code} is named {cat.class_zh}/{cat.class_en} "
                f"but {names[0]}/{names[1]} on line {names[2]}"
            )
        categories.append(cat)
    if not categories:
        raise ValueError(f"{source}: no categories")
    return tuple(categories)


def _parse_row(row: dict[str | None, str | None], where: str) -> Category:
    """One CSV row to a Category; ValueError prefixed with ``where`` on any problem."""
    if None in row or any(row.get(column) is None for column in COLUMNS):
        raise ValueError(f"{where}: expected {len(COLUMNS)} fields")
    cell = {column: (row[column] or "").strip() for column in COLUMNS}
    for column in ("code", "class_code", "class_zh", "class_en", "name_zh", "name_en"):
        if not cell[column]:
            raise ValueError(f"{where}: {column} is empty")

    kind = cell["kind"]
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {kind!r}, expected one of {KINDS}")
    code, class_code = cell["code"], cell["class_code"]
    prefix = _CODE_PREFIX[kind]
    if not (class_code.startswith(prefix) and _is_digits(class_code[len(prefix) :], 2)):
        raise ValueError(f"{where}: {kind} class_code must be {prefix}NN, got {class_code!r}")
    if not (code.startswith(class_code) and _is_digits(code[len(class_code) :], 2)):
        raise ValueError(f"{where}: code must be class_code {class_code!r} + two digits")

    sla = tuple(_number(cell[f"sla_hours_s{s}"], f"sla_hours_s{s}", where) for s in SEVERITIES)
    if any(hours <= 0 for hours in sla):
        raise ValueError(f"{where}: SLA hours must be positive, got {sla}")
    if any(later < earlier for earlier, later in pairwise(sla)):
        raise ValueError(
            f"{where}: SLA hours must not decrease from severity 1 (most severe) to 4, got {sla}"
        )

    try:
        default_severity = int(cell["default_severity"])
    except ValueError:
        default_severity = 0
    if default_severity not in SEVERITIES:
        raise ValueError(f"{where}: default_severity must be 1-4, got {cell['default_severity']!r}")

    parts = cell["severity_weights"].split("|")
    if len(parts) != len(SEVERITIES):
        raise ValueError(f"{where}: severity_weights needs 4 values separated by '|'")
    weights = tuple(_number(part, "severity_weights", where) for part in parts)
    if any(weight < 0 for weight in weights):
        raise ValueError(f"{where}: severity_weights must not be negative, got {weights}")
    if abs(math.fsum(weights) - 1.0) > _WEIGHT_TOLERANCE:
        raise ValueError(f"{where}: severity_weights sum to {math.fsum(weights):g}, not 1")

    demo_weight = _number(cell["demo_weight"], "demo_weight", where)
    if demo_weight <= 0:
        raise ValueError(f"{where}: demo_weight must be positive, got {demo_weight:g}")

    urgent = cell["urgent"].lower()
    if urgent not in ("true", "false"):
        raise ValueError(f"{where}: urgent must be true or false, got {cell['urgent']!r}")

    return Category(
        code=code,
        kind=kind,
        class_code=class_code,
        class_zh=cell["class_zh"],
        class_en=cell["class_en"],
        name_zh=cell["name_zh"],
        name_en=cell["name_en"],
        sla_hours_s1=sla[0],
        sla_hours_s2=sla[1],
        sla_hours_s3=sla[2],
        sla_hours_s4=sla[3],
        default_severity=default_severity,
        severity_weights=(weights[0], weights[1], weights[2], weights[3]),
        demo_weight=demo_weight,
        urgent=urgent == "true",
    )


def _number(text: str, column: str, where: str) -> float:
    """A finite float from a cell, or ValueError naming the column."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {column} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {column} must be finite, got {text!r}")
    return value


def _is_digits(text: str, n: int) -> bool:
    return len(text) == n and text.isascii() and text.isdigit()


def _check_severity(severity: int) -> int:
    """``severity`` as an int if it is 1-4 (NumPy integers welcome), else ValueError."""
    try:
        level = operator.index(severity)
    except TypeError:
        level = 0
    if isinstance(severity, bool) or level not in SEVERITIES:
        raise ValueError(f"severity must be an integer 1 (most severe) to 4, got {severity!r}")
    return level
