"""A host's stacks.folded: its perf script output collapsed (collapse/), tiles as roots, written whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..collapse.hosts import HostCollapser
from ..folded import format_folded, load_folded
from . import files
from .manifest import PERF_SCRIPT, STACKS_FOLDED


@dataclass(frozen=True)
class Collapsed:
    samples: int


async def collapse_results(
    collapser: HostCollapser, local_dir: Path, roots: dict[str, str], unknown_tid_root: str | None
) -> Collapsed:
    """Fold `local_dir/perf.script.gz` into `local_dir/stacks.folded` (written whole or not at
    all, never through a link; replacing one with more samples says so)."""
    by_tid = {int(tid): root for tid, root in roots.items()}
    stacks = await collapser.collapse(local_dir / PERF_SCRIPT, by_tid, unknown_tid_root)
    samples = sum(stacks.values())
    data = format_folded(stacks).encode("utf-8")
    with files.opened_dir(local_dir) as dir_fd:
        old = files.file_size(STACKS_FOLDED, dir_fd=dir_fd)
        if old and old != len(data):
            with files.open_read(STACKS_FOLDED, dir_fd=dir_fd) as fp:
                before = sum(load_folded(fp).stacks.values())
            if before > samples:
                files.warn(f"{local_dir / STACKS_FOLDED}: replaced by a new collapse of {PERF_SCRIPT} with {samples:,} samples; it held {before:,}")
        files.replace_file(STACKS_FOLDED, data, dir_fd=dir_fd)
    return Collapsed(samples)
