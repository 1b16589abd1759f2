"""hosts/HOST/timeline.json.gz: one host's samples per folded stack and 20 ms bin.

    {"format": "fleetflame-timeline", "version": 1, "bin_ms": 20, "clock": "realtime",
     "first_bin": 89830857207, "bins": 1500, "samples": 41580, "unbinned": 0,
     "stacks": ["verify:0;main;fd_verify", ...],          # as in stacks.folded, sorted
     "series": [[0, 3, 1, 2, 4, 1], ...]}                  # per stack: gap, count, gap, count...

A bin is `floor(time / 20 ms)` with time in seconds since the epoch (the host's clock); bin
`first_bin` starts at `first_bin * 0.02` s. Each stack's series lists its non-empty bins as pairs:
the gap from the previous bin (the first from `first_bin`) and its samples. `clock` is
`realtime` when the times are wall-clock (after 2001), else `other` (perf's default clock, from a
capture made before fleetflame recorded with `-k realtime`). Gzipped, the gaps and counts, mostly
one digit each, cost about 1 byte a sample at worst (docs/BENCHMARKS.md, "Timeline").
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Mapping
from itertools import chain
from typing import Any
from pathlib import Path

import numpy as np

from ..capture import files
from ..collapse.options import TIME_BIN_MS
from ..collapse.timebins import TimeBins
from ..errors import InputError

TIMELINE = "timeline.json.gz"
FORMAT = "fleetflame-timeline"
VERSION = 1
WALL_CLOCK_AFTER = 1e9  # seconds since the epoch (2001): a time before is another clock's
# gzip level 1: 19 ms -> 4 ms for a busy host's 1 MB of JSON (a fifth of what time bins add to
# the capture's collapse), for files a third larger (84 -> 113 kB; docs/BENCHMARKS.md)
GZIP_LEVEL = 1
MAX_JSON = 1 << 30  # a timeline decompressing to more than this is refused (a damaged or planted file)


class TimelineError(InputError, ValueError):
    """A timeline.json.gz that cannot be read: one operator line (exit 2) naming the file."""


class Timeline:
    """One host's samples per folded stack and bin, bins absolute (floor(epoch seconds / bin_s)),
    kept packed as a collapse keeps them (collapse.timebins.TimeBins): a busy host has some 25,000
    (stack, bin) pairs, and a report reads 500 hosts' timelines, moves them onto one clock and
    draws them. `Timeline(series)` takes {stack: {bin: samples}}; `.series` gives it back."""

    def __init__(
        self,
        series: Mapping[str, Mapping[int, int]] | None = None,
        bin_ms: int = TIME_BIN_MS,
        unbinned: int = 0,
        *,
        packed: TimeBins | None = None,
    ) -> None:
        self.packed = packed if packed is not None else TimeBins.of_series(series or {})
        self.bin_ms = bin_ms
        self.unbinned = unbinned

    @property
    def series(self) -> dict[str, dict[int, int]]:
        """stack -> {bin: samples}, the stacks with samples (built on each call)."""
        return self.packed.series()

    @property
    def bin_s(self) -> float:
        return self.bin_ms / 1000

    @property
    def wall_clock(self) -> bool:
        return _wall_clock(self.first_bin, self.bin_ms)

    @property
    def first_bin(self) -> int | None:
        return int(self.packed.bins().min()) + self.packed.base if len(self.packed.keys) else None

    @property
    def last_bin(self) -> int | None:
        return int(self.packed.bins().max()) + self.packed.base if len(self.packed.keys) else None

    def window(self, lo: int, hi: int) -> dict[str, int]:
        """Samples per stack in bins lo <= bin < hi."""
        p = self.packed
        if not len(p.keys):
            return {}
        b = p.absolute_bins()
        inside = (b >= lo) & (b < hi)
        sums = np.bincount(p.ids()[inside], weights=p.counts[inside], minlength=len(p.stacks))
        return {p.stacks[i]: int(sums[i]) for i in np.flatnonzero(sums).tolist()}

    def placed(self, lo: int | None, hi: int | None, shift: int) -> Timeline:
        """The bins lo <= bin <= hi (all if lo is None) moved `shift` bins earlier; the samples of
        the other bins are counted as unbinned."""
        p = self.packed
        keys, counts, outside = p.keys, p.counts, 0
        if lo is not None and len(keys):
            b = p.absolute_bins()
            inside = (b >= lo) & (b <= hi)
            keys, counts, outside = keys[inside], counts[inside], int(counts[~inside].sum())
        moved = TimeBins(p.stacks, keys, counts, p.shift, p.base - shift)
        return Timeline(bin_ms=self.bin_ms, unbinned=self.unbinned + outside, packed=moved)

    def within(self, lo: int, hi: int) -> bool:
        """Every bin within lo..hi."""
        return self.first_bin is None or (lo <= self.first_bin and self.last_bin <= hi)  # type: ignore[operator]

    def to_json(self) -> dict[str, object]:
        """The file's JSON, plainly (`encode` writes the same text another way)."""
        series = self.series
        first = self.first_bin or 0
        last = self.last_bin
        stacks = sorted(series)
        rows = []
        for stack in stacks:
            row: list[int] = []
            prev = first
            for b in sorted(series[stack]):
                row += (b - prev, series[stack][b])
                prev = b
            rows.append(row)
        return {
            "format": FORMAT, "version": VERSION, "bin_ms": self.bin_ms,
            "clock": "realtime" if self.wall_clock else "other",
            "first_bin": first, "bins": 0 if last is None else last - first + 1,
            "samples": sum(sum(s.values()) for s in series.values()), "unbinned": self.unbinned,
            "stacks": stacks, "series": rows,
        }

    def encode(self) -> bytes:
        """Timeline.to_json's text, gzipped, made by whole-array operations on the sorted keys: a
        step per stack, none per (stack, bin). Within a stack a gap is the difference of two bins."""
        bins = self.packed
        ids, starts, ends = bins.runs()
        if ids:
            b = bins.bins()
            first = int(b[starts].min())
            gaps = np.diff(b, prepend=first)
            gaps[starts] = b[starts] - first  # a stack's first gap is from `first`
            flat = np.empty(2 * len(b), dtype=gaps.dtype)  # gap, count, gap, count, ...
            flat[0::2], flat[1::2] = gaps, bins.counts
            top = int(flat.max())
            if top < 4 * len(flat):  # str(n) made once per value: gaps and counts are small numbers
                texts = np.array(list(map(str, range(top + 1))), dtype=object)[flat.astype(np.int64)].tolist()
            else:
                texts = list(map(str, flat.tolist()))
            order = sorted(range(len(ids)), key=lambda j: bins.stacks[ids[j]])  # rows by stack name
            rows = [",".join(texts[2 * starts[j] : 2 * ends[j]]) for j in order]
            first_bin: int | None = first + bins.base
            span = int(b[np.asarray(ends) - 1].max()) - first + 1
        else:
            order, rows, first_bin, span = [], [], None, 0
        head = {
            "format": FORMAT, "version": VERSION, "bin_ms": self.bin_ms,
            "clock": "realtime" if _wall_clock(first_bin, self.bin_ms) else "other",
            "first_bin": first_bin or 0, "bins": span,
            "samples": int(bins.counts.sum()), "unbinned": self.unbinned,
            "stacks": [bins.stacks[ids[j]] for j in order], "series": [],
        }
        text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)  # ends with "series":[]}
        text = text[:-3] + "[[" + "],[".join(rows) + "]]}" if rows else text
        return gzip.compress(text.encode("utf-8"), compresslevel=GZIP_LEVEL, mtime=0)

    @classmethod
    def from_json(cls, data: object) -> Timeline:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TimelineError("not a fleetflame timeline")
        if data.get("version") != VERSION:
            raise TimelineError(f"timeline version {data.get('version')!r}; this fleetflame reads version {VERSION}")
        stacks, rows, first, bin_ms = data.get("stacks"), data.get("series"), data.get("first_bin"), data.get("bin_ms")
        if not (isinstance(stacks, list) and isinstance(rows, list) and len(stacks) == len(rows)
                and isinstance(first, int) and isinstance(bin_ms, int) and bin_ms > 0):
            raise TimelineError("damaged timeline (stacks, series, first_bin, bin_ms)")
        unbinned = data.get("unbinned", 0)
        unbinned = unbinned if isinstance(unbinned, int) else 0
        packed = _packed_rows(stacks, rows, first)
        if packed is not None:
            return cls(bin_ms=bin_ms, unbinned=unbinned, packed=packed)
        # Anything the arrays do not take as it is, checked one value at a time: the same
        # timeline, or the error naming what is damaged.
        series: dict[str, dict[int, int]] = {}
        for stack, row in zip(stacks, rows):
            if not isinstance(stack, str) or not isinstance(row, list) or len(row) % 2:
                raise TimelineError("damaged timeline (a series)")
            b = first
            bins: dict[int, int] = {}
            for gap, count in zip(row[::2], row[1::2]):
                if not (isinstance(gap, int) and isinstance(count, int) and gap >= 0 and count > 0):
                    raise TimelineError("damaged timeline (a gap or count)")
                b += gap
                bins[b] = bins.get(b, 0) + count
            series[stack] = bins
        return cls(series, bin_ms, unbinned)


