"""Run a fleet capture (or a fetch) to the end: the capture folder, signals, and its reports.

One capture, from `run` to the written manifest:

    cli `run`      TARGET parsed once into a Target -> CaptureOptions -> run_capture
    run_capture    new_capture: the folder and its CaptureRecord (recorder.py, manifest.json written)
                   CaptureSettings from the options (not read back from the manifest) -> Fleet
    run_fleet      a RunCapture per host (host_run.py): prepare | StartBarrier: go | perf_started
                   (the record's checkpoint write) | perf's end, the results (host.py)
    run_hosts      once every host's results are safe, the reports (_EarlyReports; not when
                   detached); then pending hosts are abandoned, and record.finish: ended_at,
                   the recorded duration, manifest.json written (once)

`fetch` is the same from `fetch_capture`, with CaptureSettings from the manifest and a
FetchCapture (host_fetch.py) per pending host.

The first Ctrl-C (or SIGTERM) stops recording on every host at once and the run goes on to fetch
and report; a second one abandons what is still in flight, keeps what already arrived, and the
run exits 130. Everything written is private to the operator (files.private_files).
"""

from __future__ import annotations

import asyncio
import math
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..collapse.hosts import HostCollapser
from ..connection.settings import SshSettings
from ..inventory.model import HostRecord
from ..host.targets import Target, parse_target
import fleetflame.capture.defaults as defaults
from .events import Reporter, quiet
from .files import private_dir, private_files
from .fleet import Connector, Fleet, fetch_fleet, run_fleet
from .host import CaptureSettings
from .ids import CaptureId
from .manifest import HostResult, Manifest, iso, utc_now
from .record import RecordSpec
from .recorder import CaptureRecord
from .scripts import check_event
from .session import DEFAULT_STALL_TIMEOUT_S

EXIT_OK, EXIT_HOST_FAILED, EXIT_BAD_INPUT, EXIT_ABANDONED = 0, 1, 2, 130


# What draws a capture's reports (fleet.folded, graphs, skew.json) from its folder: report.build_reports,
# handed in by fleetflame.api so that the capture stage never imports the stages after it.
DrawReports = Callable[[Path, Manifest, tuple[str, ...]], list[Path]]


@dataclass
class CaptureOptions:
    target: Target
    duration: float = defaults.DURATION_S
    frequency: int = defaults.FREQUENCY_HZ
    call_graph: str = defaults.CALL_GRAPH
    event: str | None = None  # perf record -e EVENT (e.g. task-clock); None: perf's default event
    max_perf_data_mb: int = defaults.MAX_PERF_DATA_MB
    forks: int = defaults.FORKS
    out: Path = Path("captures")
    formats: tuple[str, ...] = ("svg", "html")
    keep_perf_data: bool = True
    detach: bool = False
    rate_limit_mb_s: float | None = None
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S
    ssh: SshSettings = field(default_factory=SshSettings)
    inventories: list[str] = field(default_factory=list)
    limit: str | None = None

    def __post_init__(self) -> None:
        self.stall_timeout_s = check_stall_timeout(self.stall_timeout_s)
        self.event = check_event(self.event)

    def settings(self, capture_id: str, started_at: str) -> CaptureSettings:
        """What every host of this run shares: the options as given, never read back from the manifest."""
        return CaptureSettings(
            capture_id=capture_id,
            spec=RecordSpec(self.duration, self.frequency, self.call_graph, self.max_perf_data_mb, self.event),
            target=self.target,
            started_at=started_at,
            keep_perf_data=self.keep_perf_data,
            detach=self.detach,
            stall_timeout_s=self.stall_timeout_s,
        )


def check_stall_timeout(value: object) -> float:
    """--stall-timeout: seconds, more than 0 and finite; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"--stall-timeout {value!r}: give a number of seconds greater than 0, such as 120")
    return float(value)


@dataclass
class RunOutcome:
    folder: Path
    manifest: Manifest
    abandoned: bool = False
    detached: bool = False
    reports: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.abandoned:
            return EXIT_ABANDONED
        return EXIT_HOST_FAILED if self.manifest.failed_hosts else EXIT_OK


def new_capture(hosts: list[HostRecord], options: CaptureOptions) -> CaptureRecord:
    """Create the capture folder (0700) and its record (written), every host pending."""
    started = utc_now()
    private_dir(options.out)
    capture_id = CaptureId.new(options.target.slug, started, options.out)
    folder = options.out / capture_id.text
    folder.mkdir(mode=0o700)
    manifest = Manifest(
        id=capture_id.text,
        target=options.target.text,
        started_at=iso(started),
        duration_s=options.duration,
        requested_duration_s=options.duration,
        frequency_hz=options.frequency,
        call_graph=options.call_graph,
        event=options.event,
        max_perf_data_mb=options.max_perf_data_mb,
        inventories=list(options.inventories),
        limit=options.limit,
        hosts={h.name: HostResult(address=h.address) for h in hosts},
    )
    return CaptureRecord.create(folder, manifest)


async def _interruptible(fleet: Fleet, work: Awaitable[Manifest]) -> bool:
    """Await the fleet's work with Ctrl-C / SIGTERM handling; True if abandoned."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    interrupts = 0

    def on_signal() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            fleet.stop.set()
        else:
            task.cancel()

    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, on_signal)
    try:
        await task
        return False
    except asyncio.CancelledError:
        return True
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _with_fleet(make: Callable[[HostCollapser], Fleet], work: Callable[[Fleet], Awaitable[Manifest]]) -> tuple[Fleet, bool]:
    collapser = HostCollapser()
    try:
        fleet = make(collapser)
        abandoned = await _interruptible(fleet, work(fleet))
    finally:
        collapser.close()
    return fleet, abandoned


