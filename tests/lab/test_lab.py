"""The lab fleet itself: sshd per namespace, isolation, forwarding, failure modelling, no leaks."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import asyncssh
import pytest
import yaml

from fleetflame.standin import AGAVE_KINDS, DEFAULT_TILES

from . import procs
from .fleet import UNREACHABLE_ADDR, LabFleet, require_lab
from .host import SFTP_SERVER, lab_addresses
from .hostops import FILL_FILE
from .machine import new_state_dir
from .users import ATTACKER

# The stand-in's processes on a host: fdctl, agave, and one per non-Agave tile (production layout).
VALIDATOR_PROCESSES = 2 + sum(n for kind, n in DEFAULT_TILES.items() if kind not in AGAVE_KINDS)

pytestmark = [pytest.mark.lab, pytest.mark.root]
TILE = re.compile(r"^[a-z]+:\d+$")
MakeLab = Callable[..., LabFleet]


def ps(lab: LabFleet, name: str) -> list[tuple[int, str]]:
    res = lab.ssh(name, "ps", "-eo", "pid=,comm=", check=True)
    return [(int(pid), comm) for pid, comm in (ln.split(None, 1) for ln in res.stdout.splitlines())]


def connect(lab: LabFleet, name: str, **kwargs: Any) -> Any:
    host = lab.host(name)
    return asyncssh.connect(host.addr, port=host.port, username="root",
                            known_hosts=str(lab.known_hosts), client_keys=[str(lab.client_key)],
                            **kwargs)


async def fetch_metrics(lab: LabFleet, name: str) -> str:
    host = lab.host(name)
    async with connect(lab, name) as conn:
        reader, writer = await conn.open_connection(host.addr, host.metrics_port)
        writer.write(f"GET /metrics HTTP/1.0\r\nHost: {host.addr}\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
    head, _, body = bytes(data).decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    return body


def sshd_effective(lab: LabFleet, name: str) -> dict[str, str]:
    """`sshd -T`: the settings that host's sshd really runs with, defaults included."""
    host = lab.host(name)
    done = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(host.dir / "sshd_config")],
                          capture_output=True, text=True, check=True)
    out: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        out[key] = f"{out[key]}\n{value}" if key in out else value
    return out


# ---- lifecycle ------------------------------------------------------------------------------

def test_start_fast_and_stop_clean(tmp_path: Path, standin_binary: Path) -> None:
    require_lab()
    start = time.monotonic()
    lab = LabFleet(4, tmp_path / "lab", standin_binary=standin_binary, addr_base=40)
    with lab:
        elapsed = time.monotonic() - start
        namespaces = {h.ns for h in lab.hosts if h.ns}
        mounts = {h.mnt_ns for h in lab.hosts if h.mnt_ns}
        assert len(namespaces) == 4 and len(mounts) == 4
        assert mounts.isdisjoint({procs.namespace(os.getpid(), "mnt")})
        unshares = [h.popen.pid for h in lab.hosts if h.popen]
        state = lab.state
        assert state is not None and state.is_dir()
        assert all(len(lab.validator_pids(h.name)) == VALIDATOR_PROCESSES for h in lab.hosts)
    assert elapsed < 5.0, f"4-host lab took {elapsed:.2f} s to start"
    assert lab.leftover_processes() == []
    assert procs.in_namespaces(namespaces) == []
    assert procs.in_namespaces(mounts, "mnt") == []   # so their /tmp mounts are gone too
    assert not [p for p in unshares if procs.running(p)]
    assert not state.exists()
    assert (lab.root / "hosts" / "lab01" / "sshd.log").exists()   # logs kept for post-mortems
    for pid in procs.all_pids():
        assert not (procs.running(pid) and any(str(lab.root) in a for a in procs.cmdline(pid)))


def test_lab_dies_with_its_parent(tmp_path: Path) -> None:
    """Even if the test process is SIGKILLed, the hosts go (PDEATHSIG + --kill-child), and the
    next lab removes the state folder it left."""
    require_lab()
    code = ("import sys; from lab import LabFleet; "
            f"lab = LabFleet(2, {str(tmp_path / 'lab')!r}, addr_base=80, rtt_ms=10).start(); "
            "print(' '.join(h.ns for h in lab.hosts), lab.state, lab.proxy_pid, flush=True); "
            "sys.stdin.read()")
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests_dir), str(tests_dir.parent)]))
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    *words, state, proxy = child.stdout.readline().split()
    namespaces = set(words)
    assert len(namespaces) == 2 and procs.in_namespaces(namespaces)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdin.close()  # type: ignore[union-attr]
    assert procs.wait_until(lambda: not procs.in_namespaces(namespaces), 5)
    assert procs.wait_until(lambda: not procs.running(int(proxy)), 5)
    assert Path(state).is_dir()
    new_state_dir().rmdir()
    assert not Path(state).exists()


