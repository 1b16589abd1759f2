"""Tiles: which of a host's tiles a target selects, and whether each is running.

Where the tiles are comes from `metrics.py` (the validator's gauges) or `threads.py` (thread names
in /proc); this module decides, per host, what to record and what to skip.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ..errors import HostError
from .targets import Target, TileSelector

# tile_status values (src/disco/metrics/generated/fd_metrics_all.h: "0=booting, 1=running,
# 2=shutdown").
BOOTING, RUNNING, SHUT_DOWN = 0, 1, 2
# Frankendancer's tiles that are threads of the Agave process (src/app/fdctl/topology.c); the
# first one found tells which process `agave` records. `poh`/`resolv` are their older names.
AGAVE_SIDE_KINDS = ("bank", "pohh", "resolh", "store", "poh", "resolv")


@dataclass(frozen=True)
class Tile:
    kind: str
    kind_id: int
    pid: int
    tid: int
    status: int | None = None  # tile_status from the metrics; None when found by thread name

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.kind_id}"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, **asdict(self)}


def tile_order(tile: Tile) -> tuple[str, int]:
    return tile.kind, tile.kind_id


@dataclass(frozen=True)
class HostThread:
    """One thread as the host's /proc shows it."""

    pid: int
    tid: int
    comm: str


@dataclass(frozen=True)
class SkippedTile:
    """A tile a target covers that is not recorded, and why (`shut down`, `booting`, `not running`)."""

    tile: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"tile": self.tile, "reason": self.reason}


class TileError(HostError):
    """A selected tile is missing or not running on a host; the message names the tile."""


@dataclass(frozen=True)
class Selection:
    """What to record on one host: tiles by thread id, or a whole process (`agave`)."""

    tiles: tuple[Tile, ...]
    agave_pid: int | None = None
    extra_threads: tuple[HostThread, ...] = ()  # agave's threads when it is combined with tiles
    skipped: tuple[SkippedTile, ...] = ()  # tiles the target covers that are not running

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


def not_running_reason(tile: Tile, alive: set[tuple[int, int]]) -> str | None:
    """Why a tile cannot be recorded now, or None when it runs."""
    if tile.status == SHUT_DOWN:
        return "shut down"
    if tile.status == BOOTING or tile.pid == 0 or tile.tid == 0:
        return "booting"
    if (tile.pid, tile.tid) not in alive:
        return "not running"
    return None


def select_tiles(target: Target, tiles: Sequence[Tile], threads: Sequence[HostThread], host: str) -> Selection:
    """Pick the target's tiles among a host's tiles, skipping those not running.

    `all`, `KIND:*` skip (and name) tiles that shut down, are still booting or whose thread is
    gone; a tile named explicitly (`snapld:0`, or `verify` for verify:0) that is not running fails
    the host, as does a selector matching no tile (naming the kinds the host has when the kind is
    missing) or a host where nothing is left to record. Raises TileError, e.g.
    `tile verify:7 not found on lab03`.
    """
    if not tiles:
        wanted = "" if target.all_tiles else f" (looking for {target.selectors[0] if target.selectors else 'agave'})"
        raise TileError(f"no tiles found on {host}{wanted}: is the validator running?")
    alive = {(t.pid, t.tid) for t in threads}
    _check_same_pid_namespace(tiles, threads, host)
    chosen: dict[tuple[str, int], Tile] = {}
    explicit: set[tuple[str, int]] = set()
    if target.all_tiles:
        chosen.update(((t.kind, t.kind_id), t) for t in tiles)
    for selector in target.selectors:
        found = [t for t in tiles if selector.matches(t.kind, t.kind_id)]
        if not found:
            raise TileError(_not_found(selector, tiles, host))
        chosen.update(((t.kind, t.kind_id), t) for t in found)
        if selector.kind_id is not None:
            explicit.add((selector.kind, selector.kind_id))
    running: list[Tile] = []
    skipped: list[SkippedTile] = []
    for key, tile in sorted(chosen.items()):
        reason = not_running_reason(tile, alive)
        if reason is None:
            running.append(tile)
        elif key in explicit:
            raise TileError(_explicit_not_running(tile, reason, host))
        else:
            skipped.append(SkippedTile(tile.name, reason))
    agave_pid = None
    extra: tuple[HostThread, ...] = ()
    if target.agave:
        agave_pid = _agave_pid(tiles, {t.tid for t in threads}, host)
        if not target.agave_only:
            extra = tuple(t for t in threads if t.pid == agave_pid)
    if not running and agave_pid is None:
        gone = ", ".join(f"{s.tile} ({s.reason})" for s in skipped[:8]) + (", ..." if len(skipped) > 8 else "")
        raise TileError(f"nothing to record on {host}: no selected tile is running: {gone}")
    return Selection(tiles=tuple(running), agave_pid=agave_pid, extra_threads=extra, skipped=tuple(skipped))


def _check_same_pid_namespace(tiles: Sequence[Tile], threads: Sequence[HostThread], host: str) -> None:
    """Metrics whose pids exist nowhere in the host's /proc come from a validator in another PID
    namespace (a container): every tile would look dead, so say that instead."""
    claimed = [t for t in tiles if t.pid > 0 and t.status != SHUT_DOWN]
    pids = {t.pid for t in threads}
    if claimed and threads and not any(t.pid in pids for t in claimed):
        example = ", ".join(f"{t.name} pid {t.pid}" for t in claimed[:3])
        raise TileError(
            f"none of the pids {host}'s metrics report exist in its /proc ({example}): the validator "
            "runs in another PID namespace (a container?); run fleetflame's SSH user in the validator's "
            "PID namespace (on the container's host, or inside the container)"
        )


def _not_found(selector: TileSelector, tiles: Sequence[Tile], host: str) -> str:
    kinds = sorted({t.kind for t in tiles})
    if selector.kind in kinds:
        return f"tile {selector} not found on {host}"
    close = difflib.get_close_matches(selector.kind, kinds, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    shown = ", ".join(kinds[:24]) + (", ..." if len(kinds) > 24 else "")
    return f"tile {selector} not found on {host}: it has no {selector.kind} tiles; {hint}its tile kinds: {shown}"


def _explicit_not_running(tile: Tile, reason: str, host: str) -> str:
    if reason == "shut down":
        return f"tile {tile.name} has shut down on {host} (tile_status 2): pick a running tile, or `all`"
    if reason == "booting":
        return f"tile {tile.name} is still booting on {host} (tile_status 0): try again once the validator is up"
    return f"tile {tile.name} (pid {tile.pid}, tid {tile.tid}) is not running on {host}"


def _agave_pid(tiles: Sequence[Tile], alive_tids: set[int], host: str) -> int:
    # A tile that is a thread of a bigger process (pid != tid); full Firedancer's own `poh` and
    # `resolv` tiles are processes of their own and do not count.
    by_kind = {(t.kind, t.kind_id): t for t in tiles}
    candidates = [by_kind[(k, 0)] for k in AGAVE_SIDE_KINDS if (k, 0) in by_kind]
    anchor = next((t for t in candidates if t.kind == "bank" or t.pid != t.tid), None)
    if anchor is None:
        raise TileError(f"tile bank:0 not found on {host}, so there is no agave process to record")
    if anchor.pid not in alive_tids:
        raise TileError(f"agave process (pid {anchor.pid}, of tile {anchor.name}) is not running on {host}")
    return anchor.pid
