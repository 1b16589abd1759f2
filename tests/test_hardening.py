"""Hardening on real sshd hosts: what a local user of a validator, a hostile host or a bad day can do.

Each test breaks the lab the way the issue describes (an unprivileged user planting folders and
links, a host lying in its records, an alias, no sftp, a full tmpdir, a killed sshd, become with
a new tmpdir, an interrupt) and checks that the host concerned fails with a message saying what
happened and what to do, that the others are unaffected, and that nothing is left on the host.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetflame import folded

from .lab import ATTACKER, LabFleet
from .test_fleet import _perf_processes, _wait_for_perf_everywhere, fleetflame, manifest_of, only_capture

pytestmark = [pytest.mark.root, pytest.mark.lab]


def ours(lab: LabFleet, name: str) -> list[str]:
    """fleetflame's folders in that host's /tmp."""
    return [e for e in lab.tmp_entries(name) if e.startswith("fleetflame-")]


def per_host_samples(folder: Path) -> dict[str, int]:
    sums: dict[str, int] = {}
    for stack, count in folded.read_folded(folder / "fleet.folded").items():
        host = stack.split(";", 1)[0]
        sums[host] = sums.get(host, 0) + count
    return sums


def popen(lab: LabFleet, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleetflame", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.env(COLUMNS="200"), cwd=cwd
    )


def test_folders_and_links_a_local_user_plants_are_never_used(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    victim = "/tmp/victim-root-file"
    lab.host_exec("lab01", ["sh", "-c", f"echo precious > {victim}; chmod 644 {victim}"])
    started = lab.host_exec("lab01", ["sh", "-c", "sleep 600 > /dev/null 2>&1 & echo $!"])
    victim_pid = started.stdout.strip()  # a root process that a planted pid file names
    assert victim_pid.isdigit(), started.stderr
    # every name the old predictable scheme would have used in the next minute, and the new
    # scheme's prefix, each holding links to root's file and a pid file naming root's process
    stamp = time.strftime("%Y%m%dT%H%M", time.gmtime())
    plant = (
        f"for s in $(seq -w 0 59); do for n in fleetflame-{stamp}$s""Z-all fleetflame-{stamp}$s""Z-all.AAAAAAAAAA; do "
        "mkdir -p /tmp/$n && cd /tmp/$n && "
        f"for f in meta.json started.tmp started rc.tmp rc perf.stderr perf.data script.stderr perf.script.gz.tmp .data.sha recorder.pid; do ln -sf {victim} $f; done; "
        f"echo {victim_pid} > timeout.pid; chmod 777 /tmp/$n; cd /; done; done"
    )
    planted = lab.run_as("lab01", ATTACKER, ["sh", "-c", plant])
    assert planted.returncode == 0, planted.stderr
    before = sorted(ours(lab, "lab01"))
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    run = popen(lab, "run", "all", "-i", str(inventory), "--duration", "3", "-F", "499", "--out", str(tmp_path / "out"), "--json")
    try:
        _wait_for_perf_everywhere(lab, run, settle=0.5)
        mine = [e for e in ours(lab, "lab01") if e not in before]
        assert len(mine) == 1 and re.fullmatch(r"fleetflame-\d{8}T\d{6}Z-all\.[A-Za-z0-9]{10}", mine[0])
        st = os.stat(lab.host_path("lab01", f"/tmp/{mine[0]}"))
        assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o700"
        peek = lab.run_as("lab01", ATTACKER, ["ls", f"/tmp/{mine[0]}"])
        assert peek.returncode != 0, "another user can list the capture folder"
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert lab.host_exec("lab01", ["cat", victim]).stdout == "precious\n"
    alive = lab.host_exec("lab01", ["kill", "-0", victim_pid])
    assert alive.returncode == 0, "a planted timeout.pid made fleetflame signal another process"
    assert sorted(ours(lab, "lab01")) == before, "planted folders were touched, or ours was left"
    folder = only_capture(tmp_path / "out")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for name in ("perf.data", "perf.script.gz", "stacks.folded"):
        assert oct((folder / "hosts" / "lab01" / name).stat().st_mode & 0o777) == "0o600", name

    # a planted folder with a meta.json that claims to be a capture of lab01 is not listed
    meta = {"format": "fleetflame-host-meta", "version": 2, "id": f"{stamp}00Z-all", "host": "lab01", "target": "all",
            "capture_started_at": "x", "requested_duration_s": 1, "frequency_hz": 99, "call_graph": "fp"}
    fake = f"/tmp/fleetflame-{stamp}00Z-all.BBBBBBBBBB"
    lab.run_as("lab01", ATTACKER, ["sh", "-c", f"mkdir -m 700 {fake} && printf '%s\\n' '{json.dumps(meta)}' > {fake}/meta.json"])
    found = fleetflame(lab, "fetch", "--latest", "-i", str(inventory), "--out", str(tmp_path / "elsewhere"))
    assert found.returncode == 0 and "nothing to fetch" in found.stdout, found.stdout + found.stderr
    assert not (tmp_path / "elsewhere").exists() or not list((tmp_path / "elsewhere").iterdir())


def test_a_hostile_host_cannot_choose_local_paths(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(1, load=0.5)
    base = {"format": "fleetflame-host-meta", "version": 2, "host": "lab01", "target": "all", "capture_started_at": "x",
            "requested_duration_s": 1, "frequency_hz": 99, "call_graph": "fp"}
    evil = {
        "AAAAAAAAAA": dict(base, id="20261125T221500Z-all/../../../../../tmp/escaped"),
        "BBBBBBBBBB": dict(base, id="20261125T221500Z-all", unknown_tid_root="{comm.__class__.__mro__}"),
        "CCCCCCCCCC": dict(base, id="20261125T221500Z-all", host="../../../escaped"),
    }
    for suffix, meta in evil.items():
        folder = f"/tmp/fleetflame-20261125T221500Z-all.{suffix}"
        lab.host_exec("lab01", ["sh", "-c", f"mkdir -m 700 {folder} && printf '%s\\n' '{json.dumps(meta)}' > {folder}/meta.json"])
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    work = tmp_path / "work"
    out = work / "deep" / "out"
    done = fleetflame(lab, "fetch", "--latest", "-i", str(inventory), "--out", str(out))
    assert done.returncode == 0 and "nothing to fetch" in done.stdout, done.stdout + done.stderr
    assert not work.exists() or not [p for p in work.rglob("*") if p.is_file()]
    assert sorted(p.name for p in tmp_path.iterdir()) in (["inv.yml", "lab0"], ["inv.yml", "lab0", "work"])
    assert not Path("/tmp/escaped").exists() and not (tmp_path / "escaped").exists()


def test_two_inventory_names_for_one_machine_are_both_captured(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml", extra_hosts={"lab01-alias": lab.alias_vars("lab01")})
    done = fleetflame(lab, "run", "verify:*", "-i", str(inventory), "--duration", "2", "-F", "499", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    assert "lab01 and lab01-alias resolve to the same address" in done.stderr
    folder = only_capture(tmp_path / "out")
    manifest = manifest_of(folder)
    assert {h: v["status"] for h, v in manifest["hosts"].items()} == {"lab01": "ok", "lab02": "ok", "lab01-alias": "ok"}
    assert manifest["hosts"]["lab01"]["remote_dir"] != manifest["hosts"]["lab01-alias"]["remote_dir"]
    sums = per_host_samples(folder)
    assert sums == {h: v["samples"] for h, v in manifest["hosts"].items()} and sums["lab01-alias"] > 0
    assert (folder / "hosts" / "lab01-alias" / "perf.data").read_bytes() != (folder / "hosts" / "lab01" / "perf.data").read_bytes()
    assert not ours(lab, "lab01")


def test_a_host_without_sftp_records_detaches_and_fetches(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2, no_sftp={"lab02"})
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hosts"][1]["status"] == "ok"
    detached = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "d"), "--detach")
    assert detached.returncode == 0, detached.stderr
    fetched = fleetflame(lab, "fetch", "--out", str(tmp_path / "d"), "--json")
    assert fetched.returncode == 0, fetched.stderr
    manifest = manifest_of(only_capture(tmp_path / "d"))
    assert manifest["hosts"]["lab02"]["status"] == "ok" and manifest["hosts"]["lab02"]["perf_data_sha256"]
    assert not ours(lab, "lab02")


def test_a_full_tmpdir_fails_that_host_at_once(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2, tmp_size={"lab02": "64k", "lab03": "160k"})
    lab.fill_tmp("lab02")
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    began = time.monotonic()
    done = fleetflame(lab, "run", "all", "-i", str(inventory), "--duration", "8", "-F", "999", "--out", str(tmp_path / "out"), "--json")
    took = time.monotonic() - began
    assert done.returncode == 1, done.stderr
    rows = {r["host"]: r for r in json.loads(done.stdout)["hosts"]}
    assert rows["lab01"]["status"] == "ok"
    assert rows["lab02"]["status"] == "failed" and "no space left in /tmp" in rows["lab02"]["error"], rows["lab02"]
    assert rows["lab03"]["status"] == "failed" and "ran out of space while perf recorded" in rows["lab03"]["error"], rows["lab03"]
    assert took < 8 + 15, took
    assert not ours(lab, "lab02") and not ours(lab, "lab03")
    assert not _perf_processes(lab)


def test_a_killed_sshd_is_a_lost_link_and_a_bare_fetch_recovers_it(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    run = popen(lab, "run", "all", "-i", str(inventory), "--duration", "4", "-F", "499", "--out", str(out), "--json")
    try:
        _wait_for_perf_everywhere(lab, run, settle=0.5)
        lab.kill_sshd("lab02")
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, stderr
    rows = {r["host"]: r for r in json.loads(stdout)["hosts"]}
    assert rows["lab01"]["status"] == "ok"
    error = rows["lab02"]["error"]
    assert error.startswith("lost the connection to lab02 while recording"), error
    assert "fleetflame fetch" in error and "not readable" not in error
    lab.start_sshd("lab02")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    fetched = subprocess.run(
        [sys.executable, "-m", "fleetflame", "fetch", "--out", str(out), "--json"], capture_output=True, text=True, env=lab.env(), cwd=elsewhere, timeout=240
    )
    assert fetched.returncode == 0, fetched.stderr
    manifest = manifest_of(only_capture(out))
    assert manifest["hosts"]["lab02"]["status"] == "ok" and manifest["hosts"]["lab02"]["samples"] > 0
    assert per_host_samples(only_capture(out)) == {h: v["samples"] for h, v in manifest["hosts"].items()}
    assert not ours(lab, "lab02")
    nothing = fleetflame(lab, "fetch", "--out", str(out))
    assert nothing.returncode == 0 and "nothing to fetch" in nothing.stdout


def test_become_with_a_new_tmpdir_and_a_bastion_met_for_the_first_time(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(3, load=2, become_user="ffbecome")
    lab.forget_known_host("lab01")
    inventory = lab.write_inventory(
        tmp_path / "inv.yml",
        hosts=["lab02", "lab03"],
        host_vars={
            "lab02": {"ansible_user": "ffbecome", "ansible_become": True, "fleetflame_tmpdir": "/tmp/new/deeper"},
            "lab03": {"ansible_ssh_common_args": f"-o ProxyJump={lab.proxy_jump('lab01')}"},
        },
    )
    done = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--json", "--accept-new-host-keys")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {r["status"] for r in json.loads(done.stdout)["hosts"]} == {"ok"}
    assert lab.host("lab01").addr in lab.known_hosts.read_text()
    assert not os.listdir(lab.host_path("lab02", "/tmp/new/deeper"))


def test_an_interrupted_run_says_what_it_recorded(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    run = popen(lab, "run", "all", "-i", str(inventory), "--duration", "30", "-F", "499", "--out", str(tmp_path / "out"))
    try:
        _wait_for_perf_everywhere(lab, run, settle=2)
        run.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        stdout, stderr = run.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr
    assert took < 15, took
    manifest = manifest_of(only_capture(tmp_path / "out"))
    assert manifest["requested_duration_s"] == 30 and manifest["stopped_early"]
    assert manifest["duration_s"] < 15
    assert f"{manifest['duration_s']:g} s recorded (stopped early; 30 s requested)" in " ".join(stdout.split())
    assert f"{manifest['duration_s']:g} s" in (only_capture(tmp_path / "out") / "flamegraph.svg").read_text()


def test_detach_shows_recording_hosts_and_a_whole_fetch_hint(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    lab = make_lab(2, load=2)
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "fleetflame", "run", "net", "-i", str(inventory), "--duration", "2", "--out", str(out), "--detach"],
        capture_output=True, text=True, env=lab.env(COLUMNS="80"), timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "FAILED" not in done.stdout and "None" not in done.stdout
    assert "recording (detached)" in done.stdout
    hint = [line for line in done.stderr.splitlines() if "fleetflame fetch" in line]
    assert hint and str(inventory.resolve()) in hint[0], done.stderr
    lab.stop_validator("lab01")
    everything_failed = fleetflame(lab, "run", "net", "-i", str(inventory), "--limit", "lab01", "--duration", "1", "--out", str(tmp_path / "none"))
    assert everything_failed.returncode == 1
    assert "flamegraph.html" not in everything_failed.stdout and "no flamegraph: no host was captured" in everything_failed.stdout


def test_each_host_sees_one_session_and_one_metrics_forward(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    """The round-trip budget on real sshd: per host and capture, authentication by public key
    without the `none` probe (a key query, then the signed request), one exec channel (the
    session) and one forwarded channel (metrics), nothing else: no SFTP, no second command."""
    lab = make_lab(2, load=2, log_level="DEBUG1")
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    done = fleetflame(lab, "run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    for host in lab.hosts:
        log = host.sshd_log()
        assert len(re.findall(r"request exec", log)) == 1, log[-3000:]
        assert re.findall(r"userauth-request for user \S+ service ssh-connection method (\S+)", log) == ["publickey", "publickey"], log[-3000:]
        assert len(re.findall(r"ctype direct-tcpip", log)) == 1
        assert "subsystem" not in log.replace("Subsystem", "")
