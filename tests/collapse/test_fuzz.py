"""Random perf-script-like input, odd on purpose, against the fast path's own reference (the
line-by-line loop) always, and against FlameGraph's script when FLEETFLAME_ORACLE names it; and
hypothesis input, hostile on purpose (control characters, huge numbers, random bytes, cut gzip),
where no exception may escape and the results must add up."""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import random
import re
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetflame.collapse import CollapseResult, PerfOptions, collapse_perf, format_collapsed, source

from .flags import options
from .test_collapse import line_by_line

COMMS = [b"deep", b"V8 WorkerThread", b"pool 2 worker", b"net:0", b"java", b"javac", b"x", b"worker one", b"a:1 b"]
EVENTS = [b"cpu-clock:ppp", b"cpu-clock", b"page-faults", b"123"]
FUNCS = [
    b"main", b"main+0x1f", b"std::vector<int>::push_back(int const&)+0x3", b"(anonymous namespace)::run()",
    b"net/http.(*Client).Do", b"a;b", b"[unknown]", b"Lorg/x/Y;.call(I)V", b"outer->inner", b"->x->", b"",
    b"\"quoted\" 'x'", b"+0x10", b"(deleted)", b"f_[i]", b"caf\xc3\xa9", b"bad\xff",
]
MODS = [b"/usr/lib/libc.so.6", b"[kernel.kallsyms]", b"[unknown]", b"/tmp/perf-42.map", b"/boot/vmlinux", b"x (deleted)", b""]


def record(r: random.Random) -> bytes:
    comm, event = r.choice(COMMS), r.choice(EVENTS)
    ids = r.choice([b"%d" % r.randrange(1, 99), b"%d/%d" % (r.randrange(99), r.randrange(99)), b"0/0"])
    period = r.choice([b"", b"1001001 ", b"0 ", b"7 "])
    cpu = r.choice([b"", b"[001] "])
    head = b"%s %s %s%d.%06d: %s%s:%s" % (comm, ids, cpu, r.randrange(9), r.randrange(10**6), period, event, r.choice([b"", b" "]))
    lines = [head]
    for _ in range(r.randrange(6)):
        lines.append(b"\t%x %s (%s)" % (r.randrange(1 << 40), r.choice(FUNCS), r.choice(MODS)))
    if r.random() < 0.05:
        lines.insert(r.randrange(1, len(lines) + 1), r.choice([b"# comment", b"junk line", b"   ", b"\r"]))
    return b"\n".join(lines)


def fuzz_input(seed: int) -> bytes:
    r = random.Random(seed)
    seps = [b"\n\n"] * 20 + [b"\n", b"\n\n\n", b"\n\n\n\n"]
    out = [r.choice([b"", b"# cmdline : perf record -g x\n"])]
    for _ in range(300):
        out.append(record(r) + r.choice(seps))
    return b"".join(out)


SEEDS = range(12)
FLAG_SETS = [[], ["--pid"], ["--tid", "--all", "--addrs"], ["--event-filter=page-faults"]]


@pytest.mark.parametrize("seed", SEEDS)
def test_fast_path_equals_line_loop_on_odd_input(seed: int) -> None:
    data = fuzz_input(seed)
    for flags in FLAG_SETS:
        opts = options(flags)
        assert collapse_perf(io.BytesIO(data), opts).stacks == line_by_line(data, opts).stacks, flags


@pytest.mark.skipif(not os.environ.get("FLEETFLAME_ORACLE"), reason="set FLEETFLAME_ORACLE=/path/to/stackcollapse-perf.pl")
@pytest.mark.parametrize("seed", SEEDS)
def test_odd_input_against_the_script(seed: int, tmp_path: object) -> None:
    data = fuzz_input(seed)
    for flags in FLAG_SETS:
        perl = subprocess.run(["perl", os.environ["FLEETFLAME_ORACLE"], *flags], input=data, capture_output=True, check=True)
        assert format_collapsed(collapse_perf(io.BytesIO(data), options(flags)).stacks) == perl.stdout, flags


