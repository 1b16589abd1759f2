"""Each host's clock against the control machine's: measured with the start signal, recorded in
the manifest, warned about, and used to put every host's timeline on one clock."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame.api import CaptureOptions, RunOutcome, run_capture
from fleetflame.cli import app
from fleetflame.capture.manifest import read_manifest
from fleetflame.host.targets import parse_target
from fleetflame.inventory.model import HostRecord
from fleetflame.capture.folder import CaptureFolder
from fleetflame.timeline.clock import CLOCK_WARN_S, ClockReading, clock_warnings, correction
from fleetflame.timeline.view import clock_notes
from fleetflame.timeline.window import capture_start, load_timelines

from ..capture.fakehost import FakeHost, fake_connector, perf_script_text

TILES = [(100, 102, "verify:0"), (100, 100, "fdctl")]
BURST = "fd_burst;verify_loop;main"  # leaf first, as perf script prints frames


def test_a_clock_reading_is_the_midpoint_of_the_round_trip() -> None:
    reading = ClockReading(sent_at=100.0, host_at=102.51, received_at=100.02)
    assert reading.offset == pytest.approx(2.5) and reading.uncertainty == pytest.approx(0.01)


def test_only_an_offset_beyond_its_uncertainty_is_corrected() -> None:
    assert correction(2.5, 0.01) == 2.5
    assert correction(-0.004, 0.01) == 0.0, "a synchronised clock is not moved by one round trip's noise"
    assert correction(None, None) == 0.0, "a capture made before the clock was measured"


def test_warnings_name_the_host_the_offset_and_the_fix() -> None:
    assert clock_warnings("a", 0.010, 0.002) == []
    (ahead,) = clock_warnings("a", 2.5, 0.002)
    assert ahead.startswith("a's clock is 2.500 s ahead of this machine's (±2 ms)") and "chrony/NTP" in ahead
    (behind,) = clock_warnings("b", -0.2, 0.001)
    assert "0.200 s behind" in behind
    (slow,) = clock_warnings("c", 0.0, CLOCK_WARN_S + 0.02)
    assert "known only to ±70 ms" in slow and "may be off by that much" in slow


def host_with_burst(name: str, start: float, clock_offset: float = 0.0, latency: float = 0.0) -> FakeHost:
    """verify:0 runs an idle loop for 0.5 s, `fd_burst` for 0.2 s, then idles again: 10 ms
    samples from `start` on the real clock, printed on the host's clock (`clock_offset` ahead)."""
    samples = {102: [("idle;verify_loop;main", 50), (BURST, 20), ("idle;verify_loop;main", 50)]}
    script = perf_script_text(samples, start=start + clock_offset)
    return FakeHost(name, threads=list(TILES), perf_script=script, clock_offset=clock_offset, latency=latency)


def capture(tmp_path: Path, fakes: dict[str, FakeHost]) -> RunOutcome:
    hosts = [HostRecord(name, f"10.0.0.{i + 1}") for i, name in enumerate(fakes)]
    opts = CaptureOptions(target=parse_target("verify"), duration=0.2, out=tmp_path / "out", formats=("folded",))
    return run_capture(hosts, opts, None, fake_connector(fakes))


def burst_bins(outcome: RunOutcome) -> dict[str, list[int]]:
    folder = CaptureFolder(outcome.folder)
    try:
        timelines = load_timelines(folder, read_manifest(outcome.folder))
    finally:
        folder.close()
    return {host: sorted(t.series["verify:0;main;verify_loop;fd_burst"]) for host, t in timelines.items()}


