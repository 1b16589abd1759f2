"""Sample times: binning while collapsing, the timeline file, windows and the terminal view."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame import folded
from fleetflame.capture import HostResult, Manifest
from fleetflame.cli import app
from fleetflame.collapse import PerfOptions, collapse_perf
from fleetflame.collapse.hosts import collapse_host
from fleetflame.errors import InputError
from fleetflame.capture.manifest import read_manifest
from fleetflame.render.timedata import build_time
from fleetflame.capture.folder import CaptureFolder
from fleetflame.timeline import TIMELINE, read_timeline, write_timeline
from fleetflame.timeline.store import Timeline, _packed_rows
from fleetflame.timeline.view import activity_rows
from fleetflame.timeline.window import load_timelines, parse_moment

START = 1796617140.0  # 2026-12-07T04:19:00Z, the recording's start in these tests
runner = CliRunner()


def record(tid: int, t: float, frames: tuple[str, ...]) -> str:
    lines = [f"fd_tile {100}/{tid} [001] {t:.6f}: 1 cpu-clock:ppp: "]
    lines += [f"\t{0x1000 + i:x} {f}+0x1 (/opt/fd)" for i, f in enumerate(reversed(frames))]
    return "\n".join(lines) + "\n\n"


def script(seconds: float = 4.0, hz: int = 100) -> str:
    """verify:0 (tid 201) always in `work`; from 1 s to 2 s after START also in `slow`.
    net:0 (tid 202) polls. A sample every 1/hz s for each."""
    out = []
    for i in range(int(seconds * hz)):
        t = START + i / hz + 0.0001
        slow = 1.0 <= t - START < 2.0
        out.append(record(201, t, ("main", "work", "slow") if slow else ("main", "work")))
        out.append(record(202, t, ("main", "poll")))
    return "".join(out)


ROOTS = {201: "verify:0", 202: "net:0"}


def test_bins_are_20_ms_of_the_wall_clock() -> None:
    text = record(201, 1000.0005, ("main", "a")) + record(201, 1000.0199, ("main", "a")) + record(201, 1000.02, ("main", "a"))
    text += record(202, 1000.999999, ("main", "b"))
    for opts in (PerfOptions(time_bins=True), PerfOptions(time_bins=True, weight="samples", roots_by_tid=ROOTS)):
        r = collapse_perf([text.encode()], opts)
        assert r.bins is not None and r.unbinned == 0
        by_leaf = {k.rsplit(";", 1)[1]: v for k, v in r.bins.items()}
        assert by_leaf == {"a": {50000: 2, 50001: 1}, "b": {50049: 1}}
        assert sum(map(sum, (v.values() for v in r.bins.values()))) == sum(r.stacks.values())


def test_the_literal_loop_bins_too() -> None:
    """A record the fast path leaves to the line-by-line loop (a one-decimal time) is binned the same."""
    text = record(201, 1000.5, ("main", "a")).replace("1000.500000", "1000.5") + record(201, 1000.51, ("main", "a"))
    r = collapse_perf([text.encode()], PerfOptions(time_bins=True, weight="samples", roots_by_tid=ROOTS))
    assert r.bins == {"verify:0;main;a": {50025: 2}}


def test_without_time_bins_nothing_changes() -> None:
    text = script(1.0).encode()
    plain = collapse_perf([text], PerfOptions(weight="samples", roots_by_tid=ROOTS))
    timed = collapse_perf([text], PerfOptions(weight="samples", roots_by_tid=ROOTS, time_bins=True))
    assert plain.bins is None and plain.stacks == timed.stacks


def test_collapse_host_writes_the_timeline(tmp_path: Path) -> None:
    path = tmp_path / "perf.script.gz"
    path.write_bytes(gzip.compress(script().encode()))
    stacks = collapse_host(str(path), ROOTS, None, str(tmp_path))
    assert stacks == collapse_host(str(path), ROOTS, None)  # the stacks are as without it
    data = json.loads(gzip.decompress((tmp_path / TIMELINE).read_bytes()))
    assert data["format"] == "fleetflame-timeline" and data["bin_ms"] == 20 and data["clock"] == "realtime"
    assert data["samples"] == sum(stacks.values()) == 800
    timeline = read_timeline(tmp_path)
    assert timeline is not None and timeline.wall_clock
    assert {k: sum(v.values()) for k, v in timeline.series.items()} == stacks
    b0 = int(START / 0.02)
    assert timeline.window(b0 + 50, b0 + 100) == {"verify:0;main;work;slow": 100, "net:0;main;poll": 100}
    assert Timeline.from_json(timeline.to_json()).series == timeline.series


def test_parse_moment() -> None:
    assert parse_moment("12.4", START) == pytest.approx(START + 12.4)
    assert parse_moment("0", START) == START
    assert parse_moment("04:19:01.250", START) == pytest.approx(START + 1.25)
    assert parse_moment("4:19", START) == pytest.approx(START)
    assert parse_moment("00:00:10", START) == pytest.approx(START - 4 * 3600 - 19 * 60 + 10)  # same day, before
    for bad in ("-1", "abc", "nan", "25:00", "12:61:00", "inf"):
        with pytest.raises(InputError):
            parse_moment(bad, START)


def make_capture(out: Path, with_timeline: bool = True, hosts: tuple[str, ...] = ("val01", "val02"), quiet: tuple[str, ...] = ()) -> Path:
    """A capture of `hosts` recording script(); the `quiet` hosts never take the slow path."""
    folder = out / "20261207T041900Z-all"
    rows = {}
    for host in hosts:
        host_dir = folder / "hosts" / host
        host_dir.mkdir(parents=True)
        text = re.sub(r"\t\w+ slow\+0x1 \(/opt/fd\)\n", "", script()) if host in quiet else script()
        (host_dir / "perf.script.gz").write_bytes(gzip.compress(text.encode()))
        stacks = collapse_host(str(host_dir / "perf.script.gz"), ROOTS, None, str(host_dir) if with_timeline else None)
        folded.write_folded(stacks, host_dir / "stacks.folded")
        rows[host] = HostResult(status="ok", samples=sum(stacks.values()), perf_started_at=START)
    Manifest(id=folder.name, target="all", started_at="2026-12-07T04:19:00Z", duration_s=4, hosts=rows).write(folder)
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_report_window(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    code, out, err = invoke("report", str(folder), "--from", "1", "--until", "2")
    assert code == 0, err
    window = folder / "windows" / "1.000-2.000"
    assert out.strip() == str(window)
    fleet = folded.read_folded(window / "fleet.folded")
    assert fleet == {f"{h};{k}": 100 for h in ("val01", "val02") for k in ("verify:0;main;work;slow", "net:0;main;poll")}
    assert (window / "flamegraph.svg").is_file() and (window / "flamegraph.html").is_file()
    assert not (folder / "fleet.folded").exists()  # the capture's own files are left alone
    code, _, err = invoke("report", str(folder), "--from", "04:19:02.5", "--until", "04:19:03")
    fleet = folded.read_folded(folder / "windows" / "2.500-3.000" / "fleet.folded")
    assert code == 0 and not any("slow" in k for k in fleet) and sum(fleet.values()) == 200


def test_a_window_holds_its_own_skew_json(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    code, _, err = invoke("report", str(folder), "--from", "0.5", "--until", "2.5")
    assert code == 0, err
    skew = json.loads((folder / "windows" / "0.500-2.500" / "skew.json").read_text())
    assert skew["findings"] == [] and not (folder / "skew.json").exists()


def test_skew_of_a_window_compares_only_that_window(tmp_path: Path) -> None:
    # val03 takes the slow path from 1 s to 2 s; val01 and val02 never do
    folder = make_capture(tmp_path, hosts=("val01", "val02", "val03"), quiet=("val01", "val02"))
    code, out, err = invoke("skew", str(folder), "--json", "--min-samples", "50", "--from", "1", "--until", "2")
    assert code == 0, err
    findings = json.loads(out)["findings"]
    assert ("val03", "verify:0", "slow") in {(f["host"], f["tile"], f["function"]) for f in findings}, findings
    code, out, err = invoke("skew", str(folder), "--json", "--min-samples", "50", "--from", "2.5", "--until", "3.5")
    assert code == 0 and json.loads(out)["findings"] == [], "outside the window every host ran the same code"
    code, _, err = invoke("skew", str(folder), "--until", "3")
    assert code == 2 and "both --from and --until" in err


def test_diff_of_a_window(tmp_path: Path) -> None:
    before = make_capture(tmp_path / "a")
    after = make_capture(tmp_path / "b")
    code, svg, err = invoke("diff", str(before), str(after), "--from", "1", "--until", "2")
    assert code == 0, err
    assert "slow" in svg and "(1 to 2)" in svg
    code, svg, err = invoke("diff", str(before), str(after), "--from", "2.5", "--until", "3")
    assert code == 0 and "slow" not in svg, "the window after the slow second has none of it"
    folded.write_folded({"a;b": 1}, tmp_path / "x.folded")
    code, _, err = invoke("diff", str(tmp_path / "x.folded"), str(after), "--from", "1", "--until", "2")
    assert code == 2 and "a folded file has no sample times" in err


def test_report_window_errors(tmp_path: Path) -> None:
    folder = make_capture(tmp_path, with_timeline=False)
    code, _, err = invoke("report", str(folder), "--from", "1", "--until", "2")
    assert code == 2 and err.startswith("error:") and "no sample times" in err and len(err.strip().splitlines()) == 1
    code, _, err = invoke("timeline", str(folder))
    assert code == 2 and "no sample times" in err
    code, _, err = invoke("report", str(folder))  # without a window: as before
    assert code == 0, err
    code, _, err = invoke("report", str(folder), "--from", "2", "--until", "1")
    assert code == 2 and "not after" in err
    code, _, err = invoke("report", str(folder), "--from", "1")
    assert code == 2 and "both" in err


def test_timeline_at_80_columns(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    code, out, err = invoke("timeline", str(folder))
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    assert all(len(line) <= 80 for line in lines), lines
    rows = [line for line in lines if line.startswith("val0")]
    assert len(rows) == 2 and all(len(row) == 80 for row in rows)
    code, out, _ = invoke("timeline", str(folder), "--tile", "verify", "--fn", "slow$", "--host", "val01")
    rows = [line for line in out.split("\n") if line.startswith("val01")]
    assert code == 0 and len(rows) == 1
    bar = rows[0][6:]
    quarter = len(bar) // 4  # 4 s: the second quarter is slow, the others not
    assert set(bar[quarter + 1 : 2 * quarter - 1]) == {"█"}
    assert set(bar[: quarter - 1]) <= {" "} and set(bar[2 * quarter + 1 :]) <= {" "}
    code, _, err = invoke("timeline", str(folder), "--fn", "(")
    assert code == 2 and "--fn" in err


def test_activity_rows_fit_any_width() -> None:
    t = Timeline({"verify:0;main;work": {int(START / 0.02) + i: 1 + i % 3 for i in range(200)}})
    for width in (40, 80, 132):
        lines = activity_rows({"a-very-long-host-name-indeed.example.com": t, "b": t}, START, width=width)
        assert all(len(line) <= width for line in lines)


@pytest.mark.parametrize("damage", [
    b"not gzip at all",
    gzip.compress(b"{not json"),
    gzip.compress(b'{"format": "something-else"}'),
    gzip.compress(b'{"format": "fleetflame-timeline", "version": 1, "bin_ms": 20, "first_bin": 0, "stacks": ["a"], "series": [[1, -5]]}'),
    gzip.compress(b"[1, 2, 3]"),
])
def test_a_damaged_timeline_is_one_error_line_naming_it(tmp_path: Path, damage: bytes) -> None:
    folder = make_capture(tmp_path)
    (folder / "hosts" / "val02" / "timeline.json.gz").write_bytes(damage)
    for args in (["timeline", str(folder)], ["report", str(folder), "--from", "1", "--until", "2"]):
        code, _, err = invoke(*args)
        assert code == 2, err
        (line,) = err.strip().splitlines()
        assert line.startswith("error:") and "timeline.json.gz" in line and "Traceback" not in err


def test_times_a_host_forged_far_from_its_recording_are_left_out(tmp_path: Path) -> None:
    """A host prints its own perf script: samples it dates in 1970 or centuries ahead must not
    stretch the timeline (nor the memory drawing it takes). They count as unbinned."""
    folder = make_capture(tmp_path)
    host_dir = folder / "hosts" / "val02"
    timeline = read_timeline(host_dir)
    assert timeline is not None
    series = timeline.series
    series["verify:0;main;work"].update({1: 5, 1 << 38: 7})
    write_timeline(host_dir, Timeline(series, timeline.bin_ms, timeline.unbinned))
    code, out, err = invoke("timeline", str(folder))
    assert code == 0, err
    assert out.splitlines()[0].rstrip().endswith("4.0 s"), out  # the axis: the 4 s recorded, not centuries
    opened = CaptureFolder(folder)
    try:
        loaded = load_timelines(opened, read_manifest(folder))
    finally:
        opened.close()
    assert loaded["val02"].unbinned == 12 and loaded["val01"].unbinned == 0


def test_the_page_bounds_the_grid_a_timeline_needs() -> None:
    """The viewer's dense hosts × bins grid: a span too long even at 1 s bins gives a note, not an
    allocation of that size."""
    first = round(START / 0.02)
    forged = {h: Timeline({"net:0;main;poll": {first: 1, first + 10 * 365 * 86400 * 50: 1}}) for h in ("a", "b")}
    leaf_of = {h: {"net:0;main;poll": i} for i, h in enumerate(forged)}
    note = build_time(forged, leaf_of, 2, START)
    assert isinstance(note, str) and "too long for the page's timeline" in note


def test_a_timeline_on_perfs_default_clock_is_refused_in_one_line(tmp_path: Path) -> None:
    """Times since boot (a capture made before fleetflame recorded with -k realtime)."""
    folder = make_capture(tmp_path)
    for host in ("val01", "val02"):
        timeline = read_timeline(folder / "hosts" / host)
        assert timeline is not None
        shifted = {s: {b - round(START / 0.02) + 50_000: n for b, n in bins.items()} for s, bins in timeline.series.items()}
        write_timeline(folder / "hosts" / host, Timeline(shifted))
    code, _, err = invoke("timeline", str(folder))
    assert code == 2 and "not wall-clock" in err and len(err.strip().splitlines()) == 1


def test_a_file_is_read_the_same_by_arrays_and_one_value_at_a_time() -> None:
    """Timeline.from_json takes most files by whole-array steps and the rest (a repeated stack,
    a bin named twice, numbers beyond int64) one value at a time: both read what the format says."""
    r = random.Random(5)
    taken = 0
    for _ in range(600):
        stacks = [f"s{r.randrange(8)}" for _ in range(r.randrange(0, 6))]
        rows = [[v for _ in range(r.randrange(0, 6)) for v in (r.choice([0, 1, 2, 50, 10**6]), r.randrange(1, 5))] for _ in stacks]
        first = r.choice([0, 5, -7, 89830857207, 10**20])
        want: dict[str, dict[int, int]] = {}
        for stack, row in zip(stacks, rows):  # the format, spelled out: gaps from first, counts add
            b, bins = first, {}
            for gap, count in zip(row[::2], row[1::2]):
                b += gap
                bins[b] = bins.get(b, 0) + count
            want[stack] = bins  # (a repeated stack: the last row)
        data = {"format": "fleetflame-timeline", "version": 1, "bin_ms": 20, "first_bin": first, "stacks": stacks, "series": rows}
        taken += _packed_rows(stacks, rows, first) is not None
        assert Timeline.from_json(json.loads(json.dumps(data))).series == {k: v for k, v in want.items() if v}
    assert 100 < taken < 500  # both ways were taken
