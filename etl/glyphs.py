"""Glyphs for the map's labels: signed distance fields in MapLibre's glyphs format.

MapLibre draws text from SDF bitmaps it fetches 256 code points at a time, one protobuf
per range (``{fontstack}/{start}-{end}.pbf``). Nothing may come from a font server on the
internet, so the ranges are generated once at install (``scripts/bootstrap`` runs
``gridwatch etl glyphs``) from Debian's Noto Sans CJK SC, into the state directory, and
``app.glyphs`` serves them. Every BMP range is written (an empty one where the font has
no glyph), so any well-formed range the map asks for exists.

The glyphs follow the conventions MapLibre's own tools use (node-fontnik, font-maker):
24 px em, a 3 px border, distance scaled by 32 per pixel with the edge at 191, ``top``
relative to the font's ascender. The outlines come from fontTools (no native build, no
npm: ``@maplibre/font-maker`` is not published to the registry), flattened to segments;
the distance of every pixel to the nearest segment and its winding number are numpy.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FAMILY = "Noto Sans CJK SC"  # the face of the collection to use
FONTSTACK = "Noto Sans CJK SC Regular"  # the name the style asks for (family + style)
SIZE = 24  # px per em: MapLibre's ONE_EM
BORDER = 3  # px of distance field around each glyph
CUTOFF = 0.25  # share of the 0-255 scale kept for the inside
PX_SCALE = 32.0  # units per pixel of distance (256 / radius 8)
RANGE = 256
BMP_RANGES = tuple(range(0, 65536, RANGE))
CURVE_STEPS = 6  # segments per curve at 24 px
VERSION = 1  # bump when the output changes: an older set is then generated again
STAMP = "glyphs.json"


def range_name(start: int) -> str:
    """``0-255`` for the range starting at 0."""
    return f"{start}-{start + RANGE - 1}"


def parse_range(name: str) -> int | None:
    """The start of a well-formed range name (``256-511``), or None."""
    first, sep, last = name.partition("-")
    if not (sep and first.isdigit() and last.isdigit()) or len(first) > 5 or len(last) > 5:
        return None
    start, end = int(first), int(last)
    if start % RANGE or end != start + RANGE - 1 or start >= 65536:
        return None
    if str(start) != first or str(end) != last:  # no leading zeros: one name per range
        return None
    return start


# -- protobuf ------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _uint(number: int, value: int) -> bytes:
    return _field(number, 0) + _varint(value)


def _sint(number: int, value: int) -> bytes:
    return _uint(number, (value << 1) ^ (value >> 31) if value < 0 else value << 1)


def _bytes(number: int, value: bytes) -> bytes:
    return _field(number, 2) + _varint(len(value)) + value


@dataclass(frozen=True)
class Glyph:
    """One glyph's metrics (px at 24 px per em) and its distance field (None when blank)."""

    id: int
    width: int
    height: int
    left: int
    top: int
    advance: int
    bitmap: bytes | None

    def encode(self) -> bytes:
        body = _uint(1, self.id)
        if self.bitmap:
            body += _bytes(2, self.bitmap)
        body += _uint(3, self.width) + _uint(4, self.height)
        body += _sint(5, self.left) + _sint(6, self.top) + _uint(7, self.advance)
        return body


def encode_range(fontstack: str, start: int, glyphs: Iterable[Glyph]) -> bytes:
    """The ``glyphs`` message of one range: one fontstack holding ``glyphs``."""
    stack = _bytes(1, fontstack.encode()) + _bytes(2, range_name(start).encode())
    for glyph in glyphs:
        stack += _bytes(3, glyph.encode())
    return _bytes(1, stack)


# -- outlines and distance fields ----------------------------------------------------------


