"""What the operator sees: a live line per host while the fleet works, then a recap."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .capture import Manifest
from .hostcapture import Stage

Reporter = Callable[[str, Stage, str], None]

STAGE_STYLE = {
    Stage.FAILED: "bold red",
    Stage.DONE: "green",
    Stage.RECORDING: "bold yellow",
    Stage.STOPPING: "yellow",
}


@dataclass
class HostLine:
    stage: Stage = Stage.CONNECTING
    detail: str = ""
    since: float = field(default_factory=time.monotonic)


class LiveProgress:
    """A rich Live table on stderr, one row per host, refreshed a few times a second."""

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

    def __call__(self, host: str, stage: Stage, detail: str) -> None:
        line = self.lines.setdefault(host, HostLine())
        if stage != line.stage:
            line.since = time.monotonic()
        line.stage, line.detail = stage, detail

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
        table.add_column("host", style="bold")
        table.add_column("stage")
        table.add_column("detail", overflow="fold")
        shown = list(self.lines.items())
        if len(shown) > 40:  # a big fleet: show hosts that are not done, then a count of the rest
            shown = [(h, line) for h, line in shown if line.stage not in (Stage.DONE,)][:40]
        for host, line in shown:
            table.add_row(host, Text(line.stage.value, style=STAGE_STYLE.get(line.stage, "")), self._detail(line))
        return table

    @staticmethod
    def _detail(line: HostLine) -> str:
        if line.stage == Stage.RECORDING and line.detail.startswith("until "):
            left = float(line.detail.split()[1]) - time.time()
            return f"{max(0.0, left):.0f} s left"
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
                "mb_pulled": round(host.bytes_pulled / 1e6, 3),
                "seconds": round(sum(host.timings.values()), 2),
                "error": host.error,
            }
        )
    return rows


def recap_table(manifest: Manifest) -> Table:
    table = Table(title=f"capture {manifest.id}", title_justify="left")
    for column, justify in [("host", "left"), ("tiles", "left"), ("samples", "right"), ("MB", "right"), ("s", "right"), ("status", "left")]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in recap_rows(manifest):
        tiles = ",".join(row["tiles"])
        if len(tiles) > 40:
            tiles = f"{len(row['tiles'])} tiles"
        status = Text("ok", style="green") if row["status"] == "ok" else Text(f"FAILED: {row['error']}", style="red")
        table.add_row(row["host"], tiles, str(row["samples"]), f"{row['mb_pulled']:.1f}", f"{row['seconds']:.1f}", status)
    return table


def recap_json(manifest: Manifest, folder: str, exit_code: int, pruned: list[str] | None = None) -> str:
    return json.dumps(
        {
            "capture": manifest.id,
            "folder": folder,
            "target": manifest.target,
            "exit_code": exit_code,
            "samples": manifest.total_samples,
            "hosts": recap_rows(manifest),
            "pruned": pruned or [],
        },
        indent=2,
    )


def log_line(path: Path, text: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    with open(path, "a", encoding="utf-8") as fp:
        fp.write(f"{stamp} {text}\n")


class LogReporter:
    """One line per stage change of a host (not per progress tick), for `--log-file`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stages: dict[str, Stage] = {}

    def __call__(self, host: str, stage: Stage, detail: str) -> None:
        if self.stages.get(host) == stage:
            return
        self.stages[host] = stage
        log_line(self.path, f"{host} {stage.value} {detail}".rstrip())


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

    def report(host: str, stage: Stage, detail: str) -> None:
        for sink in sinks:
            sink(host, stage, detail)

    return report
