"""Printing text that fleetflame did not write: literally, without control characters, whole.

The rule: every string that came from a host (perf's stderr, error messages, thread names,
function names), an inventory (host names, variables), a manifest, a file or the command line
is printed through this module; fleetflame's own rich markup only ever *wraps* it. Such text is
never parsed as rich markup (where `[kernel.kallsyms]` would vanish and `[/sys/x]` would raise
MarkupError), never gets emoji codes (`:fire:`) or highlighting, and never reaches the terminal
with a control character in it.

What counts as a control character is Python's `str.isprintable()`: C0 (ESC, so every ANSI
escape sequence; BEL; backspace; carriage return, which can overwrite what is already on the
line), DEL, C1, bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the other
format characters (zero-width spaces, BOM), line and paragraph separators, lone surrogates left
by `errors="surrogateescape"`, unassigned and private-use code points, and spaces other than
ASCII space. Each is shown as its Python escape (`\\x1b[2J`, `\\u202e`), so the operator sees
that something was there and what, and nothing is lost silently. `safe()` keeps newlines and
tabs, for text that is meant to span lines; `safe_line()` escapes them too, for a table cell or
a one-line message. Backslashes are left as they are: the output is for reading, not parsing.

Lines: `print_line()` joins fleetflame's labels and untrusted parts into one unwrapped line.
Tables: `print_table()` never cuts or folds a column marked `no_wrap` (capture ids, host names).
A table that can fit the terminal is fitted to it; one that cannot, or one going to a pipe, is
printed at its natural width (one line per row, soft-wrapped by the terminal), so `grep` and
`awk` see whole rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape as _escape_markup
from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:  # rich.table costs every command 15 ms of import; only tables need it
    from rich.table import Table

# One-line contexts are cut after this many characters: a host's 10 MB stderr is not a message.
MAX_LINE = 2000
_WIDE = 1_000_000  # "no width limit" when measuring a table's natural width


def safe(text: str, *, limit: int | None = None) -> str:
    """`text` with every non-printable character but newline and tab escaped; see the module
    docstring. Windows line ends (CRLF) become newlines. With `limit`, at most that many
    characters of `text` are kept and the cut is said."""
    return _clean(text.replace("\r\n", "\n"), "\n\t", limit)


def safe_line(text: str, *, limit: int | None = MAX_LINE) -> str:
    """`text` as one line: every non-printable character escaped, newlines and tabs included.
    At most `limit` characters (default MAX_LINE) are kept, and the cut is said."""
    return _clean(text, "", limit)


def literal(text: str, style: str | Style = "", *, limit: int | None = None) -> Text:
    """Untrusted multi-line text as a rich Text: printed as-is, never parsed as markup."""
    return Text(safe(text, limit=limit), style=style)


def literal_line(text: str, style: str | Style = "", *, limit: int | None = MAX_LINE) -> Text:
    """Untrusted one-line text (a table cell, an id, a host name) as a rich Text."""
    return Text(safe_line(text, limit=limit), style=style)


# A part of a line: text, or (text, style) for fleetflame's own styling of it ("error:", "bold red").
Part = str | tuple[str, str]


def line_text(*parts: Part) -> Text:
    """One line made of parts, every part made safe with `safe_line` and none parsed as markup:
    `line_text(("error:", "bold red"), " ", str(exc))`."""
    return Text.assemble(*(safe_line(p) if isinstance(p, str) else (safe_line(p[0]), p[1]) for p in parts))


def labelled(label: str, style: str, message: str) -> Text:
    """`label message` as one line, the label in fleetflame's style and the message literal:
    `labelled("warning:", "yellow", text)` (the same as `line_text((label, style), " ", message)`)."""
    return line_text((label, style), " ", message)


def print_line(console: Console, *parts: Part) -> None:
    """Print `line_text(*parts)` unwrapped: a long line stays one line in a pipe, and a terminal
    soft-wraps it, so a path or an id in it is copied whole."""
    console.print(line_text(*parts), soft_wrap=True)


def escape_markup(text: str) -> str:
    """Untrusted one-line text made safe to put inside a rich markup string. Prefer `literal_line`
    and `Text.assemble`; this is for code that must build markup strings."""
    return _escape_markup(safe_line(text))


def print_table(console: Console, table: Table) -> None:
    """Print a table without cutting any `no_wrap` column (see the module docstring). Sets the
    `min_width` of those columns to their widest cell."""
    from rich.measure import Measurement

    unlimited = console.options.update(max_width=_WIDE)
    for column in table.columns:
        # Rich measures a column's minimum as its longest word even when it may not wrap; a
        # min_width of its widest cell makes the table's minimum width the true one.
        if column.no_wrap and column.min_width is None:
            cells = [column.header, *column.cells]
            column.min_width = max(Measurement.get(console, unlimited, cell).maximum for cell in cells)
    measured = Measurement.get(console, unlimited, table)
    # A table that fits the terminal is fitted to it; one that cannot fit (or goes to a pipe) is
    # printed at its natural width, rows on one line each, rather than squeezed.
    width = console.width if console.is_terminal and measured.minimum <= console.width else measured.maximum
    if width <= console.width:
        _print_trimmed(console, table)
        return
    # Console.print clamps `width` to the console's, so a wider table needs a console of its own
    # on the same stream.
    wide = Console(
        file=console.file,
        width=width,
        force_terminal=console.is_terminal,
        color_system=console.color_system,  # type: ignore[arg-type]  # one of the names it accepts
        no_color=console.no_color,
        highlight=False,
        emoji=False,
    )
    _print_trimmed(wide, table)


def _print_trimmed(console: Console, table: Table) -> None:
    """Print without the spaces rich pads every line with to the table's width: a pipe (`| grep`,
    a log) gets lines as long as their text."""
    with console.capture() as captured:
        console.print(table)
    text = "\n".join(line.rstrip(" ") for line in captured.get().split("\n"))
    console.file.write(text)
    console.file.flush()


def _clean(text: str, keep: str, limit: int | None) -> str:
    cut = 0
    if limit is not None and len(text) > limit:
        cut, text = len(text) - limit, text[:limit]
    if not text.isprintable():  # the common case, a printable text, costs one C-level scan
        text = "".join(ch if ch.isprintable() or ch in keep else _escape(ch) for ch in text)
    return f"{text}… ({cut:,} more characters)" if cut else text


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")
