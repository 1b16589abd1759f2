"""Issue 18, "Done when" 1, in the lab: one host's verify tile takes an extra code path only while
the wall-clock second modulo 10 is 3 or 4 (the stand-in's --extra-path-window 10:3:4). Recorded
with `fleetflame run` over real sshd and real perf; then `timeline --fn` shows that host's share
high in the window's columns and nowhere else, `report --from/--until` over the window (as UTC
times of day) gives the extra path a large share and over a stretch outside it none, and the other
host has none of it anywhere.

Every time is taken from the capture (the manifest's perf_started_at and recorded_s, the hosts'
timelines), never from this test's own clock or sleeps."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fleetflame import folded
from fleetflame.capture.manifest import read_manifest
from fleetflame.timeline import Timeline, read_timeline
from fleetflame.timeline.view import BLOCKS
from fleetflame.timeline.window import capture_start

from ..lab import LabFleet
from ..test_fleet import fleetflame, only_capture, remote_leftovers

pytestmark = [pytest.mark.root, pytest.mark.lab]

SLOW = "fd_slow_path_retry"  # the stand-in's extra code path (standin.c)
MOD, LO, HI = 10, 3, 4  # the extra path runs while the wall-clock second % 10 is 3 or 4
WINDOW_S = HI - LO + 1
SLOW_HOST, OTHER = "lab02", "lab01"
TILE = "verify:0"
TILES = {"net": 1, "verify": 1, "bank": 1}
# 12 s of samples hold a whole 2 s window (perf's first sample may come a few hundred ms after
# its start), with 5 s without one after it or before it.
DURATION_S = 14
HZ = 999
EDGE_S = 0.04  # two 20 ms bins: a sample on a window's edge may land in the bin either side
# The extra path costs half a batch, so in the window about a third of the tile's samples are in
# it (standin.c): 0.29 to 0.38 in trials, at 240 to 640 samples per window (-F 499 and 999, on a
# machine loaded up to a load average of 30).
MIN_SHARE = 0.25


def time_of_day(t: float) -> str:
    """Seconds since the epoch -> `HH:MM:SS.fff`, UTC (as `report --from/--until` takes it)."""
    return datetime.fromtimestamp(round(t, 3), timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def windows_near(a: float, b: float) -> list[float]:
    """Starts of the windows [10k+3, 10k+5) that could meet [a, b) (seconds since the epoch)."""
    return [k * MOD + LO for k in range(math.floor((a - LO) / MOD) - 1, math.floor((b - LO) / MOD) + 2)]


def meets_window(a: float, b: float) -> bool:
    """[a, b) overlaps a window."""
    return any(w < b and a < w + WINDOW_S for w in windows_near(a, b))


def within_window(a: float, b: float) -> bool:
    """[a, b) lies wholly inside one window."""
    return any(w <= a and b <= w + WINDOW_S for w in windows_near(a, b))


def recorded_span(timeline: Timeline, perf_started_at: float, recorded_s: float) -> tuple[float, float]:
    """What the host recorded: perf's own start and run time, within the timeline's samples."""
    assert timeline.first_bin is not None and timeline.last_bin is not None
    lo = max(perf_started_at, timeline.first_bin * timeline.bin_s)
    hi = min(perf_started_at + recorded_s, (timeline.last_bin + 1) * timeline.bin_s)
    return lo, hi


def first_whole_window(lo: float, hi: float) -> float:
    """The start of the first window wholly inside [lo, hi]."""
    start = math.ceil((lo - LO) / MOD) * MOD + LO
    assert start + WINDOW_S <= hi, f"no whole window between {lo} and {hi}: recording too short"
    return start


def tile_samples(stacks: dict[str, int], host: str, tile: str) -> tuple[int, int]:
    """(all samples, samples with the extra path) of `host;tile;...` stacks."""
    total = slow = 0
    for stack, count in stacks.items():
        h, t, frames = stack.split(";", 2)
        if (h, t) == (host, tile):
            total += count
            slow += count if SLOW in frames.split(";") else 0
    return total, slow


def slow_anywhere(stacks: dict[str, int], host: str) -> int:
    return sum(n for stack, n in stacks.items() if stack.split(";", 1)[0] == host and SLOW in stack.split(";"))


def report_window(lab: LabFleet, folder: Path, lo: float, hi: float) -> dict[str, int]:
    """`report FOLDER --from LO --until HI` with both as UTC times of day: the window's fleet.folded."""
    done = fleetflame(lab, "report", str(folder), "--from", time_of_day(lo), "--until", time_of_day(hi), "--format", "folded")
    assert done.returncode == 0, done.stdout + done.stderr
    window = Path(done.stdout.strip().splitlines()[-1])
    assert window.parent == folder / "windows", done.stdout
    return folded.read_folded(window / "fleet.folded")