def _packed_rows(stacks: list[Any], rows: list[Any], first: int) -> TimeBins | None:
    """The file's rows as TimeBins by whole-array steps, or None where they need the checks one
    value at a time: a row or stack of another type, a repeated stack (the last row wins), a
    non-integer or out-of-range gap or count, a bin named twice in a row (its counts add), or
    numbers whose sums could leave int64."""
    if not all(type(s) is str for s in stacks) or not all(type(r) is list for r in rows) or len(set(stacks)) != len(stacks):
        return None
    pairs = np.fromiter(map(len, rows), np.int64, len(rows))
    if (pairs % 2).any():
        return None
    pairs //= 2
    flat = np.array(list(chain.from_iterable(rows)))
    if not len(flat):
        return TimeBins(stacks, np.zeros(0, np.int64), np.zeros(0, np.int64), 1, first)
    if flat.dtype != np.int64:  # (a float, a string, a number beyond int64, ... or all booleans)
        return None
    gaps, counts = flat[0::2], flat[1::2]
    if int(gaps.min()) < 0 or int(counts.min()) <= 0 or int(gaps.max()) * len(gaps) >= 1 << 62:
        return None
    starts = np.cumsum(pairs) - pairs  # each row's first pair
    rows_with = pairs > 0
    if (gaps == 0).sum() > (gaps[starts[rows_with]] == 0).sum():  # a gap of 0 after a row's first pair
        return None
    ends = np.cumsum(gaps)
    bins = ends - np.repeat(ends[starts[rows_with]] - gaps[starts[rows_with]], pairs[rows_with])  # bin - first
    shift = max(1, int(bins.max()).bit_length())
    if shift + len(rows).bit_length() >= 63:
        return None
    keys = (np.repeat(np.arange(len(rows), dtype=np.int64), pairs) << shift) | bins
    return TimeBins(stacks, keys, counts, shift, first)


