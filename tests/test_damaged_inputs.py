"""Every command that reads a capture, on inputs a user or a host can damage: one `error:` line
naming the file and what to do (exit 2), never a traceback (issue 16)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fleetflame.capture import HostResult, Manifest

CAPTURE_ID = "20261207T120000Z-all"
STACKS = "h1;verify:0;fd_stem_run;verify_tile_run 30\nh2;verify:0;fd_stem_run;verify_tile_run 20\n"


def fleetflame(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80", "ANSIBLE_INVENTORY": str(cwd / "none.yml")}
    return subprocess.run([sys.executable, "-m", "fleetflame", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def good_capture(folder: Path) -> Path:
    folder.mkdir(parents=True, mode=0o700)
    hosts = {n: HostResult(status="ok", samples=s, tiles=[{"name": "verify:0"}]) for n, s in (("h1", 30), ("h2", 20))}
    Manifest(id=folder.name, target="all", started_at="2026-12-07T12:00:00Z", hosts=hosts).write(folder)
    (folder / "fleet.folded").write_text(STACKS)
    return folder


DAMAGE = {
    "empty manifest": lambda f: (f / "manifest.json").write_text(""),
    "truncated manifest": lambda f: (f / "manifest.json").write_text((f / "manifest.json").read_text()[:40]),
    "non-JSON manifest": lambda f: (f / "manifest.json").write_text("<html>hello</html>\n"),
    "foreign JSON": lambda f: (f / "manifest.json").write_text('{"name": "something else", "version": 3}\n'),
    "JSON list": lambda f: (f / "manifest.json").write_text("[1, 2, 3]\n"),
    "no fleet.folded and no hosts": lambda f: (f / "fleet.folded").unlink(),
    "not a capture": lambda f: (f / "manifest.json").unlink(),
}
COMMANDS = {
    "report": lambda f: ["report", str(f)],
    "skew": lambda f: ["skew", str(f)],
    "diff": lambda f: ["diff", str(f), str(f)],
    "fetch": lambda f: ["fetch", str(f)],
}


# fetch finishes hosts: for a complete capture missing its stacks it rightly has nothing to fetch.
CASES = [(c, d) for c in COMMANDS for d in DAMAGE if (c, d) != ("fetch", "no fleet.folded and no hosts")]


@pytest.mark.parametrize(("command", "damage"), CASES)
def test_damaged_capture_gives_one_error_line(tmp_path: Path, damage: str, command: str) -> None:
    folder = good_capture(tmp_path / "captures" / CAPTURE_ID)
    DAMAGE[damage](folder)
    done = fleetflame(*COMMANDS[command](folder), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    if "manifest" in damage or "JSON" in damage:
        assert "manifest.json" in lines[0]


@pytest.mark.parametrize("command", ["report", "skew"])
def test_a_renamed_capture_folder_works_and_says_so_once(tmp_path: Path, command: str) -> None:
    folder = good_capture(tmp_path / "captures" / CAPTURE_ID)
    renamed = folder.with_name("before-upgrade")
    shutil.move(folder, renamed)
    done = fleetflame(command, str(renamed), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if CAPTURE_ID in line]
    assert len(notes) == 1 and "renamed" in notes[0], done.stderr
    assert "Traceback" not in done.stderr


def test_diff_of_different_targets_warns_and_compares_the_common_tiles(tmp_path: Path) -> None:
    before = good_capture(tmp_path / "captures" / "20261207T120000Z-verify-all")
    after = good_capture(tmp_path / "captures" / CAPTURE_ID)
    manifest = json.loads((before / "manifest.json").read_text())
    manifest["target"] = "verify:*"
    (before / "manifest.json").write_text(json.dumps(manifest))
    (after / "fleet.folded").write_text(STACKS + "h1;net:0;fd_stem_run;net_tile_run 500\n")
    done = fleetflame("diff", str(before), str(after), "-o", str(tmp_path / "d.svg"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["warning: different targets: verify:* and all; comparing only the 1 tile both recorded"]
    svg = (tmp_path / "d.svg").read_text()
    assert "verify:0" in svg and "net:0" not in svg
