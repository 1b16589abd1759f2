"""fakeperf: perf's command line and messages, a `perf script` text fleetflame folds under each
tile, and a simulated lab fleet captured end to end by `fleetflame run`."""

from __future__ import annotations

import json
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetflame import folded
from fleetflame.collapse.hosts import collapse_host
from fleetflame.standin import DEFAULT_TILES, StandinProcess, run_standin

from .fleet import FAKEPERF, LabFleet

MakeLab = Callable[..., LabFleet]
SAMPLES = 3   # per thread: fakeperf's SAMPLES
RECORDED = re.compile(r"^\[ perf record: Captured and wrote (\d+\.\d{3}) MB (\S+) \((\d+) samples\) \]$")


@pytest.fixture
def standin(standin_binary: Path) -> Iterator[StandinProcess]:
    with run_standin(standin_binary, layout="threads", no_metrics=True, load=0,
                     extra_args=["--period", "3600000"]) as proc:
        yield proc


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def test_record_waits_for_sigint_then_ends_like_perf(standin: StandinProcess,
                                                     tmp_path: Path) -> None:
    tiles = {name: tid for name, (_, tid) in standin.tiles().items()
             if name in ("net:0", "verify:0", "verify:1")}
    argv = ["timeout", "--preserve-status", "-s", "INT", "1.5", str(FAKEPERF), "record",
            "-F", "99", "--call-graph", "fp", "-m", "8", "--no-such-flag", "-g",
            "-t", ",".join(map(str, tiles.values())), "-o", "perf.data"]
    cpu, began = children_cpu(), time.monotonic()
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    took, cpu = time.monotonic() - began, children_cpu() - cpu
    assert done.returncode == 0, done.stderr
    assert took >= 1.5                      # it waited for the signal
    assert cpu < 0.3, f"fakeperf used {cpu:.2f} s of CPU while waiting"
    woken, captured = done.stderr.splitlines()
    assert woken == "[ perf record: Woken up 1 times to write data ]"
    match = RECORDED.match(captured)
    assert match, captured
    assert match[1] == "0.002" and match[2] == "perf.data" and int(match[3]) == 3 * SAMPLES
    assert (tmp_path / "perf.data").stat().st_mode & 0o777


def test_script_folds_under_each_recorded_thread(standin: StandinProcess, tmp_path: Path,
                                                 ) -> None:
    """-p PID: every thread of the process, ended by SIGTERM; script's text folds (with
    fleetflame's collapser) into stacks under each thread's root, the samples perf announced."""
    agave = standin.agave_pid()
    record = subprocess.Popen([str(FAKEPERF), "record", "--call-graph=fp", "-p", str(agave),
                               "--output=data"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    record.send_signal(signal.SIGTERM)
    _, stderr = record.communicate(timeout=30)
    assert record.returncode == 0, stderr
    announced = int(RECORDED.match(stderr.splitlines()[-1])[3])  # type: ignore[index]

    threads = standin.threads()[agave]
    script = subprocess.run([str(FAKEPERF), "script", "-f", "-i", "data", "-F",
                             "comm,tid,ip,sym,dso", "--no-inline"], cwd=tmp_path,
                            capture_output=True, check=True, timeout=30)
    (tmp_path / "perf.script").write_bytes(script.stdout)
    roots = {tid: f"agave;{comm}" for tid, comm in threads.items()}
    stacks = collapse_host(str(tmp_path / "perf.script"), roots, None)
    assert sum(stacks.values()) == announced == SAMPLES * len(threads)
    assert {s.split(";")[1] for s in stacks} == set(threads.values())
    for stack in stacks:
        frames = stack.split(";")
        assert frames[0] == "agave" and frames[2] == "start_thread" and frames[4] == "fd_stem_run"


def test_version_and_bad_use(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(FAKEPERF), *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30)

    assert run("--version").stdout.startswith("perf version ")
    unknown = run("top")
    assert unknown.returncode == 1 and unknown.stderr.startswith("fakeperf: 'top' is not")
    for args, message in ((["record", "-o", "x"], "give threads with -t"),
                          (["record", "-t", "999999999"], "no thread 999999999"),
                          (["record", "-t", "1;touch pwned"], "bad thread id")):
        done = run(*args)
        assert done.returncode == 129 and message in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "pwned").exists()
    assert run("script", "-i", "missing").returncode == 255


@pytest.mark.lab
@pytest.mark.root
def test_a_simulated_fleet_is_captured_by_fleetflame(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab(3, addr_base=88, fake_perf=True, load=0, layout="threads")
    assert oct(lab.fakeperf.stat().st_mode & 0o777) == "0o755"
    assert not str(lab.fakeperf).startswith(str(Path(__file__).parents[2]))  # not the checkout
    inventory = lab.write_inventory(tmp_path / "inv.yml")
    assert f"fleetflame_perf: {lab.fakeperf}" in inventory.read_text()
    done = subprocess.run([sys.executable, "-m", "fleetflame", "run", "all", "-i", str(inventory),
                           "--duration", "1", "--out", str(tmp_path / "out"), "--json"],
                          capture_output=True, text=True, timeout=240, env=lab.env())
    assert done.returncode == 0, done.stderr + done.stdout
    (folder,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    hosts = json.loads((folder / "manifest.json").read_text())["hosts"]
    fleet = folded.read_folded(folder / "fleet.folded")
    for name in lab.names:
        host = hosts[name]
        assert host["status"] == "ok" and host["samples"] == SAMPLES * len(host["tiles"]) == SAMPLES * sum(DEFAULT_TILES.values())
        assert host["perf_data_sha256"] and \
            (folder / "hosts" / name / "perf.data").stat().st_size == host["perf_data_bytes"]
        tiles = {s.split(";")[1] for s in fleet if s.startswith(name + ";")}
        assert tiles == {t["name"] for t in host["tiles"]}
    assert not [e for n in lab.names for e in lab.tmp_entries(n)]   # fleetflame cleaned up
