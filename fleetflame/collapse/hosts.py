"""Collapse each host's `perf script` output with tiles as root frames.

Small outputs are collapsed in a thread at once; big ones go to worker processes so that several
hosts use several cores. The pool starts only when a big output arrives: starting workers costs
more than collapsing a few megabytes.
"""

from __future__ import annotations

import asyncio
import errno
import multiprocessing
import os
import signal
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .options import PerfOptions
from .perf import collapse_perf

if TYPE_CHECKING:
    from .timebins import TimeBins

PROCESS_THRESHOLD = 4 << 20  # compressed bytes; about 40 MB of perf script text


def collapse_host(
    script_path: str, roots_by_tid: dict[int, str], unknown_tid_root: str | None, timeline_dir: str | None = None
) -> dict[str, int]:
    """Folded stacks `tile;frame;...;leaf` weighted by number of samples, from a perf script file.

    With `timeline_dir`, the samples' times are binned in the same pass and written there as
    timeline.json.gz (fleetflame.timeline). The timeline is written here, in the collapse itself,
    rather than by its caller (capture/stacks.py) or by `report`: it costs no second reading of
    the output, needs no change to the capture's code, and a worker process writes it without
    sending the bins back to the control process.
    """
    options = PerfOptions(weight="samples", roots_by_tid=roots_by_tid, unknown_tid_root=unknown_tid_root,
                          time_bins=timeline_dir is not None)
    with open_script(script_path) as fp:
        collapsed = collapse_perf(fp, options)  # (any input: see collapse/)
    if timeline_dir is not None and collapsed.binned is not None:
        from ..timeline.store import Timeline, write_timeline

        write_timeline(timeline_dir, Timeline(unbinned=collapsed.unbinned, packed=utf8_bins(collapsed.binned)))
    return utf8_stacks(collapsed.stacks)


def _utf8(stack: str) -> str:
    """Symbol bytes that are not UTF-8 become U+FFFD: capture files and graphs are UTF-8 text."""
    if stack.isascii():  # (a flag of the str: no scan)
        return stack
    return stack.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def utf8_stacks(stacks: dict[str, int]) -> dict[str, int]:
    """The stacks as UTF-8 text; two byte strings that became the same text add up."""
    out: dict[str, int] = {}
    for stack, count in stacks.items():
        key = _utf8(stack)
        out[key] = out.get(key, 0) + count
    return out


def utf8_bins(bins: TimeBins) -> TimeBins:
    """The same for the stacks of the time bins."""
    return bins.renamed(list(map(_utf8, bins.stacks)))


def open_script(path: str) -> BinaryIO:
    """The host's perf script output in its capture folder: a regular file, never read through a
    symbolic link (OSError if it is one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "is a symbolic link; fleetflame does not follow links in a capture folder", path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "is not a regular file", path)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the control process


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """The one kind of process pool collapsing uses (a capture's hosts, `collapse` of several
    files): forkserver workers, started clean of the parent's threads (asyncio's, asyncssh's),
    that leave Ctrl-C to the control process."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_ignore_interrupts)


class HostCollapser:
    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max(1, min(max_workers or os.cpu_count() or 1, os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    async def collapse(self, script: Path, roots_by_tid: dict[int, str], unknown_tid_root: str | None) -> dict[str, int]:
        if os.stat(script, follow_symlinks=False).st_size < PROCESS_THRESHOLD or self.max_workers == 1:
            return await asyncio.to_thread(collapse_host, str(script), roots_by_tid, unknown_tid_root, str(script.parent))
        if self._pool is None:
            self._pool = worker_pool(self.max_workers)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, collapse_host, str(script), roots_by_tid, unknown_tid_root, str(script.parent))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
