"""`fleetflame skew`: which host's tile differs from the rest of the fleet, in which function,
and whether that is real or sampling noise.

For every tile (`verify:2`) and every kind recorded as several tiles (`verify`, the sum of a
host's verify tiles), each host is compared with the rest of the fleet function by function: the
share of its tile samples spent in the function, as self time (the function is the leaf) and as
inclusive time (it is anywhere on the stack), against a baseline that one deviating host cannot
move (see `compare.py`). A finding is reported when it is both

- large enough to matter: at least `min_difference` (5 points by default) from the baseline,
  because healthy hosts differ a little and a long capture makes any difference significant;
- not sampling noise: Fisher's exact test, with the Benjamini–Hochberg correction over every
  comparison made (every host × every function seen in the tile × self and inclusive), gives an
  adjusted p-value at most `alpha` (0.01). In a fleet whose hosts differ only by sampling noise,
  a capture then has a false finding at most once in a hundred.

Hosts with fewer than `min_samples` samples of a tile (100 by default: a few seconds of a busy
tile), and tiles with fewer than three such hosts, are listed as not having enough samples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import folded
from ..capture import FLEET_FOLDED, MANIFEST, read_manifest
from ..errors import InputError
from ..targets import TileFilter
from .compare import MIN_HOSTS, Comparison, compare_hosts, could_differ
from .counts import AGAVE, FleetCounter, HostTile, TileCounts
from .stats import benjamini_hochberg

DEFAULT_MIN_SAMPLES = 100
DEFAULT_MIN_DIFFERENCE = 0.05  # a fraction: 5 percentage points
DEFAULT_ALPHA = 0.01  # Benjamini–Hochberg false discovery rate
SKEW_JSON = "skew.json"
KINDS = ("self", "inclusive")
HTML_VIEWER = "flamegraph.html"


@dataclass(frozen=True)
class Finding:
    """A host whose tile spends a different share of its samples in a function than the fleet."""

    host: str
    tile: str  # KIND:IDX, KIND (every tile of the kind on the host) or agave
    function: str
    kind: str  # "self" | "inclusive"
    host_samples: int  # the host's samples of the tile in the function
    host_total: int  # the host's samples of the tile
    fleet_samples: int  # the same, added up over the baseline hosts
    fleet_total: int
    baseline_hosts: int
    p_value: float
    p_adjusted: float  # Benjamini–Hochberg

    @property
    def host_share(self) -> float:
        return self.host_samples / self.host_total

    @property
    def fleet_share(self) -> float:
        return self.fleet_samples / self.fleet_total

    @property
    def difference(self) -> float:
        return self.host_share - self.fleet_share

    @property
    def view(self) -> str:
        """The HTML viewer's URL fragment that shows this host's tile against the rest."""
        return (
            f"{HTML_VIEWER}#view=host-vs-rest&host={_uri_component(self.host)}"
            f"&tile={_uri_component(self.tile)}&fn={_uri_component(self.function)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "tile": self.tile,
            "function": self.function,
            "kind": self.kind,
            "host_share": self.host_share,
            "fleet_share": self.fleet_share,
            "difference": self.difference,
            "host_samples": self.host_samples,
            "host_total": self.host_total,
            "fleet_samples": self.fleet_samples,
            "fleet_total": self.fleet_total,
            "baseline_hosts": self.baseline_hosts,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "view": self.view,
        }


@dataclass(frozen=True)
class NotEnough:
    """A host's tile left out: too few samples, or too few hosts with enough to compare."""

    host: str
    tile: str
    samples: int
    min_samples: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "tile": self.tile, "samples": self.samples, "min_samples": self.min_samples, "reason": self.reason}


@dataclass
class SkewReport:
    findings: list[Finding]  # largest |difference| first
    not_enough_samples: list[NotEnough]
    comparisons: int  # the family the correction ran over
    tiles: list[str]  # tiles and kinds analysed
    min_samples: int = DEFAULT_MIN_SAMPLES
    min_difference: float = DEFAULT_MIN_DIFFERENCE
    alpha: float = DEFAULT_ALPHA
    seen_tiles: list[str] = field(default_factory=list)  # every tile frame in the input

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "not_enough_samples": [s.to_json() for s in self.not_enough_samples],
        }


