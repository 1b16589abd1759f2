"""One host's part of a fleet capture, stage by stage. The only writer of the host's manifest row.

    run:     connect, prepare + metrics, resolve, meta | start barrier: go | started, wait, results
    detach:  ... | go | started                                   (perf goes on; `fetch` finishes)
    fetch:   connect, attach, wait, results
    results: receive (verified), collapse, then `done`: only now the host removes its folder
             (its answer is awaited by finish_cleaning, once the fleet's reports are drawn)

Each stage returns what it learned (record.PerfEnd, transfer.Pulled, collapse.Collapsed...);
this module puts it in the row. `fail_host` is the one place that decides how an exception
fails a host: every expected failure is a HostError; anything else is a bug, and still fails
this host only.
"""

from __future__ import annotations

import asyncio
import errno
import time
import traceback
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..collapse.hosts import HostCollapser
from ..connection.base import Connection, LinkLost
from ..errors import HostError
from ..inventory.model import HostRecord
from ..host.targets import Target
from ..host.tiles import Selection
from . import record, transfer
from .stacks import collapse_results
from .events import Event, Reporter, Stage
from .files import private_dir
from .manifest import AGAVE_THREADS_ROOT, PERF_DATA, PERF_SCRIPT, HostMeta, HostResult
from .record import PerfEnd, PerfFailed, Prepared, RecordSpec
from ..host.resolve import read_metrics, resolve
from .scripts import Exit
from .session import DEFAULT_STALL_TIMEOUT_S, Session, SessionFailed, Stalled, open_attach

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


