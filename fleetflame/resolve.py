"""Tile resolution on one host: metrics first, thread names in /proc as the fallback."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .connection.base import Connection
from .connection.http import HttpError
from .errors import HostError
from .remote import THREADS, sh
from .tiles import HostThread, Tile, parse_metrics, parse_threads, tiles_from_threads

METRICS_TIMEOUT = 5.0


@dataclass
class Discovery:
    tiles: list[Tile]
    threads: list[HostThread]
    source: str  # "metrics" or "proc"
    metrics_error: str | None = None


class DiscoveryError(HostError):
    pass


async def discover(conn: Connection, timeout: float = METRICS_TIMEOUT) -> Discovery:
    """Read the metrics endpoint and the thread listing together, through the host connection."""
    metrics, listing = await asyncio.gather(
        _read_metrics(conn, timeout), conn.run(sh(THREADS, "threads"), timeout=30), return_exceptions=True
    )
    if isinstance(listing, BaseException):
        raise listing
    if not listing.ok:
        raise DiscoveryError(f"cannot list threads on {conn.host.name}: {listing.error_text()}")
    threads = parse_threads(listing.stdout.decode(errors="replace"))
    if isinstance(metrics, list) and metrics:
        return Discovery(metrics, threads, "metrics")
    if isinstance(metrics, BaseException):
        error = str(metrics)
    else:
        error = f"{conn.host.metrics_url} has no tile_pid gauges"
    return Discovery(tiles_from_threads(threads), threads, "proc", error)


async def _read_metrics(conn: Connection, timeout: float) -> list[Tile]:
    try:
        body = await conn.http_get(conn.host.metrics_url, timeout)
    except (HttpError, asyncio.TimeoutError) as exc:
        raise HttpError(f"metrics endpoint {conn.host.metrics_url} did not answer: {exc or 'timed out'}") from exc
    return parse_metrics(body.decode(errors="replace"))
