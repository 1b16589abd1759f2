"""The stand-in validator: names, metrics, layouts, failure modelling, clean exit, frame pointers."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .lab.procs import running
from fleetflame.standin import (
    DEFAULT_TILES, StandinProcess, build_standin, run_standin, standin_argv,
)

EXPECTED = {f"{kind}:{i}" for kind, n in DEFAULT_TILES.items() for i in range(n)}
METRIC = re.compile(r'^(tile_pid|tile_tid)\{kind="(\w+)",kind_id="(\d+)"\} (\d+)$', re.M)


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_standin(tmp_path_factory.mktemp("standin-cache"))


def advertised(proc: StandinProcess) -> dict[str, tuple[int, int]]:
    values: dict[str, dict[str, int]] = {}
    for metric, kind, idx, value in METRIC.findall(proc.metrics_text()):
        values.setdefault(f"{kind}:{idx}", {})[metric] = int(value)
    return {name: (v["tile_pid"], v["tile_tid"]) for name, v in values.items()}


def alive(pid: int, tid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/task/{tid}")


def test_build_is_cached(binary: Path) -> None:
    assert os.access(binary, os.X_OK)
    assert build_standin(binary.parent) == binary
    assert not [p for p in binary.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("layout", ["threads", "processes"])
def test_tiles_named_and_advertised(binary: Path, layout: str) -> None:
    with run_standin(binary, layout=layout, load=2) as proc:
        tiles = proc.tiles()
        assert set(tiles) == EXPECTED
        assert advertised(proc) == tiles
        agave = proc.agave_pid()
        threads = proc.threads()
        assert threads[proc.pid][proc.pid] == "fdctl"
        assert {tiles["bank:0"][0], tiles["bank:1"][0]} == {agave}
        agave_names = set(threads[agave].values())
        assert {"agave", "solRpcSvc", "solGossip", "bank:0", "bank:1"} <= agave_names
        for name, (pid, tid) in tiles.items():
            if name.startswith("bank:"):
                continue
            if layout == "processes":
                assert pid == tid != proc.pid
                assert list(threads[pid]) == [pid]  # single-threaded tile process
            else:
                assert pid == proc.pid != tid


def test_metrics_http(binary: Path) -> None:
    import urllib.error
    import urllib.request
    with run_standin(binary, load=1) as proc:
        text = proc.metrics_text()
        assert "# TYPE tile_pid gauge" in text and "# TYPE tile_tid gauge" in text
        assert 'tile_tid{kind="verify",kind_id="2"}' in text
        base = proc.metrics_url.rsplit("/", 1)[0]  # type: ignore[union-attr]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/nope", timeout=5)
        assert err.value.code == 404
        with urllib.request.urlopen(proc.metrics_url + "?x=1", timeout=5) as resp:  # type: ignore[operator]
            assert resp.headers["Content-Type"].startswith("text/plain")


def test_custom_tiles_and_no_metrics(binary: Path) -> None:
    with run_standin(binary, tiles={"net": 2, "verify": 4, "bank": 1}, no_metrics=True,
                     load=1) as proc:
        assert proc.metrics_url is None
        assert set(proc.tiles()) == {"net:0", "net:1", "verify:0", "verify:1", "verify:2",
                                     "verify:3", "bank:0"}


@pytest.mark.parametrize("layout", ["threads", "processes"])
def test_dead_tiles(binary: Path, layout: str) -> None:
    with run_standin(binary, layout=layout, dead_tiles=("verify:1", "bank:1"), load=1) as proc:
        ads = advertised(proc)
        assert set(ads) == EXPECTED  # still advertised ...
        for name in ("verify:1", "bank:1"):
            assert not alive(*ads[name])  # ... but gone
            assert name not in proc.tiles()
        assert alive(*ads["verify:0"]) and alive(*ads["bank:0"])


def test_bad_arguments(binary: Path) -> None:
    for args in (["--tiles", "nosuch:1"], ["--dead-tile", "verify:9"], ["--layout", "x"]):
        res = subprocess.run([str(binary), "--no-metrics", *args], capture_output=True,
                             text=True, timeout=10)
        assert res.returncode == 2 and res.stderr.startswith("standin:"), res


def gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_cleans_everything(binary: Path, sig: int) -> None:
    with run_standin(binary, layout="processes", load=1) as proc:
        pids = proc.pids()
        assert len(pids) == len(EXPECTED) - 2 + 2  # tiles without banks, agave, main
        proc.popen.send_signal(sig)
        assert proc.popen.wait(5) == 0
        assert gone(pids)
        assert not proc.pidfile.exists()


def test_children_die_with_killed_main(binary: Path) -> None:
    with run_standin(binary, layout="processes", load=1) as proc:
        pids = proc.pids()
        proc.popen.kill()
        proc.popen.wait(5)
        assert gone(pids)


def test_duration(binary: Path, tmp_path: Path) -> None:
    argv = standin_argv(binary, no_metrics=True, load=1, extra_args=["--duration", "0.3"])
    start = time.monotonic()
    assert subprocess.run(argv, timeout=10).returncode == 0
    assert time.monotonic() - start < 3


FRAME = re.compile(r"^\s+[0-9a-f]+ (\S+?)(?:\+0x[0-9a-f]+)? \(")


def perf_samples(script: str) -> list[tuple[str, list[str]]]:
    """(comm, frames leaf first) per sample of `perf script` output."""
    samples: list[tuple[str, list[str]]] = []
    for block in script.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        comm = re.split(r"\s+\d+(?:/\d+)?\s+", lines[0].strip(), maxsplit=1)[0]
        samples.append((comm, [m.group(1) for ln in lines[1:] if (m := FRAME.match(ln))]))
    return samples


@pytest.mark.root
@pytest.mark.parametrize("layout", ["threads", "processes"])
def test_perf_sees_each_kind_in_its_own_threads(binary: Path, tmp_path: Path, layout: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: perf on another process (perf_event_paranoid)")
    perf = shutil.which("perf")
    if perf is None:
        pytest.skip("perf is not installed")
    data = tmp_path / "perf.data"
    with run_standin(binary, layout=layout, load=10) as proc:
        pids = ",".join(map(str, proc.pids()))
        subprocess.run([perf, "record", "-q", "-F", "499", "-g", "-o", str(data), "-p", pids,
                        "--", "sleep", "1"], check=True, capture_output=True, timeout=30)
    script = subprocess.run([perf, "script", "-i", str(data)], check=True,
                            capture_output=True, text=True, timeout=60).stdout
    seen: dict[str, set[str]] = {}
    for comm, stack in perf_samples(script):
        seen.setdefault(comm, set()).update(stack)
    for name in EXPECTED | {"solRpcSvc", "solGossip"}:
        kind = name.split(":")[0] if ":" in name else {"solRpcSvc": "agave_rpc",
                                                       "solGossip": "agave_gossip"}[name]
        frames = seen.get(name, set())
        # the whole chain, so frame pointers work through leaf functions
        chain = {f for f in frames if f.startswith(kind + "_")}
        assert len(chain) == 3, (name, sorted(frames))
        assert "fd_stem_run" in frames
        others = {f.split("_")[0] for f in frames if f.endswith("_tile_run")} - {kind}
        assert not others, (name, others)