@dataclass
class HostCapture:
    host: HostRecord
    conn: Connection
    row: HostResult
    settings: CaptureSettings
    local_dir: Path
    forks: asyncio.Semaphore
    collapser: HostCollapser
    report: Reporter
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    prepared: Prepared | None = field(default=None, init=False)
    selection: Selection | None = field(default=None, init=False)
    stage: Stage = field(default=Stage.CONNECTING, init=False)
    went: bool = field(default=False, init=False)
    cleaning: asyncio.Future[None] | None = field(default=None, init=False)

    # ---- reporting -----------------------------------------------------------------------

    def _event(self, stage: Stage, detail: str = "", **fields: float | int | None) -> None:
        self.stage = stage
        self.report(Event(self.host.name, stage, detail, **fields))  # type: ignore[arg-type]

    async def _timed(self, name: str, step: Awaitable[T]) -> T:
        begin = time.monotonic()
        try:
            return await step
        finally:
            key = f"{name}_s"
            self.row.timings[key] = round(self.row.timings.get(key, 0.0) + time.monotonic() - begin, 3)

    # ---- run ------------------------------------------------------------------------------

    async def prepare(self) -> bool:
        """Connect, open the session, resolve the tiles, send meta: True when ready for `go`."""
        try:
            async with self.forks:
                self._event(Stage.CONNECTING, self.host.address)
                await self._timed("connect", self.conn.connect())
                self._event(Stage.RESOLVING)
                await self._timed("resolve", self._prepare_and_resolve())
            if self.stop.is_set():
                raise record.RecordError("stopped before recording started")
            self._event(Stage.READY, ", ".join(self.selection.names) if self.selection else "")
            return True
        except BaseException as exc:
            self._drop_prepared()
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.fail_host(exc)
            return False

    def _drop_prepared(self) -> None:
        """Tell a session that has not started perf to give up: it removes its folder, and its end
        is awaited with the other hosts' cleaning (finish_cleaning), so that nothing is left behind."""
        if self.prepared is None:
            return
        session, self.prepared = self.prepared.session, None
        self.cleaning = asyncio.ensure_future(record.abort_session(session))

    async def _prepare_and_resolve(self) -> None:
        settings = self.settings
        metrics_read = asyncio.ensure_future(read_metrics(self.conn))
        try:
            self.prepared = await record.prepare(self.conn, settings.capture_id, settings.spec)
        finally:
            metrics = await metrics_read
        resolved = resolve(settings.target, metrics, self.prepared.threads, self.host.name)
        self.selection = resolved.selection
        self.row.tile_source = resolved.source
        self.row.skipped_tiles = [s.to_json() for s in resolved.selection.skipped]
        self.row.warnings += resolved.notes
        self.row.set_tiles(list(resolved.selection.tiles), resolved.selection.agave_pid)
        self.row.collapse_roots = {str(tid): root for tid, root in resolved.selection.roots_by_tid().items()}
        self.row.unknown_tid_root = AGAVE_THREADS_ROOT if resolved.selection.agave_pid is not None else None
        self.row.remote_dir = self.prepared.remote_dir
        self.row.expected_end = time.time() + settings.spec.duration  # refined once perf starts
        record.send_meta(self.prepared, self._meta())

    def _meta(self) -> HostMeta:
        s = self.settings
        return HostMeta(
            id=s.capture_id,
            host=self.host.name,
            target=s.target.text,
            capture_started_at=s.started_at,
            requested_duration_s=s.spec.duration,
            frequency_hz=s.spec.frequency,
            call_graph=s.spec.call_graph,
            event=s.spec.event,
            expected_end=self.row.expected_end,
            tiles=self.row.tiles,
            tile_source=self.row.tile_source,
            collapse_roots=self.row.collapse_roots,
            unknown_tid_root=self.row.unknown_tid_root,
            want_perf_data=s.keep_perf_data,
        )

    def go(self) -> None:
        """The start signal (called for every ready host in one loop, see fleet.StartBarrier)."""
        assert self.prepared is not None and self.selection is not None
        how = "detach" if self.settings.detach else ("run" if self.settings.keep_perf_data else "nodata")
        try:
            self.row.start_signal_at = record.send_go(self.prepared, self.selection, how)
        except HostError:
            pass  # the session has ended already; after_go reads why (e.g. no space for meta.json)
        self.went = True

    def abort(self) -> None:
        """Stopped before the start: the host removes its folder (nothing was recorded)."""
        self._drop_prepared()
        if self.row.status == "pending":
            self.row.remote_dir = None
            self.fail_host(record.RecordError("stopped before recording started"))

    async def after_go(self) -> None:
        """Once the start signal is out: perf's start, its end, the results."""
        if not self.went or self.prepared is None:
            return
        prepared = self.prepared
        try:
            started = await record.started(prepared)
            self.row.perf_started_at = started.at
            self.row.expected_end = started.at + self.settings.spec.duration
            until = time.time() + self.settings.spec.duration
            if self.settings.detach:
                self._event(Stage.DETACHED, "perf records until " + time.strftime("%H:%M:%S", time.localtime(until)), until=until)
                prepared.session.close()
                return
            self._event(Stage.RECORDING, until=until)
            end = await self._timed("record", self._wait_end(prepared.session, self.settings.spec.duration))
            await self._results(prepared.session, end)
        except BaseException as exc:
            prepared.session.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.fail_host(exc)

    # ---- fetch ------------------------------------------------------------------------------

    async def fetch(self) -> None:
        """Finish a capture whose recording was started earlier (detached, or by a run that died)."""
        session: Session | None = None
        try:
            async with self.forks:
                self._event(Stage.CONNECTING, self.host.address)
                await self._timed("connect", self.conn.connect())
            private_dir(self.local_dir)
            offsets = transfer.resume_offsets(self.local_dir)
            left = 0.0 if self.row.expected_end is None else max(0.0, self.row.expected_end - time.time())
            assert self.row.remote_dir is not None
            session = await open_attach(
                self.conn,
                self.row.remote_dir,
                self.settings.keep_perf_data,
                offsets[PERF_SCRIPT],
                offsets[PERF_DATA],
                int(left + record.GRACE_S),
            )
            self._event(Stage.WAITING, "until perf ends")
            end = await self._timed("record", self._wait_end(session, left))
            await self._results(session, end, offsets)
        except BaseException as exc:
            if session is not None:
                session.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            if isinstance(exc, SessionFailed) and exc.code == Exit.GONE:
                self.row.cleaned = True  # nothing left there to fetch
            self.fail_host(exc)

    # ---- shared ------------------------------------------------------------------------------

    async def _wait_end(self, session: Session, wait_s: float) -> PerfEnd:
        session.stall_timeout = self.settings.stall_timeout_s  # counts from perf's `ended` on
        try:
            end = await record.wait_end(session, self.host, self.stop, wait_s, on_stop=lambda: self._event(Stage.STOPPING))
        except PerfFailed as failed:
            self._record_end(failed.end)
            await self._expect_cleaned(session)
            raise
        self._record_end(end)
        return end

    def _record_end(self, end: PerfEnd) -> None:
        self.row.perf_exit_status = end.status
        self.row.perf_stderr = end.stderr
        self.row.perf_samples_reported = end.samples_reported
        self.row.perf_ended_at = end.ended_at
        if end.ended_at is not None and self.row.perf_started_at is not None:
            # perf's run on the host, start-up and write-out included, so at most what was asked
            # for unless it was stopped early (then it is when it was stopped)
            ran = max(0.0, end.ended_at - self.row.perf_started_at)
            self.row.recorded_s = round(ran if end.status == 130 and self.stop.is_set() else min(ran, self.settings.spec.duration), 3)

    async def _results(self, session: Session, end: PerfEnd, offsets: dict[str, int] | None = None) -> None:
        """Receive, verify, collapse; only then let the host remove its folder."""
        private_dir(self.local_dir)
        pulled = transfer.Pulled()
        try:
            async with self.forks:
                await self._timed("transfer", transfer.receive(
                    session, self.local_dir, self.conn.rate, self._progress, offsets, pulled, max_perf_data_mb=self.settings.spec.max_size_mb
                ))
        finally:
            self.row.transfers += pulled.transfers  # what arrived counts, even if the rest did not
            self.row.bytes_pulled += pulled.bytes_pulled
        script = pulled.files[PERF_SCRIPT]
        self.row.script_bytes, self.row.script_sha256 = script.size, script.sha256
        if PERF_DATA in pulled.files:
            data = pulled.files[PERF_DATA]
            self.row.perf_data_bytes, self.row.perf_data_sha256 = data.size, data.sha256
        self._event(Stage.COLLAPSING)
        collapsed = await self._timed(
            "collapse", collapse_results(self.collapser, self.local_dir, self.row.collapse_roots, self.row.unknown_tid_root)
        )
        self.row.samples = collapsed.samples
        self.row.succeed()
        self._event(Stage.CLEANING)
        session.send("done")
        # The results are safe: the host's answer that its folder is gone is awaited later
        # (finish_cleaning), so that the fleet's reports are drawn during that round trip.
        self.cleaning = asyncio.ensure_future(self._timed("clean", self._cleaned_then_close(session)))

    async def _cleaned_then_close(self, session: Session) -> None:
        try:
            await self._expect_cleaned(session)
        finally:
            session.close()
        self._event(Stage.DONE, f"{self.row.samples} samples")

    async def finish_cleaning(self) -> None:
        """Wait for the host to confirm that it removed its folder (the row says `cleaned`)."""
        if self.cleaning is not None:
            await self.cleaning

    async def _expect_cleaned(self, session: Session) -> None:
        try:
            await session.expect("cleaned", timeout=CLEAN_TIMEOUT_S)
            self.row.cleaned = True
        except (HostError, asyncio.TimeoutError) as exc:
            self.row.warnings.append(f"could not confirm that {self.row.remote_dir} was removed from {self.host.name}: {exc or 'timed out'}")

    def _progress(self, name: str, so_far: int, total: int | None) -> None:
        if total is None:
            self._event(Stage.SYMBOLIZING, f"symbolizing, {so_far / 1e6:.1f} MB", done_bytes=so_far)
        else:
            self._event(Stage.TRANSFERRING, f"{name} {so_far / 1e6:.1f}/{total / 1e6:.1f} MB", done_bytes=so_far, total_bytes=total)

    def fail_host(self, exc: BaseException) -> None:
        """The one place that turns an exception into this host's failure."""
        self.row.fail(self.describe_failure(exc))
        if not isinstance(exc, (HostError, asyncio.TimeoutError, OSError)):
            self.row.error_detail = "".join(traceback.format_exception(exc))[-8000:]
        self._event(Stage.FAILED, self.row.error or "")

    def describe_failure(self, exc: BaseException) -> str:
        name = self.host.name
        recoverable = self.row.remote_dir is not None and self.row.perf_started_at is not None and not self.row.cleaned
        hint = (
            f"; perf's results stay on {name} until its duration ends: `fleetflame fetch {self.settings.capture_id}` recovers them"
            if recoverable
            else ""
        )
        if isinstance(exc, LinkLost):
            lost = f"lost the connection to {name}"
            reason = str(exc).removeprefix(lost).lstrip(" :")
            return f"{lost} while {self.stage.value}" + (f" ({reason})" if reason else "") + hint
        if isinstance(exc, SessionFailed):
            if exc.code == Exit.PERF_MISSING and exc.text.startswith(self.host.perf + ":"):
                return record.perf_missing(self.host)
            if exc.code == Exit.NO_CAPDROP:
                kept = self.row.remote_dir if not self.row.cleaned else None
                return record.no_capdrop(self.host, kept, self.settings.capture_id)
            return exc.text if name in exc.text else f"{name}: {exc.text}"
        if isinstance(exc, Stalled):
            return f"{exc}: its results stay on the host; finish with `fleetflame fetch {self.settings.capture_id}`"
        if isinstance(exc, HostError):
            return str(exc) + (hint if isinstance(exc, transfer.TransferError) else "")
        if isinstance(exc, asyncio.TimeoutError):
            return f"{name} stopped answering while {self.stage.value} (timed out){hint}"
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            where = f" ({exc.filename})" if exc.filename else ""
            return (f"no space left on this machine for {name}'s results of capture {self.settings.capture_id}{where}: "
                    f"free space there, then `fleetflame fetch {self.settings.capture_id}` finishes {name}"
                    + (" (its results stay on it)" if recoverable else ""))
        if isinstance(exc, OSError):
            return f"cannot write {name}'s results on this machine: {exc.strerror or exc}{hint}"
        return f"unexpected error with {name} while {self.stage.value} (a fleetflame bug, please report it): {type(exc).__name__}: {exc}{hint}"

    async def close(self) -> None:
        await self.conn.close()
