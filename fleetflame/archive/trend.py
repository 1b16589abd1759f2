"""A tile's top functions across the capture history, host by host, to see when a host drifts.

For TILE, the top functions are those with the most self (leaf) samples in that tile over every
completed capture read. For each capture, in time order, and each host, a function's share is
the percentage of that host's samples in the tile whose leaf frame is the function. Self rather
than inclusive time: a leaf share says where the CPU went, and shares of different functions
never overlap, so they add up (with `other`) to 100 %.

A host's share is marked (▲▼) with the statistics of `fleetflame skew` (analysis/compare.py):
when it is more than `threshold` percentage points from the share of the other hosts that agree
with the capture's median, *and* Fisher's exact test, Benjamini–Hochberg corrected over every
cell of the table, says that is not sampling noise. Points, not a ratio: a 2 % function doubling
to 4 % is noise for an operator; a 30 % function going to 40 % is not. A host with fewer than
`min_samples` samples of the tile is never marked, nor is any host of a capture where fewer
than three hosts have that many: 6 of 7 samples against 5 of 7 is not a change.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from .. import folded
from ..analysis.compare import MIN_HOSTS, compare_hosts
from ..analysis.stats import benjamini_hochberg
from ..capture import FLEET_FOLDED
from ..errors import InputError
from .history import CaptureSummary, read_history
from ..host.targets import TileFilter, parse_tile_filter
from ..terminal import literal_line, safe_line

DEFAULT_TOP = 5
DEFAULT_THRESHOLD = 5.0  # percentage points from the other hosts
DEFAULT_MIN_SAMPLES = 100  # as skew's
DEFAULT_ALPHA = 0.01  # Benjamini–Hochberg false discovery rate, as skew's
_ROUNDING = 1e-12

_TILE_FRAME = re.compile(r"^[a-z][a-z0-9_]*:\d+$|^agave$")


@dataclass
class Drift:
    """A marked share: how far from the other hosts, and how sure."""

    difference: float  # percentage points from the baseline hosts' pooled share
    p_adjusted: float  # Benjamini–Hochberg


@dataclass
class HostShare:
    host: str
    samples: int  # the host's samples in the tile
    self_samples: dict[str, int]  # per top function
    shares: dict[str, float]  # % of `samples`
    deviation: dict[str, float] = field(default_factory=dict)  # points from the capture's median
    drifts: dict[str, Drift] = field(default_factory=dict)  # the marked functions

    @property
    def other(self) -> float:
        return max(0.0, 100.0 - sum(self.shares.values()))

    def drifting(self) -> list[str]:
        """The functions whose share is marked, in the trend's order."""
        return [f for f in self.shares if f in self.drifts]


@dataclass
class TrendPoint:
    capture: str
    started_at: str
    hosts: list[HostShare]  # by host name
    median: dict[str, float]


@dataclass
class Trend:
    tile: str
    tiles: list[str]  # tile frames that matched, over the history
    functions: list[str]  # top functions, most self samples first
    function_samples: dict[str, int]  # their self samples over the history
    threshold: float
    points: list[TrendPoint]  # oldest first
    skipped: list[tuple[str, str]]  # (capture id, why)
    warnings: list[str] = field(default_factory=list)  # unreadable capture folders
    min_samples: int = DEFAULT_MIN_SAMPLES
    alpha: float = DEFAULT_ALPHA

    def drifting(self) -> list[tuple[str, str, str, float]]:
        """(capture, host, function, deviation from the median) of every marked share, in time order."""
        return [
            (point.capture, host.host, f, host.deviation[f])
            for point in self.points
            for host in point.hosts
            for f in host.drifting()
        ]


@dataclass
class _TileCounts:
    leaves: dict[str, dict[str, int]] = field(default_factory=dict)  # host -> leaf -> self samples
    totals: dict[str, int] = field(default_factory=dict)  # host -> samples in the tile


