"""The one-regex event line parse of the fast path against the script's two regexes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleetflame.collapse.fast import header
from fleetflame.collapse.rules import (
    BLANK_DIGIT,
    USUAL_EVENT_LINE,
    USUAL_EVENT_LINE_NO_BLANK,
    parse_header,
    usual_event_lines,
)

INPUTS = Path(__file__).parent / "inputs"
TRICKY = [
    b"deep 123 1.5: 100 cpu-clock:ppp: ",
    b"deep  6744   843.723432:    1001001 cpu-clock:ppp: ",
    b"V8 WorkerThread 24636/25607 [000] 94564.109216: 100 cycles:",
    b"V8 WorkerThread 25607 4794564.109216: cycles:",
    b"pool 2 worker 123 5.0: 1 cpu-clock:",
    b"pool 2/3 worker 123 5.0: 1 cpu-clock:",
    b"a:b 1/2 3.4: cpu-clock:",
    b"net:0 1/2 3.4: 7 cpu-clock: ",
    b"x 12 3.4: 5 ev:",
    b"swapper     0/0     [001] 200.000005:     1000000 cpu-clock: ",
    b"ab 0 1.0: 0 cpu-clock:",
    b"ab 5 1.0: 00 cpu-clock:",
    b"ab 5 1.0: 123:",
    b"ab 5 1.0: 9 sched:sched_switch: prev_comm=ab",
    b"ab 5 1.0:\t9\tcpu-clock:\t",
    b"ab\t5 1.0: 9 cpu-clock:",
    b"tab\tname 5 1.0: 9 cpu-clock:",
    b"ab 5/ 1.0: 9 cpu-clock:",
    b"ab 5//6 1.0: 9 cpu-clock:",
]


def recorded_headers() -> list[bytes]:
    lines = [line for p in sorted(INPUTS.glob("*.txt")) for line in p.read_bytes().split(b"\n")]
    return sorted({line for line in lines if line and not line[:1].isspace() and not line.startswith(b"#")})


def check(line: bytes) -> None:
    lazy = USUAL_EVENT_LINE.match(line)
    fast = USUAL_EVENT_LINE_NO_BLANK.match(line)
    if fast is not None:
        assert lazy is not None and fast.groups() == lazy.groups()
    for event in (b"cpu-clock:ppp", b"cpu-clock", b"9", b"123", b"other"):
        for ids in (True, False):
            no_blank, blanks = usual_event_lines(event, ids)
            want = lazy.groups()[:4] if lazy is not None and lazy.group(5) == event else None
            if want is not None and not ids:
                want = (want[0], want[3])
            got = blanks.match(line)
            assert (got and got.groups()) == want
            got = no_blank.match(line)
            if got is not None:
                assert got.groups() == want
    if lazy is None or BLANK_DIGIT.search(lazy.group(1)):
        return  # the fast path leaves these to the script's own loop (or checks the comm)
    comm, pid, tid, period, event = lazy.groups()
    mine, theirs = header(comm, pid, tid, period, event), parse_header(line)
    assert theirs is not None
    assert (mine.comm, mine.pid, mine.tid, mine.period, mine.event) == (
        theirs.comm,
        theirs.pid,
        theirs.tid,
        theirs.period,
        theirs.event,
    )


@pytest.mark.parametrize("line", TRICKY)
def test_usual_event_line_parses_as_the_script_does(line: bytes) -> None:
    check(line)


def test_every_recorded_event_line_parses_as_the_script_does() -> None:
    headers = recorded_headers()
    assert len(headers) > 1000
    for line in headers:
        check(line)


def test_tricky_lines_cover_both_outcomes() -> None:
    parsed = [USUAL_EVENT_LINE.match(line) is not None for line in TRICKY]
    assert any(parsed) and not all(parsed)
    assert re.search(rb"\s\d", b"pool 2 worker")