class _Face:
    """One face of a font file, drawn as flattened contours at 24 px per em."""

    def __init__(self, path: Path, family: str) -> None:
        from fontTools.ttLib import TTCollection, TTFont

        if path.suffix.lower() in {".ttc", ".otc"}:
            self._file = TTCollection(str(path), lazy=True)
            fonts = self._file.fonts
            matching = [f for f in fonts if f["name"].getDebugName(1) == family]
            if not matching:
                found = ", ".join(sorted({str(f["name"].getDebugName(1)) for f in fonts}))
                self.close()
                raise ValueError(f"{path} has no face {family!r} (it has: {found})")
            font = matching[0]
        else:
            self._file = font = TTFont(str(path), lazy=True)
        self.cmap = font.getBestCmap()
        self.glyph_set = font.getGlyphSet()
        self.hmtx = font["hmtx"]
        self.scale = SIZE / font["head"].unitsPerEm
        self.ascender = int(font["hhea"].ascent * self.scale * 64) // 64  # as FreeType's

    def close(self) -> None:
        self._file.close()

    def contours(self, name: str) -> list[np.ndarray]:
        from fontTools.pens.basePen import BasePen

        scale = self.scale
        rings: list[np.ndarray] = []

        class Flattener(BasePen):
            def __init__(self, glyph_set: object) -> None:
                super().__init__(glyph_set)
                self.points: list[tuple[float, float]] = []

            def _moveTo(self, pt: tuple[float, float]) -> None:  # noqa: N802 (fontTools' pen API)
                self.points = [pt]

            def _lineTo(self, pt: tuple[float, float]) -> None:  # noqa: N802 (fontTools' pen API)
                self.points.append(pt)

            def _curveToOne(self, p1: tuple, p2: tuple, p3: tuple) -> None:  # noqa: N802 (fontTools' pen API)
                t = np.linspace(0.0, 1.0, CURVE_STEPS + 1)[1:, None]
                p0, a, b, c = (np.asarray(p, float) for p in (self.points[-1], p1, p2, p3))
                curve = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * a + 3 * (1 - t) * t**2 * b
                self.points.extend(map(tuple, curve + t**3 * c))

            def _qCurveToOne(self, p1: tuple, p2: tuple) -> None:  # noqa: N802 (fontTools' pen API)
                t = np.linspace(0.0, 1.0, CURVE_STEPS + 1)[1:, None]
                p0, a, b = (np.asarray(p, float) for p in (self.points[-1], p1, p2))
                self.points.extend(map(tuple, (1 - t) ** 2 * p0 + 2 * (1 - t) * t * a + t**2 * b))

            def _closePath(self) -> None:  # noqa: N802 (fontTools' pen API)
                if len(self.points) > 2:
                    rings.append(np.asarray(self.points, float) * scale)
                self.points = []

            _endPath = _closePath  # noqa: N815

        self.glyph_set[name].draw(Flattener(self.glyph_set))
        return rings

    def glyph(self, code: int) -> Glyph | None:
        """The glyph of code point ``code``, or None when the face has none."""
        name = self.cmap.get(code)
        if name is None:
            return None
        advance = int(self.hmtx[name][0] * self.scale * 64) // 64
        rings = self.contours(name)
        if not rings:
            return Glyph(code, 0, 0, 0, -self.ascender, advance, None)
        points = np.vstack(rings)
        x0, y0 = np.round(points.min(axis=0))
        x1, y1 = np.round(points.max(axis=0))
        width, height = int(x1 - x0), int(y1 - y0)
        if width == 0 or height == 0:
            return Glyph(code, 0, 0, 0, -self.ascender, advance, None)
        bitmap = distance_field(rings, x0, y1, width + 2 * BORDER, height + 2 * BORDER)
        return Glyph(code, width, height, int(x0), int(y1) - self.ascender, advance, bitmap)


def distance_field(
    rings: list[np.ndarray], left: float, top: float, width: int, height: int
) -> bytes:
    """The SDF bitmap (rows from the top) of closed contours: each pixel centre's distance
    to the outline, negative inside (non-zero winding), as 255 - clamp(32 d + 64)."""
    starts = np.vstack(rings)
    ends = np.vstack([np.roll(r, -1, axis=0) for r in rings])
    ax, ay = starts.T
    dx, dy = (ends - starts).T
    length2 = np.where((dx * dx + dy * dy) > 0, dx * dx + dy * dy, 1e-12)
    px = left - BORDER + np.arange(width) + 0.5
    py = top + BORDER - np.arange(height) - 0.5
    gx, gy = np.meshgrid(px, py)
    gx, gy = gx.reshape(-1, 1), gy.reshape(-1, 1)
    rx, ry = gx - ax, gy - ay
    t = np.clip((rx * dx + ry * dy) / length2, 0.0, 1.0)
    qx, qy = rx - t * dx, ry - t * dy
    distance = np.sqrt((qx * qx + qy * qy).min(axis=1))
    cross = dx * ry - rx * dy
    upward = (ay <= gy) & (ay + dy > gy) & (cross > 0)
    downward = (ay > gy) & (ay + dy <= gy) & (cross < 0)
    inside = (upward.sum(axis=1) - downward.sum(axis=1)) != 0
    distance = np.where(inside, -distance, distance)
    level = np.floor(np.clip(distance * PX_SCALE + CUTOFF * 256, 0.0, 255.0))
    return (255 - level).astype(np.uint8).tobytes()


