"""`fleetflame skew` on a real capture: a lab fleet where one host's verify tiles take an extra
code path (the stand-in's --extra-path), recorded with `fleetflame run all` over SSH and perf."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .lab import LabFleet

pytestmark = [pytest.mark.root, pytest.mark.lab]

SLOW = "fd_slow_path_retry"  # the stand-in's extra code path (standin.c)
TILES = {"net": 1, "quic": 1, "verify": 2, "bank": 1}


def fleetflame(lab: LabFleet, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "fleetflame", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=lab.env(COLUMNS="200"))


def test_skew_names_the_host_the_tile_and_the_function_and_nothing_on_healthy_hosts(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    lab = make_lab(4, tiles=TILES, load=5, host_args={"lab03": ["--extra-path", "verify"]})
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    done = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "10", "-F", "999", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]

    result = fleetflame(lab, "skew", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["findings", "not_enough_samples"]
    findings = data["findings"]
    # Every tile of every host had enough samples (500 planned, ~270 on a busy machine, 100 needed).
    assert data["not_enough_samples"] == [], data["not_enough_samples"]

    slow = [f for f in findings if f["function"] == SLOW]
    assert {(f["host"], f["tile"], f["kind"]) for f in slow} == {("lab03", "verify:0", "self"), ("lab03", "verify:1", "self")}, findings
    for finding in slow:
        assert finding["fleet_samples"] == 0 and finding["difference"] > 0.15
        assert finding["p_adjusted"] <= 0.01
    # Nothing on the healthy hosts, nothing in lab03's other tiles.
    assert {f["host"] for f in findings} == {"lab03"}
    assert {f["tile"] for f in findings} <= {"verify", "verify:0", "verify:1"}, [f for f in findings if not f["tile"].startswith("verify")]
    # lab03's other verify functions lost the share the extra path took, and only they.
    assert all(f["difference"] < 0 for f in findings if f["function"] != SLOW)

    # The run wrote the same analysis to skew.json.
    assert json.loads((folder / "skew.json").read_text()) == data

    table = fleetflame(lab, "skew", str(folder), "--links")
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if re.match(r"\d+ ", line) and SLOW in line]
    assert len(rows) == 2
    assert all("lab03" in row and "flamegraph.html#view=host-vs-rest&host=lab03&tile=verify%3A" in row for row in rows)
