"""Glyph ranges (etl.glyphs) and the route serving them (app.glyphs), on a small set
generated from Debian's Noto Sans CJK: Latin 0-255 and the first CJK range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.glyphs import install
from etl import glyphs

LATIN, CJK = 0, 19968  # 0-255, and 19968-20223 (一 U+4E00 onwards)

pytestmark = pytest.mark.skipif(not glyphs.FONT.is_file(), reason="fonts-noto-cjk not installed")


def _fields(data: bytes) -> list[tuple[int, object]]:
    """A protobuf message as (field number, int or bytes) pairs: an independent decoder."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((number, value))
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def decode(data: bytes) -> tuple[str, str, dict[int, dict[str, object]]]:
    """(fontstack name, range, glyphs by id) of one range file."""
    (number, stack), *rest = _fields(data)
    assert number == 1 and not rest
    name = rng = None
    found: dict[int, dict[str, object]] = {}
    for field, value in _fields(stack):
        if field == 1:
            name = value.decode()
        elif field == 2:
            rng = value.decode()
        elif field == 3:
            glyph = dict(_fields(value))
            found[glyph[1]] = {
                "bitmap": glyph.get(2),
                "width": glyph[3],
                "height": glyph[4],
                "left": _zigzag(glyph[5]),
                "top": _zigzag(glyph[6]),
                "advance": glyph[7],
            }
    return name, rng, found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> glyphs.Built:
    return glyphs.build(tmp_path_factory.mktemp("glyphs"), only=[LATIN, CJK], workers=1)


@pytest.fixture
def client(built: glyphs.Built) -> FlaskClient:
    server = Flask(__name__)
    install(server, built.directory.parent)
    return server.test_client()


def test_every_bmp_range_is_written_and_the_chosen_ones_hold_glyphs(built: glyphs.Built):
    files = sorted(p.name for p in built.directory.glob("*.pbf"))
    assert len(files) == 256 and "65280-65535.pbf" in files
    assert built.ranges == 2 and not built.skipped
    name, rng, found = decode((built.directory / "19968-20223.pbf").read_bytes())
    assert (name, rng) == ("Noto Sans CJK SC Regular", "19968-20223")
    assert len(found) == 256 and min(found) == 0x4E00
    empty = decode((built.directory / "256-511.pbf").read_bytes())
    assert empty[1:] == ("256-511", {})  # not chosen: a valid range without glyphs


def test_glyph_metrics_and_distance_field_follow_maplibre(built: glyphs.Built):
    _, rng, found = decode((built.directory / "0-255.pbf").read_bytes())
    assert rng == "0-255"
    space = found[ord(" ")]
    assert space["bitmap"] is None and space["width"] == 0 and 5 <= space["advance"] <= 8
    ideograph = decode((built.directory / "19968-20223.pbf").read_bytes())[2][ord("一")]
    assert ideograph["advance"] == 24  # a full-width em at 24 px
    el = found[ord("l")]
    assert el["height"] > 4 * el["width"] and el["top"] < 0 and el["left"] >= 0
    width, height = el["width"] + 2 * glyphs.BORDER, el["height"] + 2 * glyphs.BORDER
    field = np.frombuffer(el["bitmap"], dtype=np.uint8).reshape(height, width)
    row = field[height // 2]
    assert row.max() > 191  # inside the stem: past the edge value
    assert glyphs.BORDER <= row.argmax() < glyphs.BORDER + el["width"]
    assert row[0] < 120 and row[-1] < 120 and field[0, 0] < 120  # the border, outside
    assert (np.diff(row[: row.argmax() + 1].astype(int)) > 0).all()  # rising towards it


def test_a_second_build_is_skipped_unless_forced(built: glyphs.Built):
    again = glyphs.build(built.directory.parent, only=[LATIN, CJK], workers=1)
    assert again.skipped and again.glyphs == built.glyphs
    assert glyphs.is_built(built.directory.parent, only=[LATIN, CJK])
    assert not glyphs.is_built(built.directory.parent)  # the whole set is another set


@pytest.mark.parametrize(
    ("name", "start"),
    [("0-255", 0), ("256-511", 256), ("65280-65535", 65280), ("0-256", None), ("1-256", None),
     ("65536-65791", None), ("00-255", None), ("0-0255", None), ("a-b", None), ("-255", None),
     ("0255", None), ("", None)],
)  # fmt: skip
def test_only_well_formed_ranges_parse(name: str, start: int | None):
    assert glyphs.parse_range(name) == start


def test_a_generated_range_is_served_as_protobuf(client: FlaskClient, built: glyphs.Built):
    answer = client.get("/glyphs/Noto Sans CJK SC Regular/19968-20223.pbf")
    assert answer.status_code == 200
    assert answer.content_type == "application/x-protobuf"
    assert answer.data == (built.directory / "19968-20223.pbf").read_bytes()
    assert "max-age=604800" in answer.headers["Cache-Control"]
    again = client.get(
        "/glyphs/Noto%20Sans%20CJK%20SC%20Regular/19968-20223.pbf",
        headers={"If-None-Match": answer.headers["ETag"]},
    )
    assert again.status_code == 304
    answer.close()
    again.close()  # send_file's file: closed by the server after sending, here by hand


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/glyphs/Open Sans Regular/0-255.pbf", "unknown_fontstack"),
        ("/glyphs/Noto Sans CJK SC Regular,Arial Unicode MS Regular/0-255.pbf",
         "unknown_fontstack"),
        ("/glyphs/Noto Sans CJK SC Regular/0-300.pbf", "unknown_range"),
        ("/glyphs/Noto Sans CJK SC Regular/65536-65791.pbf", "unknown_range"),
        ("/glyphs/Noto Sans CJK SC Regular/glyphs.json", "unknown_glyphs"),
        ("/glyphs/../../etc/passwd", "unknown_glyphs"),
        ("/glyphs/..%2F..%2Fetc/passwd.pbf", "unknown_glyphs"),
        ("/glyphs/../0-255.pbf", "unknown_fontstack"),
        ("/glyphs/Noto Sans CJK SC Regular/..%2F..%2F0-255.pbf", "unknown_glyphs"),
        ("/glyphs/.Noto Sans CJK SC Regular.1/0-255.pbf", "unknown_fontstack"),
        ("/glyphs/", "unknown_glyphs"),
    ],
)  # fmt: skip
def test_unknown_stacks_ranges_and_traversal_are_refused(client: FlaskClient, path: str, code: str):
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.get_json()["error"] == code
    assert answer.get_json()["message"]


def test_a_server_without_glyphs_says_how_to_make_them(tmp_path: Path):
    server = Flask(__name__)
    install(server, tmp_path / "nothing")
    answer = server.test_client().get("/glyphs/Noto Sans CJK SC Regular/0-255.pbf")
    assert answer.status_code == 404
    assert "gridwatch etl glyphs" in answer.get_json()["message"]
