"""A capture across the fleet: every host prepares, then all start perf on one signal.

Each host runs its driver (host_run.py, or host_fetch.py for `fetch`) in its own task; a host's
failure is reported to the capture's record (recorder.py) and never reaches the others. `--forks` bounds how many hosts connect, transfer and collapse at once;
the start barrier is global: once every host is ready (or failed), the start signal goes to every
ready host in one synchronous loop, so hosts start within milliseconds of each other whatever
`--forks` is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..collapse.hosts import HostCollapser
from ..connection import BastionPool, Connection, open_connection
from ..connection.settings import SshSettings
from ..inventory.model import HostRecord
from .events import Reporter, quiet
from .host import CaptureSettings, HostCapture
from .host_fetch import FetchCapture
from .host_run import RunCapture
from .manifest import Manifest, host_dir
from .recorder import CaptureRecord


Connector = Callable[[HostRecord, SshSettings, BastionPool], Connection]
D = TypeVar("D", bound=HostCapture)


class StartBarrier:
    """Released once every host is either ready to start perf or has failed; on release, `go` is
    sent to every ready host (or, if the run was stopped meanwhile, `abort`)."""

    def __init__(self, parties: int, stop: asyncio.Event, record: CaptureRecord) -> None:
        self.waiting = parties
        self.ready: list[RunCapture] = []
        self.stop = stop
        self.record = record
        self.released = asyncio.Event()
        if parties == 0:
            self.released.set()

    def arrive(self, capture: RunCapture | None) -> None:
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
        # the checkpoint: written once perf has started (or failed) on every host that was told to go
        self.record.awaiting_start([c.host.name for c in self.ready if c.went])
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
    """What the hosts of one run share: the record, the settings, the stop signal, the pools."""

    record: CaptureRecord
    hosts: list[HostRecord]
    settings: CaptureSettings
    ssh: SshSettings
    forks: int
    collapser: HostCollapser
    reporter: Reporter = quiet
    rate_limit_mb_s: float | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    connector: Connector = open_connection  # tests give hosts of their own (a FakeConnection)
    # Called once every host's results are safe locally (or it failed), before the hosts'
    # answers that they cleaned up have arrived: the runner draws the reports here.
    results_ready: Callable[[], None] | None = None

    @property
    def manifest(self) -> Manifest:
        return self.record.manifest

    def captures(self, driver: type[D], bastions: BastionPool) -> list[D]:
        gate = asyncio.Semaphore(max(1, self.forks))
        made = []
        for host in self.hosts:
            conn = self.connector(host, self.ssh, bastions)
            if self.rate_limit_mb_s:
                conn.rate.rate = self.rate_limit_mb_s * 1e6
            made.append(
                driver(
                    host=host,
                    conn=conn,
                    record=self.record,
                    settings=self.settings,
                    local_dir=host_dir(self.record.folder, host.name),
                    forks=gate,
                    collapser=self.collapser,
                    report=self.reporter,
                    stop=self.stop,
                )
            )
        return made

    async def run_hosts(self, captures: list[D], work: Callable[[D], Awaitable[None]], bastions: BastionPool) -> None:
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
                if capture.result.status == "pending" and not (self.settings.detach and capture.went):
                    self.record.abandoned(capture.host.name)
            await asyncio.gather(*(c.close() for c in captures), return_exceptions=True)
            await bastions.close()
            self.record.finish(stopped=self.stop.is_set())


async def run_fleet(fleet: Fleet) -> Manifest:
    """Record on every host at once; then finish each (or, detached, leave perf running)."""
    bastions = BastionPool(fleet.ssh)
    captures = fleet.captures(RunCapture, bastions)
    barrier = StartBarrier(len(captures), fleet.stop, fleet.record)

    async def one(capture: RunCapture) -> None:
        ready = False
        try:
            ready = await capture.prepare()
        finally:
            barrier.arrive(capture if ready else None)
        await barrier.wait()
        await capture.after_go()

    await fleet.run_hosts(captures, one, bastions)
    return fleet.manifest


async def fetch_fleet(fleet: Fleet) -> Manifest:
    """Finish every host of an earlier capture whose results have not all arrived."""
    bastions = BastionPool(fleet.ssh)
    pending = set(fleet.manifest.pending_hosts)
    fleet.hosts = [h for h in fleet.hosts if h.name in pending]
    captures = fleet.captures(FetchCapture, bastions)
    await fleet.run_hosts(captures, lambda c: c.fetch(), bastions)
    return fleet.manifest
