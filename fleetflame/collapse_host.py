"""Collapse one host's `perf script` output with tiles as root frames (runs in worker processes)."""

from __future__ import annotations

from .collapse import PerfOptions, collapse_perf_file


def collapse_host(script_path: str, roots_by_tid: dict[int, str], unknown_tid_root: str | None) -> dict[str, int]:
    """Folded stacks `tile;frame;...;leaf` weighted by number of samples, from a perf script file."""
    options = PerfOptions(weight="samples", roots_by_tid=roots_by_tid, unknown_tid_root=unknown_tid_root)
    return collapse_perf_file(script_path, options).stacks
