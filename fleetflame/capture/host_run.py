"""A run's driver for one host: prepare, wait at the start barrier, go, then perf's end and the results.

    prepare:  connect, open the session + read the metrics, resolve the tiles, send meta.json
    go:       the start signal (fleet.StartBarrier sends it to every ready host in one loop)
    after_go: perf's start (the record's checkpoint), its end, the results (host.HostCapture)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from ..errors import HostError
from ..host.resolve import read_metrics, resolve
from ..host.tiles import Selection
from . import record
from .events import Stage
from .host import HostCapture
from .manifest import HostMeta
from .record import Prepared


@dataclass
class RunCapture(HostCapture):
    prepared: Prepared | None = field(default=None, init=False)
    selection: Selection | None = field(default=None, init=False)

    async def prepare(self) -> bool:
        """Connect, open the session, resolve the tiles, send meta: True when ready for `go`."""
        try:
            async with self.forks:
                await self._connect()
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
        self.record.tiles_resolved(self.host.name, resolved, self.prepared.remote_dir, time.time() + settings.spec.duration)
        record.send_meta(self.prepared, self._meta())

    def _meta(self) -> HostMeta:
        s, row = self.settings, self.result
        return HostMeta(
            id=s.capture_id,
            host=self.host.name,
            target=s.target.text,
            capture_started_at=s.started_at,
            requested_duration_s=s.spec.duration,
            frequency_hz=s.spec.frequency,
            call_graph=s.spec.call_graph,
            event=s.spec.event,
            expected_end=row.expected_end,
            tiles=row.tiles,
            tile_source=row.tile_source,
            collapse_roots=row.collapse_roots,
            unknown_tid_root=row.unknown_tid_root,
            want_perf_data=s.keep_perf_data,
        )

    def go(self) -> None:
        """The start signal (called for every ready host in one loop, see fleet.StartBarrier)."""
        assert self.prepared is not None and self.selection is not None
        how = "detach" if self.settings.detach else ("run" if self.settings.keep_perf_data else "nodata")
        try:
            self.go_sent_at = record.send_go(self.prepared, self.selection, how)
            self.record.start_signal_sent(self.host.name, self.go_sent_at)
        except HostError:
            pass  # the session has ended already; after_go reads why (e.g. no space for meta.json)
        self.went = True

    def abort(self) -> None:
        """Stopped before the start: the host removes its folder (nothing was recorded)."""
        self._drop_prepared()
        if self.result.status == "pending":
            self.fail_host(record.RecordError("stopped before recording started"), forget_remote=True)

    async def after_go(self) -> None:
        """Once the start signal is out: perf's start, its end, the results."""
        if not self.went or self.prepared is None:
            return
        prepared = self.prepared
        try:
            started = await record.started(prepared, self.go_sent_at)
            duration = self.settings.spec.duration
            self.record.perf_started(self.host.name, started.at, started.at + duration, started.clock)
            until = time.time() + duration
            if self.settings.detach:
                self._event(Stage.DETACHED, "perf records until " + time.strftime("%H:%M:%S", time.localtime(until)), until=until)
                prepared.session.close()
                return
            self._event(Stage.RECORDING, until=until)
            await self._timed("record", self._wait_end(prepared.session, duration))
            await self._results(prepared.session)
        except BaseException as exc:
            prepared.session.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.fail_host(exc)
