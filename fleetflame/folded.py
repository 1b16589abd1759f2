"""The folded-stack format (`frame;frame;leaf COUNT`), the interface between collapse, merge and render.

As in FlameGraph, a line is the stack joined by `;` (root first), one space, and a count. The
count is split off at the *last* space, so frames may contain spaces. Counts are what
flamegraph.pl accepts (`\\d+(\\.\\d*)?`, fractions rounded to whole samples) up to MAX_COUNT;
anything else is not a folded line and is counted as ignored.

Reading is bounded whatever the input: files and streams are read in blocks and split at `\\n`
only, a line longer than MAX_LINE_BYTES is skipped (and counted) without being held whole, and
bytes that are not UTF-8 become U+FFFD. Memory then grows only with the distinct stacks kept.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from fleetflame.errors import InputError

Stacks = dict[str, int]

MAX_LINE_BYTES = 4 << 20  # far beyond perf's deepest stacks (127 frames by default), small for memory
MAX_COUNT = 2**53 - 1  # counts stay exact as JSON numbers in the viewer and in speedscope (JS doubles)
BLOCK_BYTES = 64 << 10  # small enough that a block's lines stay in cache while they are parsed
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?")  # flamegraph.pl's count: (\d+(?:\.\d*)?)$


def parse_count(text: str) -> int | None:
    """A folded line's count as an int, or None if it is not one flamegraph.pl would accept."""
    if text.isascii() and text.isdigit():
        if len(text) > 16:  # MAX_COUNT has 16 digits; also keeps int() away from huge strings
            text = text.lstrip("0") or "0"
            if len(text) > 16:
                return None
        value = int(text)
    elif _DECIMAL.fullmatch(text):
        number = float(text)  # inf for a huge one, refused below
        if not number <= MAX_COUNT:
            return None
        value = round(number)  # FlameGraph accepts fractional counts; we keep integers
    else:
        return None
    return value if value <= MAX_COUNT else None


def parse_line(line: str) -> tuple[str, int] | None:
    """Split one folded line into (stack, count); None for blank or malformed lines.

    One line end (`\n`, `\r\n`) is dropped; any other `\r` belongs to the line, as in flamegraph.pl.
    """
    line = line.removesuffix("\n").removesuffix("\r")
    stack, sep, count = line.rpartition(" ")
    if not sep or not stack:
        return None
    value = parse_count(count)
    return None if value is None else (stack, value)


