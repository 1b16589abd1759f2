"""Per host and tile, how many samples each function has: self (the leaf) and inclusive.

Input is fleet stacks, `host;tile;frame;...;leaf COUNT` as in a capture's fleet.folded. Tile
frames are `KIND:IDX`; the Agave process is `agave;THREAD;frame;...`, whose thread name is not a
function and is skipped. Root frames that are neither are ignored (they are not tiles).

Besides each `KIND:IDX` tile, a kind recorded as several tiles (verify:0, verify:1, …) is also
counted as one group named by the kind, the sum of its tiles on that host.

Why numpy: a 500-host fleet.folded has ~250k stacks of ~36 frames, and inclusive time needs
every (host, function) pair on every stack: 9 million additions, 3 s in a Python loop. Here a
stack's text is split once per distinct call path (shared by many hosts), each line costs three
appends, and the additions are one `np.unique` + `np.bincount` per tile.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..host.targets import TileFilter, tile_kind

AGAVE = "agave"
_TILE = re.compile(r"^[a-z][a-z0-9_]*:\d+$")

IntArray = np.ndarray  # 1-d int64 arrays (numpy's own generic annotations add nothing here)
DENSE_CELLS = 1 << 23  # (function, host) cells of a table added up at once: 64 MB of float64


@dataclass
class Sparse:
    """Samples per (function, host) pair that has any: three aligned arrays, each pair once."""

    functions: IntArray
    hosts: IntArray
    samples: IntArray

    @classmethod
    def summed(cls, functions: IntArray, hosts: IntArray, samples: IntArray, host_count: int) -> Sparse:
        """Add up repeated (function, host) pairs."""
        names, local = np.unique(functions, return_inverse=True)
        return cls.summed_local(names, local, hosts, samples, host_count)

    @classmethod
    def summed_local(cls, names: IntArray, local: IntArray, hosts: IntArray, samples: IntArray, host_count: int) -> Sparse:
        """The same with functions numbered 0..len(names)-1 (`local`), `names` their ids. A
        table of every (function, host) pair is added up by one bincount when it is small enough,
        else the pairs are sorted (np.unique): that is 5x slower, but needs no table."""
        keys = local * host_count + hosts
        cells = len(names) * host_count
        if cells <= DENSE_CELLS:
            table = np.bincount(keys, weights=samples, minlength=cells)
            present = np.flatnonzero(table)
            totals = table[present]
        else:
            present, index = np.unique(keys, return_inverse=True)
            totals = np.bincount(index, weights=samples)
        return cls(names[present // host_count], present % host_count, totals.astype(np.int64))


@dataclass
class TileCounts:
    """One tile (or kind) over the fleet: each host's samples, and per function."""

    totals: dict[int, int]  # host id -> samples of the tile
    self_samples: Sparse
    inclusive: Sparse
    silent: set[int] = field(default_factory=set)  # hosts that recorded it without a sample


@dataclass
class FleetCounts:
    hosts: list[str]  # host id -> name
    functions: list[str]  # function id -> name
    tiles: dict[str, TileCounts]  # tile or kind -> counts
    seen_tiles: list[str]  # every tile frame met, wanted or not (for messages)


class _Lines:
    """The lines of one tile as read: a call-path id, a host id and a count per line."""

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}
        self.leaf: list[int] = []  # path id -> function id of its leaf (-1: none)
        self.path_functions: list[list[int]] = []  # path id -> its distinct function ids
        self.path_ids = array("q")
        self.host_ids = array("q")
        self.counts = array("q")