def test_options_default_is_the_script_default() -> None:
    assert options([]) == PerfOptions()


ROOTS = {tid: f"lab01;tile{tid}" for tid in range(0, 99, 3)}


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_fleet_options_on_odd_input(seed: int) -> None:
    data = fuzz_input(seed)
    for opts in (
        PerfOptions(weight="samples", roots_by_tid=ROOTS, unknown_tid_root="agave;{comm}"),
        PerfOptions(roots_by_tid=ROOTS),
    ):
        got, want = fast_and_literal(data, opts)
        assert (got.stacks, got.samples) == (want.stacks, want.samples)


def fast_and_literal(data: bytes, opts: PerfOptions) -> tuple[CollapseResult, CollapseResult]:
    """`data` collapsed by collapse_perf (the fast path) and by the line-by-line loop."""
    return collapse_perf(io.BytesIO(data), opts), line_by_line(data, opts)


def odd_times(data: bytes, seed: int) -> bytes:
    """Some time stamps with one decimal, 12 or 25 digits of seconds, or 9 decimals."""
    r = random.Random(seed)
    forms = [rb"\g<1>\g<2>.%d:", rb"\g<1>\g<2>.%d5:", rb"\g<1>123456789012.\g<3>:", rb"\g<1>1234567890123456789012345.\g<3>:",
             rb"\g<1>\g<2>.\g<3>123:", rb"\g<1>12345678901.\g<3>:"]

    def swap(m: re.Match[bytes]) -> bytes:
        if r.random() < 0.7:
            return m.group(0)
        return m.expand(r.choice(forms).replace(b"%d", b"%d" % r.randrange(10)))

    return re.sub(rb"(\s)(\d+)\.(\d{6}):", swap, data)


@pytest.mark.parametrize("seed", SEEDS)
def test_time_bins_fast_path_equals_line_loop(seed: int) -> None:
    """The fast path's packed bins (issue 18) against the line-by-line loop's, on odd input."""
    data = odd_times(fuzz_input(seed), seed)
    for opts in (
        PerfOptions(weight="samples", roots_by_tid=ROOTS, unknown_tid_root="agave;{comm}", time_bins=True),
        PerfOptions(weight="samples", roots_by_tid=ROOTS, time_bins=True),
        PerfOptions(time_bins=True),
        PerfOptions(weight="samples", time_bins=True),
        PerfOptions(include_tid=True, time_bins=True),
    ):
        got, want = fast_and_literal(data, opts)
        assert (got.stacks, got.samples, got.bins, got.unbinned) == (want.stacks, want.samples, want.bins, want.unbinned)
        untimed = collapse_perf(io.BytesIO(data), dataclasses.replace(opts, time_bins=False))
        assert (untimed.stacks, untimed.samples) == (got.stacks, got.samples)
        assert got.bins is not None and sum(map(sum, (b.values() for b in got.bins.values()))) + got.unbinned == got.samples


# --- hypothesis: random and adversarial perf script text, shrunk to a small example on failure ---

NOT_NEWLINE = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b" "))
HOSTILE_TEXT = st.sampled_from([b"\x1b[2J", b"\0", b"\r", b"\x0b", b"\xff\xfe", b"1" * 40, b" " * 40, b"(" * 20, b"->" * 5, b";"])


@st.composite
def event_lines(draw: st.DrawFn, hostile: bool) -> bytes:
    comm = draw(st.sampled_from(COMMS) | (NOT_NEWLINE | HOSTILE_TEXT if hostile else st.nothing()))
    ids = draw(st.sampled_from([b"7", b"12/34", b"0/0", b"5/", b"5//6", b"99999999999999999999999"]))
    cpu = draw(st.sampled_from([b"", b"[001] ", b"[x] "]))
    periods = [b"", b"1001001 ", b"0 ", b"00 ", b"18446744073709551615 "]
    period = draw(st.sampled_from(periods + ([b"1" * 30 + b" ", b"1" * 5000 + b" "] if hostile else [])))
    event = draw(st.sampled_from(EVENTS) | (NOT_NEWLINE if hostile else st.nothing()))
    tail = draw(st.sampled_from([b"", b" ", b"\t"]))
    return b"%s %s %s1.000001: %s%s:%s" % (comm, ids, cpu, period, event, tail)