def _wall_clock(first_bin: int | None, bin_ms: int) -> bool:
    return first_bin is None or first_bin * (bin_ms / 1000) >= WALL_CLOCK_AFTER


def write_timeline(folder: str | os.PathLike[str], timeline: Timeline) -> None:
    """FOLDER/timeline.json.gz, whole, 0600, never through a link (capture.files)."""
    with files.opened_dir(folder) as fd:
        files.replace_file(TIMELINE, timeline.encode(), dir_fd=fd)


def read_timeline(folder: Path, *, dir_fd: int | None = None) -> Timeline | None:
    """FOLDER/timeline.json.gz (with dir_fd: by name in that opened folder); None if there is none.
    TimelineError (naming the file) if it is damaged."""
    name = TIMELINE if dir_fd is not None else folder / TIMELINE
    try:
        raw = files.read_bytes(name, dir_fd=dir_fd, limit=MAX_JSON)
    except FileNotFoundError:
        return None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            text = gz.read(MAX_JSON + 1)
        if len(text) > MAX_JSON:
            raise TimelineError(f"more than {MAX_JSON >> 20} MB of JSON")
        return Timeline.from_json(json.loads(text))
    except (OSError, EOFError, ValueError) as exc:
        raise TimelineError(f"{folder / TIMELINE}: {exc}") from None


def from_bins(bins: Mapping[str, dict[int, int]], unbinned: int = 0) -> Timeline:
    return Timeline({k: dict(v) for k, v in bins.items()}, TIME_BIN_MS, unbinned)
