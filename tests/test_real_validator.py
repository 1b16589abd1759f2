"""fleetflame against hosts that behave like production Frankendancer (issue 14): every non-Agave
tile a sandboxed process (own mount and user namespaces, pivot_root into an empty folder, not
dumpable), the Agave-side tiles threads of the Agave process, the real metrics page, a snapshot
tile that shuts down after boot. Real sshd, real perf."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetflame import folded

from .lab import LabFleet
from .test_fleet import fleetflame, manifest_of, only_capture, remote_leftovers

pytestmark = [pytest.mark.root, pytest.mark.lab]

FRANKENDANCER = {
    "netlnk": 1, "net": 1, "quic": 1, "verify": 2, "dedup": 1, "resolh": 1, "pack": 1, "bank": 2,
    "pohh": 1, "shred": 1, "store": 1, "sign": 1, "metric": 1, "diag": 1, "plugin": 1, "guih": 1,
}
AGAVE_SIDE = {"resolh", "bank", "pohh", "store"}
UNNAMED = re.compile(r"^(\[unknown\]|\[[^\]]*\]|0x[0-9a-f]+)$")


def leaf_is_unnamed(stack: str) -> bool:
    """A sample without a function name: perf printed `[unknown]`, a bare `[lib.so]` or an address."""
    return bool(UNNAMED.match(stack.rsplit(";", 1)[-1]))


def test_run_all_symbolizes_every_sandboxed_tile_and_skips_the_one_that_shut_down(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    lab = make_lab(2, load=5, tiles={**FRANKENDANCER, "snapld": 1}, standin_args=["--exit-tile", "snapld:0"])
    time.sleep(1.5)  # snapld:0 runs about a second, then shuts down (tile_status 2, stale pid)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "3", "-F", "499", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lab01: skipped snapld:0 (shut down)" in done.stdout and "lab02: skipped snapld:0 (shut down)" in done.stdout
    folder = only_capture(tmp_path / "out")
    hosts = manifest_of(folder)["hosts"]
    assert all(h["status"] == "ok" and h["skipped_tiles"] == [{"tile": "snapld:0", "reason": "shut down"}] for h in hosts.values())
    stacks = folded.read_folded(folder / "fleet.folded")
    by_tile: dict[str, list[int]] = {}
    for stack, count in stacks.items():
        host, tile, rest = stack.split(";", 2)
        named = 0 if leaf_is_unnamed(rest) else count
        by_tile.setdefault(tile, [0, 0])
        by_tile[tile][0] += count
        by_tile[tile][1] += named
    expected = {f"{k}:{i}" for k, n in FRANKENDANCER.items() for i in range(n)}
    assert expected <= set(by_tile), sorted(set(expected) - set(by_tile))
    sandboxed = [t for t in by_tile if t.split(":")[0] not in AGAVE_SIDE]
    total = sum(by_tile[t][0] for t in sandboxed)
    unnamed = total - sum(by_tile[t][1] for t in sandboxed)
    assert total > 0 and unnamed / total <= 0.01, {t: by_tile[t] for t in sandboxed}
    for tile in sandboxed:  # each tile's stacks carry its own functions (verify_tile_run, ...)
        kind = tile.split(":")[0]
        assert any(f";{kind}_" in s for s in stacks if s.split(";")[1] == tile), tile
    html = (folder / "flamegraph.html").read_text()
    assert "snapld:0" in html
    assert not remote_leftovers(lab)


def test_agave_shows_its_sol_threads_and_todays_names_resolve(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(1, load=5, tiles=FRANKENDANCER)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    listed = fleetflame(lab, "tiles", "guih,pohh,resolh", "-i", str(inventory), "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert [t["name"] for t in json.loads(listed.stdout)[0]["tiles"]] == ["guih:0", "pohh:0", "resolh:0"]
    old = fleetflame(lab, "tiles", "poh", "-i", str(inventory), "--json")
    assert old.returncode == 1
    assert "did you mean pohh?" in json.loads(old.stdout)[0]["error"]
    done = fleetflame(lab, "run", "agave", "-i", str(inventory), "--duration", "2", "-F", "499", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    stacks = folded.read_folded(only_capture(tmp_path / "out") / "fleet.folded")
    threads = {s.split(";")[2] for s in stacks if s.split(";")[1] == "agave"}
    assert any(t.startswith("sol") for t in threads), threads
