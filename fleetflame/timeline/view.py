"""`fleetflame timeline`: one row per host, x = time, a block character per column."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ..host.targets import tile_kind
from .clock import CLOCK_WARN_S, correction
from .store import Timeline

BLOCKS = " ▁▂▃▄▅▆▇█"
MAX_LABEL = 20


def _tile_matches(stack: str, tile: str | None) -> bool:
    if tile is None:
        return True
    root = stack.partition(";")[0]
    return root == tile or tile_kind(root) == tile


def activity_rows(
    timelines: dict[str, Timeline],
    start: float,
    *,
    width: int = 80,
    tile: str | None = None,
    host: str | None = None,
    fn: str | None = None,
) -> list[str]:
    """The lines `timeline` prints, none wider than `width` columns: a time axis, one row per host
    (scaled to the busiest column of all rows; with `fn`, each column's share of samples whose
    stack matches the regex), and a line saying what a full block is."""
    if host is not None:
        if host not in timelines:
            raise InputError(f"--host {host!r}: no timeline for that host (hosts with one: {', '.join(sorted(timelines)[:10])})")
        timelines = {host: timelines[host]}
    try:
        pattern = re.compile(fn) if fn is not None else None
    except re.error as exc:
        raise InputError(f"--fn {fn!r}: not a regular expression ({exc})") from None
    lasts = [(t.last_bin + 1) * t.bin_s for t in timelines.values() if t.last_bin is not None]
    end = max(lasts, default=start + 1)
    span = max(end - start, 0.02)
    label_w = min(max((len(h) for h in timelines), default=4), MAX_LABEL)
    cols = max(width - label_w - 1, 10)
    dt = span / cols
    totals: dict[str, list[int]] = {}
    hits: dict[str, list[int]] = {}
    for name, timeline in timelines.items():
        packed = timeline.packed
        # per stack: of the tile asked for, and matching --fn; then per (stack, bin) key
        shown = np.array([_tile_matches(stack, tile) for stack in packed.stacks], dtype=bool)
        matched = np.array([pattern is not None and pattern.search(stack.partition(";")[2]) is not None
                            for stack in packed.stacks], dtype=bool) & shown
        ids = packed.ids()
        seconds = packed.absolute_bins().astype(np.float64) * timeline.bin_s
        col = np.clip((seconds - start) / dt, 0, cols - 1).astype(np.int64)  # (as int(): toward zero)
        keep, hit = shown[ids], matched[ids]
        totals[name] = np.bincount(col[keep], weights=packed.counts[keep], minlength=cols).astype(np.int64).tolist()
        hits[name] = np.bincount(col[hit], weights=packed.counts[hit], minlength=cols).astype(np.int64).tolist()
    peak = max((max(t) for t in totals.values()), default=0) or 1
    axis_end = f"{span:.1f} s"
    lines = [f"{'':<{label_w}} 0 s{axis_end:>{cols - 3}}"]
    for name in sorted(timelines):
        label = name if len(name) <= label_w else name[: label_w - 1] + "…"
        if pattern is None:
            levels = [_level(v, peak) for v in totals[name]]
        else:
            levels = [_level(h, t) if t else 0 for h, t in zip(hits[name], totals[name])]
        lines.append(f"{label:<{label_w}} " + "".join(BLOCKS[v] for v in levels))
    what = f"{tile} tiles" if tile else "all tiles"
    if pattern is None:
        key = f"█ = {peak:,} samples in {dt:.2f} s ({what})"
    else:
        key = f"█ = every sample in the column matches --fn ({what})"
    lines.append(key[:width])
    return lines


def _level(value: int, top: int) -> int:
    if value <= 0:
        return 0
    return max(1, min(8, round(8 * value / top)))


def clock_notes(clocks: Mapping[str, tuple[float | None, float | None]], width: int = 80) -> list[str]:
    """Lines under the rows for hosts whose clock was off: (offset, uncertainty) per host, from
    the manifest. A host moved onto this machine's clock, or placed only roughly, is named."""
    lines = []
    for name in sorted(clocks):
        offset, uncertainty = clocks[name]
        moved = correction(offset, uncertainty)
        if moved and abs(moved) > CLOCK_WARN_S:
            lines.append(f"clock: {name} moved {-moved:+.3f} s onto this machine's clock")
        if uncertainty is not None and uncertainty > CLOCK_WARN_S:
            lines.append(f"clock: {name} placed only to ±{uncertainty * 1000:.0f} ms (slow start signal)")
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