# ---- each host -----------------------------------------------------------------------------

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
    assert len(validator) == len(lab.validator_pids("lab02")) == VALIDATOR_PROCESSES  # its own, no others


def test_each_host_has_its_own_tmp(lab: LabFleet) -> None:
    assert all(lab.tmp_entries(name) == [] for name in lab.names)   # a fresh host's /tmp
    mount = lab.ssh("lab01", "findmnt -no FSTYPE,OPTIONS /tmp; stat -c %a /tmp", check=True)
    fstype, options, mode = mount.stdout.split()
    assert fstype == "tmpfs" and "nosuid" in options and mode == "1777"
    marker = f"lab-own-tmp-{os.getpid()}"
    try:
        lab.ssh("lab01", f"echo from-lab01 > /tmp/{marker}", check=True)
        assert lab.tmp_entries("lab01") == [marker]
        assert lab.host_path("lab01", f"/tmp/{marker}").read_text() == "from-lab01\n"
        assert lab.tmp_entries("lab02") == []                        # not another host's
        assert lab.ssh("lab02", f"test -e /tmp/{marker}").returncode == 1
        assert not (Path("/tmp") / marker).exists()                  # not the machine's
        lab.host_path("lab03", "/tmp/from-outside").write_text("x")
        assert lab.ssh("lab03", "cat /tmp/from-outside", check=True).stdout == "x"
    finally:
        for name in ("lab01", "lab03"):
            lab.host_exec(name, ["sh", "-c", "rm -rf /tmp/* /tmp/.[!.]*"], check=True)
    assert lab.host_path("lab01", "/etc/hostname").read_text() == Path("/etc/hostname").read_text()


def test_sshd_is_debians_stock_one(lab: LabFleet) -> None:
    """Default limits and Debian's sftp-server: a test cannot lean on a kinder sshd."""
    config = sshd_effective(lab, "lab01")
    assert config["maxsessions"] == "10"
    assert config["maxstartups"] == "10:30:100"
    assert config["subsystem"] == f"sftp {SFTP_SERVER}"
    assert config["usepam"] == "yes" and config["strictmodes"] == "yes"
    assert config["permitrootlogin"] == "without-password"
    assert config["allowtcpforwarding"] == "yes"
    assert lab.ssh("lab01", "ulimit -n", check=True).stdout == "1024\n"   # as under systemd
    written = (lab.host("lab01").dir / "sshd_config").read_text()
    assert not re.search(r"(?im)^\s*(MaxSessions|MaxStartups|StrictModes|UsePAM no|Subsystem\s+"
                         r"sftp\s+internal-sftp|LoginGraceTime|ClientAlive)", written)


async def test_stock_limits_hold(lab: LabFleet) -> None:
    """MaxSessions 10: an eleventh session on one connection is refused; forwarded channels
    (the metrics endpoint, ProxyJump) are not sessions and are not limited by it."""
    host = lab.host("lab04")
    async with connect(lab, "lab04") as conn:
        sessions = [await conn.create_process("sleep 60") for _ in range(10)]
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.create_process("sleep 60")
        forwards = [await conn.open_connection(host.addr, host.metrics_port) for _ in range(20)]
        for _, writer in forwards:
            writer.close()
        for session in sessions:
            session.close()


async def test_sftp_is_on_as_debian_ships_it(lab: LabFleet) -> None:
    async with connect(lab, "lab02") as conn:
        async with conn.start_sftp_client() as sftp:
            await sftp.mkdir("/tmp/by-sftp")
            assert lab.tmp_entries("lab02") == ["by-sftp"]
            server = await conn.run("pgrep -x sftp-server")   # the real one, not internal-sftp
            assert server.returncode == 0
        await conn.run("rm -rf /tmp/by-sftp", check=True)
    assert lab.tmp_entries("lab02") == []


async def test_metrics_through_port_forwarding(lab: LabFleet) -> None:
    body = await fetch_metrics(lab, "lab03")
    pids = {int(m) for m in re.findall(r"^tile_pid\{[^}]*\} (\d+)$", body, re.M)}
    inside = {pid for pid, comm in ps(lab, "lab03") if comm in ("agave",) or TILE.match(comm)}
    assert pids and pids <= inside  # namespace pids, as the host itself sees them
    assert "fleetflame_metrics_url" not in body
    # each host serves its own metrics on its own address
    assert lab.host("lab03").metrics_url != lab.host("lab04").metrics_url


