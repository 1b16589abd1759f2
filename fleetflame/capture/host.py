"""One host's part of a fleet capture: what a run and a fetch share (the results stage, failures).

    run:     connect, prepare + metrics, resolve, meta | start barrier: go | started, wait, results
             (host_run.RunCapture)
    detach:  ... | go | started                                   (perf goes on; `fetch` finishes)
    fetch:   connect, attach, wait, results                       (host_fetch.FetchCapture)
    results: receive (verified), collapse, then `done`: only now the host removes its folder
             (its answer is awaited by finish_cleaning, once the fleet's reports are drawn)

Each stage returns what it learned (record.PerfEnd, transfer.Pulled, stacks.Collapsed...); the
driver reports it to the capture's record (recorder.CaptureRecord), the one owner of the
manifest. `fail_host` is the one place that decides how an exception fails a host: every
expected failure is a HostError; anything else is a bug, and still fails this host only.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..collapse.hosts import HostCollapser
from ..connection.base import Connection
from ..errors import HostError
from ..host.targets import Target
from ..inventory.model import HostRecord
from . import record, transfer
from .defaults import MAX_PERF_DATA_MB
from .events import Event, Reporter, Stage
from .failure import describe_failure
from .files import private_dir
from .manifest import HostResult, Manifest
from .record import PerfEnd, PerfFailed, RecordSpec
from .recorder import CaptureRecord
from .session import DEFAULT_STALL_TIMEOUT_S, Session
from .stacks import collapse_results

T = TypeVar("T")
CLEAN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class CaptureSettings:
    """What every host of one capture shares."""

    capture_id: str
    spec: RecordSpec
    target: Target
    started_at: str
    keep_perf_data: bool = True
    detach: bool = False
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S  # a host silent this long after perf ended fails

    @classmethod
    def of_manifest(cls, manifest: Manifest, target: Target, keep_perf_data: bool = True,
                    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S, max_perf_data_mb: int | None = None) -> CaptureSettings:
        """An earlier capture's settings, for `fetch` (its target parsed once by the caller);
        `max_perf_data_mb` bounds what a host may send instead of the capture's own value (perf
        has ended: it no longer bounds recording)."""
        m = manifest
        max_mb = max_perf_data_mb or m.max_perf_data_mb or MAX_PERF_DATA_MB
        return cls(
            capture_id=m.id,
            spec=RecordSpec(m.requested_duration_s, m.frequency_hz, m.call_graph, max_mb, m.event),
            target=target,
            started_at=m.started_at,
            keep_perf_data=keep_perf_data,
            stall_timeout_s=stall_timeout_s,
        )


@dataclass
class HostCapture:
    """What a host's run driver and fetch driver share: reporting, perf's end, the results."""

    host: HostRecord
    conn: Connection
    record: CaptureRecord
    settings: CaptureSettings
    local_dir: Path
    forks: asyncio.Semaphore
    collapser: HostCollapser
    report: Reporter
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stage: Stage = field(default=Stage.CONNECTING, init=False)
    went: bool = field(default=False, init=False)  # the start signal went out (a run's host)
    go_sent_at: float = field(default=0.0, init=False)  # this machine's clock just before it went
    cleaning: asyncio.Future[None] | None = field(default=None, init=False)

    @property
    def result(self) -> HostResult:
        """This host's row of the manifest, to read (the record changes it)."""
        return self.record.row(self.host.name)

    def _event(self, stage: Stage, detail: str = "", **fields: float | int | None) -> None:
        self.stage = stage
        self.report(Event(self.host.name, stage, detail, **fields))  # type: ignore[arg-type]

    async def _timed(self, name: str, step: Awaitable[T]) -> T:
        begin = time.monotonic()
        try:
            return await step
        finally:
            self.record.timed(self.host.name, name, time.monotonic() - begin)

    async def _connect(self) -> None:
        self._event(Stage.CONNECTING, self.host.address)
        await self._timed("connect", self.conn.connect())

    async def _wait_end(self, session: Session, wait_s: float) -> PerfEnd:
        session.stall_timeout = self.settings.stall_timeout_s  # counts from perf's `ended` on
        try:
            end = await record.wait_end(session, self.host, self.stop, wait_s, on_stop=lambda: self._event(Stage.STOPPING))
        except PerfFailed as failed:
            self._perf_ended(failed.end)
            await self._expect_cleaned(session)
            raise
        self._perf_ended(end)
        return end

    def _perf_ended(self, end: PerfEnd) -> None:
        self.record.perf_ended(self.host.name, end, self.settings.spec.duration, self.stop.is_set())

    async def _results(self, session: Session, offsets: dict[str, int] | None = None) -> None:
        """Receive, verify, collapse; only then let the host remove its folder."""
        private_dir(self.local_dir)
        pulled = transfer.Pulled()
        complete = False
        try:
            async with self.forks:
                await self._timed("transfer", transfer.receive(
                    session, self.local_dir, self.conn.rate, self._progress, offsets, pulled, max_perf_data_mb=self.settings.spec.max_size_mb
                ))
            complete = True
        finally:
            self.record.transferred(self.host.name, pulled, complete)
        self._event(Stage.COLLAPSING)
        row = self.result
        collapsed = await self._timed("collapse", collapse_results(self.collapser, self.local_dir, row.collapse_roots, row.unknown_tid_root))
        self.record.collapsed(self.host.name, collapsed.samples)
        self._event(Stage.CLEANING)
        session.send("done")
        # The results are safe: the host's answer that its folder is gone is awaited later
        # (finish_cleaning), so that the fleet's reports are drawn during that round trip.
        self.cleaning = asyncio.ensure_future(self._timed("clean", self._cleaned_then_close(session, collapsed.samples)))

    async def _cleaned_then_close(self, session: Session, samples: int) -> None:
        try:
            await self._expect_cleaned(session)
        finally:
            session.close()
        self._event(Stage.DONE, f"{samples} samples")

    async def finish_cleaning(self) -> None:
        """Wait for the host to confirm that it removed its folder (the row says `cleaned`)."""
        if self.cleaning is not None:
            await self.cleaning

    async def _expect_cleaned(self, session: Session) -> None:
        try:
            await session.expect("cleaned", timeout=CLEAN_TIMEOUT_S)
            self.record.cleaned(self.host.name)
        except (HostError, asyncio.TimeoutError) as exc:
            self.record.warned(self.host.name, f"could not confirm that {self.result.remote_dir} was removed from {self.host.name}: {exc or 'timed out'}")

    def _progress(self, name: str, so_far: int, total: int | None) -> None:
        if total is None:
            self._event(Stage.SYMBOLIZING, f"symbolizing, {so_far / 1e6:.1f} MB", done_bytes=so_far)
        else:
            self._event(Stage.TRANSFERRING, f"{name} {so_far / 1e6:.1f}/{total / 1e6:.1f} MB", done_bytes=so_far, total_bytes=total)

    def fail_host(self, exc: BaseException, forget_remote: bool = False) -> None:
        """The one place that turns an exception into this host's failure."""
        message = describe_failure(exc, self.host, self.stage, self.result, self.settings.capture_id)
        detail = None
        if not isinstance(exc, (HostError, asyncio.TimeoutError, OSError)):
            detail = "".join(traceback.format_exception(exc))[-8000:]
        self.record.failed(self.host.name, message, detail, forget_remote)
        self._event(Stage.FAILED, message)

    async def close(self) -> None:
        await self.conn.close()
