"""Collapse several perf script files at once, one worker process per core."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .hosts import worker_pool
from .perf import collapse_perf_file
from .options import CollapseResult, PerfOptions


def merge_results(results: Sequence[CollapseResult]) -> CollapseResult:
    stacks: dict[str, int] = {}
    merged = CollapseResult(stacks)
    for r in results:
        for k, v in r.stacks.items():
            stacks[k] = stacks.get(k, 0) + v
        merged.warnings += r.warnings
        merged.samples += r.samples
        merged.event = merged.event or r.event
        for e, n in r.dropped_events.items():
            merged.dropped_events[e] = merged.dropped_events.get(e, 0) + n
    return merged


def collapse_perf_files(
    paths: Sequence[str | Path], options: PerfOptions | None = None, processes: int | None = None
) -> CollapseResult:
    """Each file is collapsed on its own (its own default event filter, as the script run on
    each), then the stacks are added up."""
    options = options or PerfOptions()
    workers = min(len(paths), processes or os.cpu_count() or 1)
    if workers <= 1:
        return merge_results([collapse_perf_file(p, options) for p in paths])
    with worker_pool(workers) as pool:
        return merge_results(list(pool.map(collapse_perf_file, paths, [options] * len(paths))))