async def test_stop_and_restart_validator(lab: LabFleet) -> None:
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
    assert len(lab.validator_pids("lab03")) == VALIDATOR_PROCESSES


async def test_known_hosts_failures(lab: LabFleet) -> None:
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


def test_inventory_with_an_alias(lab: LabFleet, tmp_path: Path) -> None:
    inv = lab.write_inventory(tmp_path / "inv.yml", ["lab01", "lab02"],
                              extra_hosts={"lab99": lab.unreachable_vars(),
                                           "lab01b": lab.alias_vars("lab01")},
                              host_vars={"lab02": {"ansible_become": True}})
    data = yaml.safe_load(inv.read_text())
    hosts = data["all"]["children"]["lab"]["hosts"]
    assert list(hosts) == ["lab01", "lab02", "lab99", "lab01b"]
    assert hosts["lab02"]["ansible_become"] is True
    assert hosts["lab01"] == hosts["lab01b"] == {
        "ansible_host": "127.0.0.2", "ansible_port": 2200, "ansible_user": "root",
        "fleetflame_metrics_url": "http://127.0.0.2:7999/metrics"}   # default tmpdir: /tmp
    assert not any("fleetflame_tmpdir" in v for v in hosts.values())
    ansible = Path(sys.executable).with_name("ansible")
    if ansible.exists():
        out = subprocess.run([str(ansible), "-i", str(inv), "all", "--list-hosts"],
                             capture_output=True, text=True, timeout=60).stdout
        assert sorted(re.findall(r"^\s+(\S+)$", out, re.M)) == ["lab01", "lab01b", "lab02",
                                                                "lab99"]


def test_env_for_subprocesses(lab: LabFleet) -> None:
    env = lab.env()
    assert env["HOME"] == str(lab.home) and "SSH_AUTH_SOCK" not in env
    assert (lab.home / ".ssh" / "id_ed25519").exists()
    lines = lab.known_hosts.read_text().splitlines()
    assert lines[0].startswith("[127.0.0.2]:2200 ssh-ed25519 ")
    assert len(lines) == len(lab.hosts)   # no proxy: one port per host


# ---- a local attacker -----------------------------------------------------------------------

def test_attacker_plants_folders_and_links_in_a_hosts_tmp(lab: LabFleet) -> None:
    try:
        lab.ssh("lab01", "mkdir -m 700 /tmp/roots && echo secret > /tmp/roots/f", check=True)
        plant = lab.run_as("lab01", ATTACKER, ["sh", "-c",
                           "id -un; pwd; echo $HOME; mkdir /tmp/fleetflame-planted && "
                           "ln -s /etc/shadow /tmp/fleetflame-link && "
                           "ln /tmp/fleetflame-link /tmp/fleetflame-hardlink; "
                           "cat /tmp/roots/f; sudo -n true"])
        who, cwd, home = plant.stdout.split()[:3]
        assert (who, cwd, home) == (ATTACKER, "/", f"/home/{ATTACKER}")
        assert "Permission denied" in plant.stderr          # root's 0700 folder stays closed
        assert plant.returncode != 0                         # and no sudo
        assert lab.tmp_entries("lab01") == ["fleetflame-hardlink", "fleetflame-link",
                                            "fleetflame-planted", "roots"]
        planted = lab.host_path("lab01", "/tmp/fleetflame-planted").lstat()
        link = lab.host_path("lab01", "/tmp/fleetflame-link")
        assert planted.st_uid == link.lstat().st_uid != 0
        assert os.readlink(link) == "/etc/shadow"
        assert lab.tmp_entries("lab02") == []                # on that host only
    finally:
        lab.host_exec("lab01", ["sh", "-c", "rm -rf /tmp/* /tmp/.[!.]*"], check=True)


def test_attacker_exists_on_every_host_and_can_log_in(lab: LabFleet) -> None:
    for name in ("lab01", "lab04"):
        done = lab.ssh(name, "id -un; sudo -n true", user=ATTACKER)
        assert done.stdout == f"{ATTACKER}\n" and done.returncode != 0, done.stderr


def test_non_root_users(make_lab: MakeLab) -> None:
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed (apt-get install -y sudo)")
    lab = make_lab(1, addr_base=70, become_user="fftest", plain_user="ffplain")
    ok = lab.ssh("lab01", "id -un; sudo -n perf --version", user="fftest")
    assert ok.returncode == 0 and ok.stdout.startswith("fftest\nperf version"), ok.stderr
    assert lab.ssh("lab01", "touch /tmp/x", user="fftest").returncode == 0
    assert lab.host_path("lab01", "/tmp/x").stat().st_uid != 0
    denied = lab.ssh("lab01", "sudo -n true", user="ffplain")
    assert denied.returncode != 0 and "password is required" in denied.stderr