def analyse(
    stacks: Mapping[str, int] | Iterable[tuple[str, int]],
    *,
    tiles: TileFilter | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    min_difference: float = DEFAULT_MIN_DIFFERENCE,
    alpha: float = DEFAULT_ALPHA,
    resolved: Mapping[str, Iterable[str]] | None = None,
) -> SkewReport:
    """Skew over fleet stacks (`host;tile;frame;...;leaf` -> samples). `resolved` (host -> tile
    names it recorded) lists tiles that a host recorded without a single sample."""
    _check(min_samples, min_difference, alpha)
    counter = FleetCounter(tiles)
    for stack, count in stacks.items() if isinstance(stacks, Mapping) else stacks:
        counter.add(stack, count)
    counts = counter.result()
    if resolved:
        _add_silent_tiles(counts, resolved, counter)
    report = _analyse_counts(counts, min_samples, min_difference, alpha)
    report.seen_tiles = sorted(counter.seen_tiles)
    return report


def analyse_capture(
    folder: Path,
    *,
    tiles: TileFilter | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    min_difference: float = DEFAULT_MIN_DIFFERENCE,
    alpha: float = DEFAULT_ALPHA,
) -> SkewReport:
    """Skew of a capture folder's fleet.folded, streamed; manifest.json (if there) names the
    tiles each completed host recorded, so that a tile with no samples at all is listed too."""
    path = folder / FLEET_FOLDED
    if not path.is_file():
        if (folder / MANIFEST).is_file():
            why = f"it has no {FLEET_FOLDED} yet: finish it with `fleetflame fetch`, or redraw it with `fleetflame report {folder}`"
        elif folder.is_dir():
            why = f"it has neither {MANIFEST} nor {FLEET_FOLDED}"
        else:
            why = "no such folder"
        raise InputError(f"{folder} is not a capture folder ({why}); give OUT/CAPTURE_ID as `fleetflame captures` lists them")
    resolved: dict[str, list[str]] = {}
    if (folder / MANIFEST).is_file():
        try:
            manifest = read_manifest(folder)
        except (ValueError, TypeError, OSError) as exc:
            raise InputError(f"{folder / MANIFEST}: unreadable ({exc}); redraw the capture with `fleetflame report {folder}`") from None
        resolved = {
            name: [str(t.get("name")) for t in host.tiles if isinstance(t, dict)]
            for name, host in manifest.hosts.items()
            if host.status == "ok"
        }
    with folded.open_text(path) as fp:
        return analyse(
            folded.iter_folded(fp), tiles=tiles, min_samples=min_samples, min_difference=min_difference, alpha=alpha, resolved=resolved
        )


def write_skew_json(folder: Path, report: SkewReport) -> Path:
    """skew.json in the capture folder, written whole or not at all."""
    path = folder / SKEW_JSON
    tmp = folder / (SKEW_JSON + ".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def skew_table(report: SkewReport, capture_folder: Path, limit: int | None = None) -> Any:
    """The findings as a rich table, largest first, with the viewer step that shows each one;
    `limit` rows at most (then "N more"), for the short form after a run's recap."""
    from .skew_table import render

    return render(report, capture_folder, limit)


def _check(min_samples: int, min_difference: float, alpha: float) -> None:
    if min_samples < 1:
        raise InputError(f"--min-samples {min_samples}: give at least 1 (default {DEFAULT_MIN_SAMPLES})")
    if not 0 <= min_difference <= 1:
        raise InputError(f"--min-difference {100 * min_difference:g}: give 0 to 100 percentage points")
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha:g}: give a false discovery rate between 0 and 1")


def _add_silent_tiles(counts: TileCounts, resolved: Mapping[str, Iterable[str]], counter: FleetCounter) -> None:
    """A host that recorded a tile but has no sample of it gets an empty entry (0 samples)."""
    for host, names in resolved.items():
        for tile in names:
            if counter.wants(tile):
                counts.setdefault(tile, {}).setdefault(host, HostTile())
                kind = tile.partition(":")[0]
                if tile != AGAVE and kind in counts:
                    counts[kind].setdefault(host, HostTile())


