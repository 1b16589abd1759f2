"""Operations on the lab fleet: detached captures, fetch and its resumption, cron locks, retention."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetflame import folded

from .lab import LabFleet
from .test_fleet import _perf_processes, _wait_for_perf_everywhere, fleetflame, manifest_of, only_capture, remote_leftovers

pytestmark = [pytest.mark.root, pytest.mark.lab]


def contents(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def popen(lab: LabFleet, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "fleetflame", *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env())


def test_detach_then_fetch_latest_gives_what_a_plain_run_gives(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    plain = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "2", "-F", "499", "--out", str(tmp_path / "plain"), "--quiet")
    assert plain.returncode == 0, plain.stderr

    began = time.monotonic()
    detached = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "3", "-F", "499", "--out", str(tmp_path / "out"), "--detach")
    assert detached.returncode == 0, detached.stderr
    assert time.monotonic() - began < 3 + 15
    capture_id = detached.stdout.strip().splitlines()[-1]
    folder = tmp_path / "out" / capture_id
    pending = manifest_of(folder)
    assert pending["hosts"]["lab01"]["status"] == "pending" and pending["hosts"]["lab01"]["remote_dir"]
    assert _perf_processes(lab), "perf should still be recording after --detach returned"

    fetched = fleetflame(lab, "fetch", "--latest", "-i", str(inventory), "--out", str(tmp_path / "out"), "--json")
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["capture"] == capture_id
    manifest = manifest_of(folder)
    assert all(h["status"] == "ok" and h["samples"] > 0 for h in manifest["hosts"].values())
    assert contents(folder) == contents(only_capture(tmp_path / "plain"))
    fleet = folded.read_folded(folder / "fleet.folded")
    for name, host in manifest["hosts"].items():
        assert sum(c for s, c in fleet.items() if s.startswith(name + ";")) == host["samples"]
        assert sha256(folder / "hosts" / name / "perf.data") == host["perf_data_sha256"]
    assert not remote_leftovers(lab)

    again = fleetflame(lab, "fetch", capture_id, "-i", str(inventory), "--out", str(tmp_path / "out"), "--json")
    assert again.returncode == 0
    assert manifest_of(folder)["hosts"] == manifest["hosts"], "a second fetch must change nothing"


def test_interrupted_fetch_resumes_without_pulling_twice(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    # dwarf unwinding copies stacks into perf.data: big enough to interrupt mid-transfer
    detached = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "2", "-F", "299", "--call-graph", "dwarf", "--out", str(out), "--detach")
    assert detached.returncode == 0, detached.stderr
    capture_id = detached.stdout.strip().splitlines()[-1]
    folder = out / capture_id

    slow = popen(lab, "fetch", capture_id, "-i", str(inventory), "--out", str(out), "--rate-limit", "0.5", "--quiet")
    try:
        partial = _wait_for_partial(folder, slow)
        slow.kill()
        slow.wait(30)
    finally:
        if slow.poll() is None:
            slow.kill()
    kept = {p: p.stat().st_size for p in partial}
    assert any(size > 0 for size in kept.values())

    done = fleetflame(lab, "fetch", capture_id, "-i", str(inventory), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    manifest = manifest_of(folder)
    for name, host in manifest["hosts"].items():
        assert host["status"] == "ok"
        data = folder / "hosts" / name / "perf.data"
        assert sha256(data) == host["perf_data_sha256"] and data.stat().st_size == host["perf_data_bytes"]
        pulls = [t for t in host["transfers"] if t["file"] == "perf.data"]
        resumed_from = kept.get(folder / "hosts" / name / "perf.data.part", 0)
        assert sum(t["bytes"] for t in pulls) == host["perf_data_bytes"] - resumed_from
        assert all(t["offset"] == resumed_from for t in pulls)
    assert not list(folder.rglob("*.part"))


def _wait_for_partial(folder: Path, proc: subprocess.Popen[str], timeout: float = 90) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        parts = list(folder.glob("hosts/*/perf.data.part"))
        if parts and any(p.stat().st_size > 0 for p in parts):
            return parts
        time.sleep(0.05)
    raise AssertionError("fetch never started pulling perf.data")


def test_killed_run_leaves_no_perf_behind_and_fetch_recovers(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    run = popen(lab, "run", "all", "-i", str(inventory), "--duration", "4", "-F", "499", "--out", str(out), "--quiet")
    try:
        _wait_for_perf_everywhere(lab, run)
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
    deadline = time.monotonic() + 4 + 15
    while _perf_processes(lab) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _perf_processes(lab), "perf outlived its duration after the control process died"

    # From another control machine (no local record): the hosts keep what fetch needs.
    elsewhere = tmp_path / "elsewhere"
    recovered = fleetflame(lab, "fetch", "--latest", "-i", str(inventory), "--out", str(elsewhere), "--json")
    assert recovered.returncode == 0, recovered.stderr
    folder = only_capture(elsewhere)
    assert folder.name == only_capture(out).name
    manifest = manifest_of(folder)
    assert set(manifest["hosts"]) == set(lab.names)
    assert all(h["status"] == "ok" and h["samples"] > 0 for h in manifest["hosts"].values())
    tiles = {stack.split(";")[1] for stack in folded.read_folded(folder / "fleet.folded")}
    assert {"net:0", "verify:0", "bank:0"} <= tiles
    assert not remote_leftovers(lab)


def test_overlapping_scheduled_runs_and_retention(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=1)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    args = ["run", "net", "-i", str(inventory), "--out", str(out), "--quiet", "--keep", "2"]
    first = popen(lab, *args, "--duration", "6")
    try:
        _wait_for_perf_everywhere(lab, first)
        began = time.monotonic()
        second = fleetflame(lab, *args, "--duration", "1")
        assert second.returncode == 75
        assert time.monotonic() - began < 10
        assert "another run of this schedule is still running" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        first_out, first_err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, first_err
    for _ in range(2):
        done = fleetflame(lab, *args, "--duration", "1")
        assert done.returncode == 0, done.stderr
    captures = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(captures) == 2
    listing = json.loads(fleetflame(lab, "captures", "--out", str(out), "--json").stdout)
    assert [c["id"] for c in listing["captures"]] == captures
    assert all(c["hosts"] == {"ok": 2, "failed": 0, "pending": 0} for c in listing["captures"])


def test_detach_with_i_then_a_bare_fetch_from_another_folder(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    """`run --detach -i inv.yml` (a relative path), then `fleetflame fetch` with neither -i nor an
    id, from another working directory with no inventory of its own: the capture remembers its
    inventory as an absolute path and its hosts' addresses, and fetch completes it."""
    lab = make_lab(2, load=2)
    ops = tmp_path / "ops"
    ops.mkdir()
    lab.write_inventory(ops / "inv.yml")
    env = lab.env(COLUMNS="200")
    for var in ("ANSIBLE_INVENTORY", "ANSIBLE_CONFIG"):
        env.pop(var, None)
    detached = subprocess.run([sys.executable, "-m", "fleetflame", "run", "net", "-i", "inv.yml", "--duration", "2", "--detach"],
                              capture_output=True, text=True, env=env, cwd=ops, timeout=240)
    assert detached.returncode == 0, detached.stderr
    capture_id = detached.stdout.strip().splitlines()[-1]
    folder = ops / "captures" / capture_id
    assert manifest_of(folder)["inventories"] == [str(ops / "inv.yml")]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fetched = subprocess.run([sys.executable, "-m", "fleetflame", "fetch", "--out", str(ops / "captures"), "--json"],
                             capture_output=True, text=True, env=env, cwd=elsewhere, timeout=240)
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout)["capture"] == capture_id  # one capture finished: one document
    manifest = manifest_of(folder)
    assert all(h["status"] == "ok" and h["samples"] > 0 for h in manifest["hosts"].values()), manifest["hosts"]
    assert not remote_leftovers(lab)
    assert not list(elsewhere.iterdir()), "fetch wrote nothing in the folder it was started from"
