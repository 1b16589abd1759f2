"""`fleetflame demo`: the whole pipeline on this machine, against a small fleet of stand-in
validators, so that the fleet question shows: one of them takes a slow path, and skew finds it.

Each stand-in runs in the production layout (sandboxed tile processes, the Agave process) with
its own metrics port, and each is an inventory host reached with `ansible_connection: local`:
no SSH, one command.
"""

from __future__ import annotations

import socket
import tempfile
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console

from . import folded
from .capture import FLEET_FOLDED
from .capture.runner import CaptureOptions
from .host.targets import parse_target

DEMO_HOSTS = ("val01", "val02", "val03")
SLOW_HOST = "val02"  # its verify tiles also run fd_slow_path_retry (standin --extra-path verify)
SLOW_KIND = "verify"
# Three validators share this machine's cores: light tiles (1 % of a core each) and busier
# verify tiles (two a host, 15 %), sampled at 999 Hz, so that each host's verify tiles have the
# samples skew needs (100 per host and tile) within a few seconds.
LOAD_PERCENT = 1.0
BUSY = f"{SLOW_KIND}:15"
TILES = {"netlnk": 1, "net": 1, "quic": 1, "verify": 2, "dedup": 1, "resolh": 1, "pack": 1, "bank": 2, "pohh": 1,
         "shred": 1, "store": 1, "sign": 1, "metric": 1, "diag": 1, "plugin": 1, "guih": 1}
FREQUENCY_HZ = 999
HOST_ENTRY = """\
    {name}:
      ansible_connection: local
      fleetflame_metrics_url: http://127.0.0.1:{port}/metrics
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_inventory(ports: dict[str, int]) -> str:
    hosts = "".join(HOST_ENTRY.format(name=name, port=port) for name, port in ports.items())
    return f"# Written by `fleetflame demo`: stand-in validators on this machine, reached without SSH.\nall:\n  hosts:\n{hosts}"


def run_demo(duration: float, out_dir: Path, out: Console, err: Console) -> int:
    from .analysis.skew import read_skew_json
    from .api import run_capture
    from .cli.skew_cmds import print_skew_summary
    from .inventory import load_inventories, select
    from .standin import build_standin, run_standin

    err.print("building the stand-in validator (C, frame pointers)…")
    binary = build_standin()
    ports = {name: free_port() for name in DEMO_HOSTS}
    with tempfile.TemporaryDirectory(prefix="fleetflame-demo-") as tmp, ExitStack() as validators:
        inventory = Path(tmp) / "demo.yml"
        inventory.write_text(demo_inventory(ports), encoding="utf-8")
        hosts = select(load_inventories([inventory]), "all").hosts
        options = CaptureOptions(target=parse_target("all"), duration=duration, frequency=FREQUENCY_HZ,
                                 out=out_dir, inventories=[str(inventory)])
        for name, port in ports.items():
            standin = validators.enter_context(run_standin(
                binary, metrics=f"127.0.0.1:{port}", load=LOAD_PERCENT, tiles=TILES,
                extra_path=SLOW_KIND if name == SLOW_HOST else None, extra_args=["--busy", BUSY],
            ))
            err.print(f"{name}: stand-in validator running (pid {standin.pid}, metrics {standin.metrics_url})"
                      + (f"; its {SLOW_KIND} tiles take a slow path" if name == SLOW_HOST else ""))
        err.print(f"recording every tile of {len(ports)} hosts for {duration:g} s with perf…")
        outcome = run_capture(list(hosts), options)
    manifest = outcome.manifest
    for name, host in manifest.hosts.items():
        if host.status != "ok":
            err.print(f"[bold red]error:[/] {name}: {host.error}", highlight=False)
    if not manifest.ok_hosts:
        return outcome.exit_code
    tiles = {t["name"] for host in manifest.hosts.values() for t in host.tiles}
    out.print(f"captured {manifest.total_samples} samples from {len(manifest.ok_hosts)} hosts, "
              f"{len(tiles)} tiles each", highlight=False)
    stacks = folded.read_folded(outcome.folder / FLEET_FOLDED)
    out.print(f"samples with a function name: {100 * (1 - folded.unnamed_share(stacks)):.1f} %", highlight=False)
    print_skew_summary(outcome.folder)
    report = read_skew_json(outcome.folder)
    grown = [f for f in (report.findings if report else []) if f.difference > 0]
    if grown:
        out.print(f"{grown[0].host}'s {grown[0].tile} against the rest, in the viewer: "
                  f"file://{outcome.folder.resolve()}/{grown[0].view}", highlight=False, soft_wrap=True)
    out.print(f"capture folder: {outcome.folder.resolve()}", highlight=False)
    out.print(f"flamegraph: {(outcome.folder / 'flamegraph.html').resolve()}", highlight=False)
    return outcome.exit_code
