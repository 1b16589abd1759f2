"""Hostile input to `collapse`: one test per goal of the bounded-resources issue (behaviour: the
output and the warnings; memory where tracemalloc can see it cheaply). The times are measured
in bench/collapse_limits.py; `at_most` here only turns a hang into a failure."""

from __future__ import annotations

import gzip
import io
import os
import random
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pytest

import fleetflame.collapse.perf as collapse  # where MAX_RECORD is read
from fleetflame.collapse import PerfOptions, collapse_perf, collapse_perf_file, format_collapsed
from fleetflame.collapse.fast import Collapser

from .test_linear_rules import at_most

ROOT = Path(__file__).resolve().parents[2]
RECORD = b"app 10 1.0: 5 cpu-clock:\n\t4005d0 work+0x10 (/app)\n\t4005a0 main (/app)\n\n"
MB = 1_000_000


def traced_peak(run: object) -> tuple[object, int]:
    """What `run()` returns and the most Python memory it held at once, in bytes."""
    tracemalloc.start()
    try:
        result = run()  # type: ignore[operator]
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def cli(path: Path) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "fleetflame", "collapse", str(path)], capture_output=True, env=env, timeout=120)


def assert_one_line_warnings(warnings: list[str]) -> None:
    for w in warnings:
        assert w.isprintable() and len(w) < 400, w  # no newline, no escape sequence, no megabyte


def test_a_megabyte_line_without_blanks_is_one_short_warning() -> None:
    with at_most(30, "a 1 MB line"):
        r = collapse_perf(io.BytesIO(b"a" * MB + b"\n" + RECORD))
    assert r.stacks == {"app;main;work": 5}
    assert r.warnings[0].startswith("Unrecognized line: aaaa") and "more characters" in r.warnings[0]
    assert_one_line_warnings(r.warnings)


def test_a_megabyte_frame_is_kept_whole() -> None:
    """A long line is no reason to change the output: a 1 MB function name is a 1 MB frame."""
    rec = b"app 10 1.0: 5 cpu-clock:\n\t1 " + b"f" * MB + b" (/app)\n\n"
    with at_most(30, "a 1 MB frame"):
        r = collapse_perf(io.BytesIO(rec))
    assert r.stacks == {"app;" + "f" * MB: 5}


