"""The linear-time patterns of `rules.py` against the script's own (backtracking) patterns.

The script's patterns are run only on short lines here, where their backtracking is cheap: on
every such line both must give the same match and the same groups. Lines are drawn from an
alphabet of the characters the patterns care about, at random and token by token (so that
matches are common), and by hypothesis, which shrinks a difference to a small example.
"""

from __future__ import annotations

import random
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetflame.collapse import rules

# stackcollapse-perf.pl's patterns, as the script has them
SCRIPT_EVENT_LINE = re.compile(rb"(\S.+?)\s+(\d+)/*(\d+)*\s+")
SCRIPT_EVENT_NAME = re.compile(rb":\s*(\d+)*\s+(\S+):\s*$")
SCRIPT_STACK_LINE = re.compile(rb"\s*(\w+)\s*(.+) \((.*)\)")
SCRIPT_GO_METHOD = re.compile(rb"\.\(.*\)\.")
SCRIPT_SRCLINE_BRACKETS = re.compile(rb"\[.*?\]")
# the fast path's patterns before they were made linear (their tails had the script's `(\d+)*`)
OLD_USUAL = re.compile(rb"(\S.+?)\s+(\d+)(?:/(\d+))?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s*(\d+)*\s+(\S+):\s*$")

CHARS = [b"a", b"b", b"1", b"0", b" ", b"  ", b"\t", b":", b"/", b"(", b")", b"[", b"]", b".", b"+", b"x", b"-", b">", b";", b"\xff", b"\r", b"_"]
TOKENS = [
    b"app", b"V8 Worker", b"pool 2 w", b"12", b"0", b"12/34", b"5/", b"5//6", b"[001]", b"1.5:", b"3.25:", b":", b" ", b"  ",
    b"\t", b"cpu-clock:", b"cpu-clock:ppp:", b"123:", b"7", b"1001001", b"(", b")", b" (", b" ()", b"(/lib/x.so)",
    b"(deleted)", b"x)", b"f", b"main+0x1f", b"->", b".(", b").", b"[unknown]", b"[", b"]", b"a:b",
]


def script_stack_parts(line: bytes) -> tuple[bytes, ...] | None:
    m = SCRIPT_STACK_LINE.match(line)
    return m.groups() if m is not None else None


def groups(m: re.Match[bytes] | None) -> tuple[bytes | None, ...] | None:
    return m.groups() if m is not None else None


LONG_DIGITS = re.compile(rb"\d{15}")


def check_line(line: bytes) -> None:
    if LONG_DIGITS.search(line):  # the script's `(\d+)*` would take 2^n steps: shorten the run
        line = LONG_DIGITS.sub(b"12345678901234", line)
    assert groups(rules.EVENT_LINE.match(line)) == groups(SCRIPT_EVENT_LINE.match(line)), line
    assert groups(rules.EVENT_NAME.search(line)) == groups(SCRIPT_EVENT_NAME.search(line)), line
    assert rules.stack_line_parts(line) == script_stack_parts(line), line
    assert rules.is_go_method(line) == (SCRIPT_GO_METHOD.search(line) is not None), line
    assert rules.strip_srcline_brackets(line) == SCRIPT_SRCLINE_BRACKETS.sub(b"", line), line
    old = OLD_USUAL.match(line)
    assert groups(rules.USUAL_EVENT_LINE.match(line)) == groups(old), line
    fast = rules.USUAL_EVENT_LINE_NO_BLANK.match(line)
    if fast is not None:  # (it leaves comms with blanks to the other)
        assert fast.groups() == groups(old), line
    for event in (b"cpu-clock", b"123", b"cpu-clock:ppp"):
        want = old.groups()[:4] if old is not None and old.group(5) == event else None
        for ids in (True, False):
            expected = want if want is None or ids else (want[0], want[3])
            no_blank, blanks = rules.usual_event_lines(event, ids)
            assert groups(blanks.match(line)) == expected, (line, event)
            if (m := no_blank.match(line)) is not None:
                assert m.groups() == expected, (line, event)


def random_lines(seed: int, count: int) -> Iterator[bytes]:
    r = random.Random(seed)
    for _ in range(count):
        parts = TOKENS if r.random() < 0.6 else CHARS
        yield b"".join(r.choice(parts) for _ in range(r.randrange(14)))


@pytest.mark.parametrize("seed", range(4))
def test_linear_patterns_split_lines_as_the_script_does(seed: int) -> None:
    for line in random_lines(seed, 25_000):
        check_line(line)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(CHARS + TOKENS), max_size=16).map(b"".join))
def test_linear_patterns_on_hypothesis_lines(line: bytes) -> None:
    check_line(line)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_linear_patterns_on_any_bytes(line: bytes) -> None:
    check_line(line.replace(b"\n", b" "))  # (a line never holds a newline)


@contextmanager
def at_most(seconds: int, what: str) -> Iterator[None]:
    """Fail instead of hanging: a broken pattern would run for hours on these lines."""

    def stop(signum: int, frame: object) -> None:
        raise AssertionError(f"{what} took over {seconds} s: a pattern backtracks")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


HOSTILE: list[tuple[str, bytes]] = [
    ("word characters", b"a" * 1_000_000),
    ("digits", b"1" * 1_000_000),
    ("colon and digits", b"ab 1 1.0:" + b"1" * 1_000_000 + b"x"),
    ("blank runs", b"a" + b" " * 300_000 + b"x: " + b" " * 300_000 + b"1 " * 100_000 + b"y"),
    ("open parens", b"1 f" + b" (" * 300_000 + b"x"),
    ("closing parens", b"1 f (" + b"x)" * 300_000 + b" ("),
    ("go methods", b".(" * 500_000),
    ("brackets", b"[" * 1_000_000),
    ("event lines", b"a 1 1.1: " * 100_000),
    ("colon blanks", b": " * 500_000),
]
MATCHERS: list[tuple[str, Callable[[bytes], object]]] = [
    ("EVENT_LINE", rules.EVENT_LINE.match),
    ("EVENT_NAME", rules.EVENT_NAME.search),
    ("USUAL_EVENT_LINE", rules.USUAL_EVENT_LINE.match),
    ("USUAL_EVENT_LINE_NO_BLANK", rules.USUAL_EVENT_LINE_NO_BLANK.match),
    ("usual_event_lines", lambda line: [p.match(line) for p in rules.usual_event_lines(b"cpu-clock", True)]),
    ("stack_line_parts", rules.stack_line_parts),
    ("STACK_LINE_INDENTED", rules.STACK_LINE_INDENTED.match),
    ("is_go_method", rules.is_go_method),
    ("strip_srcline_brackets", rules.strip_srcline_brackets),
    ("SYMBOL_OFFSET", lambda line: rules.SYMBOL_OFFSET.sub(b"", line)),
    ("ARGUMENTS", lambda line: rules.ARGUMENTS.sub(b"", line, count=1)),
]


@pytest.mark.parametrize(("name", "line"), HOSTILE, ids=[n for n, _ in HOSTILE])
def test_megabyte_lines_do_not_stall_any_pattern(name: str, line: bytes) -> None:
    """Each of these lines took one of the script's patterns quadratic or exponential time."""
    for what, matcher in MATCHERS:
        with at_most(20, f"{what} on {name}"):
            matcher(line)
