"""Collapsing one `perf script` stream (see the package's docstring): records split at blank
lines, bounded, fed to the Collapser (fast.py)."""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .fast import Collapser
from .options import CollapseResult, PerfOptions
from .source import byte_chunks, open_binary

BLANK_LINE = re.compile(b"\n\n")  # splits as bytes.split does, a good deal faster (sre's prefix search)
BLANK_LINES = re.compile(b"\n\n\n+")
# A record, the text between blank lines, longer than this is skipped: perf's deepest stack
# (kernel.perf_event_max_stack, 127 frames by default) of long C++ names is well under 1 MB.
MAX_RECORD = 4 << 20


def collapse_perf(
    stream: IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes], options: PerfOptions | None = None
) -> CollapseResult:
    """Collapse `perf script` output. Memory grows with the number of unique stacks only."""
    with gc_paused():
        return _collapse(stream, options or PerfOptions())


def _collapse(stream: IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes], options: PerfOptions) -> CollapseResult:
    c = Collapser(options)
    notes: list[str] = []  # the input's own warnings (damaged gzip, records skipped)
    if options.srcline:  # a srcline read takes whatever line comes next, blank or not: one stream of lines
        c.stack_limit = MAX_RECORD
        c.feed_lines(_lines(byte_chunks(stream, notes), c))
        return _finish(c, notes, c.oversized)
    skipped = 0  # records longer than MAX_RECORD
    carry = b""  # the text after the last blank line so far: a record still incomplete
    skipping = False  # inside a record too long to keep: drop the input up to the next blank line
    for chunk in byte_chunks(stream, notes):
        if skipping:
            cut = (carry + chunk).find(b"\n\n")  # (carry: the last newline before this chunk, if any)
            if cut < 0:
                carry = b"\n" if chunk.endswith(b"\n") else b""
                continue
            chunk, carry, skipping = (carry + chunk)[cut + 2 :], b"", False
        if carry.endswith(b"\n") and chunk.startswith(b"\n"):  # a b"\n\n" across the cut
            chunk, carry = carry + chunk, b""
        records = BLANK_LINE.split(chunk)
        if b"" in records:  # a run of blank lines, no-ops between records: a host can send 100 MB of them
            records = BLANK_LINE.split(BLANK_LINES.sub(b"\n\n", chunk))
        records[0] = carry + records[0]
        carry = records.pop()
        if records:
            if len(records[0]) > MAX_RECORD or len(chunk) > MAX_RECORD:
                kept = [r for r in records if len(r) <= MAX_RECORD]
                skipped += len(records) - len(kept)
                records = kept
            c.feed_records(records)
        if len(carry) > MAX_RECORD:
            skipped += 1
            carry, skipping = (b"\n" if carry.endswith(b"\n") else b""), True
    if carry and not skipping:  # no blank line after these lines: the script leaves their stack out too
        lines = carry.split(b"\n")
        if not lines[-1]:
            lines.pop()
        c.feed_lines(lines)
    return _finish(c, notes, skipped)


def _lines(chunks: Iterator[bytes], c: Collapser) -> Iterator[bytes]:
    """The lines of the input, without their newline; one longer than MAX_RECORD is left out."""
    carry = b""
    skipping = False  # inside a line too long to keep
    for chunk in chunks:
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk, skipping = chunk[cut + 1 :], False
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        if len(chunk) > MAX_RECORD:  # (a chunk of text or of lines can be longer than CHUNK bytes)
            kept = [line for line in lines if len(line) <= MAX_RECORD]
            c.oversized += len(lines) - len(kept)
            lines = kept
        yield from lines
        if len(carry) > MAX_RECORD:
            c.oversized += 1
            carry, skipping = b"", True
    if carry and not skipping:
        yield carry


def _finish(c: Collapser, notes: list[str], skipped: int) -> CollapseResult:
    result = c.finish()
    if skipped:
        notes.append(f"skipped {skipped} records of more than {MAX_RECORD >> 20} MiB without a blank line (not perf script output)")
    result.warnings += notes
    return result


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collapser makes millions of short-lived tuples and no reference cycles: the cyclic
    garbage collector would only walk them (about 7% of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collapse_perf_file(path: str | Path, options: PerfOptions | None = None) -> CollapseResult:
    """A `perf script` file ("-" for stdin), gzip detected by its magic bytes."""
    fp = open_binary(path)
    try:
        return collapse_perf(fp, options)
    finally:
        if fp is not sys.stdin.buffer:
            fp.close()


def format_collapsed(stacks: Mapping[str, int]) -> bytes:
    """The script's output: `stack count` lines sorted by the stack's bytes (perl `cmp`)."""
    encoded = sorted((k.encode("utf-8", "surrogateescape"), v) for k, v in stacks.items())
    return b"".join(b"%s %d\n" % (k, v) for k, v in encoded)


