"""What the operator sees: a live line per host while the fleet works, then a recap."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .capture import Manifest
from .hostcapture import Stage

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


def recap_json(manifest: Manifest, folder: str, exit_code: int) -> str:
    return json.dumps(
        {
            "capture": manifest.id,
            "folder": folder,
            "target": manifest.target,
            "exit_code": exit_code,
            "samples": manifest.total_samples,
            "hosts": recap_rows(manifest),
        },
        indent=2,
    )
