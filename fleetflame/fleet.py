"""A capture across the fleet: every host connects and resolves, then all start perf together.

Each host runs its stages (see hostcapture) in its own task; a host's failure is recorded in its
HostResult and never reaches the others. `--forks` bounds how many hosts connect, symbolize and
transfer at once, while the start barrier makes perf begin on every ready host at one moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from .capture import HostResult, Manifest, host_dir, iso, new_capture_id, utc_now
from .collapse_host import HostCollapser
from .connection import BastionPool, open_connection
from .connection.settings import SshSettings
from .hostcapture import CaptureSettings, HostCapture, Stage
from .inventory.model import HostRecord
from .record import RecordSpec
from .targets import Target, parse_target

Reporter = Callable[[str, Stage, str], None]


def _quiet(host: str, stage: Stage, detail: str) -> None:
    return None


@dataclass
class CaptureOptions:
    target: Target
    duration: float = 30.0
    frequency: int = 99
    call_graph: str = "fp"
    forks: int = 50
    out: Path = Path("captures")
    formats: tuple[str, ...] = ("svg", "html")
    keep_perf_data: bool = True
    detach: bool = False
    rate_limit_mb_s: float | None = None
    ssh: SshSettings = field(default_factory=SshSettings)
    inventories: list[str] = field(default_factory=list)
    limit: str | None = None


class StartBarrier:
    """Released once every host is either ready to start perf or has failed."""

    def __init__(self, parties: int) -> None:
        self.waiting = parties
        self.released = asyncio.Event()
        if parties == 0:
            self.released.set()

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.released.set()

    async def wait(self) -> None:
        await self.released.wait()


@dataclass
class Fleet:
    """What the hosts of one run share: the folder, the manifest, the stop signal, the pools."""

    folder: Path
    manifest: Manifest
    hosts: list[HostRecord]
    ssh: SshSettings
    forks: int
    collapser: HostCollapser
    reporter: Reporter = _quiet
    rate_limit_mb_s: float | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def captures(self, settings: CaptureSettings, bastions: BastionPool) -> list[HostCapture]:
        gate = asyncio.Semaphore(max(1, self.forks))
        made = []
        for host in self.hosts:
            conn = open_connection(host, self.ssh, bastions)
            if self.rate_limit_mb_s:
                conn.rate.rate = self.rate_limit_mb_s * 1e6
            made.append(
                HostCapture(
                    host=host,
                    conn=conn,
                    result=self.manifest.hosts[host.name],
                    settings=settings,
                    local_dir=host_dir(self.folder, host.name),
                    forks=gate,
                    collapser=self.collapser,
                    report=self.reporter,
                    stop=self.stop,
                )
            )
        return made

    def settings(self, keep_perf_data: bool, detach: bool = False) -> CaptureSettings:
        m = self.manifest
        return CaptureSettings(
            capture_id=m.id,
            spec=RecordSpec(m.duration_s, m.frequency_hz, m.call_graph),
            target=parse_target(m.target),
            started_at=m.started_at,
            keep_perf_data=keep_perf_data,
            detach=detach,
        )

    async def run_hosts(self, captures: list[HostCapture], work: Callable[[HostCapture], Awaitable[None]], bastions: BastionPool) -> None:
        try:
            await asyncio.gather(*(work(c) for c in captures))
        finally:
            for capture in captures:
                if capture.result.status == "pending" and not capture.settings.detach:
                    capture.result.fail("abandoned: the run was interrupted before this host finished")
            await asyncio.gather(*(c.close() for c in captures), return_exceptions=True)
            await bastions.close()
            self.manifest.ended_at = iso(utc_now())
            self.manifest.write(self.folder)


def new_fleet_capture(hosts: list[HostRecord], options: CaptureOptions, collapser: HostCollapser, reporter: Reporter | None = None) -> Fleet:
    """Create the capture folder and its manifest, every host pending."""
    started = utc_now()
    options.out.mkdir(parents=True, exist_ok=True)
    capture_id = new_capture_id(options.target.slug, started, options.out)
    folder = options.out / capture_id
    folder.mkdir()
    manifest = Manifest(
        id=capture_id,
        target=options.target.text,
        started_at=iso(started),
        duration_s=options.duration,
        frequency_hz=options.frequency,
        call_graph=options.call_graph,
        inventories=list(options.inventories),
        limit=options.limit,
        hosts={h.name: HostResult(address=h.address) for h in hosts},
    )
    manifest.write(folder)
    return Fleet(folder, manifest, hosts, options.ssh, options.forks, collapser, reporter or _quiet, options.rate_limit_mb_s)


async def run_fleet(fleet: Fleet, options: CaptureOptions) -> Manifest:
    """Record on every host at once; then finish each (or, detached, leave perf running)."""
    bastions = BastionPool(fleet.ssh)
    captures = fleet.captures(fleet.settings(options.keep_perf_data, options.detach), bastions)
    barrier = StartBarrier(len(captures))
    checkpoint = asyncio.ensure_future(_checkpoint_when_started(fleet, barrier))
    try:
        await fleet.run_hosts(captures, lambda c: c.run(barrier), bastions)
    finally:
        checkpoint.cancel()
    return fleet.manifest


async def _checkpoint_when_started(fleet: Fleet, barrier: StartBarrier) -> None:
    """Save the manifest once perf runs everywhere, so `fetch` can recover a run that dies later."""
    await barrier.wait()
    for _ in range(600):
        if all(h.status != "pending" or h.perf_started_at is not None for h in fleet.manifest.hosts.values()):
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
