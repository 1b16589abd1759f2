"""The host's capture folder over real sshd (the lab) and on this machine: where it may be made,
that nothing is ever written through what a local user swaps in, that `cleaned` means removed,
and that a host that failed before perf started keeps nothing.

The lab's attacker, ffmallory, is an unprivileged local user of every host. Where a test needs
them to hold rights the tmpdir checks refuse at the start (to rename our folder mid-run), the
tmpdir is handed to them once perf runs, as an operator's mistake would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetflame.standin import free_port, run_standin

from .conftest import need_root_and_perf
from .lab import ATTACKER, LabFleet
from .test_fleet import _wait_for_perf_everywhere, fleetflame, manifest_of, only_capture, remote_leftovers
from .test_hardening import popen
from .test_local_capture import write_inventory

VICTIM = "/tmp/victim-root-file"
PLANTED = ("perf.data", "perf.script.gz", "perf.script.gz.tmp", ".data.sha", ".chunk", "script.stderr", "script.rc", "keep")


def plant_victim(lab: LabFleet, name: str) -> None:
    lab.host_exec(name, ["sh", "-c", f"echo precious > {VICTIM} && chmod 644 {VICTIM}"])


def victim_intact(lab: LabFleet, name: str) -> bool:
    return lab.host_exec(name, ["cat", VICTIM]).stdout == "precious\n"


def entries(lab: LabFleet, name: str, folder: str) -> list[str]:
    return sorted(os.listdir(lab.host_path(name, folder)))


def rows_of(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {r["host"]: r for r in json.loads(done.stdout)["hosts"]}


def wait_for_perf_end(lab: LabFleet, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not lab.host_exec(name, ["sh", "-c", "grep -l '^perf$' /proc/[0-9]*/comm 2>/dev/null || true"]).stdout.strip():
            return
        time.sleep(0.2)
    raise AssertionError(f"perf still runs on {name}")


# ---- where the folder may be made ----------------------------------------------------------------


@pytest.mark.root
@pytest.mark.lab
def test_a_tmpdir_the_attacker_owns_fails_that_host_only_and_nothing_is_made_in_it(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    lab = make_lab(2, load=2)
    made = lab.run_as("lab01", ATTACKER, ["mkdir", "-m", "0755", "/tmp/mallory"])
    assert made.returncode == 0, made.stderr
    inventory = lab.write_inventory(tmp_path / "inv.yml", host_vars={"lab01": {"fleetflame_tmpdir": "/tmp/mallory"}})
    done = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "2", "-F", "499", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 1, done.stderr
    rows = rows_of(done)
    assert rows["lab02"]["status"] == "ok"
    error = str(rows["lab01"]["error"])
    assert rows["lab01"]["status"] == "failed", rows["lab01"]
    assert f"fleetflame_tmpdir /tmp/mallory is refused: /tmp/mallory is owned by {ATTACKER} (uid" in error and "mode 0755" in error, error
    assert "`chown root /tmp/mallory`" in error, error
    assert entries(lab, "lab01", "/tmp/mallory") == []


@pytest.mark.root
@pytest.mark.lab
def test_a_link_the_attacker_owns_is_refused_as_a_tmpdir(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(1, load=2)
    lab.host_exec("lab01", ["install", "-d", "-m", "0700", "/tmp/rootsown"])
    lab.run_as("lab01", ATTACKER, ["ln", "-s", "/tmp/rootsown", "/tmp/malloryslink"])
    inventory = lab.write_inventory(tmp_path / "inv.yml", host_vars={"lab01": {"fleetflame_tmpdir": "/tmp/malloryslink"}})
    done = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 1, done.stderr
    error = str(rows_of(done)["lab01"]["error"])
    assert f"/tmp/malloryslink is a symbolic link owned by {ATTACKER}" in error and "its owner can point it anywhere" in error, error
    assert entries(lab, "lab01", "/tmp/rootsown") == []


# ---- `cleaned` means removed ---------------------------------------------------------------------


@pytest.mark.root
@pytest.mark.lab
def test_a_folder_the_attacker_renames_mid_run_is_never_reported_cleaned_and_theirs_is_left(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    lab = make_lab(1, load=2)
    plant_victim(lab, "lab01")
    lab.host_exec("lab01", ["install", "-d", "-m", "0755", "/tmp/ff"])
    inventory = lab.write_inventory(tmp_path / "inv.yml", host_vars={"lab01": {"fleetflame_tmpdir": "/tmp/ff"}})
    run = popen(lab, "run", "all", "-i", str(inventory), "--duration", "3", "-F", "499", "--out", str(tmp_path / "out"), "--json")
    try:
        _wait_for_perf_everywhere(lab, run, settle=0.5)
        (ours,) = entries(lab, "lab01", "/tmp/ff")
        lab.host_exec("lab01", ["chown", ATTACKER, "/tmp/ff"])  # the operator's mistake, while perf records
        links = " ".join(f"ln -s {VICTIM} {name};" for name in PLANTED)
        swapped = lab.run_as(
            "lab01", ATTACKER, ["sh", "-c", f"cd /tmp/ff && mv {ours} moved && mkdir -m 0777 {ours} && cd {ours} && {links}"]
        )
        assert swapped.returncode == 0, swapped.stderr
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    row = manifest_of(only_capture(tmp_path / "out"))["hosts"]["lab01"]
    assert row["status"] == "ok" and row["samples"] > 0, row  # its results were safe before `done`
    assert not row["cleaned"], "a folder fleetflame did not remove is reported cleaned"
    assert any("was moved or replaced while fleetflame used it" in w for w in row["warnings"]), row["warnings"]
    assert victim_intact(lab, "lab01")
    assert entries(lab, "lab01", f"/tmp/ff/{ours}") == sorted(PLANTED), "the attacker's folder was removed or written to"
    assert entries(lab, "lab01", "/tmp/ff/moved") == [], "our own folder, moved away, keeps nothing"


@pytest.mark.root
@pytest.mark.lab
def test_fetch_checks_the_tmpdir_again_and_a_link_repointed_is_not_cleaned(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    """Detached captures, then before `fetch`: lab01's tmpdir is handed to the attacker, lab02's
    tmpdir (a link) is pointed elsewhere. Neither is fetched nor reported cleaned; once put back,
    `fetch` finishes both and removes their folders."""
    lab = make_lab(2, load=2)
    for name in lab.names:
        plant_victim(lab, name)
    lab.host_exec("lab01", ["install", "-d", "-m", "0755", "/tmp/ff"])
    lab.host_exec("lab02", ["sh", "-c", "install -d -m 0700 /tmp/real /tmp/other && ln -s /tmp/real /tmp/link"])
    inventory = lab.write_inventory(
        tmp_path / "inv.yml", host_vars={"lab01": {"fleetflame_tmpdir": "/tmp/ff"}, "lab02": {"fleetflame_tmpdir": "/tmp/link"}}
    )
    out = tmp_path / "out"
    detached = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(out), "--detach")
    assert detached.returncode == 0, detached.stdout + detached.stderr
    hosts = manifest_of(only_capture(out))["hosts"]
    assert str(hosts["lab02"]["remote_dir"]).startswith("/tmp/link/fleetflame-"), "the folder is named as the inventory names the tmpdir"
    (kept,) = entries(lab, "lab02", "/tmp/real")
    for name in lab.names:
        wait_for_perf_end(lab, name)
    lab.host_exec("lab01", ["chown", ATTACKER, "/tmp/ff"])
    lab.host_exec("lab02", ["ln", "-sfn", "/tmp/other", "/tmp/link"])

    refused = fleetflame(lab, "fetch", "--out", str(out), "--json")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    hosts = manifest_of(only_capture(out))["hosts"]
    assert (
        hosts["lab01"]["status"] == "failed" and "fleetflame_tmpdir /tmp/ff is refused: /tmp/ff is owned by" in hosts["lab01"]["error"]
    ), hosts["lab01"]
    assert hosts["lab02"]["status"] == "failed" and "goes through a symbolic link" in hosts["lab02"]["error"], hosts["lab02"]
    assert not hosts["lab01"]["cleaned"] and not hosts["lab02"]["cleaned"], "a folder still there is reported cleaned"
    assert entries(lab, "lab02", "/tmp/real") == [kept] and len(entries(lab, "lab01", "/tmp/ff")) == 1

    lab.host_exec("lab01", ["chown", "root", "/tmp/ff"])
    lab.host_exec("lab02", ["ln", "-sfn", "/tmp/real", "/tmp/link"])
    fetched = fleetflame(lab, "fetch", "--out", str(out), "--json")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    hosts = manifest_of(only_capture(out))["hosts"]
    assert all(h["status"] == "ok" and h["cleaned"] for h in hosts.values()), hosts
    assert entries(lab, "lab01", "/tmp/ff") == [] and entries(lab, "lab02", "/tmp/real") == [] and entries(lab, "lab02", "/tmp/other") == []
    assert all(victim_intact(lab, name) for name in lab.names)


# ---- a host that failed before perf started keeps nothing ----------------------------------------


@pytest.mark.root
@pytest.mark.lab
def test_hosts_whose_tile_is_missing_or_has_shut_down_keep_nothing(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2, standin_args=["--exit-tile", "verify:1"])
    time.sleep(1.5)  # verify:1 runs about a second, then shuts down
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    for target in ("verify:1", "verify:7"):
        done = fleetflame(
            lab, "run", target, "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / target.replace(":", "-")), "--json"
        )
        assert done.returncode == 1, done.stderr
        assert {r["status"] for r in rows_of(done).values()} == {"failed"}
        assert not remote_leftovers(lab), target


@pytest.mark.root
def test_a_local_host_whose_tile_is_missing_or_dead_keeps_nothing(standin_binary: Path, tmp_path: Path) -> None:
    """`ansible_connection: local`: the session is a child process of fleetflame, which used to
    kill it as the host failed, before it could remove its folder."""
    need_root_and_perf()
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir(mode=0o700)
    with run_standin(standin_binary, metrics=f"127.0.0.1:{free_port()}", dead_tiles=["verify:1"], load=3) as standin:
        inventory = write_inventory(tmp_path / "local.yml", standin.metrics_url, fleetflame_tmpdir=str(tmpdir))
        for target in ("verify:7", "verify:1"):
            argv = [
                sys.executable,
                "-m",
                "fleetflame",
                "run",
                target,
                "-i",
                str(inventory),
                "--duration",
                "1",
                "--out",
                str(tmp_path / "out"),
                "--json",
            ]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
            assert done.returncode == 1, done.stderr
            assert json.loads(done.stdout)["hosts"][0]["status"] == "failed"
            assert list(tmpdir.iterdir()) == [], f"run {target} left {[p.name for p in tmpdir.iterdir()]}"
