"""The lab fleet itself: sshd per namespace, isolation, forwarding, failure modelling, no leaks."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest
import yaml

from .fleet import UNREACHABLE_ADDR, LabFleet, require_lab
from . import procs

pytestmark = [pytest.mark.lab, pytest.mark.root]
TILE = re.compile(r"^[a-z]+:\d+$")


def ps(lab: LabFleet, name: str) -> list[tuple[int, str]]:
    res = lab.ssh(name, "ps", "-eo", "pid=,comm=", check=True)
    return [(int(pid), comm) for pid, comm in (ln.split(None, 1) for ln in res.stdout.splitlines())]


async def fetch_metrics(lab: LabFleet, name: str, **connect: object) -> str:
    host = lab.host(name)
    async with asyncssh.connect(host.addr, port=host.port, username="root", **connect) as conn:
        reader, writer = await conn.open_connection(host.addr, host.metrics_port)
        writer.write(f"GET /metrics HTTP/1.0\r\nHost: {host.addr}\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
    head, _, body = bytes(data).decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    return body


def test_start_fast_and_stop_clean(tmp_path: Path, standin_binary: Path) -> None:
    require_lab()
    start = time.monotonic()
    lab = LabFleet(4, tmp_path / "lab", standin_binary=standin_binary, addr_base=40)
    with lab:
        elapsed = time.monotonic() - start
        namespaces = {h.ns for h in lab.hosts if h.ns}
        assert len(namespaces) == 4
        unshares = [h.popen.pid for h in lab.hosts if h.popen]
        assert all(len(lab.validator_pids(h.name)) == 14 for h in lab.hosts)
    assert elapsed < 2.0, f"4-host lab took {elapsed:.2f} s to start"
    assert lab.leftover_processes() == []
    assert procs.in_namespaces(namespaces) == []
    assert not [p for p in unshares if procs.running(p)]
    for pid in procs.all_pids():
        assert not (procs.running(pid) and any(str(lab.root) in a for a in procs.cmdline(pid)))


def test_each_host_answers_plain_ssh(lab: LabFleet) -> None:
    for host in lab.hosts:
        res = lab.ssh(host.name, "cat", "/proc/1/comm")
        assert res.returncode == 0, res.stderr
        assert res.stdout == "sh\n"  # PID 1 is the namespace's init, not the machine's


def test_host_sees_only_its_own_processes(lab: LabFleet) -> None:
    seen = ps(lab, "lab02")
    comms = [c for _, c in seen]
    assert dict(seen)[1] == "sh"  # the namespace's init
    assert comms.count("fdctl") == 1 and comms.count("agave") == 1
    assert "sshd" in comms
    allowed = {"sh", "sshd", "fdctl", "agave", "ps", "bash"}
    assert not [c for c in comms if c not in allowed and not TILE.match(c)], comms
    validator = [c for c in comms if c in ("fdctl", "agave") or TILE.match(c)]
    assert len(validator) == len(lab.validator_pids("lab02")) == 14  # its own, no others


async def test_metrics_through_port_forwarding(lab: LabFleet, monkeypatch: pytest.MonkeyPatch,
                                               ) -> None:
    monkeypatch.setenv("HOME", str(lab.home))  # asyncssh defaults: ~/.ssh/{id_*,known_hosts}
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    body = await fetch_metrics(lab, "lab03")
    pids = {int(m) for m in re.findall(r"^tile_pid\{[^}]*\} (\d+)$", body, re.M)}
    inside = {pid for pid, comm in ps(lab, "lab03") if comm in ("agave",) or TILE.match(comm)}
    assert pids and pids <= inside  # namespace pids, as the host itself sees them
    assert "fleetflame_metrics_url" not in body
    # each host serves its own metrics on its own address
    assert lab.host("lab03").metrics_url != lab.host("lab04").metrics_url


async def test_stop_and_restart_validator(lab: LabFleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(lab.home))
    try:
        lab.stop_validator("lab03")
        assert lab.validator_pids("lab03") == []
        comms = [c for _, c in ps(lab, "lab03")]
        assert "fdctl" not in comms and "sshd" in comms
        with pytest.raises((asyncssh.ChannelOpenError, OSError)):
            await fetch_metrics(lab, "lab03")
        assert await fetch_metrics(lab, "lab04")  # the others keep running
        lab.start_validator("lab03", ["--dead-tile", "verify:1"])
        body = await fetch_metrics(lab, "lab03")
        assert 'tile_pid{kind="verify",kind_id="1"}' in body
        assert "verify:1" not in [c for _, c in ps(lab, "lab03")]
    finally:
        lab.stop_validator("lab03")
        lab.reset()
    assert len(lab.validator_pids("lab03")) == 14


async def test_known_hosts_failures(lab: LabFleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(lab.home))
    try:
        lab.corrupt_known_host("lab04")
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            await fetch_metrics(lab, "lab04")
        assert "HOST IDENTIFICATION HAS CHANGED" in lab.ssh("lab04", "true").stderr
        lab.forget_known_host("lab04")
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            await fetch_metrics(lab, "lab04")
        assert await fetch_metrics(lab, "lab02")
    finally:
        lab.reset()
    assert await fetch_metrics(lab, "lab04")


def test_unreachable_address_refuses_at_once(lab: LabFleet) -> None:
    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((UNREACHABLE_ADDR, lab.port), timeout=5).close()
    assert time.monotonic() - start < 1


def test_proxy_jump_through_first_host(lab: LabFleet) -> None:
    res = lab.ssh("lab03", "echo", "via-bastion", jump=lab.proxy_jump("lab01"))
    assert res.returncode == 0 and res.stdout.strip() == "via-bastion", res.stderr


def test_inventory(lab: LabFleet, tmp_path: Path) -> None:
    inv = lab.write_inventory(tmp_path / "inv.yml", ["lab01", "lab02"],
                              extra_hosts={"lab99": lab.unreachable_vars()},
                              host_vars={"lab02": {"ansible_become": True}})
    data = yaml.safe_load(inv.read_text())
    hosts = data["all"]["children"]["lab"]["hosts"]
    assert list(hosts) == ["lab01", "lab02", "lab99"]
    assert hosts["lab02"]["ansible_become"] is True
    assert hosts["lab01"] == {
        "ansible_host": "127.0.0.2", "ansible_port": 2200, "ansible_user": "root",
        "fleetflame_metrics_url": "http://127.0.0.2:7999/metrics",
        "fleetflame_tmpdir": str(lab.host("lab01").tmpdir)}
    assert Path(hosts["lab01"]["fleetflame_tmpdir"]).is_dir()
    ansible = Path(sys.executable).with_name("ansible")
    if ansible.exists():
        out = subprocess.run([str(ansible), "-i", str(inv), "all", "--list-hosts"],
                             capture_output=True, text=True, timeout=60).stdout
        assert re.findall(r"^\s+(\S+)$", out, re.M) == ["lab01", "lab02", "lab99"]


def test_env_for_subprocesses(lab: LabFleet) -> None:
    env = lab.env()
    assert env["HOME"] == str(lab.home) and "SSH_AUTH_SOCK" not in env
    assert (lab.home / ".ssh" / "id_ed25519").exists()
    lines = lab.known_hosts.read_text().splitlines()
    assert lines[0].startswith("[127.0.0.2]:2200 ssh-ed25519 ")


def test_layouts_and_per_host_args(make_lab) -> None:  # type: ignore[no-untyped-def]
    lab = make_lab(2, addr_base=60, layout="threads", load=0.5,
                   host_args={"lab02": ["--layout", "processes", "--no-metrics"]},
                   tiles={"verify": 2, "bank": 1})
    threads = [c for _, c in ps(lab, "lab01")]
    assert "verify:0" not in threads  # tiles are threads of fdctl there
    assert set(c for _, c in ps(lab, "lab02")) >= {"verify:0", "verify:1", "agave", "fdctl"}
    res = lab.host_exec("lab01", ["cat", "/proc/1/comm"])
    assert res.stdout.strip() == "sh"
    with pytest.raises(OSError):
        socket.create_connection((lab.host("lab02").addr, 7999), timeout=2).close()


def test_non_root_users(make_lab) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed (apt-get install -y sudo)")
    lab = make_lab(1, addr_base=70, become_user="fftest", plain_user="ffplain")
    ok = lab.ssh("lab01", "id -un; sudo -n perf --version", user="fftest")
    assert ok.returncode == 0 and ok.stdout.startswith("fftest\nperf version"), ok.stderr
    tmp = lab.host("lab01").tmpdir
    assert lab.ssh("lab01", f"touch {tmp}/x", user="fftest").returncode == 0
    denied = lab.ssh("lab01", "sudo -n true", user="ffplain")
    assert denied.returncode != 0 and "password is required" in denied.stderr


def test_lab_dies_with_its_parent(tmp_path: Path) -> None:
    """Even if the test process is SIGKILLed, the hosts go (PDEATHSIG + --kill-child)."""
    require_lab()
    code = ("import sys; from lab import LabFleet; "
            f"lab = LabFleet(2, {str(tmp_path / 'lab')!r}, addr_base=80).start(); "
            "print(' '.join(h.ns for h in lab.hosts), flush=True); sys.stdin.read()")
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests_dir), str(tests_dir.parent)]))
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    namespaces = set(child.stdout.readline().split())
    assert len(namespaces) == 2 and procs.in_namespaces(namespaces)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert procs.wait_until(lambda: not procs.in_namespaces(namespaces), 5)
