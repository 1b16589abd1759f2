"""Look without recording: which threads a target resolves to on each host (`fleetflame tiles`)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from ..connection import Connection, ConnectionError_, SshSettings, visit_hosts
from ..inventory.model import HostRecord
from ..terminal import literal_line
from .resolve import DiscoveryError, discover
from .targets import Target
from .tiles import Selection, TileError, select_tiles


@dataclass
class HostTiles:
    host: str
    selection: Selection | None = None
    source: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


async def _resolve_one(conn: Connection, gate: asyncio.Semaphore, target: Target) -> HostTiles:
    host = conn.host
    result = HostTiles(host.name)
    try:
        async with gate:
            await conn.connect()
            found = await discover(conn)
        result.source = found.source
        result.notes += found.warnings
        if found.metrics_error:
            result.notes.append(f"{found.metrics_error}; used thread names in /proc")
        result.selection = select_tiles(target, found.tiles, found.threads, host.name)
    except (ConnectionError_, DiscoveryError, TileError, OSError) as exc:
        result.error = str(exc)
    except asyncio.TimeoutError:
        result.error = f"{host.name} stopped answering (timed out)"
    return result


def resolve_fleet(hosts: list[HostRecord], target: Target, settings: SshSettings, forks: int = 50) -> list[HostTiles]:
    return visit_hosts(hosts, settings, forks, lambda conn, gate: _resolve_one(conn, gate, target))


def _rows(result: HostTiles) -> list[dict[str, object]]:
    if result.selection is None:
        return []
    rows: list[dict[str, object]] = [t.to_json() for t in result.selection.tiles]
    if result.selection.agave_pid is not None:
        rows.append({"name": "agave", "kind": "agave", "kind_id": None, "pid": result.selection.agave_pid, "tid": None})
    return rows


def tiles_json(results: list[HostTiles]) -> str:
    return json.dumps(
        [
            {
                "host": r.host,
                "status": "failed" if r.error else "ok",
                "error": r.error,
                "source": r.source,
                "notes": r.notes,
                "tiles": _rows(r),
                "skipped_tiles": [s.to_json() for s in r.selection.skipped] if r.selection else [],
            }
            for r in results
        ],
        indent=2,
    )


def tiles_table(results: list[HostTiles]) -> Table:
    """host x tile x pid x tid, a failed host as one FAILED row (its error is for a line of its
    own, whole: see `failures`). Every name in it came from a host or the inventory, so all of it
    is printed literally; print it with terminal.print_table, which never cuts a host name."""
    table = Table(title="tiles", title_justify="left")
    table.add_column("host", no_wrap=True)
    table.add_column("tile", no_wrap=True)
    table.add_column("pid", justify="right", no_wrap=True)
    table.add_column("tid", justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    for result in results:
        host = literal_line(result.host)
        if result.error:
            table.add_row(host, Text("FAILED", style="red"), "", "", "")
            continue
        for row in _rows(result):
            tid = "" if row["tid"] is None else str(row["tid"])
            table.add_row(host, literal_line(str(row["name"])), str(row["pid"]), tid, result.source or "")
        for skipped in result.selection.skipped if result.selection else ():
            table.add_row(host, literal_line(skipped.tile), Text(f"skipped: {skipped.reason}", style="yellow"), "", "")
    return table


def failures(results: list[HostTiles]) -> list[tuple[str, str]]:
    """(host, error) of every host that failed, to print under the table."""
    return [(r.host, r.error) for r in results if r.error]