# ---- failure modelling ----------------------------------------------------------------------

def test_layouts_and_per_host_args(make_lab: MakeLab) -> None:
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


async def test_no_sftp_host_and_full_tmp(make_lab: MakeLab) -> None:
    lab = make_lab(3, addr_base=50, load=0, tmp_size={"lab02": "64k"}, no_sftp=["lab03"])
    assert "subsystem" not in sshd_effective(lab, "lab03")
    async with connect(lab, "lab03") as conn:
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.start_sftp_client()
        assert (await conn.run("echo still-a-shell", check=True)).stdout == "still-a-shell\n"
    assert "subsystem request failed" in subprocess.run(
        ["sftp", "-F", str(lab.ssh_config), "-P", str(lab.port), "-b", "-",
         f"root@{lab.host('lab03').addr}"], input="ls\n", capture_output=True, text=True,
        env=lab.env(), timeout=30).stderr

    assert lab.tmp_free("lab02") == 64 << 10
    assert lab.fill_tmp("lab02") == 64 << 10
    assert lab.tmp_free("lab02") == 0 and lab.tmp_entries("lab02") == ["lab-fill"]
    full = lab.ssh("lab02", "mkdir /tmp/d && echo made; echo data > /tmp/d/f")
    assert full.stdout == "made\n" and "No space left on device" in full.stderr
    assert lab.ssh("lab01", "echo data > /tmp/f").returncode == 0   # only lab02's is full
    lab.reset()
    assert FILL_FILE.rsplit("/", 1)[1] not in lab.tmp_entries("lab02")
    assert lab.tmp_free("lab02") > 0


async def test_kill_sshd_is_a_lost_link(make_lab: MakeLab) -> None:
    lab = make_lab(2, addr_base=54, load=0)
    async with connect(lab, "lab01") as conn:
        detached = await conn.run("setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!",
                                  check=True)
        session = await conn.create_process("sleep 600")
        lab.kill_sshd("lab01")
        await asyncio.wait_for(conn.wait_closed(), 10)   # the client sees the link drop
        assert session.exit_status is None                # no session ended normally
    assert lab.sshd_pids("lab01") == []
    refused = lab.ssh("lab01", "true")
    assert refused.returncode == 255 and "refused" in refused.stderr
    sleeper = int(str(detached.stdout).strip())
    alive = lab.host_exec("lab01", ["kill", "-0", str(sleeper)])
    assert alive.returncode == 0, "a detached process must outlive the lost link"
    assert lab.ssh("lab02", "true").returncode == 0     # the other host is untouched
    lab.start_sshd("lab01")
    assert lab.ssh("lab01", "echo back", check=True).stdout == "back\n"
    lab.kill_sshd("lab01")
    lab.reset()                                          # reset brings sshd back too
    assert lab.ssh("lab01", "true").returncode == 0


# ---- big fleets -----------------------------------------------------------------------------

def test_addresses_go_past_127_0_0_254() -> None:
    assert lab_addresses(3, 2) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert lab_addresses(5, 248) == ["127.0.0.248", "127.0.0.249", "127.0.0.251",
                                     "127.0.0.252", "127.0.0.253"]   # .250 stays unreachable
    big = lab_addresses(512, 2)
    assert len(set(big)) == 512 and big[252] == "127.0.1.1" and big[-1] == "127.0.2.6"
    assert not [a for a in big if a.endswith((".0", ".255")) or a == UNREACHABLE_ADDR]
    with pytest.raises(ValueError):
        lab_addresses(1, 0)


def test_a_big_fleet_starts_in_parallel(make_lab: MakeLab) -> None:
    began = time.monotonic()
    lab = make_lab(64, addr_base=200, load=0, layout="threads", start_timeout=120)
    took = time.monotonic() - began
    assert lab.host("lab64").addr == "127.0.1.10"
    for name in ("lab01", "lab55", "lab56", "lab64"):
        done = lab.ssh(name, "cat /proc/1/comm; ls /tmp | wc -l")
        assert done.stdout == "sh\n0\n", (name, done.stderr)
    for host in lab.hosts:   # every sshd answers with its banner
        with socket.create_connection((host.addr, host.port), timeout=10) as s:
            assert s.recv(64).startswith(b"SSH-2.0-OpenSSH")
    idle = sum(procs.cpu_seconds(p) for h in lab.hosts for p in lab.validator_pids(h.name))
    print(f"64 hosts ready in {took:.1f} s; their stand-ins used {idle:.2f} s of CPU")
    assert len({h.mnt_ns for h in lab.hosts}) == 64
