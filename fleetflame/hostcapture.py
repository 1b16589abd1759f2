"""One host's part of a fleet capture, stage by stage: the same steps serve `run` and `fetch`.

    run:     connect, resolve, prepare | start barrier | start, wait, finish
    detach:  connect, resolve, prepare | start barrier | start
    fetch:   connect, wait, finish      (finish = symbolize, transfer, collapse, clean)
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import record, transfer
from .capture import PERF_SCRIPT, STACKS_FOLDED, HostResult
from .collapse_host import HostCollapser
from .connection.base import Connection, ConnectionError_, RunningCommand
from .folded import write_folded
from .inventory.model import HostRecord
from .remote import capture_dir
from .resolve import DiscoveryError, discover
from .targets import Target
from .tiles import Selection, TileError, select_tiles

if TYPE_CHECKING:
    from .fleet import StartBarrier


class Stage(str, enum.Enum):
    CONNECTING = "connecting"
    RESOLVING = "resolving"
    READY = "ready"
    RECORDING = "recording"
    STOPPING = "stopping"
    WAITING = "waiting"
    SYMBOLIZING = "symbolizing"
    TRANSFERRING = "transferring"
    COLLAPSING = "collapsing"
    DETACHED = "detached"
    DONE = "done"
    FAILED = "failed"


HOST_ERRORS = (record.RecordError, transfer.TransferError, TileError, DiscoveryError, ConnectionError_)


@dataclass
class CaptureSettings:
    """What every host of one capture shares."""

    capture_id: str
    spec: record.RecordSpec
    target: Target
    started_at: str
    keep_perf_data: bool = True
    detach: bool = False


@dataclass
class HostCapture:
    host: HostRecord
    conn: Connection
    result: HostResult
    settings: CaptureSettings
    local_dir: Path
    forks: asyncio.Semaphore
    collapser: HostCollapser
    report: Callable[[str, Stage, str], None]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    selection: Selection | None = field(default=None, init=False)

    @property
    def remote_dir(self) -> str:
        return self.result.remote_dir or capture_dir(self.host.tmpdir, self.settings.capture_id)

    def _stage(self, stage: Stage, detail: str = "") -> None:
        self.report(self.host.name, stage, detail)

    async def run(self, barrier: StartBarrier) -> None:
        """Record on this host together with the others, then (unless detached) finish."""
        arrived = False

        async def stages() -> None:
            nonlocal arrived
            async with self.forks:
                await self._timed("connect", self._connect())
                await self._timed("resolve", self._resolve())
                starter = await self._prepare()
            barrier.arrive()
            arrived = True
            await barrier.wait()
            await self._start(starter)
            if self.settings.detach:
                until = time.strftime("%H:%M:%S", time.localtime(self.result.expected_end))
                self._stage(Stage.DETACHED, f"perf records until {until}")
                return
            await self._timed("record", self._wait(self.settings.spec.duration))
            await self._finish(fresh=True)

        try:
            await self._guarded(stages())
        finally:
            if not arrived:
                barrier.arrive()

    async def fetch(self) -> None:
        """Finish a capture whose recording was started earlier (detached, or by a run that died)."""

        async def stages() -> None:
            async with self.forks:
                await self._timed("connect", self._connect())
            self._stage(Stage.WAITING, "until perf ends")
            await self._timed("record", self._wait(record.seconds_left(self.result.expected_end)))
            await self._finish()

        await self._guarded(stages())

    async def _guarded(self, stages: Awaitable[None]) -> None:
        """Run the stages; whatever goes wrong on this host ends this host only."""
        try:
            await stages
        except HOST_ERRORS as exc:
            self._fail(str(exc))
        except asyncio.TimeoutError:
            self._fail(f"{self.host.name} stopped answering (timed out)")
        except OSError as exc:
            self._fail(f"{self.host.name}: {exc}")

    def _fail(self, message: str) -> None:
        self.result.fail(message)
        self._stage(Stage.FAILED, message)

    async def _timed(self, name: str, step: Awaitable[None]) -> None:
        begin = time.monotonic()
        try:
            await step
        finally:
            key = f"{name}_s"
            self.result.timings[key] = round(self.result.timings.get(key, 0.0) + time.monotonic() - begin, 3)

    async def close(self) -> None:
        await self.conn.close()

    async def _connect(self) -> None:
        self._stage(Stage.CONNECTING, self.host.address)
        await self.conn.connect()

    async def _resolve(self) -> None:
        self._stage(Stage.RESOLVING)
        found = await discover(self.conn)
        self.result.tile_source = found.source
        self.selection = select_tiles(self.settings.target, found.tiles, found.threads, self.host.name)
        self.result.set_tiles(list(self.selection.tiles), self.selection.agave_pid)
        self.result.collapse_roots = {str(tid): root for tid, root in self.selection.roots_by_tid().items()}
        self.result.unknown_tid_root = "agave;{comm}" if self.selection.agave_pid is not None else None

    async def _prepare(self) -> RunningCommand:
        assert self.selection is not None
        spec = self.settings.spec
        self.result.expected_end = time.time() + spec.duration
        starter = await record.prepare(self.conn, self.remote_dir, spec, self.selection.perf_target_args(), self._meta())
        self._stage(Stage.READY, ", ".join(self.selection.names))
        return starter

    def _meta(self) -> str:
        """The host keeps what `fetch` needs to finish this capture without the control machine's record."""
        meta: dict[str, Any] = {
            "id": self.settings.capture_id,
            "host": self.host.name,
            "target": self.settings.target.text,
            "capture_started_at": self.settings.started_at,
            "duration_s": self.settings.spec.duration,
            "frequency_hz": self.settings.spec.frequency,
            "call_graph": self.settings.spec.call_graph,
            "remote_dir": self.remote_dir,
            "expected_end": self.result.expected_end,
            "tiles": self.result.tiles,
            "tile_source": self.result.tile_source,
            "collapse_roots": self.result.collapse_roots,
            "unknown_tid_root": self.result.unknown_tid_root,
        }
        return json.dumps(meta, separators=(",", ":"))

    async def _start(self, starter: RunningCommand) -> None:
        if self.stop.is_set():
            starter.kill()
            raise record.RecordError("stopped before recording started")
        self.result.remote_dir = self.remote_dir
        self.result.perf_started_at = await record.start(starter, self.host.name)
        self.result.expected_end = self.result.perf_started_at + self.settings.spec.duration
        self._stage(Stage.RECORDING, f"until {time.time() + self.settings.spec.duration:.3f}")

    async def _wait(self, seconds: float) -> None:
        await record.wait(
            self.conn, self.remote_dir, self.result, self.stop, seconds, on_stop=lambda: self._stage(Stage.STOPPING)
        )

    async def _finish(self, fresh: bool = False) -> None:
        async with self.forks:
            await self._timed("transfer", self._transfer(fresh))
        # The host's folder is removed while we collapse: both are waits of a different kind.
        cleaning = asyncio.ensure_future(transfer.clean(self.conn, self.remote_dir))
        try:
            await self._timed("collapse", self._collapse())
        finally:
            error = await cleaning
        self.result.succeed()
        self.result.error = error
        self._stage(Stage.DONE, f"{self.result.samples} samples")

    async def _transfer(self, fresh: bool) -> None:
        def progress(detail: str) -> None:
            stage = Stage.SYMBOLIZING if detail.startswith(("symbolizing", "waiting")) else Stage.TRANSFERRING
            self._stage(stage, detail)

        await transfer.pull_results(
            self.conn, self.remote_dir, self.local_dir, self.result, progress, self.settings.keep_perf_data, fresh
        )

    async def _collapse(self) -> None:
        self._stage(Stage.COLLAPSING)
        roots = {int(tid): root for tid, root in self.result.collapse_roots.items()}
        stacks = await self.collapser.collapse(self.local_dir / PERF_SCRIPT, roots, self.result.unknown_tid_root)
        write_folded(stacks, self.local_dir / STACKS_FOLDED)
        self.result.samples = sum(stacks.values())