# -- building the set ----------------------------------------------------------------------

_face: _Face | None = None


def _open(path: str, family: str) -> None:
    global _face
    _face = _Face(Path(path), family)


def _render(start: int) -> tuple[int, bytes, int]:
    assert _face is not None
    glyphs = [g for code in range(start, start + RANGE) if (g := _face.glyph(code)) is not None]
    return start, encode_range(FONTSTACK, start, glyphs), len(glyphs)


def covered_ranges(font: Path = FONT, family: str = FAMILY) -> list[int]:
    """The BMP ranges holding at least one glyph of the face."""
    face = _Face(font, family)
    try:
        return sorted({code // RANGE * RANGE for code in face.cmap if code < 65536})
    finally:
        face.close()


@dataclass(frozen=True)
class Built:
    directory: Path
    ranges: int  # with glyphs
    glyphs: int
    bytes: int
    seconds: float
    skipped: bool  # the set was already there


def _stamp(font: Path, family: str, only: Sequence[int] | None) -> dict[str, object]:
    info = font.stat()
    return {
        "version": VERSION,
        "fontstack": FONTSTACK,
        "font": str(font),
        "family": family,
        "font_bytes": info.st_size,
        "font_mtime": int(info.st_mtime),
        "only": sorted(only) if only is not None else None,
    }


def is_built(
    directory: Path, font: Path = FONT, family: str = FAMILY, only: Sequence[int] | None = None
) -> bool:
    """Whether ``directory`` holds the set this font, version (and ``only``) make."""
    try:
        stamp = json.loads((directory / FONTSTACK / STAMP).read_text())
    except (OSError, ValueError):
        return False
    want = _stamp(font, family, only)
    return {k: stamp.get(k) for k in want} == want


def build(
    directory: Path,
    font: Path = FONT,
    family: str = FAMILY,
    *,
    force: bool = False,
    only: Sequence[int] | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Built:
    """Write every BMP range of ``font``'s ``family`` under ``directory/FONTSTACK`` (with
    glyphs only in the ranges starting at ``only``, when given: tests); skipped when the
    same font and version were built already (unless ``force``).

    Written into a fresh folder beside the target and swapped in whole, so a server never
    reads a half-built set.
    """
    target = directory / FONTSTACK
    started = time.monotonic()
    if not font.is_file():
        raise FileNotFoundError(f"font {font} not found (Debian: apt-get install fonts-noto-cjk)")
    if not force and is_built(directory, font, family, only):
        stamp = json.loads((target / STAMP).read_text())
        return Built(target, stamp["ranges"], stamp["glyphs"], stamp["bytes"], 0.0, True)
    covered = set(covered_ranges(font, family))
    if only is not None:
        covered &= set(only)
    directory.mkdir(parents=True, exist_ok=True)
    fresh = directory / f".{FONTSTACK}.{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    empty = {
        start: encode_range(FONTSTACK, start, []) for start in BMP_RANGES if start not in covered
    }
    for start, data in empty.items():
        (fresh / f"{range_name(start)}.pbf").write_bytes(data)
    workers = workers or max(1, min(os.cpu_count() or 1, 4))
    glyphs = size = done = 0
    with ProcessPoolExecutor(workers, initializer=_open, initargs=(str(font), family)) as pool:
        for start, data, count in pool.map(_render, sorted(covered), chunksize=2):
            (fresh / f"{range_name(start)}.pbf").write_bytes(data)
            glyphs += count
            size += len(data)
            done += 1
            if progress:
                progress(done, len(covered))
    stamp = _stamp(font, family, only) | {
        "ranges": len(covered),
        "glyphs": glyphs,
        "bytes": size,
    }
    (fresh / STAMP).write_text(json.dumps(stamp, indent=1))
    old = directory / f".{FONTSTACK}.old.{os.getpid()}"
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return Built(target, len(covered), glyphs, size, time.monotonic() - started, False)


def glyph_dir(state_dir: Path) -> Path:
    """Where the glyph set of a state directory lives."""
    return state_dir / "glyphs"
