"""Finding a host's tiles: the validator's metrics first, thread names in /proc as the fallback.

One path for every command: `tiles` and `check` call `discover` (metrics and the thread listing
at once); a capture reads the metrics with `read_metrics` while its session lists the threads,
then calls `resolve`. Both end in `discovered`, which picks the source, and `select_tiles`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..connection.base import Connection, sh
from ..connection.http import HttpError
from ..errors import HostError
from .metrics import read_metrics_page
from .scripts import THREADS
from .targets import Target
from .threads import parse_threads, tiles_from_threads
from .tiles import AGAVE_SIDE_KINDS, HostThread, Selection, Tile, select_tiles

METRICS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Metrics:
    """What the metrics endpoint said: tiles, or why not, and what in the page was ignored."""

    tiles: list[Tile]
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Discovery:
    """A host's tiles and threads, where the tiles came from, and notes for the operator."""

    tiles: list[Tile]
    threads: list[HostThread]
    source: str  # "metrics" or "proc"
    metrics_error: str | None = None
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Resolved:
    selection: Selection
    source: str  # "metrics" | "proc"
    notes: tuple[str, ...]  # what the metrics page had that was ignored or unknown


class DiscoveryError(HostError):
    pass


async def read_metrics(conn: Connection, timeout: float = METRICS_TIMEOUT_S) -> Metrics:
    url = conn.host.metrics_url
    try:
        body = await conn.http_get(url, timeout)
    except (HttpError, asyncio.TimeoutError, OSError) as exc:
        return Metrics([], f"metrics endpoint {url} did not answer: {exc or 'timed out'}")
    page = read_metrics_page(body.decode(errors="replace"))
    return Metrics(page.tiles, None if page.tiles else f"{url} has no tile_pid gauges", tuple(page.warnings))


def discovered(metrics: Metrics, threads: list[HostThread]) -> Discovery:
    """The metrics' tiles when it listed any and they are the threads they claim to be, else
    tiles found by thread name."""
    if not metrics.tiles:
        return Discovery(tiles_from_threads(threads), threads, "proc", metrics.error, metrics.warnings)
    impostor = first_impostor(metrics.tiles, threads)
    if impostor is None:
        return Discovery(metrics.tiles, threads, "metrics", None, metrics.warnings)
    warning = f"the metrics are not to be trusted ({impostor}): used thread names in /proc instead"
    return Discovery(tiles_from_threads(threads), threads, "proc", None, (*metrics.warnings, warning))


def first_impostor(tiles: list[Tile], threads: list[HostThread]) -> str | None:
    """A tile whose metrics point at a live thread that is not that tile, described, or None.

    A tile's thread is named `KIND:IDX` (Firedancer sets it, fd_topo_run.c); an Agave-side tile
    may be any thread of the Agave process. Anything else means the page is wrong or hostile:
    recording that thread would label, say, sshd as `verify:0`."""
    comms = {(t.pid, t.tid): t.comm for t in threads}
    for tile in tiles:
        comm = comms.get((tile.pid, tile.tid))
        if comm is None or comm == tile.name:
            continue  # not running (skipped later), or the tile itself
        if tile.kind in AGAVE_SIDE_KINDS and tile.pid != tile.tid:
            continue
        return f"{tile.name} is pid {tile.pid}, tid {tile.tid}, a thread named {comm[:32]!r}"
    return None


async def list_threads(conn: Connection) -> list[HostThread]:
    listing = await conn.run(sh(THREADS, "threads"), timeout=30)
    if not listing.ok:
        raise DiscoveryError(f"cannot list threads on {conn.host.name}: {listing.error_text()}")
    return parse_threads(listing.stdout.decode(errors="replace"))


async def discover(conn: Connection, timeout: float = METRICS_TIMEOUT_S) -> Discovery:
    """Read the metrics endpoint and the thread listing together, through the host connection."""
    metrics, threads = await asyncio.gather(read_metrics(conn, timeout), list_threads(conn))
    return discovered(metrics, threads)


def resolve(target: Target, metrics: Metrics, threads: list[HostThread], host: str) -> Resolved:
    """The target's tiles on this host, checked against its live threads (TileError if one named
    explicitly is missing or not running, or nothing is left to record)."""
    found = discovered(metrics, threads)
    return Resolved(select_tiles(target, found.tiles, found.threads, host), found.source, found.warnings)
