"""Windows of a capture in time: `--from/--until` parsing, the fleet stacks of a window, and
`report --from/--until`, written into CAPTURE/windows/FROM-UNTIL/."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import folded
from ..capture import Manifest
from ..capture.folder import CaptureFolder
from ..capture.manifest import HostResult
from ..errors import InputError
from . import clock
from .store import Timeline, TimelineError, read_timeline

WINDOWS_DIR = "windows"
RECORDING_MARGIN_S = 10.0  # a host's samples kept this long before and after its recording (on_control_clock)
TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?")


def capture_start(manifest: Manifest) -> float:
    """The start of the recording, seconds since the epoch on the control machine's clock: the
    earliest host's perf start (its clock, corrected by its measured offset), else the manifest's
    started_at (the control machine's)."""
    started = [
        h.perf_started_at - clock.correction(h.clock_offset_s, h.clock_uncertainty_s)
        for h in manifest.hosts.values()
        if h.status == "ok" and h.perf_started_at
    ]
    if started:
        return min(started)
    return datetime.fromisoformat(manifest.started_at.replace("Z", "+00:00")).timestamp()


def on_control_clock(timeline: Timeline, host: HostResult, duration_s: float) -> Timeline:
    """The host's timeline with its bins moved by its clock's measured offset (timeline.clock), so
    that every host's bins are on one clock (not moved when the offset is within its uncertainty
    or was not measured: a capture made before fleetflame measured it).

    Only the host's recording is kept: bins from RECORDING_MARGIN_S before perf started (host
    clock) to that long after `duration_s` (or what it recorded, if longer). The times come from
    the host's perf script; a host that prints times years apart must not stretch every view
    of the capture (or the memory drawing it takes). Samples outside count as unbinned."""
    shift = round(clock.correction(host.clock_offset_s, host.clock_uncertainty_s) / timeline.bin_s)
    lo = hi = None
    if host.perf_started_at is not None:
        lo = math.floor((host.perf_started_at - RECORDING_MARGIN_S) / timeline.bin_s)
        end = host.perf_started_at + max(host.recorded_s or 0.0, duration_s) + RECORDING_MARGIN_S
        hi = math.ceil(end / timeline.bin_s)
    if not shift and (lo is None or timeline.within(lo, hi)):  # type: ignore[arg-type]
        return timeline
    return timeline.placed(lo, hi, shift)


def parse_moment(text: str, start: float, option: str = "--from") -> float:
    """`12.4` (seconds from the start of the recording) or `12:03:41.200` (UTC time of day on the
    day the capture started; a time more than 12 hours before the start on that day is taken on
    the next day, for a capture across midnight) -> seconds since the epoch."""
    text = text.strip()
    m = TIME_OF_DAY.fullmatch(text)
    if m is not None:
        hours, minutes, seconds = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0)
        if hours > 23 or minutes > 59 or seconds >= 60:
            raise InputError(f"{option} {text!r}: not a time of day (HH:MM:SS.fff, UTC)")
        day = datetime.fromtimestamp(start, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        moment = day.timestamp() + hours * 3600 + minutes * 60 + seconds
        if moment < start - 12 * 3600:  # a capture across midnight UTC
            moment += 86400
        return moment
    try:
        offset = float(text)
    except ValueError:
        offset = math.nan
    if not math.isfinite(offset) or offset < 0:
        raise InputError(
            f"{option} {text!r}: give seconds from the start of the recording (12.4) or a UTC time of day (12:03:41.200)"
        )
    return start + offset


def window_name(lo: float, hi: float, start: float) -> str:
    """The window's folder: its bounds in seconds from the start, to the millisecond."""
    return f"{lo - start:.3f}-{hi - start:.3f}"


def load_timelines(folder: CaptureFolder, manifest: Manifest) -> dict[str, Timeline]:
    """Each completed host's timeline, on the control machine's clock (on_control_clock);
    InputError (one line) if no host has one, or one is not on the wall clock. All in memory
    (about 3 MB a host of 14 tiles over 30 s): what reads them one at a time uses iter_timelines."""
    return dict(iter_timelines(folder, manifest))


def iter_timelines(folder: CaptureFolder, manifest: Manifest) -> Iterator[tuple[str, Timeline]]:
    """(host, timeline) of each completed host, one at a time, as load_timelines checks them."""
    found = False
    for name in manifest.ok_hosts:
        with folder.host_dir(name) as fd:
            if fd is None:
                continue
            try:
                timeline = read_timeline(folder.host_path(name), dir_fd=fd)
            except TimelineError as exc:
                raise InputError(str(exc)) from None
        if timeline is not None:
            placed = on_control_clock(timeline, manifest.hosts[name], max(manifest.requested_duration_s, manifest.duration_s))
            # (judged once placed: a sample a host dated 1970 is dropped, not taken for another clock)
            if not placed.wall_clock or (not timeline.wall_clock and placed.first_bin is None):
                raise InputError(
                    f"{folder.host_path(name)}: its sample times are not wall-clock (recorded before fleetflame used "
                    "perf record -k realtime): no window or timeline for this capture"
                )
            found = True
            yield name, placed
    if not found:
        raise InputError(
            f"{folder.path} has no sample times (hosts/HOST/timeline.json.gz): captured before fleetflame kept "
            "them; `report` (without --from/--until), `skew` and `diff` work as before"
        )


def window_stacks(timelines: Iterable[tuple[str, Timeline]], lo: float, hi: float) -> folded.Stacks:
    """`host;tile;...` samples with lo <= time < hi (whole bins: a bin counts if it starts in the
    window), from (host, timeline) pairs read one at a time."""
    out: folded.Stacks = {}
    for name, timeline in timelines:
        b0, b1 = math.ceil(lo / timeline.bin_s - 1e-9), math.ceil(hi / timeline.bin_s - 1e-9)
        for stack, n in timeline.window(b0, b1).items():
            key = f"{name};{stack}"
            out[key] = out.get(key, 0) + n
    return out


@dataclass(frozen=True)
class Window:
    """The fleet stacks (`host;tile;...`) of a time window of a capture, on the control clock."""

    lo: float  # seconds since the epoch
    hi: float
    start: float  # the recording's start (capture_start)
    stacks: folded.Stacks
    hosts: int  # hosts with a timeline

    @property
    def name(self) -> str:
        return window_name(self.lo, self.hi, self.start)

    @property
    def label(self) -> str:
        return f"{self.lo - self.start:.3f} s to {self.hi - self.start:.3f} s"


def capture_window(capture: Path, manifest: Manifest, from_text: str, until_text: str) -> Window:
    """The window `--from FROM --until UNTIL` of a capture (report, skew and diff read it);
    InputError if the bounds are bad, the capture has no timelines, or no sample is inside."""
    start = capture_start(manifest)
    lo, hi = parse_moment(from_text, start, "--from"), parse_moment(until_text, start, "--until")
    if hi <= lo:
        raise InputError(f"--until {until_text} is not after --from {from_text}")
    spans: list[tuple[float, float]] = []  # each host's first and last time, for the error below

    def timelines() -> Iterator[tuple[str, Timeline]]:
        for name, timeline in iter_timelines(opened, manifest):
            if timeline.first_bin is not None and timeline.last_bin is not None:
                spans.append((timeline.first_bin * timeline.bin_s, (timeline.last_bin + 1) * timeline.bin_s))
            yield name, timeline

    opened = CaptureFolder(capture)
    try:
        stacks = window_stacks(timelines(), lo, hi)
    finally:
        opened.close()
    if not stacks:
        raise InputError(f"{capture}: no sample between {from_text} and {until_text} (the recording covers {_covered(spans, start)})")
    return Window(lo, hi, start, stacks, len(spans))


def _covered(spans: list[tuple[float, float]], start: float) -> str:
    if not spans:
        return "no sample"
    return f"{min(a for a, _ in spans) - start:.2f} s to {max(b for _, b in spans) - start:.2f} s from its start"
