"""Options and result of collapsing `perf script` output, as plain data (they pickle into workers)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

TIME_BIN_MS = 20  # a bin holds the samples of 20 ms: 50 bins a second
BINS_PER_S = 1000 // TIME_BIN_MS
BIN_SHIFT = 40  # bits of the bin in a TimeBins key: 10-digit seconds (until 2286) * 50 fit


@dataclass
class PerfOptions:
    """Defaults are those of FlameGraph's stackcollapse-perf.pl."""

    include_pid: bool = False  # --pid: root frame `comm-PID`
    include_tid: bool = False  # --tid: root frame `comm-PID/TID` (wins over --pid)
    annotate_kernel: bool = False  # --kernel: `_[k]` on kernel frames
    annotate_jit: bool = False  # --jit: `_[j]` on frames from /tmp/perf-PID.map
    include_addrs: bool = False  # --addrs: `[module <addr>]` for unknown symbols
    event_filter: str | None = None  # --event-filter; None/"" = first event type seen
    srcline: bool = False  # --srcline: input has `perf script -F+srcline` lines
    inline: bool = False  # --inline: inlined functions from addr2line (modules must be on this host)
    context: bool = False  # --context: with --inline, add file:line to each of those frames
    # fleet extensions, used by fleetflame's own pipeline:
    weight: Literal["period", "samples"] = "period"  # "samples" counts 1 per sample
    # tid -> root frame(s) (';' separates several) used instead of the process name
    roots_by_tid: dict[int, str] | None = None
    # with roots_by_tid, the root of other tids: None drops the sample; "agave;{comm}" (the only
    # other value: no template is filled in) roots it at `agave;` + its comm, blanks as `_`
    unknown_tid_root: str | None = None
    # keep each sample's time too, in TIME_BIN_MS bins (CollapseResult.bins): perf's timestamp of
    # the event line, seconds since the epoch when perf recorded with `-k realtime`
    time_bins: bool = False

    def __post_init__(self) -> None:
        if self.unknown_tid_root not in (None, "agave;{comm}"):
            raise ValueError(f"unknown_tid_root must be None or 'agave;{{comm}}', not {self.unknown_tid_root!r}")


@dataclass
class CollapseResult:
    stacks: dict[str, int]  # folded stack -> summed period (or samples)
    warnings: list[str] = field(default_factory=list)  # what stackcollapse-perf.pl prints on stderr
    event: str | None = None  # the event type kept
    samples: int = 0  # samples counted into `stacks`
    dropped_events: dict[str, int] = field(default_factory=dict)  # event -> samples filtered out
    # with time_bins: the samples per stack and TIME_BIN_MS bin, bin = floor(time / TIME_BIN_MS ms);
    # the samples of `unbinned` (an event line without a time stamp) are in `stacks` only
    binned: TimeBins | None = None
    unbinned: int = 0

    @property
    def bins(self) -> dict[str, dict[int, int]] | None:
        """With time_bins: folded stack -> {bin: samples} (built on each call from `binned`)."""
        return None if self.binned is None else self.binned.series()


@dataclass
class TimeBins:
    """Samples per (stack, bin), packed so that a collapse keeps one int per (stack, bin) and
    a timeline is written without a dict per stack (issue 18: bins must cost little).

    keys[i] = stack index << shift | (bin - base), ascending; counts[i] its samples. A stack in
    `stacks` with no key has no samples (it is left out of every output)."""

    stacks: list[str]
    keys: list[int]
    counts: list[int]
    shift: int = BIN_SHIFT
    base: int = 0

    def spans(self) -> list[tuple[int, int]]:
        """For each stack, the range of its keys (start, end)."""
        keys, shift = self.keys, self.shift
        out = []
        start = 0
        for i in range(len(self.stacks)):
            end = bisect_left(keys, (i + 1) << shift, start)
            out.append((start, end))
            start = end
        return out

    def totals(self) -> dict[str, int]:
        """stack -> samples, the stacks with samples only."""
        counts = self.counts
        return {self.stacks[i]: sum(counts[s:e]) for i, (s, e) in enumerate(self.spans()) if e > s}

    def series(self) -> dict[str, dict[int, int]]:
        """stack -> {bin: samples}, the stacks with samples only."""
        mask, base = (1 << self.shift) - 1, self.base
        keys, counts = self.keys, self.counts
        return {self.stacks[i]: {(keys[k] & mask) + base: counts[k] for k in range(s, e)}
                for i, (s, e) in enumerate(self.spans()) if e > s}

    @classmethod
    def of_series(cls, series: Mapping[str, Mapping[int, int]]) -> TimeBins:
        base = min((min(s) for s in series.values() if s), default=0)
        top = max((max(s) for s in series.values() if s), default=base)
        shift = max(1, (top - base).bit_length())
        packed: dict[int, int] = {}
        for i, bins in enumerate(series.values()):
            high = i << shift
            for b, n in bins.items():
                packed[high | (b - base)] = n
        keys = sorted(packed)
        return cls(list(series), keys, list(map(packed.__getitem__, keys)), shift, base)

    def renamed(self, stacks: list[str]) -> TimeBins:
        """The same samples under other names (one per stack, in order); stacks that get the
        same name add up."""
        if len(set(stacks)) == len(stacks):
            return TimeBins(stacks, self.keys, self.counts, self.shift, self.base)
        index: dict[str, int] = {}
        mask, shift = (1 << self.shift) - 1, self.shift
        packed: dict[int, int] = {}
        for i, (s, e) in enumerate(self.spans()):
            if e > s:
                high = index.setdefault(stacks[i], len(index)) << shift
                for k in range(s, e):
                    key = high | (self.keys[k] & mask)
                    packed[key] = packed.get(key, 0) + self.counts[k]
        keys = sorted(packed)
        return TimeBins(list(index), keys, list(map(packed.__getitem__, keys)), shift, self.base)