def trend(
    out: Path,
    tile: str,
    top: int = DEFAULT_TOP,
    threshold: float = DEFAULT_THRESHOLD,
    last: int | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    alpha: float = DEFAULT_ALPHA,
) -> Trend:
    """The trend of TILE over the completed captures in OUT (the `last` newest ones if given)."""
    if top < 1:
        raise InputError(f"--top {top}: show at least 1 function")
    if last is not None and last < 1:
        raise InputError(f"--last {last}: read at least 1 capture")
    tiles = parse_tile_filter(tile, "--trend")
    matches = tiles.matches
    history = read_history(out)
    if not history.captures:
        raise InputError(
            f"no captures in {out} yet: record some with `fleetflame run TARGET -i INVENTORY --out {out}` "
            "(a trend needs completed captures)"
        )
    skipped: list[tuple[str, str]] = []
    completed: list[CaptureSummary] = []
    for capture in history.captures:
        if capture.pending:
            skipped.append((capture.id, f"hosts still pending: complete it with `fleetflame fetch {capture.id}`"))
        else:
            completed.append(capture)
    if last is not None:
        completed = completed[-last:]

    seen_tiles: set[str] = set()
    counted: list[tuple[CaptureSummary, _TileCounts]] = []
    for capture in completed:
        path = capture.path / FLEET_FOLDED
        if not path.is_file():
            skipped.append((capture.id, f"no {FLEET_FOLDED}: redraw it with `fleetflame report {capture.path}`"))
            continue
        counts = _read_tile(path, matches, seen_tiles)
        if counts.totals:
            counted.append((capture, counts))
        else:
            skipped.append((capture.id, f"no samples of {tile}"))
    if not counted:
        raise InputError(_nothing_found(out, tiles, len(completed), len(history.captures), seen_tiles))

    history_self: dict[str, int] = {}
    matched: set[str] = set()
    for _, counts in counted:
        for leaves in counts.leaves.values():
            for leaf, n in leaves.items():
                history_self[leaf] = history_self.get(leaf, 0) + n
    for frame in seen_tiles:
        if matches(frame):
            matched.add(frame)
    functions = sorted(history_self, key=lambda f: (-history_self[f], f))[:top]
    points = [_point(capture, counts, functions) for capture, counts in counted]
    _mark_drifts(points, functions, threshold, min_samples, alpha)
    skipped.sort(key=lambda s: s[0])
    return Trend(
        tile=tile,
        tiles=sorted(matched),
        functions=functions,
        function_samples={f: history_self[f] for f in functions},
        threshold=threshold,
        points=points,
        skipped=skipped,
        warnings=history.warnings,
        min_samples=min_samples,
        alpha=alpha,
    )


def _mark_drifts(points: list[TrendPoint], functions: list[str], threshold: float, min_samples: int, alpha: float) -> None:
    """skew's test on every cell of the table: each host against the other hosts of its
    capture, one function at a time, corrected over every comparison the table makes."""
    found: list[tuple[HostShare, str, float, float]] = []  # host, function, difference, p
    comparisons = 0
    for point in points:
        eligible = {h.host: h for h in point.hosts if h.samples >= min_samples}
        if len(eligible) < MIN_HOSTS:
            continue
        comparisons += len(eligible) * len(functions)
        for function in functions:
            pairs = {name: (h.self_samples[function], h.samples) for name, h in eligible.items()}
            for c in compare_hosts(pairs, threshold / 100):
                if abs(c.difference) > threshold / 100 + _ROUNDING:
                    found.append((eligible[c.host], function, 100 * c.difference, c.p_value))
    adjusted = benjamini_hochberg([p for *_, p in found], comparisons)
    for (host, function, difference, _), p in zip(found, adjusted):
        if p <= alpha:
            host.drifts[function] = Drift(difference, p)


def _read_tile(path: Path, matches: Callable[[str], bool], seen_tiles: set[str]) -> _TileCounts:
    """One pass over fleet.folded (`host;tile;frame;...;leaf COUNT`): self samples per host and
    leaf in the tile. Streams the file: a fleet's folded stacks can be hundreds of MB."""
    counts = _TileCounts()
    with folded.open_text(path) as fp:
        for stack, count in folded.iter_folded(fp):
            parts = stack.split(";", 2)
            if len(parts) < 2:
                continue
            host, frame = parts[0], parts[1]
            seen_tiles.add(frame)
            if not matches(frame):
                continue
            leaf = stack.rpartition(";")[2]
            leaves = counts.leaves.setdefault(host, {})
            leaves[leaf] = leaves.get(leaf, 0) + count
            counts.totals[host] = counts.totals.get(host, 0) + count
    return counts


def _point(capture: CaptureSummary, counts: _TileCounts, functions: list[str]) -> TrendPoint:
    hosts = []
    for host in sorted(counts.totals):
        total = counts.totals[host]
        leaves = counts.leaves[host]
        self_samples = {f: leaves.get(f, 0) for f in functions}
        shares = {f: 100.0 * n / total if total else 0.0 for f, n in self_samples.items()}
        hosts.append(HostShare(host, total, self_samples, shares))
    median = {f: statistics.median(h.shares[f] for h in hosts) for f in functions}
    for h in hosts:
        h.deviation = {f: h.shares[f] - median[f] for f in functions}
    return TrendPoint(capture.id, capture.started_at, hosts, median)


