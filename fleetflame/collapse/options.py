"""Options and result of collapsing `perf script` output, as plain data (they pickle into workers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .timebins import TimeBins

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
