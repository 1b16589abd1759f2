"""Tile resolution on one host: the validator's metrics first, thread names in /proc as the fallback.

The thread listing comes from the capture session itself (it lists the host's threads as it
starts); the metrics endpoint is read through the same SSH connection at the same time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..connection.base import Connection
from ..connection.http import HttpError
from ..targets import Target
from ..tiles import HostThread, Selection, Tile, parse_metrics, select_tiles, tiles_from_threads

METRICS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Metrics:
    """What the metrics endpoint said: tiles, or why not."""

    tiles: list[Tile]
    error: str | None = None


@dataclass(frozen=True)
class Resolved:
    selection: Selection
    source: str  # "metrics" | "proc"
    metrics_error: str | None


async def read_metrics(conn: Connection, timeout: float = METRICS_TIMEOUT_S) -> Metrics:
    url = conn.host.metrics_url
    try:
        body = await conn.http_get(url, timeout)
    except (HttpError, asyncio.TimeoutError, OSError) as exc:
        return Metrics([], f"metrics endpoint {url} did not answer: {exc or 'timed out'}")
    tiles = parse_metrics(body.decode(errors="replace"))
    return Metrics(tiles, None if tiles else f"{url} has no tile_pid gauges")


def resolve(target: Target, metrics: Metrics, threads: list[HostThread], host: str) -> Resolved:
    """The target's tiles on this host, checked against its live threads (TileError if one is
    missing or dead)."""
    if metrics.tiles:
        return Resolved(select_tiles(target, metrics.tiles, threads, host), "metrics", None)
    return Resolved(select_tiles(target, tiles_from_threads(threads), threads, host), "proc", metrics.error)
