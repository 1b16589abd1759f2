"""Golden files: one case per (recorded input, flag), expected output checked once and kept.

Re-bless after a deliberate change with `FLEETFLAME_BLESS=1 pytest tests/collapse`, then read
the diff. Set FLEETFLAME_ORACLE=/path/to/stackcollapse-perf.pl to also compare every case
with FlameGraph's script itself (needs perl); the kept outputs were checked that way.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleetflame.collapse import collapse_perf_file, format_collapsed

from .flags import options

HERE = Path(__file__).parent
INPUTS = HERE / "inputs"
EXPECTED = HERE / "expected"
FLAGS = ["", "--pid", "--tid", "--kernel", "--jit", "--all", "--addrs"]
EXTRA = [
    ("deep-srcline", "--srcline"),
    ("deep-srcline", "--srcline --kernel"),
    ("multi-event", "--event-filter=cpu-clock"),
    ("multi-event", "--event-filter=page-faults"),
    ("edge-structure", "--event-filter=page-faults"),
    ("edge-structure", "--event-filter=no-such-event"),
]
CASES = [(p.stem, f) for p in sorted(INPUTS.glob("*.txt")) for f in FLAGS] + EXTRA


def expected_path(stem: str, flags: str) -> Path:
    suffix = flags.replace(" ", "").replace("=", "-")
    return EXPECTED / f"{stem}{suffix}.folded"


@pytest.mark.parametrize(("stem", "flags"), CASES, ids=[f"{s}{f.replace(' ', '')}" for s, f in CASES])
def test_golden(stem: str, flags: str) -> None:
    result = collapse_perf_file(INPUTS / f"{stem}.txt", options(flags.split()))
    got = format_collapsed(result.stacks)
    path = expected_path(stem, flags)
    if os.environ.get("FLEETFLAME_BLESS") == "1":
        path.write_bytes(got)
    assert got == path.read_bytes()
    oracle = os.environ.get("FLEETFLAME_ORACLE")
    if oracle:
        perl = subprocess.run(["perl", oracle, *flags.split(), str(INPUTS / f"{stem}.txt")], capture_output=True, check=True)
        assert got == perl.stdout


def test_every_expected_file_has_a_case() -> None:
    kept = {p.name for p in EXPECTED.glob("*.folded")}
    assert kept == {expected_path(s, f).name for s, f in CASES}
