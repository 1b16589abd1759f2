"""The validator's metrics page: where its tiles run and whether they are running.

Firedancer's metric tile serves Prometheus text (src/disco/metrics/fd_prometheus.c): `# HELP` and
`# TYPE` once per metric, a blank line between metrics, and per tile the gauges
`tile_pid{kind="verify",kind_id="3"}`, `tile_tid{...}` (equal to the pid in production, where each
tile is a process) and `tile_status{...}` (0 booting, 1 running, 2 shut down), among some two
thousand lines of other series. Only those three gauges are read; every value is checked, since a
page can say anything: a kind must look like a tile kind (it becomes a frame of the folded stacks
and part of file names), an id must be a small integer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .targets import TILE_KINDS
from .tiles import Tile, tile_order

# Prometheus text exposition, only as far as the three gauges go: `tile_pid{kind="verify",
# kind_id="3"} 1234`. (prometheus_client's parser would cost 0.13 s of import per run and accepts
# any label value.)
_GAUGE = re.compile(r"^(tile_pid|tile_tid|tile_status)\{(.*)\}[ \t]+(\S+)")
_LABEL = re.compile(r'\s*([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_KIND = re.compile(r"[a-z][a-z0-9_]{0,15}")
_INTEGER = re.compile(r"(\d{1,10})(?:\.0*)?(?:[eE]\+?0*)?")
# Linux's pid_max is at most 2^22; a tile id above that is not a thread of this machine.
MAX_ID = 1 << 22
MAX_KIND_ID = 4096  # Firedancer has at most FD_TOPO_MAX_TILES (128) tiles
MAX_WARNINGS = 10


@dataclass
class MetricsPage:
    """The tiles a metrics page lists, and what in it was ignored (for the operator)."""

    tiles: list[Tile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _labels(text: str) -> dict[str, str] | None:
    labels, at = {}, 0
    while at < len(text.rstrip()):
        match = _LABEL.match(text, at)
        if not match:
            return None
        labels[match[1]] = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], match[2])
        at = match.end()
    return labels


def _integer(text: str) -> int | None:
    """A gauge value that is a whole number (`1234`, `1234.0`, `1.2e+03`), else None: `inf`, `NaN`,
    `1e999`, negative and fractional values are not pids."""
    match = _INTEGER.fullmatch(text)
    if match:
        return int(match[1])
    try:
        value = float(text)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")) or value < 0 or value != int(value):
        return None
    return int(value)


def read_metrics_page(text: str) -> MetricsPage:
    """Tiles from the validator's `tile_pid` / `tile_tid` / `tile_status` gauges; other lines are
    ignored, and a tile series with a bad label or value is ignored with a warning."""
    page = MetricsPage()
    values: dict[str, dict[tuple[str, int], int]] = {"tile_pid": {}, "tile_tid": {}, "tile_status": {}}
    for line in text.splitlines():
        match = _GAUGE.match(line)
        if not match:
            continue
        labels = _labels(match[2])
        kind = (labels or {}).get("kind", "")
        kind_id = (labels or {}).get("kind_id", "")
        value = _integer(match[3])
        if labels is None or not _KIND.fullmatch(kind) or not kind_id.isdigit() or int(kind_id) >= MAX_KIND_ID:
            _warn(page, f"ignored a {match[1]} series with labels that are not a tile's: {match[2][:60]!r}")
            continue
        if value is None or value >= MAX_ID:
            _warn(page, f"ignored {match[1]} of {kind}:{int(kind_id)}: {match[3][:30]!r} is not a thread id")
            continue
        values[match[1]][(kind, int(kind_id))] = value
    tids, statuses = values["tile_tid"], values["tile_status"]
    page.tiles = sorted(
        (Tile(kind, kind_id, pid, tids.get((kind, kind_id), pid), statuses.get((kind, kind_id)))
         for (kind, kind_id), pid in values["tile_pid"].items()),
        key=tile_order,
    )
    unknown = sorted({t.kind for t in page.tiles} - TILE_KINDS)
    if unknown:
        page.warnings.append(
            f"tile kind{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} unknown to fleetflame: "
            "recorded all the same (the validator knows its own tiles)"
        )
    return page


def parse_metrics(text: str) -> list[Tile]:
    """The tiles of a metrics page (see `read_metrics_page` for what is checked)."""
    return read_metrics_page(text).tiles


def _warn(page: MetricsPage, text: str) -> None:
    if len(page.warnings) < MAX_WARNINGS:
        page.warnings.append(text)
