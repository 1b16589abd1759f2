"""Run a fleet capture (or a fetch) to the end: signals, the capture folder and its reports.

The first Ctrl-C (or SIGTERM) stops recording on every host at once and the run goes on to fetch
and report; a second one abandons what is still in flight, keeps what already arrived, and the
run exits 130.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from .capture import Manifest
from .collapse_host import HostCollapser
from .connection.settings import SshSettings
from .fleet import CaptureOptions, Fleet, Reporter, fetch_fleet, new_fleet_capture, run_fleet
from .inventory.model import HostRecord
from .report import build_reports

EXIT_OK, EXIT_HOST_FAILED, EXIT_BAD_INPUT, EXIT_ABANDONED = 0, 1, 2, 130


@dataclass
class RunOutcome:
    folder: Path
    manifest: Manifest
    abandoned: bool = False
    detached: bool = False

    @property
    def exit_code(self) -> int:
        if self.abandoned:
            return EXIT_ABANDONED
        return EXIT_HOST_FAILED if self.manifest.failed_hosts and not self.detached else EXIT_OK


async def _interruptible(fleet: Fleet, work: Awaitable[Manifest]) -> bool:
    """Await the fleet's work with Ctrl-C / SIGTERM handling; True if abandoned."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    interrupts = 0

    def on_signal() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            fleet.stop.set()
        else:
            task.cancel()

    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, on_signal)
    try:
        await task
        return False
    except asyncio.CancelledError:
        return True
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _with_fleet(make: Callable[[HostCollapser], Fleet], work: Callable[[Fleet], Awaitable[Manifest]]) -> tuple[Fleet, bool]:
    collapser = HostCollapser()
    try:
        fleet = make(collapser)
        abandoned = await _interruptible(fleet, work(fleet))
    finally:
        collapser.close()
    return fleet, abandoned


def run_capture(hosts: list[HostRecord], options: CaptureOptions, reporter: Reporter | None = None) -> RunOutcome:
    fleet, abandoned = asyncio.run(
        _with_fleet(lambda c: new_fleet_capture(hosts, options, c, reporter), lambda f: run_fleet(f, options))
    )
    if not options.detach:
        build_reports(fleet.folder, fleet.manifest, options.formats)
    return RunOutcome(fleet.folder, fleet.manifest, abandoned, options.detach)


def fetch_capture(
    folder: Path,
    manifest: Manifest,
    hosts: list[HostRecord],
    ssh: SshSettings,
    forks: int = 50,
    formats: tuple[str, ...] = ("svg", "html"),
    reporter: Reporter | None = None,
    keep_perf_data: bool = True,
    rate_limit_mb_s: float | None = None,
) -> RunOutcome:
    def make(collapser: HostCollapser) -> Fleet:
        fleet = Fleet(folder, manifest, hosts, ssh, forks, collapser, rate_limit_mb_s=rate_limit_mb_s)
        if reporter:
            fleet.reporter = reporter
        return fleet

    fleet, abandoned = asyncio.run(_with_fleet(make, lambda f: fetch_fleet(f, keep_perf_data)))
    build_reports(folder, fleet.manifest, formats)
    return RunOutcome(folder, fleet.manifest, abandoned)
