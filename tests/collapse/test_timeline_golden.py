"""Time bins (issue 18) kept the way they are kept now give the same files as the first version
did: stacks.folded and timeline.json.gz, byte for byte, on recorded perf script output.

`timeline/expected/` was written by the first version (at commit 0383099, before the packed bins)
with `FLEETFLAME_BLESS=1`; a later deliberate change re-blesses them the same way, then the diff
is read. Each input is collapsed as a capture collapses a host (tiles as roots; other threads
under `agave;` or dropped) and as `collapse` does with time bins (`--tid`: weighted by period).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest

from fleetflame.collapse import PerfOptions, collapse_perf_file, format_collapsed
from fleetflame.collapse.hosts import collapse_host
from fleetflame.folded import format_folded
from fleetflame.timeline.store import TIMELINE, Timeline, from_bins

HERE = Path(__file__).parent
INPUTS = sorted((HERE / "inputs").glob("*.txt")) + sorted((HERE / "timeline").glob("*.txt"))
EXPECTED = HERE / "timeline" / "expected"
CASES = ["host", "host-dropping", "plain", "tid"]
EVENT_TID = re.compile(rb"^\S.*?\s(\d+)(?:/(\d+))?\s+(?:\[\d+\]\s+)?\d+\.\d+:", re.M)


def roots_of(path: Path) -> dict[int, str]:
    """Every other thread of the input is a tile; three tile names, so that threads share a root."""
    tids = sorted({int(m.group(2) or m.group(1)) for m in EVENT_TID.finditer(path.read_bytes())})
    return {tid: f"tile:{i % 3}" for i, tid in enumerate(tids) if i % 2 == 0}


def outputs(path: Path, case: str, tmp: Path) -> tuple[bytes, bytes]:
    """(the folded stacks, the timeline file) of one case."""
    if case.startswith("host"):
        script = tmp / "perf.script.gz"
        script.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        stacks = collapse_host(str(script), roots_of(path), None if case == "host-dropping" else "agave;{comm}", str(tmp))
        return format_folded(stacks).encode("utf-8"), (tmp / TIMELINE).read_bytes()
    r = collapse_perf_file(path, PerfOptions(time_bins=True, include_tid=case == "tid"))
    assert r.bins is not None
    return format_collapsed(r.stacks), from_bins(utf8(r.bins), r.unbinned).encode()


def utf8(bins: dict[str, dict[int, int]]) -> dict[str, dict[int, int]]:
    """Stacks as UTF-8 text (a timeline holds text), merged as collapse_host merges them."""
    out: dict[str, dict[int, int]] = {}
    for stack, series in bins.items():
        merged = out.setdefault(stack.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), {})
        for b, n in series.items():
            merged[b] = merged.get(b, 0) + n
    return out


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", INPUTS, ids=[p.stem for p in INPUTS])
def test_same_files_as_the_first_version(path: Path, case: str, tmp_path: Path) -> None:
    folded, timeline = outputs(path, case, tmp_path)
    want_folded, want_timeline = (EXPECTED / f"{path.stem}.{case}.folded", EXPECTED / f"{path.stem}.{case}.{TIMELINE}")
    if os.environ.get("FLEETFLAME_BLESS") == "1":
        EXPECTED.mkdir(exist_ok=True)
        want_folded.write_bytes(folded)
        want_timeline.write_bytes(timeline)
    assert folded == want_folded.read_bytes()
    # the same JSON text, byte for byte (the gzip around it is level 1 since the golden files were made)
    assert gzip.decompress(timeline) == gzip.decompress(want_timeline.read_bytes())


def test_stacks_without_bins_are_the_same(tmp_path: Path) -> None:
    """Binning changes no stack: the capture's collapse with and without a timeline."""
    for path in INPUTS:
        script = tmp_path / "perf.script"
        shutil.copyfile(path, script)
        roots = roots_of(path)
        assert collapse_host(str(script), roots, "agave;{comm}", str(tmp_path)) == collapse_host(str(script), roots, "agave;{comm}")


def test_every_expected_file_has_a_case() -> None:
    kept = {p.name for p in EXPECTED.iterdir()}
    assert kept == {f"{p.stem}.{c}.{ext}" for p in INPUTS for c in CASES for ext in ("folded", TIMELINE)}


def test_packed_encoding_is_the_plain_json() -> None:
    """Timeline.encode (packed bins, rows made per stack) writes Timeline.to_json's text: odd
    series too (negative and huge bins, big gaps, a stack without samples, none at all)."""
    r = random.Random(18)
    cases: list[dict[str, dict[int, int]]] = [{}, {"a": {}}, {"a": {5: 1}}, {"b;x": {-3: 2, 7: 1}, "a": {10**30: 4, 0: 1}}]
    for _ in range(40):
        base = r.choice([0, 89830807225, -50, 10**20])
        cases.append({f"s{r.randrange(99)};é;\"q\"": {base + r.randrange(r.choice([3, 500, 10**6])): r.randrange(1, 300)
                                                     for _ in range(r.randrange(0, 30))} for _ in range(r.randrange(1, 20))})
    for series in cases:
        t = Timeline(series, unbinned=len(series))
        text = json.dumps(t.to_json(), separators=(",", ":"), ensure_ascii=False)
        assert gzip.decompress(t.encode()) == text.encode("utf-8")
        assert Timeline.from_json(json.loads(text)).series == {k: v for k, v in series.items() if v}
