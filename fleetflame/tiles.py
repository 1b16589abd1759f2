"""Tiles: where Firedancer's tiles run on a host, and which of them a target selects.

Two sources, both read on the host itself: the validator's Prometheus gauges
`tile_pid{kind,kind_id}` / `tile_tid{kind,kind_id}`, and, when that endpoint does not answer,
thread names in `/proc` (Firedancer names tile threads `KIND:IDX`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from .errors import HostError
from .targets import TILE_KINDS, Target


@dataclass(frozen=True)
class Tile:
    kind: str
    kind_id: int
    pid: int
    tid: int

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.kind_id}"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class HostThread:
    """One thread as the host's /proc shows it."""

    pid: int
    tid: int
    comm: str


class TileError(HostError):
    """A selected tile is missing or not running on a host; the message names the tile."""


# Prometheus text exposition, only as far as the two gauges go: `tile_pid{kind="verify",
# kind_id="3"} 1234`. (prometheus_client's parser would cost 0.13 s of import per run.)
_GAUGE = re.compile(r"^(tile_pid|tile_tid)\{(.*)\}\s+(\S+)")
_LABEL = re.compile(r'\s*([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def _labels(text: str) -> dict[str, str] | None:
    labels, at = {}, 0
    while at < len(text.rstrip()):
        match = _LABEL.match(text, at)
        if not match:
            return None
        labels[match[1]] = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], match[2])
        at = match.end()
    return labels


def parse_metrics(text: str) -> list[Tile]:
    """Tiles from the validator's `tile_pid` / `tile_tid` gauges; other lines are ignored."""
    pids: dict[tuple[str, int], int] = {}
    tids: dict[tuple[str, int], int] = {}
    for line in text.splitlines():
        match = _GAUGE.match(line)
        labels = _labels(match[2]) if match else None
        if not match or labels is None:
            continue
        kind, kind_id = labels.get("kind"), labels.get("kind_id", "")
        try:
            value = int(float(match[3]))
        except ValueError:
            continue
        if kind and kind_id.isdigit():
            (pids if match[1] == "tile_pid" else tids)[(kind, int(kind_id))] = value
    tiles = [
        Tile(kind, kind_id, pid, tids.get((kind, kind_id), pid))
        for (kind, kind_id), pid in pids.items()
    ]
    return sorted(tiles, key=_tile_order)


_THREAD_NAME = re.compile(r"^([a-z][a-z0-9_]*):(\d+)$")


def parse_threads(text: str) -> list[HostThread]:
    """Parse the host's thread listing: one `PID TID COMM` line per thread (COMM may have spaces)."""
    threads = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            threads.append(HostThread(int(parts[0]), int(parts[1]), parts[2]))
    return threads


def tiles_from_threads(threads: Iterable[HostThread]) -> list[Tile]:
    """Tiles found by thread name, for hosts whose metrics endpoint does not answer."""
    tiles: dict[tuple[str, int], Tile] = {}
    for thread in threads:
        match = _THREAD_NAME.match(thread.comm)
        if match and match[1] in TILE_KINDS:
            tile = Tile(match[1], int(match[2]), thread.pid, thread.tid)
            tiles.setdefault((tile.kind, tile.kind_id), tile)
    return sorted(tiles.values(), key=_tile_order)


def _tile_order(tile: Tile) -> tuple[str, int]:
    return tile.kind, tile.kind_id


@dataclass(frozen=True)
class Selection:
    """What to record on one host: tiles by thread id, or a whole process (`agave`)."""

    tiles: tuple[Tile, ...]
    agave_pid: int | None = None
    extra_threads: tuple[HostThread, ...] = ()  # agave's threads when it is combined with tiles

    def perf_target_args(self) -> list[str]:
        """`-p PID` for the Agave process alone, else `-t TID,...` as `fdctl flame` does."""
        if self.agave_pid is not None and not self.tiles and not self.extra_threads:
            return ["-p", str(self.agave_pid)]
        tids = [t.tid for t in self.tiles] + [t.tid for t in self.extra_threads]
        return ["-t", ",".join(str(tid) for tid in dict.fromkeys(tids))]

    def roots_by_tid(self) -> dict[int, str]:
        """The root frame(s) of each recorded thread's stacks: its tile name, or `agave;COMM`."""
        roots = {t.tid: f"agave;{t.comm}" for t in self.extra_threads}
        roots.update({t.tid: t.name for t in self.tiles})
        return roots

    @property
    def names(self) -> list[str]:
        names = [t.name for t in self.tiles]
        return names + (["agave"] if self.agave_pid is not None else [])


def select_tiles(
    target: Target, tiles: Sequence[Tile], threads: Sequence[HostThread], host: str
) -> Selection:
    """Pick the target's tiles among a host's tiles and check each is running.

    Raises TileError naming the first tile that is absent or dead, e.g.
    `tile verify:7 not found on lab03`; on a host with no tiles at all it asks whether the
    validator runs there.
    """
    if not tiles:
        wanted = "" if target.all_tiles else f" (looking for {target.selectors[0] if target.selectors else 'agave'})"
        raise TileError(f"no tiles found on {host}{wanted}: is the validator running?")
    alive = {(t.pid, t.tid) for t in threads}
    alive_tids = {t.tid for t in threads}
    chosen: dict[tuple[str, int], Tile] = {}
    if target.all_tiles:
        chosen.update(((t.kind, t.kind_id), t) for t in tiles)
    for selector in target.selectors:
        found = [t for t in tiles if selector.matches(t.kind, t.kind_id)]
        if not found:
            raise TileError(f"tile {selector} not found on {host}")
        chosen.update(((t.kind, t.kind_id), t) for t in found)
    for tile in chosen.values():
        if (tile.pid, tile.tid) not in alive:
            raise TileError(
                f"tile {tile.name} (pid {tile.pid}, tid {tile.tid}) is not running on {host}"
            )
    agave_pid = None
    extra: tuple[HostThread, ...] = ()
    if target.agave:
        agave_pid = _agave_pid(tiles, alive_tids, host)
        if not target.agave_only:
            extra = tuple(t for t in threads if t.pid == agave_pid)
    ordered = tuple(sorted(chosen.values(), key=_tile_order))
    return Selection(tiles=ordered, agave_pid=agave_pid, extra_threads=extra)


def _agave_pid(tiles: Sequence[Tile], alive_tids: set[int], host: str) -> int:
    bank0 = next((t for t in tiles if t.kind == "bank" and t.kind_id == 0), None)
    if bank0 is None:
        raise TileError(f"tile bank:0 not found on {host}, so there is no agave process to record")
    if bank0.pid not in alive_tids:
        raise TileError(f"agave process (pid {bank0.pid}, of tile bank:0) is not running on {host}")
    return bank0.pid
