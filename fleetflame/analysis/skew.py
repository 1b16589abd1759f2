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

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from .. import folded
from ..capture import FLEET_FOLDED, MANIFEST, read_manifest
from ..capture.files import read_text, replace_file
from ..errors import InputError
from ..host.targets import TileFilter, tile_kind
from .compare import MIN_HOSTS, Comparison, Shares, compare_matrix
from .counts import AGAVE, FleetCounter, FleetCounts, Sparse
from .stats import benjamini_hochberg

DEFAULT_MIN_SAMPLES = 100
DEFAULT_MIN_DIFFERENCE = 0.05  # a fraction: 5 percentage points
DEFAULT_ALPHA = 0.01  # Benjamini–Hochberg false discovery rate
SKEW_JSON = "skew.json"
HTML_VIEWER = "flamegraph.html"
_ROUNDING = 1e-12


@dataclass(frozen=True)
class Finding(Shares):
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
    comparisons: int | None  # the family the correction ran over (None: read back from skew.json)
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
    counter.add_all(stacks.items() if isinstance(stacks, Mapping) else stacks)
    for host, names in (resolved or {}).items():
        for tile in names:
            counter.add_silent(host, tile)
    counts = counter.result()
    report = _analyse_counts(counts, min_samples, min_difference, alpha)
    report.seen_tiles = sorted(counts.seen_tiles)
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
        resolved = manifest.recorded_tiles()
    return analyse(
        _read_stacks(path), tiles=tiles, min_samples=min_samples, min_difference=min_difference, alpha=alpha, resolved=resolved
    )


def _read_stacks(path: Path) -> Iterator[tuple[str, int]]:
    """fleet.folded's (stack, count) pairs, read in bounded blocks (folded.iter_line_blocks):
    the file holds what hosts sent. The usual line is parsed inline, as folded.load_folded
    does; bad lines are skipped."""
    with folded.open_binary(path, nofollow=True) as stream:
        try:
            for lines in folded.iter_line_blocks(stream):
                for line in lines:
                    if line is None:
                        continue  # over folded.MAX_LINE_BYTES
                    stack, _, count = line.rpartition(" ")
                    if stack and count.isdigit() and count.isascii() and len(count) < 16:
                        yield stack, int(count)
                    elif (parsed := folded.parse_line(line)) is not None:
                        yield parsed
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"{path}: damaged gzip data ({exc}); redraw it with `fleetflame report {path.parent}`") from None


def write_skew_json(folder: Path, report: SkewReport, *, dir_fd: int | None = None) -> Path:
    """skew.json in the capture folder (`dir_fd`: that folder, opened), written whole or not at
    all, 0600, never through a link (capture.files.replace_file)."""
    path = folder / SKEW_JSON
    replace_file(SKEW_JSON if dir_fd is not None else path, json.dumps(report.to_json(), indent=1) + "\n", dir_fd=dir_fd)
    return path


