"""Collapse each host's `perf script` output with tiles as root frames.

Small outputs are collapsed in a thread at once; big ones go to worker processes so that several
hosts use several cores. The pool starts only when a big output arrives: starting workers costs
more than collapsing a few megabytes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .collapse import PerfOptions, collapse_perf_file

PROCESS_THRESHOLD = 4 << 20  # compressed bytes; about 40 MB of perf script text


def collapse_host(script_path: str, roots_by_tid: dict[int, str], unknown_tid_root: str | None) -> dict[str, int]:
    """Folded stacks `tile;frame;...;leaf` weighted by number of samples, from a perf script file."""
    options = PerfOptions(weight="samples", roots_by_tid=roots_by_tid, unknown_tid_root=unknown_tid_root)
    stacks: dict[str, int] = {}
    for stack, count in collapse_perf_file(script_path, options).stacks.items():  # (any input: see collapse/)
        # Symbol bytes that are not UTF-8 become U+FFFD: capture files and graphs are UTF-8 text.
        key = stack.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        stacks[key] = stacks.get(key, 0) + count
    return stacks


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the control process


class HostCollapser:
    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max(1, min(max_workers or os.cpu_count() or 1, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    async def collapse(self, script: Path, roots_by_tid: dict[int, str], unknown_tid_root: str | None) -> dict[str, int]:
        if script.stat().st_size < PROCESS_THRESHOLD or self.max_workers == 1:
            return await asyncio.to_thread(collapse_host, str(script), roots_by_tid, unknown_tid_root)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.max_workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_ignore_interrupts,
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, collapse_host, str(script), roots_by_tid, unknown_tid_root)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