def test_text_without_a_newline_is_skipped_with_a_warning(tmp_path: Path) -> None:
    words = b"lorem 12 ipsum: dolor (sit) amet, 1234/5678 [001] 3.14: cpu-clock: \t"
    path = tmp_path / "text.txt"
    path.write_bytes(RECORD + words * (25 * MB // len(words)))
    with at_most(60, "25 MB without a newline"):
        r, peak = traced_peak(lambda: collapse_perf_file(path))
    assert r.stacks == {"app;main;work": 5}  # type: ignore[attr-defined]
    assert r.warnings == ["skipped 1 records of more than 4 MiB without a blank line (not perf script output)"]  # type: ignore[attr-defined]
    assert peak < 40 * MB  # the 25 MB are never held at once


def test_one_giant_record_is_skipped_and_what_follows_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "giant.txt"
    path.write_bytes(RECORD + b"app 10 1.0: 1 cpu-clock:\n" + b"\t4005d0 work (/app)\n" * (6 * MB // 20) + b"\n" + RECORD * 3)
    r, peak = traced_peak(lambda: collapse_perf_file(path))
    assert r.stacks == {"app;main;work": 20}  # type: ignore[attr-defined]
    assert r.warnings[0].startswith("skipped 1 records of more than 4 MiB")  # type: ignore[attr-defined]
    assert peak < 60 * MB


def test_records_under_the_cap_are_the_scripts_whatever_the_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a tiny cap and tiny chunks: exactly the records over the cap are left out."""
    r = random.Random(3)
    recs = [b"app 10 1.0: 1 cpu-clock:\n" + b"\t1 f%d (/app)\n" % i * r.randrange(1, 9) for i in range(200)]
    data = b"".join(rec + r.choice([b"\n", b"\n\n", b"\n\n\n"]) for rec in recs)
    monkeypatch.setattr(collapse, "MAX_RECORD", 60)
    for chunk in (7, 64, 1000):
        monkeypatch.setattr("fleetflame.collapse.source.CHUNK", chunk)
        got = collapse_perf(io.BytesIO(data))
        pieces = data.split(b"\n\n")
        last = pieces.pop()
        kept = [p for p in pieces if len(p) <= 60] + [last if len(last) <= 60 else b""]
        want = Collapser(PerfOptions())
        lines = b"\n\n".join(kept).split(b"\n")
        if not lines[-1]:
            lines.pop()
        want.feed_lines(lines)
        assert got.stacks == want.finish().stacks
        skipped = len(pieces) + 1 - len(kept) + (1 if len(last) > 60 else 0)
        assert any(w.startswith(f"skipped {skipped} records") for w in got.warnings) or skipped == 0


def test_random_bytes_never_raise() -> None:
    data = random.Random(6).randbytes(4 * MB)
    with at_most(60, "4 MB of random bytes"):
        for opts in (PerfOptions(), PerfOptions(weight="samples", roots_by_tid={1: "t"}, unknown_tid_root="agave;{comm}")):
            r = collapse_perf(io.BytesIO(data), opts)
            if opts.weight == "samples":
                assert sum(r.stacks.values()) == r.samples
            assert_one_line_warnings(r.warnings)
            format_collapsed(r.stacks)


def test_gzip_of_100_mb_of_empty_lines_streams(tmp_path: Path) -> None:
    path = tmp_path / "empty.gz"
    with gzip.open(path, "wb", compresslevel=9) as fp:
        fp.write(RECORD)
        for _ in range(100):
            fp.write(b"\n" * MB)
        fp.write(RECORD * 2)
    assert path.stat().st_size < 200_000
    with at_most(120, "100 MB of empty lines"):
        r, peak = traced_peak(lambda: collapse_perf_file(path))
    assert r.stacks == {"app;main;work": 15} and r.warnings == []  # type: ignore[attr-defined]
    assert peak < 30 * MB  # (the old code held all 100 MB, then gigabytes of empty records)


def test_gzip_bomb_inflates_a_chunk_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "zeros.gz"
    with gzip.open(path, "wb", compresslevel=9) as fp:
        for _ in range(200):
            fp.write(b"\0" * MB)  # one 200 MB line of NULs: skipped, never held
    r, peak = traced_peak(lambda: collapse_perf_file(path))
    assert r.stacks == {}  # type: ignore[attr-defined]
    assert r.warnings == ["skipped 1 records of more than 4 MiB without a blank line (not perf script output)"]  # type: ignore[attr-defined]
    assert peak < 30 * MB


def test_truncated_gzip_is_a_warning_and_keeps_what_came_before(tmp_path: Path) -> None:
    data = gzip.compress(RECORD * 20_000)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    r = collapse_perf_file(path)
    assert 0 < r.stacks["app;main;work"] < 5 * 20_000
    # (the cut may leave half a line, which the script would not recognize either)
    assert r.warnings[-1] == "the gzip input ends early (after 0 whole members): truncated? collapsed what it holds"
    run = cli(path)
    assert run.returncode == 0 and b"app;main;work" in run.stdout
    assert run.stderr.decode().splitlines() == r.warnings


def test_corrupt_gzip_is_a_warning(tmp_path: Path) -> None:
    whole = gzip.compress(RECORD * 1000)
    path = tmp_path / "bad.gz"
    path.write_bytes(whole + b"\x1f\x8b\x08\x00garbage, not deflate" * 3)  # a second member that is not one
    r = collapse_perf_file(path)
    assert r.stacks == {"app;main;work": 5000}
    assert len(r.warnings) == 1 and r.warnings[0].startswith("the gzip input is corrupt after 1 whole members")
    run = cli(path)
    assert run.returncode == 0 and run.stderr.count(b"\n") == 1 and b"Traceback" not in run.stderr


def test_whole_gzip_members_still_decompress_exactly() -> None:
    data = RECORD * 50_000  # 3.5 MB: several output chunks from one member
    r = collapse_perf(io.BytesIO(gzip.compress(data[:1000]) + gzip.compress(data[1000:])))
    assert r.stacks == {"app;main;work": 250_000} and r.warnings == []
    with pytest.raises(zlib.error):  # (what the warning stands in for)
        zlib.decompress(b"\x1f\x8b\x08\x00garbage", wbits=47)


@pytest.mark.parametrize("period", [b"1" * 21, b"1" * 5000, b"18446744073709551616"])
def test_a_period_beyond_u64_counts_as_one_with_a_warning(period: bytes) -> None:
    rec = b"app 10 1.0: " + period + b" cpu-clock:\n\t1 main (/app)\n\n"
    for data in (rec, rec.replace(b"app 10", b"app x 10")):  # fast path, and the script's loop
        r = collapse_perf(io.BytesIO(data + RECORD))
        assert sorted(r.stacks.values()) == [1, 5]
        assert r.warnings[-1] == "1 samples had a period above 2^64-1 (perf's is a 64-bit number): counted as 1 each"


def test_the_largest_u64_period_is_exact() -> None:
    rec = b"app 10 1.0: 18446744073709551615 cpu-clock:\n\t1 main (/app)\n\n"
    assert collapse_perf(io.BytesIO(rec * 2)).stacks == {"app;main": 2 * (2**64 - 1)}


def test_long_digit_runs_and_blank_runs_in_event_lines() -> None:
    lines = [
        b"app 10 1.0: " + b"1" * 100_000 + b"x cpu-clock:",
        b"app" + b" " * 100_000 + b"10 1.0: 5 cpu-clock:",
        b"app 1" + b"2" * 100_000 + b"/3 1.0: 5 cpu-clock:",
        b"a" + b" " * 100_000 + b"x: " + b" " * 100_000 + b"y",
    ]
    with at_most(30, "event lines with long runs"):
        for line in lines:
            r = collapse_perf(io.BytesIO(line + b"\n\t1 main (/app)\n\n"), PerfOptions(weight="samples"))
            assert sum(r.stacks.values()) == r.samples <= 1


def test_huge_thread_ids_and_nuls_with_the_fleet_options() -> None:
    opts = PerfOptions(weight="samples", roots_by_tid={7: "lab01;net:0"}, unknown_tid_root="agave;{comm}")
    data = b"sol\0x 1/" + b"9" * 5000 + b" 1.0: 1 cpu-clock:\n\t1 f\0 (/x)\n\nnet 1/7 1.0: 1 cpu-clock:\n\t1 g (/x)\n\n"
    r = collapse_perf(io.BytesIO(data), opts)
    assert r.stacks == {"agave;sol\0x;f\0": 1, "lab01;net:0;g": 1}


def test_warnings_escape_control_characters() -> None:
    r = collapse_perf(io.BytesIO(b"\x1b]0;owned\x07\x1b[2J\r\n" + RECORD))
    assert r.warnings == ["Unrecognized line: \\x1b]0;owned\\x07\\x1b[2J\\r"]
    other = b"app 10 1.0: 1 \x1b[31mred:\n\t1 f (/x)\n\n"
    r = collapse_perf(io.BytesIO(RECORD + other))
    assert "\\x1b[31mred (1 samples)" in r.warnings[0]
    assert_one_line_warnings(r.warnings)


def test_distinct_event_types_are_counted_in_bounded_memory() -> None:
    data = RECORD + b"".join(b"app 10 1.0: 1 ev%d:\n\t1 f (/x)\n\n" % i for i in range(5000))
    r = collapse_perf(io.BytesIO(data))
    assert r.stacks == {"app;main;work": 5}
    assert len(r.dropped_events) == 101 and sum(r.dropped_events.values()) == 5000
    assert r.dropped_events["(other event types)"] == 4900
    assert r.warnings[0].endswith("and 96 more types") and len(r.warnings[0]) < 400


def test_unrecognized_line_warnings_stay_short_and_few() -> None:
    data = b"".join(b"junk-%d-" % i + b"x" * 1000 + b"\n" for i in range(1000))
    r = collapse_perf(io.BytesIO(data))
    assert len(r.warnings) == 21 and r.warnings[-1] == "... 980 more unrecognized lines"
    assert_one_line_warnings(r.warnings)


def test_a_hosts_hostile_output_through_collapse_host(tmp_path: Path) -> None:
    """The fleet's own entry: a host's gzip'd perf script with everything above in it."""
    from fleetflame.collapse.hosts import collapse_host

    hostile = (
        b"a" * MB + b"\n\n"  # a long line
        + b"sol 1/7 1.0: " + b"1" * 5000 + b" cpu-clock:\n\t1 f\xff\x1b[2J (/x)\n\n"  # huge period, bad UTF-8
        + b"tile 1/" + b"8" * 5000 + b" 1.0: 1 cpu-clock:\n\t1 g (/x)\n\n"  # huge tid
        + b"net 1/7 1.0: 1 cpu-clock:\n" + b"\t1 h (/x)\n" * (5 * MB // 10) + b"\n"  # a record over the cap
        + b"net 1/7 1.0: 1 cpu-clock:\n\t1 h (/x)\n\n"
    )
    path = tmp_path / "perf.script.gz"
    path.write_bytes(gzip.compress(hostile)[:-4])  # and cut short
    stacks = collapse_host(str(path), {7: "lab01;net:0"}, "agave;{comm}")
    assert stacks == {"lab01;net:0;f\ufffd\x1b[2J": 1, "agave;tile;g": 1, "lab01;net:0;h": 1}
