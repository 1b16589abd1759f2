"""Collapsing one host's results: its perf script output into `stacks.folded`, tiles as roots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..collapse_host import HostCollapser
from ..folded import format_folded
from .manifest import PERF_SCRIPT, STACKS_FOLDED


@dataclass(frozen=True)
class Collapsed:
    samples: int
    stacks: int  # distinct stacks


async def collapse_results(
    collapser: HostCollapser, local_dir: Path, roots: dict[str, str], unknown_tid_root: str | None
) -> Collapsed:
    """Fold `local_dir/perf.script.gz` into `local_dir/stacks.folded` (written whole or not at all)."""
    by_tid = {int(tid): root for tid, root in roots.items()}
    stacks = await collapser.collapse(local_dir / PERF_SCRIPT, by_tid, unknown_tid_root)
    target = local_dir / STACKS_FOLDED
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(format_folded(stacks), encoding="utf-8")
    os.replace(tmp, target)
    return Collapsed(sum(stacks.values()), len(stacks))
