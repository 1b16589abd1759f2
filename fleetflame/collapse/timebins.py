"""Samples per (stack, 20 ms bin), as a collapse with time bins keeps them: two numpy arrays.

A collapse counts each sample under one int, `stack id << BIN_SHIFT | bin` (machine.py). Here
those counts become two arrays sorted by key, from which the stacks' totals and the timeline
file (timeline/store.Timeline) are made by whole-array operations, with no Python step
per (stack, bin). Done with Python lists, sorting, splitting and differencing a busy host's
60,000 keys took about 30 ms of its 700 ms collapse: a third of all that time bins were
allowed to cost (issue 18, docs/BENCHMARKS.md "collapse: what time bins cost").

numpy is imported by a collapse only when it keeps time bins (machine.Machine.time_bins).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def _int_array(values: Collection[int]) -> Array:
    """int64 if every value fits, else Python ints (object): a planted time stamp's bin or over
    8 million stacks make keys above 2**63; the same operations then run, slowly, on them."""
    try:
        return np.fromiter(values, np.int64, len(values))
    except OverflowError:
        return np.array(list(values), dtype=object)


@dataclass
class TimeBins:
    """keys[i] = stack index << shift | (bin - base), ascending; counts[i] its samples. A stack in
    `stacks` with no key has no samples (it is left out of every output)."""

    stacks: list[str]
    keys: Array  # int64 (object for keys above 2**63)
    counts: Array  # int64
    shift: int  # (a collapse's: options.BIN_SHIFT)
    base: int = 0

    @classmethod
    def of_counts(
        cls, stacks: list[str], counts: Mapping[int, int], shift: int, base: int = 0, first_id: int = 0
    ) -> TimeBins:
        """From key -> samples; the keys of stacks below `first_id` left out."""
        keys = _int_array(counts.keys())
        values = np.fromiter(counts.values(), np.int64, len(counts))
        order = np.argsort(keys)  # (the keys are distinct)
        keys, values = keys[order], values[order]
        if first_id:
            cut = int(np.searchsorted(keys, first_id << shift))
            keys, values = keys[cut:], values[cut:]
        return cls(stacks, keys, values, shift, base)

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
        return cls.of_counts(list(series), packed, shift, base)

    def ids(self) -> Array:
        """Each key's stack index (int64: a stack index is small even where a key is not)."""
        return (self.keys >> self.shift).astype(np.int64)

    def runs(self) -> tuple[list[int], list[int], list[int]]:
        """(ids, starts, ends): each stack with samples, ascending, and the range of its keys."""
        if not len(self.keys):
            return [], [], []
        ids = self.ids()
        starts = np.flatnonzero(np.diff(ids, prepend=-1))
        ends = np.append(starts[1:], len(ids))
        return ids[starts].tolist(), starts.tolist(), ends.tolist()

    def bins(self) -> Array:
        """Each key's bin, less `base`."""
        return self.keys & ((1 << self.shift) - 1)

    def absolute_bins(self) -> Array:
        """Each key's bin (int64, or Python ints where a planted base or bin leaves int64)."""
        bins = self.bins()
        if bins.dtype == np.int64 and abs(self.base) < 1 << 61 and (not len(bins) or int(bins.max()) < 1 << 61):
            return bins + self.base
        return bins.astype(object) + self.base

    def totals(self) -> dict[str, int]:
        """stack -> samples, the stacks with samples only."""
        ids, starts, _ = self.runs()
        if not ids:
            return {}
        sums = np.add.reduceat(self.counts, starts).tolist()
        return {self.stacks[i]: n for i, n in zip(ids, sums)}

    def series(self) -> dict[str, dict[int, int]]:
        """stack -> {bin: samples}, the stacks with samples only."""
        bins, counts = self.absolute_bins().tolist(), self.counts.tolist()
        return {self.stacks[i]: dict(zip(bins[s:e], counts[s:e])) for i, s, e in zip(*self.runs())}

    def renamed(self, stacks: list[str]) -> TimeBins:
        """The same samples under other names (one per stack, in order); stacks that get the
        same name add up."""
        if len(set(stacks)) == len(stacks):
            return TimeBins(stacks, self.keys, self.counts, self.shift, self.base)
        index: dict[str, int] = {}
        packed: dict[int, int] = {}
        bins, counts = self.bins().tolist(), self.counts.tolist()
        for i, s, e in zip(*self.runs()):  # (only where non-UTF-8 names became the same text)
            high = index.setdefault(stacks[i], len(index)) << self.shift
            for b, n in zip(bins[s:e], counts[s:e]):
                packed[high | b] = packed.get(high | b, 0) + n
        return TimeBins.of_counts(list(index), packed, self.shift, self.base)
