"""The tile cache: gzipped tiles on disk under the state directory.

A tile's path names everything its content depends on:
``<root>/<database>/<layer>-<version>/<generation>/<scope>/<z>/<x>/<y>.mvt.gz``

- ``database``: the database's name and oid (a dropped and reloaded database is another);
- ``version``: a hash of the layer's statements, so new code never serves old tiles;
- ``generation``: the last data load (``data_loads``' max id) for every layer, and the
  feed position for the live ones (``cases``, ``workers``), both read from the database
  with each request: a load or a committed case change moves every process (every
  gunicorn worker) to a new generation at once, with no lag behind the commit;
- ``scope``: the viewer's area (``all`` or ``area<id>``) and, for layers with personal
  fields, whether they are in it (``-p``).

Superseded generations are removed when a newer one is first written, and for the
live layers as soon as the feed listener pumps a batch (``evict_live``). Files are
written to a temporary name and renamed, so readers (in any process) see a whole tile
or none. Live tiles also expire after ``LIVE_MAX_AGE_SECONDS``, because ``overdue``
changes with the clock, not only with the feed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from geo_data.tiles import TileLayer, TileState

LIVE_MAX_AGE_SECONDS = 60.0
_GENERATION = re.compile(r"^l(\d+)(?:-f(\d+))?$")


@dataclass(frozen=True)
class TileKey:
    layer: TileLayer
    z: int
    x: int
    y: int
    state: TileState
    area_id: int | None
    personal: bool

    @property
    def scope(self) -> str:
        scope = "all" if self.area_id is None else f"area{self.area_id}"
        if self.layer.personal_fields and self.personal:
            scope += "-p"
        return scope

    def layer_dir(self, root: Path) -> Path:
        return root / _database_dir(self.state.database) / f"{self.layer.name}-{self.layer.version}"

    def generation(self) -> str:
        return self.state.generation(self.layer.live)

    def path(self, root: Path) -> Path:
        return (
            self.layer_dir(root)
            / self.generation()
            / self.scope
            / str(self.z)
            / str(self.x)
            / f"{self.y}.mvt.gz"
        )


def _order(generation: str) -> tuple[int, int] | None:
    match = _GENERATION.match(generation)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


class TileCache:
    """Gzipped tiles on disk, shared by every process serving from the same state dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0

    def get(self, key: TileKey) -> bytes | None:
        """The stored (gzipped) tile, or None when absent or expired."""
        path = key.path(self.root)
        try:
            if key.layer.live and time.time() - path.stat().st_mtime > LIVE_MAX_AGE_SECONDS:
                self.misses += 1
                return None
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: TileKey, gzipped: bytes) -> None:
        """Store a tile; the first tile of a new generation removes the older ones."""
        path = key.path(self.root)
        generation_dir = key.layer_dir(self.root) / key.generation()
        new_generation = not generation_dir.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(gzipped)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if new_generation:
            self.evict_older(key.layer_dir(self.root), key.generation())

    def evict_older(self, layer_dir: Path, generation: str) -> int:
        """Remove the generations of one layer older than ``generation``; how many."""
        keep = _order(generation)
        if keep is None:
            return 0
        removed = 0
        with contextlib.suppress(FileNotFoundError):
            for child in layer_dir.iterdir():
                order = _order(child.name)
                if order is not None and order < keep:
                    shutil.rmtree(child, ignore_errors=True)
                    removed += 1
        return removed

    def evict_live(self, database: str, layers: list[TileLayer], feed_seq: int) -> int:
        """Remove the live tiles of ``database`` cut before feed position ``feed_seq``
        (the feed listener calls this after each batch it pumps)."""
        removed = 0
        root = self.root / _database_dir(database)
        for layer in layers:
            if not layer.live:
                continue
            with contextlib.suppress(FileNotFoundError):
                for child in (root / f"{layer.name}-{layer.version}").iterdir():
                    order = _order(child.name)
                    if order is not None and order[1] < feed_seq:
                        shutil.rmtree(child, ignore_errors=True)
                        removed += 1
        return removed


def _database_dir(database: str) -> str:
    return hashlib.blake2b(database.encode(), digest_size=8).hexdigest()