def _nothing_found(out: Path, tiles: TileFilter, completed: int, listed: int, seen_tiles: set[str]) -> str:
    if not completed:
        return (
            f"no completed capture in {out}: all {listed} have hosts still pending; "
            "complete them with `fleetflame fetch CAPTURE_ID` first"
        )
    # Root frames are tiles, or `agave` for the Agave process; anything else is not worth listing.
    recorded = sorted(safe_line(t) for t in seen_tiles if _TILE_FRAME.match(t))
    hint = f"tiles recorded there: {_short_list(recorded)}" if recorded else "no tile has samples there"
    # The TARGET that records what the filter means: a bare kind is every tile of the kind here,
    # but `run verify` would record verify:0 only.
    target = tiles.text if tiles.kind == "agave" or tiles.is_single_tile else f"{tiles.kind}:*"
    return (
        f"no samples of tile {tiles.text!r} in the {completed} completed captures in {out}; {hint}. "
        f"Record it with `fleetflame run {target} -i INVENTORY --out {out}` (or `all`)"
    )


def _short_list(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _cell(share: float, drift: Drift | None, few: bool) -> Text:
    text = f"{share:.1f}%"
    if drift is not None and drift.difference > 0:
        return Text(text + " ▲", style="bold red")
    if drift is not None:
        return Text(text + " ▼", style="bold cyan")
    return Text(text, style="dim" if few else "")


def trend_table(result: Trend) -> Table:
    """The trend as a table. Function names head their columns whole (`no_wrap`): print it with
    `terminal.print_table`, which never cuts them, in a pipe or in a narrow terminal."""
    table = Table(
        title=(
            f"{safe_line(result.tile)}: self share of the top {len(result.functions)} functions per host "
            f"(▲▼ more than {result.threshold:g} points from the other hosts and not sampling noise: "
            f"Fisher's exact test, Benjamini–Hochberg adjusted p ≤ {result.alpha:g}; "
            f"dim: fewer than {result.min_samples} samples, never marked)"
        ),
        title_justify="left",
        caption=_caption(result),
        caption_justify="left",
    )
    table.add_column("capture", no_wrap=True)
    table.add_column("host", no_wrap=True)
    table.add_column("samples", justify="right", no_wrap=True)
    for function in result.functions:
        table.add_column(literal_line(function), justify="right", no_wrap=True)
    table.add_column("other", justify="right", no_wrap=True)
    for point in result.points:
        for i, host in enumerate(point.hosts):
            few = host.samples < result.min_samples
            cells = [_cell(host.shares[f], host.drifts.get(f), few) for f in result.functions]
            table.add_row(
                literal_line(point.capture) if i == 0 else "",
                literal_line(host.host),
                f"{host.samples:,}",
                *cells,
                _cell(host.other, None, few),
            )
        if len(point.hosts) > 1:
            medians = [Text(f"{point.median[f]:.1f}%", style="dim") for f in result.functions]
            table.add_row("", Text("median", style="dim"), "", *medians, "")
        table.add_section()
    return table


def _caption(result: Trend) -> str | None:
    lines = []
    if result.skipped:
        lines.append(f"{len(result.skipped)} captures left out: " + "; ".join(f"{safe_line(c)} ({safe_line(why)})" for c, why in result.skipped[:5]))
        if len(result.skipped) > 5:
            lines.append(f"… and {len(result.skipped) - 5} more (see --json)")
    return "\n".join(lines) or None


def trend_json(result: Trend) -> str:
    def pct(value: float) -> float:
        return round(value, 3)

    data: dict[str, Any] = {
        "tile": result.tile,
        "tiles": result.tiles,
        "threshold_points": result.threshold,
        "min_samples": result.min_samples,
        "alpha": result.alpha,
        "functions": [{"name": f, "self_samples": result.function_samples[f]} for f in result.functions],
        "captures": [
            {
                "id": point.capture,
                "started_at": point.started_at,
                "median": {f: pct(v) for f, v in point.median.items()},
                "hosts": [
                    {
                        "host": h.host,
                        "samples": h.samples,
                        "self_samples": h.self_samples,
                        "share": {f: pct(v) for f, v in h.shares.items()},
                        "other": pct(h.other),
                        "deviation": {f: pct(v) for f, v in h.deviation.items()},
                        "drifting": h.drifting(),
                        "drifts": {f: {"difference": pct(d.difference), "p_adjusted": d.p_adjusted} for f, d in h.drifts.items()},
                    }
                    for h in point.hosts
                ],
            }
            for point in result.points
        ],
        "drifting": [
            {"capture": point.capture, "host": h.host, "function": f, "deviation": pct(h.deviation[f]),
             "difference": pct(h.drifts[f].difference), "p_adjusted": h.drifts[f].p_adjusted}
            for point in result.points
            for h in point.hosts
            for f in h.drifting()
        ],
        "skipped": [{"id": c, "reason": why} for c, why in result.skipped],
        "warnings": result.warnings,
    }
    return json.dumps(data, indent=2)
