"""A host's threads as its /proc lists them, and tiles found by thread name (the fallback when
the metrics endpoint does not answer: Firedancer names every tile thread `KIND:IDX`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .tiles import HostThread, Tile, tile_order


def parse_threads(text: str) -> list[HostThread]:
    """Parse the host's thread listing: one `PID TID COMM` line per thread (COMM may have spaces)."""
    threads = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() and len(parts[0]) < 11 and len(parts[1]) < 11:
            threads.append(HostThread(int(parts[0]), int(parts[1]), parts[2]))
    return threads


# A tile's thread name; the kind as `metrics.read_metrics_page` accepts it. Every such thread is
# a tile, known kind or not: a newer validator's tiles are recorded all the same.
_THREAD_NAME = re.compile(r"^([a-z][a-z0-9_]{0,15}):(\d{1,4})$")


def tiles_from_threads(threads: Iterable[HostThread]) -> list[Tile]:
    """Tiles found by thread name, for hosts whose metrics endpoint does not answer."""
    tiles: dict[tuple[str, int], Tile] = {}
    for thread in threads:
        match = _THREAD_NAME.match(thread.comm)
        if match:
            tile = Tile(match[1], int(match[2]), thread.pid, thread.tid)
            tiles.setdefault((tile.kind, tile.kind_id), tile)
    return sorted(tiles.values(), key=tile_order)
