"""Run a fleet capture to the end: signals, worker processes, the capture folder and its reports.

The first Ctrl-C (or SIGTERM) stops recording on every host at once and the run goes on to fetch
and report; a second one abandons what is still in flight, keeps what already arrived, and the
run exits 130.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .capture import Manifest
from .fleet import CaptureOptions, FleetCapture, Reporter
from .hostcapture import Stage
from .inventory.model import HostRecord
from .report import build_reports

EXIT_OK, EXIT_HOST_FAILED, EXIT_BAD_INPUT, EXIT_ABANDONED = 0, 1, 2, 130


@dataclass
class RunOutcome:
    folder: Path
    manifest: Manifest
    abandoned: bool = False

    @property
    def exit_code(self) -> int:
        if self.abandoned:
            return EXIT_ABANDONED
        return EXIT_HOST_FAILED if self.manifest.failed_hosts else EXIT_OK


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def collapse_pool(hosts: int) -> Executor:
    """Where hosts are collapsed: worker processes (which leave Ctrl-C to the control process)
    when several hosts can use several cores, else one thread, which starts at no cost."""
    workers = min(hosts, os.cpu_count() or 1)
    if workers <= 1:
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_ignore_interrupts,
    )


def run_capture(
    hosts: list[HostRecord], options: CaptureOptions, reporter: Reporter | None = None
) -> RunOutcome:
    return asyncio.run(_run(hosts, options, reporter))


async def _run(hosts: list[HostRecord], options: CaptureOptions, reporter: Reporter | None) -> RunOutcome:
    loop = asyncio.get_running_loop()
    with collapse_pool(len(hosts)) as executor:
        fleet = FleetCapture(hosts, options, executor, **({"reporter": reporter} if reporter else {}))
        task = asyncio.ensure_future(fleet.run())
        interrupts = 0

        def on_signal() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1:
                fleet.stop.set()
                if reporter:
                    for host in hosts:
                        reporter(host.name, Stage.STOPPING, "interrupt: stopping perf on every host")
            else:
                task.cancel()

        handled = (signal.SIGINT, signal.SIGTERM)
        for sig in handled:
            loop.add_signal_handler(sig, on_signal)
        abandoned = False
        try:
            manifest = await task
        except asyncio.CancelledError:
            abandoned, manifest = True, fleet.manifest
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
    build_reports(fleet.folder, manifest, options.formats)
    return RunOutcome(fleet.folder, manifest, abandoned)