class FleetCounter:
    """Counts fleet stacks as they are read, one line at a time (a fleet.folded can be large)."""

    def __init__(self, tiles: TileFilter | None = None) -> None:
        self.tiles = tiles
        self._hosts: dict[str, int] = {}
        self._functions: dict[str, int] = {}
        self._lines: dict[str, _Lines] = {}
        self._wanted: dict[str, bool] = {}  # tile frame -> counted (memo)
        self._silent: dict[str, set[int]] = {}

    def add(self, stack: str, count: int) -> None:
        self.add_all(((stack, count),))

    def add_all(self, stacks: Iterable[tuple[str, int]]) -> None:
        """Count every (stack, samples) pair. One loop with its lookups held in locals: this is
        the per-line cost of reading a fleet.folded (250k lines at 500 hosts)."""
        hosts, tiles, wanted = self._hosts, self._lines, self._wanted
        for stack, count in stacks:
            host, _, rest = stack.partition(";")
            tile, _, path = rest.partition(";")
            keep = wanted.get(tile)
            if keep is None:
                keep = self.wants(tile)
            if not keep or count <= 0:
                continue
            lines = tiles.get(tile)
            if lines is None:
                lines = tiles[tile] = _Lines()
            path_id = lines.paths.get(path)
            if path_id is None:
                path_id = self._new_path(lines, tile, path)
            host_id = hosts.get(host)
            if host_id is None:
                host_id = hosts[host] = len(hosts)
            lines.path_ids.append(path_id)
            lines.host_ids.append(host_id)
            lines.counts.append(count)

    def _new_path(self, lines: _Lines, tile: str, path: str) -> int:
        path_id = lines.paths[path] = len(lines.leaf)
        frames = path.split(";") if path else []
        if tile == AGAVE:
            frames = frames[1:]  # the thread name
        ids = [self._function_id(f) for f in frames]
        lines.leaf.append(ids[-1] if ids else -1)
        lines.path_functions.append(list(dict.fromkeys(ids)))  # a recursive function counts once
        return path_id

    def add_silent(self, host: str, tile: str) -> None:
        """A host recorded this tile; if it has no sample of it, it is listed as having none."""
        if self.wants(tile):
            host_id = self._hosts.setdefault(host, len(self._hosts))
            self._silent.setdefault(tile, set()).add(host_id)

    def wants(self, tile: str) -> bool:
        """Whether a root frame is a tile (or agave) that the filter asks for."""
        wanted = self._wanted.get(tile)
        if wanted is None:
            # A bare-kind filter wants every tile of the kind; the kind group is added by result().
            is_tile = tile == AGAVE or _TILE.match(tile) is not None
            wanted = self._wanted[tile] = is_tile and (self.tiles is None or self.tiles.matches(tile))
        return wanted

    def _function_id(self, name: str) -> int:
        found = self._functions.get(name)
        if found is None:
            found = self._functions[name] = len(self._functions)
        return found

    def result(self) -> FleetCounts:
        """Every counted tile, plus a group per kind that has several tiles (unless a single-tile
        filter asked for one tile)."""
        host_count = max(1, len(self._hosts))
        tiles = {tile: _count_tile(lines, host_count) for tile, lines in self._lines.items()}
        for tile, hosts in self._silent.items():
            counts = tiles.setdefault(tile, _empty())
            counts.silent = {h for h in hosts if h not in counts.totals}
        if self.tiles is None or not self.tiles.is_single_tile:
            kinds: dict[str, list[str]] = {}
            for tile in tiles:
                if tile != AGAVE:
                    kinds.setdefault(tile_kind(tile), []).append(tile)
            for kind, members in kinds.items():
                if len(members) > 1:
                    tiles[kind] = _sum_tiles([tiles[t] for t in members], host_count)
        seen = [t for t in self._wanted if t == AGAVE or _TILE.match(t)]
        return FleetCounts(list(self._hosts), list(self._functions), tiles, seen)


def _empty() -> TileCounts:
    nothing = np.zeros(0, dtype=np.int64)
    return TileCounts({}, Sparse(nothing, nothing, nothing), Sparse(nothing, nothing, nothing))


def _count_tile(lines: _Lines, host_count: int) -> TileCounts:
    paths = np.frombuffer(lines.path_ids, dtype=np.int64)
    hosts = np.frombuffer(lines.host_ids, dtype=np.int64)
    counts = np.frombuffer(lines.counts, dtype=np.int64)
    per_host = np.bincount(hosts, weights=counts, minlength=host_count).astype(np.int64)
    totals = {int(h): int(per_host[h]) for h in np.flatnonzero(per_host)}

    # The tile's functions, numbered from 0 (`names` maps them back), path by path.
    lengths = np.fromiter((len(f) for f in lines.path_functions), dtype=np.int64, count=len(lines.path_functions))
    flat = np.fromiter((f for fs in lines.path_functions for f in fs), dtype=np.int64, count=int(lengths.sum()))
    names, flat_local = np.unique(flat, return_inverse=True)

    leaf = np.asarray(lines.leaf, dtype=np.int64)[paths]
    has_leaf = leaf >= 0
    leaf_local = np.searchsorted(names, leaf[has_leaf])  # a leaf is one of its path's functions
    own = Sparse.summed_local(names, leaf_local, hosts[has_leaf], counts[has_leaf], host_count)

    # Every line once per distinct function on its path: repeat each line's host and count by
    # its path's function count, and look the functions up in the flat array of all paths'.
    starts = np.cumsum(lengths) - lengths
    line_lengths = lengths[paths]
    total = int(line_lengths.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(line_lengths) - line_lengths, line_lengths)
    functions = flat_local[np.repeat(starts[paths], line_lengths) + offsets]
    inclusive = Sparse.summed_local(names, functions, np.repeat(hosts, line_lengths), np.repeat(counts, line_lengths), host_count)
    return TileCounts(totals, own, inclusive)


def _sum_tiles(tiles: list[TileCounts], host_count: int) -> TileCounts:
    totals: dict[int, int] = {}
    for counts in tiles:
        for host, n in counts.totals.items():
            totals[host] = totals.get(host, 0) + n

    def summed(parts: list[Sparse]) -> Sparse:
        return Sparse.summed(
            np.concatenate([p.functions for p in parts]),
            np.concatenate([p.hosts for p in parts]),
            np.concatenate([p.samples for p in parts]),
            host_count,
        )

    silent = set().union(*(c.silent for c in tiles)) - set(totals)
    return TileCounts(totals, summed([c.self_samples for c in tiles]), summed([c.inclusive for c in tiles]), silent)
