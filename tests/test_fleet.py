"""The fleet over real SSH: the lab's sshd hosts, each in its own PID namespace with a stand-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fleetflame import folded
from fleetflame.standin import DEFAULT_TILES

from .lab import LabFleet, procs

pytestmark = [pytest.mark.root, pytest.mark.lab]

VERIFY_TILES = {"verify:0", "verify:1", "verify:2"}


def fleetflame(lab: LabFleet, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "fleetflame", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=lab.env(COLUMNS="200"))


def only_capture(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def tiles_by_host(fleet: dict[str, int]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for stack in fleet:
        host, tile, _ = stack.split(";", 2)
        found.setdefault(host, set()).add(tile)
    return found


def remote_leftovers(lab: LabFleet) -> list[str]:
    return [f"{host}:/tmp/{entry}" for host in lab.names for entry in lab.tmp_entries(host) if entry.startswith("fleetflame-")]


def test_run_all_keeps_what_healthy_hosts_captured_when_others_fail(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(5, load=2)
    lab.stop_validator("lab03")
    lab.corrupt_known_host("lab04")
    inventory = lab.write_inventory(tmp_path / "inv.yml", extra_hosts={"lab06": lab.unreachable_vars()})
    done = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "2", "-F", "499", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 1, done.stderr
    folder = only_capture(tmp_path / "out")
    manifest = manifest_of(folder)
    hosts = manifest["hosts"]
    assert {h for h, v in hosts.items() if v["status"] == "ok"} == {"lab01", "lab02", "lab05"}
    assert hosts["lab03"]["error"] == "no tiles found on lab03: is the validator running?"
    assert "host key of lab04" in hosts["lab04"]["error"] and "does NOT match known_hosts" in hosts["lab04"]["error"]
    assert hosts["lab06"]["error"] == "cannot connect to lab06 (127.0.0.250:2200): connection refused: is sshd running there, and is ansible_port right?"

    fleet = folded.read_folded(folder / "fleet.folded")
    per_host_sums: dict[str, int] = {}
    for stack, count in fleet.items():
        per_host_sums[stack.split(";", 1)[0]] = per_host_sums.get(stack.split(";", 1)[0], 0) + count
    assert per_host_sums == {h: hosts[h]["samples"] for h in ("lab01", "lab02", "lab05")}
    for host in ("lab01", "lab02", "lab05"):
        assert len(hosts[host]["tiles"]) == sum(DEFAULT_TILES.values())
        assert (folder / "hosts" / host / "perf.data").stat().st_size == hosts[host]["perf_data_bytes"]
        assert (folder / "hosts" / host / "flamegraph.svg").is_file()
    starts = [hosts[h]["perf_started_at"] for h in ("lab01", "lab02", "lab05")]
    assert max(starts) - min(starts) < 1.0
    recap = json.loads(done.stdout)
    assert {row["host"]: row["status"] for row in recap["hosts"]}["lab04"] == "failed"
    assert not remote_leftovers(lab)


def test_run_verify_glob_records_only_verify_tiles(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(4, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(lab, "run", "verify:*", "-i", str(inventory), "--duration", "2", "-F", "999", "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    folder = only_capture(tmp_path / "out")
    assert folder.name.endswith("-verify-all")
    fleet = folded.read_folded(folder / "fleet.folded")
    assert tiles_by_host(fleet) == {name: VERIFY_TILES for name in lab.names}
    for stack in fleet:
        frames = stack.split(";")
        assert any(f.startswith("verify_") for f in frames[2:]), stack
        assert not any(f.startswith(("net_", "bank_", "quic_")) for f in frames)


def test_run_agave_records_the_agave_process_on_every_host(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(4, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(lab, "run", "agave", "-i", str(inventory), "--duration", "2", "-F", "999", "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    folder = only_capture(tmp_path / "out")
    fleet = folded.read_folded(folder / "fleet.folded")
    assert tiles_by_host(fleet) == {name: {"agave"} for name in lab.names}
    threads = {stack.split(";")[2] for stack in fleet}
    assert {"bank:0", "bank:1"} <= threads and threads - {"bank:0", "bank:1"}
    for name, host in manifest_of(folder)["hosts"].items():
        assert host["tiles"][0]["pid"] in {procs.inner_pid(pid) for pid in lab.validator_pids(name)}


def test_limit_selects_hosts_with_ansible_patterns(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(4, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(
        lab, "run", "net", "-i", str(inventory), "--limit", "lab:!lab02:!~lab0[4]", "--duration", "1", "--out", str(tmp_path / "out"), "--json"
    )
    assert done.returncode == 0, done.stderr
    assert [row["host"] for row in json.loads(done.stdout)["hosts"]] == ["lab01", "lab03"]
    nothing = fleetflame(lab, "run", "net", "-i", str(inventory), "--limit", "nosuchhost", "--out", str(tmp_path / "none"))
    assert nothing.returncode == 2
    assert not (tmp_path / "none").exists()


def test_tiles_table_matches_the_hosts_threads(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(4, load=1, host_args={"lab02": ["--no-metrics"]})
    lab.stop_validator("lab04")
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(lab, "tiles", "verify:*", "-i", str(inventory), "--json")
    assert done.returncode == 1
    rows = {r["host"]: r for r in json.loads(done.stdout)}
    assert rows["lab01"]["source"] == "metrics" and rows["lab02"]["source"] == "proc"
    assert rows["lab04"]["status"] == "failed" and rows["lab04"]["error"] == "no tiles found on lab04 (looking for verify:*): is the validator running?"
    for name in ("lab01", "lab02", "lab03"):
        listing = lab.host_exec(name, ["sh", "-c", "for t in /proc/[0-9]*/task/*; do echo $t $(cat $t/comm); done"]).stdout
        threads = {line.split()[1] for line in listing.splitlines()}
        want = {f"/proc/{t['pid']}/task/{t['tid']}" for t in rows[name]["tiles"]}
        assert {t["name"] for t in rows[name]["tiles"]} == VERIFY_TILES
        assert want <= {line.split()[0] for line in listing.splitlines() if line.split()[1] in VERIFY_TILES}, threads
    table = fleetflame(lab, "tiles", "net", "-i", str(inventory), "--limit", "lab01")
    assert table.returncode == 0 and "lab01" in table.stdout and "net:0" in table.stdout


def test_check_reports_one_line_per_problem(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(4, load=1)
    lab.stop_validator("lab02")
    lab.forget_known_host("lab03")
    inventory = lab.write_inventory(tmp_path / "inv.yml", host_vars={"lab04": {"fleetflame_perf": "/opt/none/perf"}})
    done = fleetflame(lab, "check", "-i", str(inventory))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.startswith("ok      lab01: perf version") and f"{sum(DEFAULT_TILES.values())} tiles via metrics" in line for line in lines), done.stdout
    assert any(line.startswith("problem lab02: no tiles found") for line in lines), done.stdout
    assert any("host key of lab03" in line and "--accept-new-host-keys" in line for line in lines), done.stdout
    assert any(line.startswith("problem lab04: perf (/opt/none/perf) not found") for line in lines), done.stdout
    assert lines[-1] == "1 of 4 hosts ready"


def test_accept_new_host_keys_trusts_new_keys_only(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=1)
    lab.forget_known_host("lab01")
    lab.corrupt_known_host("lab02")
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    refused = fleetflame(lab, "tiles", "net", "-i", str(inventory), "--json")
    assert "is not in known_hosts" in json.loads(refused.stdout)[0]["error"]
    accepted = fleetflame(lab, "tiles", "net", "-i", str(inventory), "--json", "--accept-new-host-keys")
    rows = {r["host"]: r for r in json.loads(accepted.stdout)}
    assert rows["lab01"]["status"] == "ok"
    assert "does NOT match known_hosts" in rows["lab02"]["error"]
    assert "[127.0.0.2]:2200 ssh-ed25519" in lab.known_hosts.read_text()
    again = fleetflame(lab, "tiles", "net", "-i", str(inventory), "--json", "--limit", "lab01")
    assert json.loads(again.stdout)[0]["status"] == "ok"


def test_become_and_proxy_jump(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2, become_user="fftest")
    inventory = lab.write_inventory(
        tmp_path / "inv.yml",
        host_vars={
            "lab02": {"ansible_user": "fftest", "ansible_become": True},
            "lab03": {"ansible_ssh_common_args": f"-o ProxyJump={lab.proxy_jump('lab01')}"},
        },
    )
    done = fleetflame(lab, "run", "net,verify:0", "-i", str(inventory), "--duration", "2", "-F", "999", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    folder = only_capture(tmp_path / "out")
    hosts = manifest_of(folder)["hosts"]
    assert all(h["status"] == "ok" and h["perf_data_sha256"] for h in hosts.values())
    assert tiles_by_host(folder_stacks := folded.read_folded(folder / "fleet.folded")) == {
        name: {"net:0", "verify:0"} for name in lab.names
    }
    assert folder_stacks
    assert not remote_leftovers(lab)


def test_inventory_values_never_reach_a_remote_shell_unquoted(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2)
    marker = Path("/tmp") / f"fleetflame-pwned-{os.getpid()}"
    nasty = f"x y;touch {marker};$(touch {marker})`touch {marker}`'\"\\"
    weird_tmp = "/tmp/" + nasty.replace("/", "_")
    lab.host_path("lab01", weird_tmp).mkdir()
    inventory = lab.write_inventory(
        tmp_path / "inv.yml",
        host_vars={
            "lab01": {"fleetflame_tmpdir": weird_tmp},
            "lab02": {"fleetflame_perf": f"perf; touch {marker}"},
            "lab03": {"fleetflame_metrics_url": f"http://{lab.host('lab03').addr}:7999/metrics?$(touch {marker})"},
        },
    )
    done = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--json")
    rows = {r["host"]: r for r in json.loads(done.stdout)["hosts"]}
    assert rows["lab01"]["status"] == "ok", rows["lab01"]
    assert rows["lab02"]["error"].startswith(f"perf (perf; touch {marker}) is not installed on lab02")
    assert rows["lab03"]["status"] == "ok", rows["lab03"]
    assert not marker.exists()
    assert not list(lab.host_path("lab01", weird_tmp).iterdir()), "capture folder left in the quoted tmpdir"
    for host in lab.names:
        assert not lab.host_exec(host, ["sh", "-c", f"ls {marker} 2>/dev/null"]).stdout


def test_interrupt_stops_every_host_then_reports(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(4, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    argv = [sys.executable, "-m", "fleetflame", "run", "all", "-i", str(inventory), "--duration", "60", "-F", "499", "--out", str(tmp_path / "out"), "--json"]
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env())
    try:
        _wait_for_perf_everywhere(lab, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert time.monotonic() - began < 45
    recap = json.loads(stdout)
    assert all(row["status"] == "ok" and row["samples"] > 0 for row in recap["hosts"]), recap
    assert not _perf_processes(lab)


def test_second_interrupt_abandons_and_exits_130(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    argv = [sys.executable, "-m", "fleetflame", "run", "all", "-i", str(inventory), "--duration", "6", "--out", str(tmp_path / "out"), "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env())
    try:
        _wait_for_perf_everywhere(lab, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    manifest = manifest_of(only_capture(tmp_path / "out"))
    assert manifest["ended_at"]
    deadline = time.monotonic() + 20  # a remote perf never outlives its duration by much
    while _perf_processes(lab) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _perf_processes(lab)


def _perf_processes(lab: LabFleet) -> list[str]:
    found = []
    for name in lab.names:
        out = lab.host_exec(name, ["sh", "-c", "grep -l '^perf$' /proc/[0-9]*/comm 2>/dev/null || true"]).stdout
        found += [f"{name}:{line}" for line in out.split()]
    return found


def _wait_for_perf_everywhere(lab: LabFleet, proc: subprocess.Popen[str], timeout: float = 60, settle: float = 2.0) -> None:
    """Until perf runs on every host, plus `settle` seconds: a perf interrupted while it is still
    setting up its events (slow on a loaded 2-core machine) ends with no samples at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        hosts = {entry.split(":")[0] for entry in _perf_processes(lab)}
        if hosts == set(lab.names):
            time.sleep(settle)
            return
        time.sleep(0.1)
    raise AssertionError("perf did not start on every host")
