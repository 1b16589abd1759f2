"""`fleetflame demo`: the whole pipeline on this machine, against the stand-in validator."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from rich.console import Console

from . import folded
from .capture import FLEET_FOLDED
from .capture.runner import CaptureOptions
from .host.targets import parse_target

DEMO_INVENTORY = """\
# Written by `fleetflame demo`: this machine, reached without SSH.
all:
  hosts:
    localhost:
      ansible_connection: local
      fleetflame_metrics_url: http://127.0.0.1:{port}/metrics
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(duration: float, out_dir: Path, out: Console, err: Console) -> int:
    from .inventory import load_inventories, select
    from .capture.runner import run_capture
    from .standin import build_standin, run_standin

    err.print("building the stand-in validator (C, frame pointers)…")
    binary = build_standin()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fleetflame-demo-") as tmp:
        inventory = Path(tmp) / "demo.yml"
        inventory.write_text(DEMO_INVENTORY.format(port=port), encoding="utf-8")
        hosts = select(load_inventories([inventory]), "all").hosts
        options = CaptureOptions(target=parse_target("all"), duration=duration, out=out_dir, inventories=[str(inventory)])
        # The production layout: every tile but the Agave-side ones a sandboxed process.
        with run_standin(binary, metrics=f"127.0.0.1:{port}") as standin:
            err.print(f"stand-in validator running (pid {standin.pid}, metrics {standin.metrics_url})")
            err.print(f"recording every tile for {duration:g} s with perf…")
            outcome = run_capture(list(hosts), options)
    manifest = outcome.manifest
    host = manifest.hosts["localhost"]
    if host.status != "ok":
        err.print(f"[bold red]error:[/] {host.error}", highlight=False)
        return outcome.exit_code
    tiles = ", ".join(t["name"] for t in host.tiles)
    out.print(f"captured {host.samples} samples from {len(host.tiles)} tiles ({tiles})", highlight=False)
    stacks = folded.read_folded(outcome.folder / FLEET_FOLDED)
    out.print(f"samples with a function name: {100 * (1 - folded.unnamed_share(stacks)):.1f} %", highlight=False)
    out.print(f"capture folder: {outcome.folder.resolve()}", highlight=False)
    out.print(f"flamegraph: {(outcome.folder / 'flamegraph.html').resolve()}", highlight=False)
    return outcome.exit_code