def timeline_rows(lab: LabFleet, folder: Path, *args: str) -> dict[str, str]:
    """`timeline FOLDER --fn SLOW --tile verify ARGS`: each host's row of block characters."""
    done = fleetflame(lab, "timeline", str(folder), "--fn", SLOW, "--tile", "verify", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("█ = every sample in the column matches --fn"), lines
    rows = {}
    for line in lines[1:-1]:
        name, _, blocks = line.partition(" ")
        assert set(blocks) <= set(BLOCKS), line
        rows[name] = blocks
    return rows


def test_an_extra_path_in_a_known_wall_clock_window_shows_in_that_window_only(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    # A busy verify tile (40 % of a core; 60 % while it takes the extra path) for enough samples.
    lab = make_lab(2, tiles=TILES, load=2, standin_args=["--busy", "verify:40"],
                   host_args={SLOW_HOST: ["--extra-path", "verify", "--extra-path-window", f"{MOD}:{LO}:{HI}"]})
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    done = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", str(DURATION_S), "-F", str(HZ),
                      "--format", "folded", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    folder = only_capture(out)
    manifest = read_manifest(folder)
    assert set(manifest.ok_hosts) == {SLOW_HOST, OTHER}
    timelines = {name: read_timeline(folder / "hosts" / name) for name in manifest.ok_hosts}
    slow_timeline = timelines[SLOW_HOST]
    assert slow_timeline is not None and timelines[OTHER] is not None
    row = manifest.hosts[SLOW_HOST]
    assert row.perf_started_at is not None and row.recorded_s is not None
    rec_lo, rec_hi = recorded_span(slow_timeline, row.perf_started_at, row.recorded_s)
    window = first_whole_window(rec_lo, rec_hi)

    # (c) The other host never ran it; the slow host only in its verify tile, only in windows.
    whole = folded.read_folded(folder / "fleet.folded")
    assert slow_anywhere(whole, OTHER) == 0
    assert slow_anywhere(whole, SLOW_HOST) == tile_samples(whole, SLOW_HOST, TILE)[1] > 0
    bin_s = slow_timeline.bin_s
    bad_bins = sorted(b for stack, series in slow_timeline.series.items() if SLOW in stack.split(";")
                      for b in series if not meets_window(b * bin_s - EDGE_S, (b + 1) * bin_s + EDGE_S))
    assert not bad_bins, f"{SLOW} outside every window, at {[time_of_day(b * bin_s) for b in bad_bins[:10]]}"

    # (b) report --from/--until over the window: a large share of the tile's samples.
    inside = report_window(lab, folder, window + EDGE_S, window + WINDOW_S - EDGE_S)
    total, slow = tile_samples(inside, SLOW_HOST, TILE)
    assert total >= 100 and slow / total >= MIN_SHARE, (total, slow)
    assert slow_anywhere(inside, OTHER) == 0 and tile_samples(inside, OTHER, TILE)[0] >= 100
    # ... and over the stretch between two windows (the longer recorded one, after this window or
    # before it): none.
    after = (window + WINDOW_S + EDGE_S, min(window + MOD - EDGE_S, rec_hi))
    before = (max(window - MOD + WINDOW_S + EDGE_S, rec_lo), window - EDGE_S)
    gap = max(after, before, key=lambda g: g[1] - g[0])
    assert gap[1] - gap[0] >= 3, (rec_lo, window, rec_hi)
    outside = report_window(lab, folder, *gap)
    total, slow = tile_samples(outside, SLOW_HOST, TILE)
    assert total >= 100 and slow == 0, (total, slow)
    assert slow_anywhere(outside, OTHER) == 0

    # (a) timeline --fn: the slow host's share is high in the window's columns, nil elsewhere.
    # Columns as view.activity_rows lays them out (from the capture's start to the shown host's
    # last bin); a column counts as in a window when it and its neighbours are, as outside when
    # none of them meets one. perf's first samples may come a few hundred ms after its start,
    # so only columns where the tile has samples are asked to show the share.
    start = capture_start(manifest)
    assert slow_timeline.last_bin is not None
    end = (slow_timeline.last_bin + 1) * bin_s
    (blocks,) = timeline_rows(lab, folder, "--host", SLOW_HOST).values()
    cols = 80 - len(SLOW_HOST) - 1
    blocks = blocks.ljust(cols)
    assert len(blocks) == cols
    dt = (end - start) / cols
    levels = [BLOCKS.index(c) for c in blocks]
    samples = [0] * cols
    for stack, series in slow_timeline.series.items():
        if stack.startswith(f"{TILE};"):
            for b, n in series.items():
                samples[min(max(int((b * bin_s - start) / dt), 0), cols - 1)] += n
    inner = [c for c in range(cols) if within_window(start + (c - 1) * dt, start + (c + 2) * dt)]
    clear = [c for c in range(cols) if not meets_window(start + (c - 1) * dt, start + (c + 2) * dt)]
    picture = "".join("^" if c in inner else "." if c in clear else " " for c in range(cols))
    message = f"\n{blocks}\n{picture}\n(^ in a window, . outside; {TILE}'s samples per column: {samples})"
    assert len(inner) >= WINDOW_S / dt - 4, message
    sampled = [c for c in inner if samples[c] >= 20]
    assert len(sampled) >= len(inner) / 2, message
    # A share of about 1/3 is level 3 of 8; level 1 is any share at all.
    assert all(levels[c] >= 1 for c in sampled), message
    assert sum(levels[c] for c in sampled) / len(sampled) >= 1.5, message
    assert all(levels[c] == 0 for c in clear), message
    # Both hosts in one view: the other host's row is empty from end to end.
    rows = timeline_rows(lab, folder)
    assert set(rows) == {SLOW_HOST, OTHER}
    assert re.fullmatch(r" *", rows[OTHER]), rows[OTHER]
    assert not remote_leftovers(lab)
