"""A capture across the fleet: every host connects and resolves, then all start perf together.

Each host runs the same stages (connect, resolve, prepare | start | wait, symbolize, transfer,
collapse) in its own task; a host's failure is recorded in its HostResult and never reaches the
others. `--forks` bounds how many hosts connect, symbolize and transfer at once, while the
start barrier makes perf begin on every ready host at the same moment.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from .capture import HostResult, Manifest, host_dir, iso, new_capture_id, utc_now
from .connection import open_connection
from .connection.base import Connection
from .connection.ssh import BastionPool, SshSettings
from .hostcapture import HostCapture, Stage
from .inventory.model import HostRecord
from .targets import Target

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
class FleetCapture:
    """Shared state of one capture run; `run()` returns the finished manifest."""

    hosts: list[HostRecord]
    options: CaptureOptions
    executor: Executor
    reporter: Reporter = _quiet
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    folder: Path = field(init=False)
    manifest: Manifest = field(init=False)

    def __post_init__(self) -> None:
        started = utc_now()
        self.options.out.mkdir(parents=True, exist_ok=True)
        capture_id = new_capture_id(self.options.target.slug, started, self.options.out)
        self.folder = self.options.out / capture_id
        self.folder.mkdir()
        self.manifest = Manifest(
            id=capture_id,
            target=self.options.target.text,
            started_at=iso(started),
            duration_s=self.options.duration,
            frequency_hz=self.options.frequency,
            call_graph=self.options.call_graph,
            inventories=list(self.options.inventories),
            limit=self.options.limit,
            hosts={h.name: HostResult(address=h.address) for h in self.hosts},
        )
        self.manifest.write(self.folder)

    async def run(self) -> Manifest:
        forks = asyncio.Semaphore(max(1, self.options.forks))
        barrier = StartBarrier(len(self.hosts))
        bastions = BastionPool(self.options.ssh)
        captures = [
            HostCapture(
                host=host,
                conn=open_connection(host, self.options.ssh, bastions),
                result=self.manifest.hosts[host.name],
                options=self.options,
                capture_id=self.manifest.id,
                meta=self._meta(host),
                local_dir=host_dir(self.folder, host.name),
                forks=forks,
                barrier=barrier,
                stop=self.stop,
                executor=self.executor,
                report=self.reporter,
            )
            for host in self.hosts
        ]
        try:
            await asyncio.gather(*(c.run() for c in captures))
        finally:
            for capture in captures:
                if capture.result.status == "pending":
                    capture.result.fail("abandoned: the run was interrupted before this host finished")
            await asyncio.gather(*(c.close() for c in captures), return_exceptions=True)
            await bastions.close()
            self.manifest.ended_at = iso(utc_now())
            self.manifest.write(self.folder)
        return self.manifest

    def _meta(self, host: HostRecord) -> str:
        """What the host keeps in meta.json, so `fetch` can find and finish the capture later."""
        return json.dumps(
            {
                "id": self.manifest.id,
                "host": host.name,
                "target": self.manifest.target,
                "duration_s": self.options.duration,
                "frequency_hz": self.options.frequency,
                "call_graph": self.options.call_graph,
                "started_at": self.manifest.started_at,
                "expected_end": time.time() + self.options.duration,
            },
            separators=(",", ":"),
        )


__all__ = ["CaptureOptions", "FleetCapture", "Reporter", "Stage", "Connection"]
