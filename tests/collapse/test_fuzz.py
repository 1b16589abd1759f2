"""Random perf-script-like input, odd on purpose, against the fast path's own reference (the
line-by-line loop) always, and against FlameGraph's script when FLEETFLAME_ORACLE names it."""

from __future__ import annotations

import io
import os
import random
import subprocess

import pytest

from fleetflame.collapse import PerfOptions, collapse_perf, format_collapsed
from fleetflame.collapse.fast import Collapser

from .flags import options

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
        literal = Collapser(opts)
        lines = data.split(b"\n")
        if not lines[-1]:
            lines.pop()
        literal.feed_lines(lines)
        assert collapse_perf(io.BytesIO(data), opts).stacks == literal.finish().stacks, flags


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
        literal = Collapser(opts)
        lines = data.split(b"\n")
        if not lines[-1]:
            lines.pop()
        literal.feed_lines(lines)
        want = literal.finish()
        got = collapse_perf(io.BytesIO(data), opts)
        assert (got.stacks, got.samples) == (want.stacks, want.samples)
