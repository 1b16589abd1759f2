"""The folded-stack format (`frame;frame;leaf COUNT`), the interface between collapse, merge and render.

As in FlameGraph, a line is the stack joined by `;` (root first), one space, and an integer count.
The count is split off at the *last* space, so frames may contain spaces.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

Stacks = dict[str, int]


def parse_line(line: str) -> tuple[str, int] | None:
    """Split one folded line into (stack, count); None for blank or malformed lines."""
    line = line.rstrip("\r\n")
    stack, sep, count = line.rpartition(" ")
    if not sep or not stack:
        return None
    try:
        value = int(count)
    except ValueError:
        try:
            value = round(float(count))  # FlameGraph accepts fractional counts; we keep integers
        except ValueError:
            return None
    return stack, value


def iter_folded(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    for line in lines:
        parsed = parse_line(line)
        if parsed is not None:
            yield parsed


def open_text(path: str | Path) -> IO[str]:
    """Open a text file for reading, transparently gunzipping `.gz` files (or gzip magic)."""
    path = Path(path)
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_folded(source: str | Path | Iterable[str]) -> Stacks:
    """Read folded stacks into a dict, adding up counts of repeated stacks."""
    stacks: Stacks = {}
    if isinstance(source, (str, Path)):
        with open_text(source) as fp:
            return read_folded(fp)
    for stack, count in iter_folded(source):
        stacks[stack] = stacks.get(stack, 0) + count
    return stacks


def format_folded(stacks: Mapping[str, int]) -> str:
    """Folded text, lines sorted by stack like stackcollapse-perf.pl's output."""
    return "".join(f"{stack} {stacks[stack]}\n" for stack in sorted(stacks))


def write_folded(stacks: Mapping[str, int], path: str | Path) -> None:
    Path(path).write_text(format_folded(stacks), encoding="utf-8")


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


def total(stacks: Mapping[str, int]) -> int:
    return sum(stacks.values())
