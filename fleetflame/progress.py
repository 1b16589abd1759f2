"""What the operator sees: a live line per host while the fleet works, then a recap.

Host names, stage details and errors come from inventories and hosts: they are shown through
`terminal` (literal text, no control characters), never as rich markup.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .capture.events import Event, Reporter, Stage
from .capture.manifest import Manifest
from .terminal import literal_line, safe_line

STAGE_STYLE = {
    Stage.FAILED: "bold red",
    Stage.DONE: "green",
    Stage.RECORDING: "bold yellow",
    Stage.STOPPING: "yellow",
    Stage.DETACHED: "cyan",
}
MAX_LIVE_ROWS = 40


@dataclass
class HostLine:
    stage: Stage = Stage.CONNECTING
    detail: str = ""
    until: float | None = None
    since: float = field(default_factory=time.monotonic)


class LiveProgress:
    """A rich Live table on stderr, one row per host (the busiest first on a big fleet), refreshed a
    few times a second, with a summary line of how many hosts are at each stage."""

    def __init__(self, hosts: list[str], console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.lines = {name: HostLine(Stage.CONNECTING, "waiting") for name in hosts}
        self.started = time.monotonic()
        self.live = Live(console=self.console, refresh_per_second=4, get_renderable=self._table, transient=True)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def __call__(self, event: Event) -> None:
        line = self.lines.setdefault(event.host, HostLine())
        if event.stage != line.stage:
            line.since = time.monotonic()
        line.stage, line.detail, line.until = event.stage, event.detail, event.until

    def _table(self) -> Table:
        counts: dict[Stage, int] = {}
        for line in self.lines.values():
            counts[line.stage] = counts.get(line.stage, 0) + 1
        summary = ", ".join(f"{n} {stage.value}" for stage, n in counts.items())
        table = Table(
            title=f"fleetflame · {time.monotonic() - self.started:.0f} s · {summary}",
            title_justify="left",
            box=None,
            pad_edge=False,
        )
        table.add_column("host", style="bold", no_wrap=True)
        table.add_column("stage", no_wrap=True)
        table.add_column("detail", overflow="ellipsis", no_wrap=True)
        shown = list(self.lines.items())
        if len(shown) > MAX_LIVE_ROWS:  # a big fleet: hosts still at work first, then a count of the rest
            busy = [(h, line) for h, line in shown if line.stage not in (Stage.DONE, Stage.DETACHED)]
            shown = busy[:MAX_LIVE_ROWS]
            table.caption = f"… and {len(self.lines) - len(shown)} more hosts"
        for host, line in shown:
            table.add_row(literal_line(host), Text(line.stage.value, style=STAGE_STYLE.get(line.stage, "")), literal_line(self._detail(line)))
        return table

    @staticmethod
    def _detail(line: HostLine) -> str:
        if line.stage == Stage.RECORDING and line.until is not None:
            return f"{max(0.0, line.until - time.time()):.0f} s left"
        return line.detail


def recap_rows(manifest: Manifest) -> list[dict[str, Any]]:
    rows = []
    for name, host in manifest.hosts.items():
        rows.append(
            {
                "host": name,
                "status": host.status,
                "tiles": [t["name"] for t in host.tiles],
                "samples": host.samples,
                "recorded_s": host.recorded_s,
                "mb_pulled": round(host.bytes_pulled / 1e6, 3),
                "seconds": round(sum(host.timings.values()), 2),
                "error": host.error,
                "warnings": host.warnings,
                "skipped_tiles": host.skipped_tiles,
            }
        )
    return rows


def recap_notes(manifest: Manifest) -> list[tuple[str, str]]:
    """(host, text) lines to print under the recap: tiles a host skipped, and its warnings."""
    lines = []
    for name, host in manifest.hosts.items():
        if host.skipped_tiles:
            lines.append((name, "skipped " + ", ".join(f"{s['tile']} ({s['reason']})" for s in host.skipped_tiles)))
        lines += [(name, f"warning: {warning}") for warning in host.warnings]
    return lines


def _status(row: dict[str, Any], detached: bool) -> Text:
    if row["status"] == "ok":
        return Text("ok", style="green")
    if row["status"] == "pending":
        return Text("recording (detached)" if detached else "pending: run fetch", style="cyan")
    return Text.assemble(("FAILED: ", "red"), (safe_line(str(row["error"] or "no message")), "red"))


def nothing_recorded(manifest: Manifest) -> str | None:
    """Why a capture holds nothing, when no host was captured and none may still be: e.g.
    `nothing recorded: no host could be reached`; None when something was (or may be) recorded."""
    if manifest.ok_hosts or manifest.pending_hosts:
        return None
    if all(host.perf_started_at is None and host.tile_source is None for host in manifest.hosts.values()):
        return "nothing recorded: no host could be reached"
    return "nothing recorded: every host failed"


def recap_table(manifest: Manifest, detached: bool = False) -> Table:
    recorded = nothing_recorded(manifest) or f"{manifest.duration_s:g} s recorded" + (
        f" (stopped early; {manifest.requested_duration_s:g} s requested)" if manifest.stopped_early else ""
    )
    table = Table(title=f"capture {manifest.id} · {recorded}", title_justify="left")
    table.add_column("host", no_wrap=True)
    table.add_column("tiles")
    for column in ("samples", "MB", "s"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("status", overflow="fold")
    for row in recap_rows(manifest):
        tiles = ",".join(row["tiles"])
        if len(tiles) > 40:
            tiles = f"{len(row['tiles'])} tiles"
        table.add_row(
            literal_line(row["host"]),
            literal_line(tiles),
            str(row["samples"]),
            f"{row['mb_pulled']:.1f}",
            f"{row['seconds']:.1f}",
            _status(row, detached),
        )
    return table


def recap_json(manifest: Manifest, folder: str, exit_code: int, pruned: list[str] | None = None) -> str:
    return json.dumps(
        {
            "capture": manifest.id,
            "folder": folder,
            "target": manifest.target,
            "exit_code": exit_code,
            "samples": manifest.total_samples,
            "duration_s": manifest.duration_s,
            "requested_duration_s": manifest.requested_duration_s,
            "stopped_early": manifest.stopped_early,
            "hosts": recap_rows(manifest),
            "pruned": pruned or [],
        },
        indent=2,
    )


def log_line(path: Path, text: str) -> None:
    """Append a timestamped line to `--log-file`: created 0600, never through a symbolic link
    (someone could plant one in a shared folder to make root append to a file of their choice)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symbolic link; fleetflame does not append to a log through a link: give the file itself", str(path)) from None
        raise
    with open(fd, "a", encoding="utf-8") as fp:
        fp.write(f"{stamp} {safe_line(text)}\n")


class LogReporter:
    """One line per stage change of a host (not per progress tick), for `--log-file`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stages: dict[str, Stage] = {}

    def __call__(self, event: Event) -> None:
        if self.stages.get(event.host) == event.stage:
            return
        self.stages[event.host] = event.stage
        log_line(self.path, f"{event.host} {event.stage.value} {event.detail}".rstrip())


@contextmanager
def reporting(hosts: list[str], console: Console | None, log_file: Path | None) -> Iterator[Reporter | None]:
    """The progress sinks a command asked for: a live display, a log file, both, or none."""
    sinks: list[Reporter] = []
    if log_file is not None:
        sinks.append(LogReporter(log_file))
    if console is None:
        yield _fan_out(sinks)
        return
    with LiveProgress(hosts, console) as live:
        yield _fan_out([live, *sinks])


def _fan_out(sinks: list[Reporter]) -> Reporter | None:
    if not sinks:
        return None
    if len(sinks) == 1:
        return sinks[0]

    def report(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return report
