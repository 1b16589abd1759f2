"""The one owner of a capture's record: its Manifest, its folder, and the only writer of manifest.json.

Drivers (host.py), the fleet (fleet.py), the runner and the recovery (recover.py) report facts
through the methods below; nothing else assigns a row's fields or the manifest's. Each method
changes the record in memory and marks it dirty; the record is written (atomically, by
Manifest.write) only at the moments that matter, and never twice with nothing changed:

    create        the folder's first manifest, every host pending
    checkpoint    once every host the start signal went to has started perf (or failed): from
                  then on `fetch` can finish a run that dies (see `awaiting_start`)
    found         rows rebuilt from what the hosts kept (recover.py)
    finish        the end of a run or a fetch: ended_at, the recorded duration
"""

from __future__ import annotations

from pathlib import Path

from ..host.resolve import Resolved
from .manifest import AGAVE_THREADS_ROOT, PERF_DATA, PERF_SCRIPT, HostResult, Manifest, iso, utc_now
from ..timeline.clock import ClockReading, clock_warnings
from .record import PerfEnd
from .transfer import Pulled


class CaptureRecord:
    """A capture's Manifest and folder; its methods are the only way to change either."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        """The record of a manifest as it is in `folder` (read from there, or just written)."""
        self.folder = folder
        self.manifest = manifest
        self._dirty = False
        self._awaiting: set[str] | None = None  # hosts whose perf start the checkpoint waits for

    @classmethod
    def create(cls, folder: Path, manifest: Manifest) -> CaptureRecord:
        """A new capture's record, written at once."""
        record = cls(folder, manifest)
        record._dirty = True
        record.save()
        return record

    def row(self, host: str) -> HostResult:
        """The host's row, to read."""
        return self.manifest.hosts[host]

    def save(self) -> None:
        """Write manifest.json if anything changed since it was last written."""
        if self._dirty:
            self.manifest.write(self.folder)
            self._dirty = False

    def _change(self, host: str) -> HostResult:
        self._dirty = True
        return self.manifest.hosts[host]

    # ---- what a host's driver learns ------------------------------------------------------

    def timed(self, host: str, name: str, seconds: float) -> None:
        """Time spent in one stage (added up: a fetch adds to the run's)."""
        timings = self._change(host).timings
        key = f"{name}_s"
        timings[key] = round(timings.get(key, 0.0) + seconds, 3)

    def tiles_resolved(self, host: str, resolved: Resolved, remote_dir: str, expected_end: float) -> None:
        """What will be recorded on the host, and where its session keeps the results."""
        row = self._change(host)
        selection = resolved.selection
        row.tile_source = resolved.source
        row.skipped_tiles = [s.to_json() for s in selection.skipped]
        row.warnings += resolved.notes
        row.tiles = [t.to_json() for t in selection.tiles]
        if selection.agave_pid is not None:
            row.tiles.append({"name": "agave", "kind": "agave", "kind_id": None, "pid": selection.agave_pid, "tid": None})
        row.collapse_roots = {str(tid): root for tid, root in selection.roots_by_tid().items()}
        row.unknown_tid_root = AGAVE_THREADS_ROOT if selection.agave_pid is not None else None
        row.remote_dir = remote_dir
        row.expected_end = expected_end  # refined once perf starts

    def start_signal_sent(self, host: str, at: float) -> None:
        self._change(host).start_signal_at = at

    def awaiting_start(self, hosts: list[str]) -> None:
        """The start signal went to these hosts: the checkpoint is written once each of them has
        reported perf's start or failed (at once if there are none)."""
        self._awaiting = set(hosts)
        self._checkpoint(None)

    def perf_started(self, host: str, started_at: float, expected_end: float, clock: ClockReading | None = None) -> None:
        row = self._change(host)
        row.perf_started_at = started_at
        row.expected_end = expected_end
        if clock is not None:
            row.clock_offset_s, row.clock_uncertainty_s = round(clock.offset, 6), round(clock.uncertainty, 6)
            row.warnings += clock_warnings(host, clock.offset, clock.uncertainty)
        self._checkpoint(host)

    def _checkpoint(self, host: str | None) -> None:
        if self._awaiting is None:
            return
        self._awaiting.discard(host or "")
        if not self._awaiting:
            self._awaiting = None
            self.save()

    def perf_ended(self, host: str, end: PerfEnd, requested_s: float, stopped: bool) -> None:
        row = self._change(host)
        row.perf_exit_status = end.status
        row.perf_stderr = end.stderr
        row.perf_samples_reported = end.samples_reported
        row.perf_ended_at = end.ended_at
        if end.ended_at is not None and row.perf_started_at is not None:
            # perf's run on the host, start-up and write-out included, so at most what was asked
            # for unless it was stopped early (then it is when it was stopped)
            ran = max(0.0, end.ended_at - row.perf_started_at)
            row.recorded_s = round(ran if end.status == 130 and stopped else min(ran, requested_s), 3)

    def transferred(self, host: str, pulled: Pulled, complete: bool) -> None:
        """What arrived (counted even when the rest did not); the files' sizes and digests once
        every file arrived and was verified (`complete`)."""
        row = self._change(host)
        row.transfers += pulled.transfers
        row.bytes_pulled += pulled.bytes_pulled
        if not complete:
            return
        if PERF_SCRIPT in pulled.files:
            script = pulled.files[PERF_SCRIPT]
            row.script_bytes, row.script_sha256 = script.size, script.sha256
        if PERF_DATA in pulled.files:
            data = pulled.files[PERF_DATA]
            row.perf_data_bytes, row.perf_data_sha256 = data.size, data.sha256

    def collapsed(self, host: str, samples: int) -> None:
        """The host's stacks are safe here: it succeeded."""
        row = self._change(host)
        row.samples = samples
        row.status = "ok"
        row.error = None

    def cleaned(self, host: str) -> None:
        """The host's folder is gone (it removed it, or there was none left to fetch)."""
        self._change(host).cleaned = True

    def warned(self, host: str, warning: str) -> None:
        self._change(host).warnings.append(warning)

    def failed(self, host: str, message: str, detail: str | None = None, forget_remote: bool = False) -> None:
        """The host failed; `detail` is a traceback (a fleetflame bug); `forget_remote`: nothing
        was recorded there, so there is nothing for `fetch`."""
        row = self._change(host)
        row.status = "failed"
        row.error = message
        if detail is not None:
            row.error_detail = detail
        if forget_remote:
            row.remote_dir = None
        self._checkpoint(host)

    def abandoned(self, host: str) -> None:
        """The run was interrupted before this host finished."""
        what = "recovers what perf recorded" if self.row(host).fetchable else "cannot help: nothing was recorded"
        self.failed(host, f"abandoned: the run was interrupted before {host} finished (`fleetflame fetch` {what})")

    # ---- the capture as a whole -------------------------------------------------------------

    def found(self, rows: dict[str, HostResult]) -> None:
        """Rows rebuilt from what the hosts kept: each replaces a row that has no remote folder
        (or adds a host this record did not have). Written at once."""
        for name, row in rows.items():
            if name not in self.manifest.hosts or not self.manifest.hosts[name].remote_dir:
                self.manifest.hosts[name] = row
                self._dirty = True
        self.save()

    def settle(self, stopped: bool) -> None:
        """duration_s is what was recorded (the longest host); the request stays requested_duration_s."""
        manifest = self.manifest
        recorded = [h.recorded_s for h in manifest.hosts.values() if h.recorded_s is not None]
        duration = round(max(recorded), 3) if recorded else manifest.duration_s
        early = stopped and duration < manifest.requested_duration_s - 0.5
        if (duration, early) != (manifest.duration_s, manifest.stopped_early):
            manifest.duration_s, manifest.stopped_early = duration, early
            self._dirty = True

    def finish(self, stopped: bool) -> None:
        """The run (or fetch) is over: when, and how long was recorded; written."""
        self._awaiting = None
        self.manifest.ended_at = iso(utc_now())
        self._dirty = True
        self.settle(stopped)
        self.save()