def test_two_hosts_whose_clocks_differ_line_up_on_one_clock(tmp_path: Path) -> None:
    start = time.time()
    fakes = {"synced": host_with_burst("synced", start), "behind": host_with_burst("behind", start, clock_offset=-2.5)}
    outcome = capture(tmp_path, fakes)
    assert outcome.exit_code == 0
    rows = outcome.manifest.hosts
    assert rows["behind"].clock_offset_s == pytest.approx(-2.5, abs=0.02)
    assert rows["synced"].clock_offset_s == pytest.approx(0.0, abs=0.02)
    assert any("behind's clock is 2.5" in w and "behind this" in w for w in rows["behind"].warnings), rows["behind"].warnings
    assert not any("clock" in w for w in rows["synced"].warnings)
    bins = burst_bins(outcome)
    assert len(bins["synced"]) >= 10
    # the same 200 ms on both hosts, to within one 20 ms bin (the offset is known to a round trip)
    assert abs(bins["behind"][0] - bins["synced"][0]) <= 1 and abs(bins["behind"][-1] - bins["synced"][-1]) <= 1, bins
    # the recording's start is on this machine's clock too: not the host's that reads 2.5 s earlier
    assert rows["synced"].perf_started_at is not None
    assert capture_start(outcome.manifest) == pytest.approx(rows["synced"].perf_started_at, abs=0.05)


def test_timeline_names_the_hosts_it_moved(tmp_path: Path) -> None:
    start = time.time()
    outcome = capture(tmp_path, {"synced": host_with_burst("synced", start), "behind": host_with_burst("behind", start, clock_offset=-2.5)})
    result = CliRunner().invoke(app, ["timeline", str(outcome.folder), "--fn", "fd_burst"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("clock: behind moved +2.5") and "onto this machine's clock" in lines[-1]
    assert all(len(line) <= 80 for line in lines)
    rows = {line.split()[0]: line for line in lines if line.startswith(("synced", "behind"))}
    # the burst is in the same columns on both rows once the clock is corrected
    burst = [i for i, c in enumerate(rows["synced"]) if c == "█"]
    assert burst and burst == [i for i, c in enumerate(rows["behind"]) if c == "█"], rows


def test_clock_notes() -> None:
    notes = clock_notes({"a": (0.001, 0.002), "b": (-2.5, 0.001), "c": (None, None), "d": (0.0, 0.2)}, width=60)
    assert notes == ["clock: b moved +2.500 s onto this machine's clock", "clock: d placed only to ±200 ms (slow start signal)"]


def test_a_slow_link_flags_a_clock_it_cannot_place(tmp_path: Path) -> None:
    start = time.time()
    outcome = capture(tmp_path, {"far": host_with_burst("far", start, latency=0.05)})
    row = outcome.manifest.hosts["far"]
    assert row.clock_uncertainty_s is not None and row.clock_uncertainty_s >= 0.05
    assert any("far's clock offset is known only to" in w for w in row.warnings), row.warnings
    assert outcome.exit_code == 0, "a warning, not a failure: the samples are kept"


def test_a_manifest_with_a_planted_offset_is_refused(tmp_path: Path) -> None:
    outcome = capture(tmp_path, {"a": host_with_burst("a", time.time())})
    path = outcome.folder / "manifest.json"
    path.write_text(path.read_text().replace('"clock_offset_s": ', '"clock_offset_s": 1e308, "x": '))
    with pytest.raises(ValueError, match="clock_offset_s out of range"):
        read_manifest(outcome.folder)


@pytest.mark.parametrize("line", ["clock 1e308", "clock -5", "clock 12345678901234.5", "clock", "started 1796617140.0"])
def test_a_host_that_garbles_its_clock_fails_alone(tmp_path: Path, line: str) -> None:
    start = time.time()
    bad = host_with_burst("bad", start)
    bad.clock_line = line
    outcome = capture(tmp_path, {"good": host_with_burst("good", start), "bad": bad})
    rows = outcome.manifest.hosts
    assert rows["good"].status == "ok" and rows["bad"].status == "failed", rows["bad"]
    assert rows["bad"].error and ("bad time" in rows["bad"].error or "expected clock" in rows["bad"].error or "did not say its clock" in rows["bad"].error), rows["bad"].error
    assert rows["bad"].clock_offset_s is None