@dataclass
class _Raw:
    tile: str
    kind: str
    function: str
    comparison: Comparison


def _analyse_counts(counts: TileCounts, min_samples: int, min_difference: float, alpha: float) -> SkewReport:
    raw: list[_Raw] = []
    not_enough: list[NotEnough] = []
    comparisons = 0
    for tile in sorted(counts):
        per_host = counts[tile]
        eligible = {h: c for h, c in per_host.items() if c.total >= min_samples}
        few = {h: c for h, c in per_host.items() if c.total < min_samples}
        if len(eligible) < MIN_HOSTS:
            reason = f"only {len(eligible)} hosts have {min_samples} samples of {tile}; comparing needs {MIN_HOSTS}"
            not_enough += [NotEnough(h, tile, c.total, min_samples, reason) for h, c in sorted(eligible.items())]
        for host, c in sorted(few.items()):
            not_enough.append(NotEnough(host, tile, c.total, min_samples, f"{c.total} samples of {tile}, fewer than {min_samples}"))
        if len(eligible) < MIN_HOSTS:
            continue
        for kind in KINDS:
            by_host = {h: (c.self_samples if kind == "self" else c.inclusive) for h, c in eligible.items()}
            functions: set[str] = set()
            candidates: set[str] = set()
            for host, samples in by_host.items():
                functions.update(samples)
                total = eligible[host].total
                candidates.update(f for f, n in samples.items() if could_differ(n / total, min_difference))
            comparisons += len(functions) * len(eligible)
            for function in sorted(candidates):
                pairs = {h: (samples.get(function, 0), eligible[h].total) for h, samples in by_host.items()}
                raw += [_Raw(tile, kind, function, c) for c in compare_hosts(pairs, min_difference)]
    adjusted = benjamini_hochberg([r.comparison.p_value for r in raw], comparisons)
    findings = [
        Finding(
            host=r.comparison.host,
            tile=r.tile,
            function=r.function,
            kind=r.kind,
            host_samples=r.comparison.host_samples,
            host_total=r.comparison.host_total,
            fleet_samples=r.comparison.fleet_samples,
            fleet_total=r.comparison.fleet_total,
            baseline_hosts=r.comparison.baseline_hosts,
            p_value=r.comparison.p_value,
            p_adjusted=p,
        )
        for r, p in zip(raw, adjusted)
        if p <= alpha
    ]
    findings = _sorted(_without_repeats(findings))
    return SkewReport(findings, not_enough, comparisons, sorted(counts), min_samples, min_difference, alpha)


def _without_repeats(findings: list[Finding]) -> list[Finding]:
    """Drop findings that say again what another one says:
    - an inclusive finding with the same counts as the self finding of the function (a leaf);
    - a kind's finding (`verify`) when one of its tiles (`verify:1`) has a finding for the same
      host, function and self/inclusive in the same direction."""
    self_counts = {
        (f.host, f.tile, f.function): (f.host_samples, f.fleet_samples, f.fleet_total) for f in findings if f.kind == "self"
    }
    tile_level = {(f.host, f.tile.partition(":")[0], f.function, f.kind, f.difference > 0) for f in findings if ":" in f.tile}
    kept = []
    for f in findings:
        if f.kind == "inclusive" and self_counts.get((f.host, f.tile, f.function)) == (f.host_samples, f.fleet_samples, f.fleet_total):
            continue
        if ":" not in f.tile and f.tile != AGAVE and (f.host, f.tile, f.function, f.kind, f.difference > 0) in tile_level:
            continue
        kept.append(f)
    return kept


def _sorted(findings: list[Finding]) -> list[Finding]:
    # Largest effect first; on a tie a function that grew before one that shrank, then by name.
    return sorted(findings, key=lambda f: (-abs(f.difference), -f.difference, f.host, f.tile, f.function, f.kind))


def _uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is escaped."""
    return quote(text, safe="-_.!~*'()")