def iter_folded(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    for line in lines:
        parsed = parse_line(line)
        if parsed is not None:
            yield parsed


@dataclass
class FoldedInput:
    """Stacks read from one or more sources, with what was not a folded line."""

    stacks: Stacks
    ignored: int = 0  # non-blank lines that are not `stack COUNT` (too long, no count, bad count)
    first_ignored: str | None = None  # `SOURCE:LINE: 'text'` of the first, shortened; not yet safe to print

    def note_ignored(self, source: str, number: int, text: str | None) -> None:
        """Count a line that is not a folded stack; None stands for an overlong line."""
        self.ignored += 1
        if self.first_ignored is None:
            if text is None:
                shown = f"a line longer than {MAX_LINE_BYTES >> 20} MiB"
            else:
                shown = repr(text if len(text) <= 80 else text[:80] + "…")
            self.first_ignored = f"{source}:{number}: {shown}"

    def ignored_message(self) -> str:
        """flamegraph.pl's "Ignored N lines with invalid format", with the first of them."""
        return (
            f"Ignored {self.ignored:,} lines with invalid format (not 'frame;frame;leaf COUNT'); "
            f"the first, {self.first_ignored}"
        )


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    while block := stream.read(BLOCK_BYTES):
        yield block


def iter_line_blocks(stream: BinaryIO) -> Iterator[list[str | None]]:
    """The stream's lines as text (without the `\\n`), a block's worth at a time; None stands
    for a line over MAX_LINE_BYTES.

    Only `\\n` ends a line: a `\\r` or other Unicode line break inside a frame name stays there
    (parse_line drops one `\\r` before the newline). At most one block and one line are held.
    """
    pending = bytearray()  # the start of a line whose end has not arrived yet
    skipping = False  # inside an overlong line: drop bytes until its newline
    for block in _blocks(stream):
        start = 0
        if skipping:
            cut = block.find(b"\n")
            if cut < 0:
                continue
            skipping, start = False, cut + 1
        end = block.rfind(b"\n") + 1
        if end <= start:  # no newline in the rest of the block
            pending += block[start:]
            if len(pending) > MAX_LINE_BYTES:
                pending, skipping = bytearray(), True
                yield [None]
            continue
        pending += block[start:end]
        head, pending = pending, bytearray(block[end:])
        # one decode per block, cut at a newline so no UTF-8 sequence is split
        lines = cast("list[str | None]", head.decode("utf-8", "replace").split("\n"))
        lines.pop()  # the empty text after the block's last newline
        if len(head) > MAX_LINE_BYTES:  # only then can a line be over the cap
            lines = [None if line is not None and len(line) > MAX_LINE_BYTES else line for line in lines]
        if len(pending) > MAX_LINE_BYTES:
            pending, skipping = bytearray(), True
            lines.append(None)
        yield lines
    if pending:
        yield [pending.decode("utf-8", "replace")]


def iter_lines(stream: BinaryIO) -> Iterator[str | None]:
    """iter_line_blocks, a line at a time."""
    for lines in iter_line_blocks(stream):
        yield from lines


class _OwnGzipFile(gzip.GzipFile):
    """A GzipFile that closes the file it reads when it is closed."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def _open_nofollow(path: str | Path, dir_fd: int | None) -> BinaryIO:
    """A regular file opened with O_NOFOLLOW (relative to `dir_fd` if given): never a link's
    target, never a FIFO that would block; OSError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symbolic link; fleetflame does not follow links in a capture folder", str(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "is not a regular file", str(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def open_binary(path: str | Path, *, nofollow: bool = False, dir_fd: int | None = None) -> BinaryIO:
    """Open a file for reading, transparently gunzipping it when it starts with gzip's magic.

    `nofollow` (for files in a capture folder): the file must be a regular file, not a symbolic
    link (O_NOFOLLOW); `dir_fd` (implies it): `path` is a name in that opened folder."""
    if not nofollow and dir_fd is None:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rb")  # type: ignore[return-value]  # GzipFile reads bytes
        return open(path, "rb")
    raw = _open_nofollow(path, dir_fd)
    try:
        magic = raw.read(2)
        raw.seek(0)
    except BaseException:
        raw.close()
        raise
    return cast(BinaryIO, _OwnGzipFile(raw)) if magic == b"\x1f\x8b" else raw


def open_text(path: str | Path, *, nofollow: bool = False) -> IO[str]:
    """Open a text file for reading, transparently gunzipping `.gz` files (or gzip magic).

    Lines come from a buffered text wrapper: callers that must be bounded on hostile input
    iterate `iter_lines(open_binary(path))` instead.
    """
    return io.TextIOWrapper(open_binary(path, nofollow=nofollow), encoding="utf-8", errors="replace")


def load_folded(source: str | Path | BinaryIO, into: FoldedInput | None = None, name: str | None = None) -> FoldedInput:
    """Read folded stacks from a file (gzip ok) or a binary stream, adding to `into` if given.

    Counts of repeated stacks add up. Lines that are not folded stacks are counted in `ignored`
    (blank lines are not); a truncated gzip stops the read with a FoldedReadError.
    """
    result = into if into is not None else FoldedInput({})
    label = name or (str(source) if isinstance(source, (str, Path)) else "-")
    stacks = result.stacks
    stream = open_binary(source) if isinstance(source, (str, Path)) else source
    base = 0  # lines before the current block
    try:
        for lines in iter_line_blocks(stream):
            for number, line in enumerate(lines, base + 1):
                if line is None:
                    result.note_ignored(label, number, None)
                    continue
                # the common line, `stack 123`, inline; anything else goes through parse_line
                stack, _, count = line.rpartition(" ")
                if stack and count.isdigit() and count.isascii() and len(count) < 16:
                    stacks[stack] = stacks.get(stack, 0) + int(count)
                    continue
                parsed = parse_line(line)
                if parsed is None:
                    if line.strip():
                        result.note_ignored(label, number, line)
                    continue
                stack, value = parsed
                stacks[stack] = stacks.get(stack, 0) + value
            base += len(lines)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise FoldedReadError(f"{label}: damaged gzip data ({exc}); the file is truncated or not gzip") from None
    finally:
        if isinstance(source, (str, Path)):
            stream.close()
    return result


def read_folded(source: str | Path | Iterable[str]) -> Stacks:
    """Read folded stacks into a dict, adding up counts of repeated stacks; bad lines are skipped."""
    if isinstance(source, (str, Path)):
        return load_folded(source).stacks
    stacks: Stacks = {}
    for stack, count in iter_folded(source):
        stacks[stack] = stacks.get(stack, 0) + count
    return stacks


def format_folded(stacks: Mapping[str, int]) -> str:
    """Folded text, lines sorted by stack like stackcollapse-perf.pl's output."""
    return "".join(f"{stack} {stacks[stack]}\n" for stack in sorted(stacks))


def write_folded(stacks: Mapping[str, int], path: str | Path, *, dir_fd: int | None = None) -> None:
    """Write the folded text as `path`, whole or not at all: to a new temporary file (0600) that
    is renamed over it, so a link at `path` is replaced, never written through."""
    from .capture.files import replace_file  # (lazy: capture/ imports this module's users)

    replace_file(path, format_folded(stacks).encode("utf-8"), dir_fd=dir_fd)


def merge(maps: Iterable[Mapping[str, int]]) -> Stacks:
    merged: Stacks = {}
    for stacks in maps:
        for stack, count in stacks.items():
            merged[stack] = merged.get(stack, 0) + count
    return merged


def with_prefix(stacks: Mapping[str, int], *frames: str) -> Stacks:
    """Prepend root frames (e.g. host, tile) to every stack. `;` in a frame becomes `:`."""
    prefix = ";".join(f.replace(";", ":") for f in frames)
    return {f"{prefix};{stack}": count for stack, count in stacks.items()}


def reverse_stacks(stacks: Mapping[str, int]) -> Stacks:
    """Every stack leaf first, as flamegraph.pl --reverse draws them (callers above each function)."""
    out: Stacks = {}
    for stack, count in stacks.items():
        key = ";".join(reversed(stack.split(";")))
        out[key] = out.get(key, 0) + count
    return out


def total(stacks: Mapping[str, int]) -> int:
    return sum(stacks.values())


class FoldedReadError(InputError):
    """A folded file that cannot be read to its end (damaged gzip)."""


# A frame perf could not name: `[unknown]`, a bare `[libc.so.6]` / `[kernel.kallsyms]`, or an address.
_UNNAMED_FRAME = re.compile(r"^(\[[^\]]*\]|0x[0-9a-fA-F]+)$")


def unnamed_share(stacks: Mapping[str, int]) -> float:
    """The share of samples whose leaf frame has no function name (0.0 for no samples): what a
    host loses when perf script cannot read the binaries, e.g. of sandboxed tiles."""
    samples = total(stacks)
    unnamed = sum(n for stack, n in stacks.items() if _UNNAMED_FRAME.match(stack.rsplit(";", 1)[-1]))
    return unnamed / samples if samples else 0.0
