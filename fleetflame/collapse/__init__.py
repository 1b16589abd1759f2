"""`fleetflame collapse`: FlameGraph's stackcollapse-perf.pl as a library.

    result = collapse_perf_file("out.perf", PerfOptions(annotate_kernel=True))
    sys.stdout.buffer.write(format_collapsed(result.stacks))
    for w in result.warnings: print(w, file=sys.stderr)
"""

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

__all__ = [
    "CollapseResult",
    "PerfOptions",
    "collapse_perf",
    "collapse_perf_file",
    "collapse_perf_files",
    "format_collapsed",
]


def collapse_perf(
    stream: IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes], options: PerfOptions | None = None
) -> CollapseResult:
    """Collapse `perf script` output. Memory grows with the number of unique stacks only."""
    with gc_paused():
        return _collapse(stream, options or PerfOptions())


def _collapse(stream: IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes], options: PerfOptions) -> CollapseResult:
    c = Collapser(options)
    carry = b""  # the text after the last blank line so far: a record still incomplete
    for chunk in byte_chunks(stream):
        if carry.endswith(b"\n") and chunk.startswith(b"\n"):  # a b"\n\n" across the cut
            chunk, carry = carry + chunk, b""
        records = BLANK_LINE.split(chunk)
        records[0] = carry + records[0]
        carry = records.pop()
        if records:
            c.feed_records(records)
    if carry:  # no blank line after these lines: the script leaves their stack out too
        lines = carry.split(b"\n")
        if not lines[-1]:
            lines.pop()
        c.feed_lines(lines)
    return c.finish()


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


from .parallel import collapse_perf_files  # noqa: E402  (it uses collapse_perf_file)
