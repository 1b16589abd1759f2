"""Untrusted text reaches the terminal literally, without control characters, and tables keep ids whole."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table

from fleetflame.terminal import (
    MAX_LINE,
    escape_markup,
    labelled,
    line_text,
    literal,
    literal_line,
    print_line,
    print_table,
    safe,
    safe_line,
)

HOSTILE = "perf: [kernel.kallsyms] [/sys/x] [bold red]x[/] :fire: \x1b[2J\x1b]0;owned\x07 done"


def printed(renderable: object, *, width: int = 80, terminal: bool = False) -> str:
    buffer = io.StringIO()
    colours = "standard" if terminal else None
    console = Console(file=buffer, width=width, force_terminal=terminal, color_system=colours, highlight=False, emoji=False)
    console.print(renderable)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b[2J", "\\x1b[2J"),  # ANSI: clear screen
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC: window title, BEL
        ("ok\rFAIL", "ok\\rFAIL"),  # CR would overwrite the line
        ("a\x08b\x00c\x7f", "a\\x08b\\x00c\\x7f"),  # backspace, NUL, DEL
        ("\x9b2J", "\\x9b2J"),  # C1 CSI
        ("abc\u202edcba", "abc\\u202edcba"),  # bidi override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidi isolate
        ("a\u200bb\ufeff", "a\\u200bb\\ufeff"),  # zero-width space, BOM
        ("a\u2028b", "a\\u2028b"),  # line separator
        ("\udcff", "\\udcff"),  # surrogateescape leftovers
    ],
)
def test_control_characters_are_shown_escaped(raw: str, shown: str) -> None:
    assert safe(raw) == shown
    assert safe_line(raw) == shown


def test_printable_text_is_unchanged() -> None:
    text = "verify:3 [kernel.kallsyms] C:\\tmp ünïcödé 検証 `a` $(x) 100%"
    assert safe(text) == text and safe_line(text) == text


def test_safe_keeps_lines_and_safe_line_makes_one() -> None:
    text = "first\r\nsecond\n\tthird"
    assert safe(text) == "first\nsecond\n\tthird"
    assert safe_line(text) == "first\\r\\nsecond\\n\\tthird"
    assert "\n" not in safe_line("a\nb\x85c\u2029d")


def test_long_lines_are_cut_and_say_so() -> None:
    line = safe_line("x" * (MAX_LINE + 5000))
    assert line == "x" * MAX_LINE + "… (5,000 more characters)"
    assert safe("y" * 10, limit=4) == "yyyy… (6 more characters)"
    assert safe("z" * 10_000) == "z" * 10_000  # multi-line text is whole unless a limit is given


def test_hostile_text_prints_literally_through_rich() -> None:
    shown = printed(literal_line(HOSTILE), width=200)
    assert shown == safe_line(HOSTILE) + "\n"
    assert "[kernel.kallsyms] [/sys/x] [bold red]x[/] :fire: \\x1b[2J" in shown
    assert "\x1b" not in shown and "\x07" not in shown


def test_literal_keeps_newlines_and_strips_the_rest() -> None:
    assert printed(literal("one [x]\ntwo \x1b[1m"), width=80) == "one [x]\ntwo \\x1b[1m\n"


def test_line_text_styles_only_the_label() -> None:
    text = line_text(("error:", "bold red"), " ", "no [/sys/x] \x1b[2J")
    assert text.plain == "error: no [/sys/x] \\x1b[2J"
    assert [(span.start, span.end, str(span.style)) for span in text.spans] == [(0, 6, "bold red")]
    colour = printed(text, terminal=True)
    assert colour.count("\x1b[") == 2  # rich's own bold-red on and off, nothing from the message
    assert labelled("error:", "bold red", "no [/sys/x] \x1b[2J") == text
    assert line_text(("\x1b[31mred", "bold"), "\n").plain == "\\x1b[31mred\\n"  # styled parts too


def test_print_line_is_never_wrapped() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=40, color_system=None)
    path = "/srv/fleetflame/captures/20261125T221500Z-verify-all+quic+net-1/flamegraph.html"
    print_line(console, ("flamegraph:", "bold"), " ", path)
    assert buffer.getvalue() == f"flamegraph: {path}\n"


def test_escape_markup_survives_rich_markup() -> None:
    console_out = printed(f"[green]ok[/] {escape_markup(HOSTILE)}", width=300)
    assert console_out == "ok " + safe_line(HOSTILE) + "\n"


def id_table(capture_id: str) -> Table:
    table = Table(title="captures")
    table.add_column("capture", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("note")
    table.add_row(literal_line(capture_id), "verify:*,quic", "a long note that may wrap over several lines " * 2)
    return table


def printed_table(table: Table, *, width: int, terminal: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=terminal, color_system="standard" if terminal else None)
    print_table(console, table)
    return re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())  # the colours rich adds in a terminal


@pytest.mark.parametrize("terminal", [True, False])
def test_print_table_never_cuts_a_no_wrap_column(terminal: bool) -> None:
    long_id = "20261125T221500Z-" + "verify-all+quic+" * 6 + "net-1"
    shown = printed_table(id_table(long_id), width=80, terminal=terminal)
    assert long_id in shown and "…" not in shown
    # Too wide for the terminal, or piped: the natural width, every row on one line.
    assert "a long note that may wrap over several lines a long note" in shown


def test_print_table_fits_the_terminal_when_it_can() -> None:
    shown = printed_table(id_table("20261125T221500Z-all"), width=80, terminal=True)
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert "20261125T221500Z-all" in shown
