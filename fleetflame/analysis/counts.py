"""Per host and tile, how many samples each function has: self (the leaf) and inclusive.

Input is fleet stacks, `host;tile;frame;...;leaf COUNT` as in a capture's fleet.folded. Tile
frames are `KIND:IDX`; the Agave process is `agave;THREAD;frame;...`, whose thread name is not a
function and is skipped. Root frames that are neither are ignored (they are not tiles).

Besides each `KIND:IDX` tile, a kind recorded as several tiles (verify:0, verify:1, …) is also
counted as one group named by the kind, the sum of its tiles on that host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..targets import TileFilter

AGAVE = "agave"
_TILE = re.compile(r"^[a-z][a-z0-9_]*:\d+$")


@dataclass
class HostTile:
    """One host's samples of one tile (or kind): all of them, and per function."""

    total: int = 0
    self_samples: dict[str, int] = field(default_factory=dict)  # function -> samples where it is the leaf
    inclusive: dict[str, int] = field(default_factory=dict)  # function -> samples with it on the stack


# tile (or kind) -> host -> counts
TileCounts = dict[str, dict[str, HostTile]]


class FleetCounter:
    """Counts fleet stacks as they are read, one line at a time (a fleet.folded can be large)."""

    def __init__(self, tiles: TileFilter | None = None) -> None:
        self.tiles = tiles
        self.counts: TileCounts = {}
        self._wanted: dict[str, bool] = {}  # tile frame -> whether it is counted (memo)

    def add(self, stack: str, count: int) -> None:
        if count <= 0:
            return
        frames = stack.split(";")
        if len(frames) < 2:
            return
        host, tile = frames[0], frames[1]
        if not self.wants(tile):
            return
        per_host = self.counts.get(tile)
        if per_host is None:
            per_host = self.counts[tile] = {}
        counts = per_host.get(host)
        if counts is None:
            counts = per_host[host] = HostTile()
        counts.total += count
        functions = frames[3:] if tile == AGAVE else frames[2:]
        if not functions:
            return
        leaf = functions[-1]
        own = counts.self_samples
        own[leaf] = own.get(leaf, 0) + count
        inclusive = counts.inclusive
        # A recursive function is counted once per sample, not once per frame.
        for function in set(functions) if len(functions) > 1 else functions:
            inclusive[function] = inclusive.get(function, 0) + count

    def wants(self, tile: str) -> bool:
        """Whether a root frame is a tile (or agave) that the filter asks for."""
        wanted = self._wanted.get(tile)
        if wanted is None:
            # A bare-kind filter wants every tile of the kind; the kind group is added by result().
            is_tile = tile == AGAVE or _TILE.match(tile) is not None
            wanted = self._wanted[tile] = is_tile and (self.tiles is None or self.tiles.matches(tile))
        return wanted

    @property
    def seen_tiles(self) -> list[str]:
        """Every tile frame met, wanted or not (for messages naming what a capture holds)."""
        return [t for t in self._wanted if t == AGAVE or _TILE.match(t)]

    def result(self) -> TileCounts:
        """Every counted tile, plus a group per kind that has several tiles (unless a single-tile
        filter asked for one tile)."""
        counts = dict(self.counts)
        if self.tiles is not None and self.tiles.is_single_tile:
            return counts
        for kind, tiles in _kinds(counts).items():
            if len(tiles) > 1:
                counts[kind] = _sum_tiles([self.counts[t] for t in tiles])
        return counts


def _kinds(counts: TileCounts) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for tile in counts:
        if tile != AGAVE:
            kinds.setdefault(tile.partition(":")[0], []).append(tile)
    return kinds


def _sum_tiles(tiles: list[dict[str, HostTile]]) -> dict[str, HostTile]:
    summed: dict[str, HostTile] = {}
    for per_host in tiles:
        for host, counts in per_host.items():
            into = summed.setdefault(host, HostTile())
            into.total += counts.total
            for source, target in ((counts.self_samples, into.self_samples), (counts.inclusive, into.inclusive)):
                for function, n in source.items():
                    target[function] = target.get(function, 0) + n
    return summed