def read_skew_json(folder: Path) -> SkewReport | None:
    """The report a run wrote to skew.json (default settings), for showing it again without
    analysing the capture a second time; None if there is none or it is not skew's JSON."""
    try:
        data = json.loads(read_text(folder / SKEW_JSON))
        findings = [
            Finding(**{name: item[name] for name in Finding.__dataclass_fields__})
            for item in data["findings"]
        ]
        skipped = [NotEnough(**{name: item[name] for name in NotEnough.__dataclass_fields__}) for item in data["not_enough_samples"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    tiles = sorted({f.tile for f in findings} | {s.tile for s in skipped})
    return SkewReport(findings, skipped, None, tiles)


def _check(min_samples: int, min_difference: float, alpha: float) -> None:
    if min_samples < 1:
        raise InputError(f"--min-samples {min_samples}: give at least 1 (default {DEFAULT_MIN_SAMPLES})")
    if not 0 <= min_difference <= 1:
        raise InputError(f"--min-difference {100 * min_difference:g}: give 0 to 100 percentage points")
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha:g}: give a false discovery rate between 0 and 1")


@dataclass
class _Raw:
    tile: str
    kind: str
    function: str
    comparison: Comparison


def _analyse_counts(counts: FleetCounts, min_samples: int, min_difference: float, alpha: float) -> SkewReport:
    raw: list[_Raw] = []
    not_enough: list[NotEnough] = []
    comparisons = 0
    for tile in sorted(counts.tiles):
        group = counts.tiles[tile]
        samples_of = {counts.hosts[h]: n for h, n in group.totals.items()}
        samples_of.update({counts.hosts[h]: 0 for h in group.silent})
        eligible = sorted(h for h, n in group.totals.items() if n >= min_samples)
        if len(eligible) < MIN_HOSTS:
            reason = f"only {len(eligible)} hosts have {min_samples} samples of {tile}; comparing needs {MIN_HOSTS}"
            not_enough += [NotEnough(counts.hosts[h], tile, group.totals[h], min_samples, reason) for h in eligible]
        for host in sorted(h for h, n in samples_of.items() if n < min_samples):
            n = samples_of[host]
            not_enough.append(NotEnough(host, tile, n, min_samples, f"{n} samples of {tile}, fewer than {min_samples}"))
        if len(eligible) < MIN_HOSTS:
            continue
        column = np.full(len(counts.hosts), -1, dtype=np.int64)
        column[eligible] = np.arange(len(eligible))
        totals = np.array([group.totals[h] for h in eligible], dtype=np.int64)
        names = [counts.hosts[h] for h in eligible]
        for kind, sparse in (("self", group.self_samples), ("inclusive", group.inclusive)):
            found, tested = _compare(sparse, column, totals, names, min_difference)
            comparisons += tested
            raw += [_Raw(tile, kind, counts.functions[function], c) for function, c in found]
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
    findings = _sorted(_without_repeats(findings, min_difference))
    return SkewReport(findings, not_enough, comparisons, sorted(counts.tiles), min_samples, min_difference, alpha)


def _compare(
    sparse: Sparse, column: np.ndarray, totals: np.ndarray, names: list[str], min_difference: float
) -> tuple[list[tuple[int, Comparison]], int]:
    """The eligible hosts (column >= 0) compared function by function; also the number of
    comparisons made: every function seen on an eligible host, against every eligible host."""
    columns = column[sparse.hosts]
    keep = columns >= 0
    functions, columns, samples = sparse.functions[keep], columns[keep], sparse.samples[keep]
    tested = len(np.unique(functions)) * len(names)
    # Only a function that some host spends at least the minimum difference in can differ by it.
    reaching = samples / totals[columns] + _ROUNDING >= min_difference
    candidates = np.unique(functions[reaching])
    if not len(candidates):
        return [], tested
    rows = np.searchsorted(candidates, functions)
    in_candidates = (rows < len(candidates)) & (candidates[np.minimum(rows, len(candidates) - 1)] == functions)
    matrix = np.zeros((len(candidates), len(names)), dtype=np.int64)
    matrix[rows[in_candidates], columns[in_candidates]] = samples[in_candidates]
    found = compare_matrix(matrix, totals, names, min_difference)
    return [(int(candidates[row]), c) for row, c in found], tested


def _without_repeats(findings: list[Finding], min_difference: float) -> list[Finding]:
    """Drop findings that say again what another one says:
    - an inclusive finding within the minimum difference of the function's self finding, in the
      same direction: the function's callees add nothing that matters (a leaf function, or one
      that is the leaf but for an interrupt now and then);
    - a kind's finding (`verify`) when one of its tiles (`verify:1`) has a finding for the same
      host, function and self/inclusive in the same direction."""
    self_difference = {(f.host, f.tile, f.function): f.difference for f in findings if f.kind == "self"}
    tile_level = {(f.host, tile_kind(f.tile), f.function, f.kind, f.difference > 0) for f in findings if ":" in f.tile}
    kept = []
    for f in findings:
        own = self_difference.get((f.host, f.tile, f.function))
        if f.kind == "inclusive" and own is not None and own * f.difference > 0 and abs(f.difference - own) < max(min_difference, _ROUNDING):
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
