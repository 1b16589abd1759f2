"""The library's face: one capture of a fleet, or the finishing of one, with its reports.

    from fleetflame.api import CaptureOptions, run_capture
    outcome = run_capture(hosts, CaptureOptions(target=parse_target("verify:*"), duration=30))

The stages stay apart: `capture` records and transfers and writes the manifest, `report` merges
and draws. This module is where the two meet, so that neither imports the other; the CLI, the
demo and the tests call these.
"""

from __future__ import annotations

from pathlib import Path

from .capture import defaults
from .capture.events import Reporter
from .capture.fleet import Connector
from .capture.manifest import Manifest
from .capture.runner import CaptureOptions, RunOutcome
from .capture.runner import fetch_capture as _fetch
from .capture.runner import run_capture as _run
from .capture.session import DEFAULT_STALL_TIMEOUT_S
from .connection.settings import SshSettings
from .inventory.model import HostRecord
from .report import build_reports

__all__ = ["CaptureOptions", "RunOutcome", "fetch_capture", "run_capture"]


def _draw(folder: Path, manifest: Manifest, formats: tuple[str, ...]) -> list[Path]:
    return build_reports(folder, manifest, formats)


def run_capture(
    hosts: list[HostRecord], options: CaptureOptions, reporter: Reporter | None = None, connector: Connector | None = None
) -> RunOutcome:
    """Record on every host at once, then (unless detached) fetch, merge and draw the reports."""
    return _run(hosts, options, reporter, connector, draw=_draw)


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
    max_perf_data_mb: int | None = None,
) -> RunOutcome:
    """Finish a capture's pending hosts, then draw its reports again. What a host may send is
    bounded by the capture's --max-perf-data, or by `max_perf_data_mb` when given."""
    return _fetch(folder, manifest, hosts, ssh, forks, formats, reporter, keep_perf_data, rate_limit_mb_s, connector,
                  stall_timeout_s, draw=_draw, max_perf_data_mb=max_perf_data_mb)