@st.composite
def stack_lines(draw: st.DrawFn, hostile: bool) -> bytes:
    func = draw(st.sampled_from(FUNCS) | (NOT_NEWLINE | HOSTILE_TEXT if hostile else st.nothing()))
    mod = draw(st.sampled_from(MODS) | (NOT_NEWLINE if hostile else st.nothing()))
    pc = draw(st.sampled_from([b"4005d0", b"ffffffff81000000", b"x_1", b""]))
    return b"%s%s %s (%s)" % (draw(st.sampled_from([b"\t", b"    ", b""])), pc, func, mod)


@st.composite
def perf_script(draw: st.DrawFn, hostile: bool = True) -> bytes:
    """Records of an event line and stack lines, odd lines here and there, odd separators."""
    out = []
    for _ in range(draw(st.integers(0, 12))):
        lines = [draw(event_lines(hostile))] + draw(st.lists(stack_lines(hostile), max_size=5))
        if draw(st.integers(0, 9)) == 0:
            junk = st.sampled_from([b"# comment", b"", b"   "]) | (NOT_NEWLINE | HOSTILE_TEXT if hostile else st.nothing())
            lines.insert(draw(st.integers(0, len(lines))), draw(junk))
        out.append(b"\n".join(lines) + draw(st.sampled_from([b"\n\n", b"\n\n", b"\n", b"\n\n\n", b""])))
    return b"".join(out)


FUZZ_OPTIONS = [
    PerfOptions(),
    options(["--tid", "--all", "--addrs"]),
    options(["--event-filter=page-faults"]),
    options(["--srcline"]),
    PerfOptions(weight="samples", roots_by_tid=ROOTS, unknown_tid_root="agave;{comm}"),
    PerfOptions(weight="samples", roots_by_tid=ROOTS),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perf_script(), st.sampled_from([97, 4096, 1 << 20]))
def test_no_input_raises_and_results_add_up(data: bytes, chunk: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source, "CHUNK", chunk)  # records cut anywhere
        for opts in FUZZ_OPTIONS:
            got = collapse_perf(io.BytesIO(data), opts)
            if opts.weight == "samples":
                assert sum(got.stacks.values()) == got.samples
            assert all(n >= 0 for n in got.stacks.values())
            assert all(w.isprintable() and len(w) < 1000 for w in got.warnings)
            out = format_collapsed(got.stacks)
            assert out.count(b"\n") == len(got.stacks)
            if not opts.srcline:  # (srcline reads the line after a frame: no fast path to compare)
                want = line_by_line(data, opts)
                assert (got.stacks, got.samples) == (want.stacks, want.samples)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_raise_nothing(data: bytes) -> None:
    for opts in FUZZ_OPTIONS:
        got = collapse_perf(io.BytesIO(data), opts)
        if opts.weight == "samples":
            assert sum(got.stacks.values()) == got.samples
        collapse_perf(io.BytesIO(gzip.compress(data)[: len(data) // 2 + 10]), opts)  # cut gzip


@pytest.mark.skipif(not os.environ.get("FLEETFLAME_ORACLE"), reason="set FLEETFLAME_ORACLE=/path/to/stackcollapse-perf.pl")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given((perf_script(hostile=False) | perf_script(hostile=True)).filter(lambda d: b"1" * 20 not in d and b"184467440737" not in d))
def test_hypothesis_input_against_the_script(data: bytes) -> None:
    """Byte for byte the script's output. Left out: periods or sums above 2^64-1, where Perl
    turns to floating point (`1.84467440737096e+19`) and we count exactly (documented)."""
    for flags in FLAG_SETS + [["--srcline"]]:
        perl = subprocess.run(["perl", os.environ["FLEETFLAME_ORACLE"], *flags], input=data, capture_output=True, check=True)
        assert format_collapsed(collapse_perf(io.BytesIO(data), options(flags)).stacks) == perl.stdout, flags
