"""Where a page's JS heap grew between two heap snapshots, and what holds the growth.

Run from the repository root, on two snapshots of one page (``bench.soak --heap-diff``
writes them into its log folder)::

    .venv/bin/python -m bench.heap_retainers BEFORE.heapsnapshot AFTER.heapsnapshot
        [--top 25] [--min-kb 30]

First the heap by kind of node, in each snapshot and the difference. The JS heap the
soak samples (CDP ``JSHeapUsedSize``) is everything but the ``native`` nodes (Blink's
own C++ objects, such as DevTools' network buffers). In the soak runs of 2026-12-02
the two were within 0.6 MB of each other; the snapshot comes after a GC of its own.

Then the growth points. Each snapshot's objects are laid out as the tree of shortest
strong paths from the GC roots, and each object's subtree size (its own bytes and those
of everything first reached through it) is compared with the same object's in BEFORE
(V8 keeps an object's id across the snapshots of one page; an object new since BEFORE
counts from zero). An object whose subtree grew, but not mostly through one child
(no child holds 60 % of the growth), is where growth fans out: a list, a map or a cache
that gained entries. They are printed by bytes gained, with the path that reaches them,
so a leak reads as, for example, ``Window .store -> ... .history -> Array .past``.
Replaced content shows up too (a figure redrawn with more points); whether a growth
point is a leak is read off its path.

Last the containers: objects present in both snapshots whose number of edges grew
(``--min-entries``). This is how the plotly map listener leak showed itself
(``assets/map_listeners.js``): five lists of ``map.once`` listeners, 270 -> 712.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, deque
from pathlib import Path
from typing import Any

FAN_OUT = 0.6  # a child holding this share of its parent's growth explains it


class Snapshot:
    """One V8 heap snapshot: flat node arrays, strong edges, the shortest-path tree."""

    def __init__(self, path: Path) -> None:
        raw = json.loads(path.read_text())
        meta = raw["snapshot"]["meta"]
        self.strings: list[str] = raw["strings"]
        nf, ef = meta["node_fields"], meta["edge_fields"]
        self.node_types: list[str] = meta["node_types"][0]
        self.edge_types: list[str] = meta["edge_types"][0]
        width, ewidth = len(nf), len(ef)
        nodes, edges = raw["nodes"], raw["edges"]
        at_type, at_name, at_id, at_size, at_edges = (
            nf.index(f) for f in ("type", "name", "id", "self_size", "edge_count")
        )
        count = len(nodes) // width
        self.type = nodes[at_type::width]
        self.name = nodes[at_name::width]
        self.id = nodes[at_id::width]
        self.size = nodes[at_size::width]
        self.edge_count = nodes[at_edges::width]
        e_type, e_name, e_to = (ef.index(f) for f in ("type", "name_or_index", "to_node"))
        weak = self.edge_types.index("weak")
        out: list[list[tuple[int, int, int]]] = [[] for _ in range(count)]
        k = 0
        for i, n_edges in enumerate(nodes[at_edges::width]):
            for _ in range(n_edges):
                if edges[k + e_type] != weak:
                    out[i].append((edges[k + e_to] // width, edges[k + e_type], edges[k + e_name]))
                k += ewidth
        self.parent, self.children = self._tree(out)
        self.subtree = self._subtree_sizes()

    def _tree(self, out: list[list[tuple[int, int, int]]]) -> tuple[list, list[list[int]]]:
        """Breadth first from the root (node 0): each node's (parent, edge type, edge
        name) on a shortest strong path, None where only weak edges reach it."""
        parent: list[tuple[int, int, int] | None] = [None] * len(self.id)
        children: list[list[int]] = [[] for _ in self.id]
        seen = [False] * len(self.id)
        seen[0] = True
        todo = deque([0])
        while todo:
            i = todo.popleft()
            for to, kind, name in out[i]:
                if not seen[to]:
                    seen[to] = True
                    parent[to] = (i, kind, name)
                    children[i].append(to)
                    todo.append(to)
        return parent, children

    def _subtree_sizes(self) -> list[int]:
        order, k = [0], 0
        while k < len(order):
            order.extend(self.children[order[k]])
            k += 1
        size = list(self.size)
        for i in reversed(order):
            link = self.parent[i]
            if link is not None:
                size[link[0]] += size[i]
        return size

    def label(self, i: int) -> str:
        kind = self.node_types[self.type[i]]
        name = self.strings[self.name[i]] if kind not in ("number", "string") else ""
        return f"{kind}:{name[:50]}" if name else kind

    def edge_label(self, kind: int, name: int) -> str:
        if self.edge_types[kind] in ("element", "hidden"):
            return f"[{name}]"
        return self.strings[name][:40]

    def path(self, i: int, steps: int) -> str:
        """The last ``steps`` edges of the shortest path from the roots to ``i``."""
        parts: list[str] = []
        while len(parts) < steps:
            link = self.parent[i]
            if link is None:
                break
            parts.append(f".{self.edge_label(link[1], link[2])} {self.label(i)}")
            i = link[0]
        return " -> ".join(reversed(parts))

    def by_kind(self) -> Counter:
        kinds: Counter = Counter()
        for kind, size in zip(self.type, self.size, strict=True):
            kinds[self.node_types[kind]] += size
        return kinds


def growth_points(before: Snapshot, after: Snapshot, min_bytes: int) -> list[dict[str, Any]]:
    """The objects of ``after`` where subtree growth over ``before`` fans out."""
    old = {node_id: i for i, node_id in enumerate(before.id)}
    grown = [
        after.subtree[i] - (before.subtree[old[node_id]] if node_id in old else 0)
        for i, node_id in enumerate(after.id)
    ]
    rows = []
    for i, gain in enumerate(grown):
        if gain < min_bytes:
            continue
        if max((grown[c] for c in after.children[i]), default=0) >= FAN_OUT * gain:
            continue
        rows.append({"bytes": gain, "new": after.id[i] not in old, "node": i})
    rows.sort(key=lambda r: -r["bytes"])
    return rows


def grown_containers(before: Snapshot, after: Snapshot, min_added: int) -> list[dict[str, Any]]:
    """The objects present in both snapshots whose number of edges (entries, properties,
    listeners) grew by at least ``min_added``, most first: a list that only ever gains
    entries is the commonest leak."""
    old = {node_id: i for i, node_id in enumerate(before.id)}
    rows = []
    for i, node_id in enumerate(after.id):
        j = old.get(node_id)
        if j is not None and after.edge_count[i] - before.edge_count[j] >= min_added:
            rows.append({"node": i, "before": before.edge_count[j], "after": after.edge_count[i]})
    rows.sort(key=lambda r: r["before"] - r["after"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--top", type=int, default=25, help="growth points printed (25)")
    parser.add_argument("--min-kb", type=float, default=30, help="smallest growth shown (30)")
    parser.add_argument("--steps", type=int, default=8, help="path edges shown (8)")
    parser.add_argument(
        "--min-entries", type=int, default=20, help="smallest entry growth shown (20)"
    )
    args = parser.parse_args(argv)
    for path in (args.before, args.after):
        if not path.is_file():
            parser.error(f"no such snapshot: {path}")
    before, after = Snapshot(args.before), Snapshot(args.after)
    k0, k1 = before.by_kind(), after.by_kind()
    js0 = sum(v for k, v in k0.items() if k != "native")
    js1 = sum(v for k, v in k1.items() if k != "native")
    print(f"JS heap (all but native): {js0 / 1e6:.2f} -> {js1 / 1e6:.2f} MB")
    for kind in sorted(set(k0) | set(k1), key=lambda k: -(k1[k] - k0[k])):
        print(
            f"  {kind:<20} {k0[kind] / 1e6:>7.2f} -> {k1[kind] / 1e6:>7.2f} MB"
            f"  {(k1[kind] - k0[kind]) / 1e3:>+9.1f} KB"
        )
    print(f"growth points (subtree gain >= {args.min_kb:g} KB, fanning out):")
    for r in growth_points(before, after, int(args.min_kb * 1000))[: args.top]:
        i = r["node"]
        print(f"{r['bytes']:>11,} B {'new' if r['new'] else 'old'}  {after.label(i)}")
        print(f"      {after.path(i, args.steps)}")
    print(f"containers that gained entries (>= {args.min_entries}, in both snapshots):")
    for r in grown_containers(before, after, args.min_entries)[: args.top]:
        i = r["node"]
        print(f"{r['before']:>8,} -> {r['after']:>8,}  {after.label(i)}")
        print(f"      {after.path(i, args.steps)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
