"""A capture across the fleet: every host prepares, then all start perf on one signal.

Each host runs its stages (host.py) in its own task; a host's failure is recorded in its row and
never reaches the others. `--forks` bounds how many hosts connect, transfer and collapse at once;
the start barrier is global: once every host is ready (or failed), the start signal goes to every
ready host in one synchronous loop, so hosts start within milliseconds of each other whatever
`--forks` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..collapse.hosts import HostCollapser
from ..connection import BastionPool, Connection, open_connection
from ..connection.settings import SshSettings
from ..inventory.model import HostRecord
from ..host.targets import parse_target
from .events import Reporter, quiet
from .host import CaptureSettings, HostCapture
from .manifest import Manifest, host_dir, iso, utc_now
from .record import RecordSpec
from .session import DEFAULT_STALL_TIMEOUT_S


Connector = Callable[[HostRecord, SshSettings, BastionPool], Connection]


class StartBarrier:
    """Released once every host is either ready to start perf or has failed; on release, `go` is
    sent to every ready host (or, if the run was stopped meanwhile, `abort`)."""

    def __init__(self, parties: int, stop: asyncio.Event) -> None:
        self.waiting = parties
        self.ready: list[HostCapture] = []
        self.stop = stop
        self.released = asyncio.Event()
        if parties == 0:
            self.released.set()

    def arrive(self, capture: HostCapture | None) -> None:
        if capture is not None:
            if self.released.is_set():  # the run was stopped before this host was ready
                capture.abort()
            else:
                self.ready.append(capture)
        self.waiting -= 1
        if self.waiting <= 0:
            self.release()

    def release(self) -> None:
        if self.released.is_set():
            return
        if self.stop.is_set():
            for capture in self.ready:
                capture.abort()
        else:
            for capture in self.ready:  # one tight loop: no await between hosts
                capture.go()
        self.released.set()

    async def wait(self) -> None:
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({stopping, asyncio.ensure_future(self.released.wait())}, return_when=asyncio.FIRST_COMPLETED)
            if not self.released.is_set():
                self.release()  # Ctrl-C while hosts were still preparing: nobody starts
        finally:
            stopping.cancel()


@dataclass
class Fleet:
    """What the hosts of one run share: the folder, the manifest, the stop signal, the pools."""

    folder: Path
    manifest: Manifest
    hosts: list[HostRecord]
    ssh: SshSettings
    forks: int
    collapser: HostCollapser
    reporter: Reporter = quiet
    rate_limit_mb_s: float | None = None
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S  # a host silent this long after perf ended fails
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    connector: Connector = open_connection  # tests give hosts of their own (a FakeConnection)
    # Called once every host's results are safe locally (or it failed), before the hosts'
    # answers that they cleaned up have arrived: the runner draws the reports here.
    results_ready: Callable[[], None] | None = None

    def settings(self, keep_perf_data: bool, detach: bool = False) -> CaptureSettings:
        m = self.manifest
        return CaptureSettings(
            capture_id=m.id,
            spec=RecordSpec(m.requested_duration_s, m.frequency_hz, m.call_graph, m.max_perf_data_mb or DEFAULT_MAX_PERF_DATA_MB, m.event),
            target=parse_target(m.target),
            started_at=m.started_at,
            keep_perf_data=keep_perf_data,
            detach=detach,
            stall_timeout_s=self.stall_timeout_s,
        )

    def captures(self, settings: CaptureSettings, bastions: BastionPool) -> list[HostCapture]:
        gate = asyncio.Semaphore(max(1, self.forks))
        made = []
        for host in self.hosts:
            conn = self.connector(host, self.ssh, bastions)
            if self.rate_limit_mb_s:
                conn.rate.rate = self.rate_limit_mb_s * 1e6
            made.append(
                HostCapture(
                    host=host,
                    conn=conn,
                    row=self.manifest.hosts[host.name],
                    settings=settings,
                    local_dir=host_dir(self.folder, host.name),
                    forks=gate,
                    collapser=self.collapser,
                    report=self.reporter,
                    stop=self.stop,
                )
            )
        return made

    async def run_hosts(
        self, captures: list[HostCapture], work: Callable[[HostCapture], Awaitable[None]], bastions: BastionPool, detach: bool = False
    ) -> None:
        try:
            await asyncio.gather(*(work(c) for c in captures))
            if self.results_ready is not None:
                self.results_ready()  # while the hosts remove their folders (one round trip)
            await asyncio.gather(*(c.finish_cleaning() for c in captures))
        finally:
            for capture in captures:
                if capture.cleaning is not None and not capture.cleaning.done():
                    capture.cleaning.cancel()  # abandoned: `done` was sent, the host cleans anyway
            for capture in captures:
                if capture.row.status == "pending" and not (detach and capture.went):
                    what = "recovers what perf recorded" if capture.row.fetchable else "cannot help: nothing was recorded"
                    capture.row.fail(f"abandoned: the run was interrupted before {capture.host.name} finished (`fleetflame fetch` {what})")
            await asyncio.gather(*(c.close() for c in captures), return_exceptions=True)
            await bastions.close()
            self.manifest.ended_at = iso(utc_now())
            self.manifest.write(self.folder)


DEFAULT_MAX_PERF_DATA_MB = 2048


async def run_fleet(fleet: Fleet, keep_perf_data: bool, detach: bool) -> Manifest:
    """Record on every host at once; then finish each (or, detached, leave perf running)."""
    bastions = BastionPool(fleet.ssh)
    captures = fleet.captures(fleet.settings(keep_perf_data, detach), bastions)
    barrier = StartBarrier(len(captures), fleet.stop)

    async def one(capture: HostCapture) -> None:
        ready = False
        try:
            ready = await capture.prepare()
        finally:
            barrier.arrive(capture if ready else None)
        await barrier.wait()
        await capture.after_go()

    checkpoint = asyncio.ensure_future(_checkpoint_when_started(fleet, barrier, captures))
    try:
        await fleet.run_hosts(captures, one, bastions, detach)
    finally:
        checkpoint.cancel()
    return fleet.manifest


async def _checkpoint_when_started(fleet: Fleet, barrier: StartBarrier, captures: list[HostCapture]) -> None:
    """Save the manifest once perf runs everywhere, so `fetch` can recover a run that dies later."""
    await barrier.released.wait()
    for _ in range(600):
        if all(not c.went or c.row.perf_started_at is not None or c.row.status != "pending" for c in captures):
            break
        await asyncio.sleep(0.05)
    fleet.manifest.write(fleet.folder)


async def fetch_fleet(fleet: Fleet, keep_perf_data: bool = True) -> Manifest:
    """Finish every host of an earlier capture whose results have not all arrived."""
    bastions = BastionPool(fleet.ssh)
    pending = set(fleet.manifest.pending_hosts)
    fleet.hosts = [h for h in fleet.hosts if h.name in pending]
    captures = fleet.captures(fleet.settings(keep_perf_data), bastions)
    await fleet.run_hosts(captures, lambda c: c.fetch(), bastions)
    return fleet.manifest