def run_capture(
    hosts: list[HostRecord], options: CaptureOptions, reporter: Reporter | None = None, connector: Connector | None = None,
    draw: DrawReports | None = None,
) -> RunOutcome:
    """Record TARGET on every host at once, then (unless detached) fetch, merge, and call `draw`
    for the reports (fleetflame.api passes report.build_reports: the capture stage draws nothing
    itself)."""
    with private_files():
        record = new_capture(hosts, options)
        folder, manifest = record.folder, record.manifest
        settings = options.settings(manifest.id, manifest.started_at)

        early = _EarlyReports(folder, options.formats, draw)

        def make(collapser: HostCollapser) -> Fleet:
            fleet = Fleet(record, hosts, settings, options.ssh, options.forks, collapser, reporter or quiet, options.rate_limit_mb_s)
            if connector is not None:
                fleet.connector = connector
            if not options.detach:
                fleet.results_ready = lambda: early.draw(fleet)
            return fleet

        fleet, abandoned = asyncio.run(_with_fleet(make, run_fleet))
        outcome = RunOutcome(folder, manifest, abandoned, options.detach)
        if not options.detach:
            outcome.reports = early.final(manifest)
    return outcome


def fetch_capture(
    folder: Path,
    manifest: Manifest,
    hosts: list[HostRecord],
    ssh: SshSettings,
    forks: int = defaults.FORKS,
    formats: tuple[str, ...] = ("svg", "html"),
    reporter: Reporter | None = None,
    keep_perf_data: bool = True,
    rate_limit_mb_s: float | None = None,
    connector: Connector | None = None,
    stall_timeout_s: float = DEFAULT_STALL_TIMEOUT_S,
    draw: DrawReports | None = None,
    max_perf_data_mb: int | None = None,
) -> RunOutcome:
    """Finish the pending hosts of a capture, then report the whole capture again. What a host
    may send is bounded by the capture's own --max-perf-data (its manifest), or by
    `max_perf_data_mb` (fetch --max-perf-data: a host refused for sending more, fetched again)."""
    stall_timeout_s = check_stall_timeout(stall_timeout_s)
    if max_perf_data_mb is not None and max_perf_data_mb < 1:
        raise ValueError(f"max_perf_data_mb must be at least 1, not {max_perf_data_mb}")
    # the capture's TARGET, parsed once: the manifest is the only place it is kept
    settings = CaptureSettings.of_manifest(manifest, parse_target(manifest.target), keep_perf_data, stall_timeout_s,
                                           max_perf_data_mb)
    with private_files():
        private_dir(folder)
        record = CaptureRecord(folder, manifest)

        early = _EarlyReports(folder, formats, draw)

        def make(collapser: HostCollapser) -> Fleet:
            fleet = Fleet(record, hosts, settings, ssh, forks, collapser, reporter or quiet, rate_limit_mb_s)
            if connector is not None:
                fleet.connector = connector
            fleet.results_ready = lambda: early.draw(fleet)
            return fleet

        fleet, abandoned = asyncio.run(_with_fleet(make, fetch_fleet))
        outcome = RunOutcome(folder, manifest, abandoned)
        outcome.reports = early.final(manifest)
    return outcome


@dataclass
class _EarlyReports:
    """The reports drawn as soon as every host's results are safe, while the hosts' answers that
    they removed their folders are on their way (one round trip, 100-250 ms to a distant host).
    A run abandoned before that point draws them afterwards from what arrived."""

    folder: Path
    formats: tuple[str, ...]
    drawer: DrawReports | None
    drawn: bool = False
    reports: list[Path] = field(default_factory=list)

    def draw(self, fleet: Fleet) -> None:
        fleet.record.settle(fleet.stop.is_set())
        self.reports = self._reports(fleet.manifest)
        self.drawn = True

    def final(self, manifest: Manifest) -> list[Path]:
        """The reports drawn early, or, if the run ended before that, drawn now."""
        return self.reports if self.drawn else self._reports(manifest)

    def _reports(self, manifest: Manifest) -> list[Path]:
        """fleet.folded and the graphs, when at least one host has stacks."""
        if self.drawer is None or not manifest.ok_hosts:
            return []
        return self.drawer(self.folder, manifest, self.formats)
