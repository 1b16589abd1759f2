"""The stand-in validator: layouts and the tile sandbox, names, the metrics page, failure modelling
(dead, exiting and booting tiles), legacy names, clean exit, frame pointers and what perf sees."""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .lab.procs import running
from fleetflame.standin import (
    AGAVE_KINDS, AGAVE_THREADS, BOOTING, DEFAULT_TILES, LEGACY_NAMES, RUNNING, SHUTDOWN,
    StandinProcess, build_standin, default_tiles, free_port, parse_tile_gauges, run_standin,
    standin_argv,
)

EXPECTED = {f"{kind}:{i}" for kind, n in DEFAULT_TILES.items() for i in range(n)}
LEGACY = {f"{kind}:{i}" for kind, n in default_tiles(legacy_names=True).items() for i in range(n)}
AGAVE_TILES = {name for name in EXPECTED if name.split(":")[0] in AGAVE_KINDS}


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_standin(tmp_path_factory.mktemp("standin-cache"))


def advertised(proc: StandinProcess) -> dict[str, tuple[int, int]]:
    return {name: (g["tile_pid"], g["tile_tid"]) for name, g in proc.tile_gauges().items()}


def alive(pid: int, tid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/task/{tid}")


def ns(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def status_fields(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


# Whether a process is dumpable, seen from outside without ptrace: kcmp(2) needs
# PTRACE_MODE_READ_REALCREDS access, which a non-dumpable target grants only to a caller with
# CAP_SYS_PTRACE (kernel/ptrace.c, __ptrace_may_access); every other check passes for a root
# caller that keeps its permitted set (same uid; for a target in a user namespace made by root,
# the namespace owner's rights). So a helper that drops CAP_SYS_PTRACE from its effective set
# only can kcmp a dumpable process of the stand-in and gets EPERM from a non-dumpable one.
KCMP = {"x86_64": 312, "aarch64": 272}
DUMPABLE_HELPER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
header, data = Header(0x20080522, 0), (Data * 2)()
assert libc.capget(ctypes.byref(header), data) == 0
data[0].effective &= ~(1 << 19)  # CAP_SYS_PTRACE
assert libc.capset(ctypes.byref(header), data) == 0
for pid in sys.argv[2:]:
    if libc.syscall(int(sys.argv[1]), os.getpid(), int(pid), 1, 0, 0) >= 0:  # KCMP_VM
        print(pid, "dumpable")
    else:
        print(pid, os.strerror(ctypes.get_errno()))
"""


def dumpable(pids: list[int]) -> dict[int, bool]:
    number = KCMP.get(platform.machine())
    if number is None or os.geteuid() != 0:
        pytest.skip("the dumpable check wants root on x86_64 or aarch64")
    out = subprocess.run([sys.executable, "-c", DUMPABLE_HELPER, str(number), *map(str, pids)],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    answers = dict(line.split(" ", 1) for line in out.splitlines())
    assert set(answers.values()) <= {"dumpable", os.strerror(1)}, answers  # EPERM only
    return {int(pid): answer == "dumpable" for pid, answer in answers.items()}


def test_build_is_cached(binary: Path) -> None:
    assert os.access(binary, os.X_OK)
    assert build_standin(binary.parent) == binary
    assert not [p for p in binary.parent.iterdir() if p.name.startswith(".")]


def test_default_tiles_are_todays_frankendancer() -> None:
    assert list(DEFAULT_TILES) == ["netlnk", "net", "quic", "verify", "dedup", "resolh", "pack",
                                   "bank", "pohh", "shred", "store", "sign", "metric", "diag",
                                   "plugin", "guih"]
    assert set(default_tiles(legacy_names=True)) == (set(DEFAULT_TILES) - set(LEGACY_NAMES)) | {
        "resolv", "poh", "gui"}
    argv = standin_argv(Path("/x/standin"))
    assert argv[1:3] == ["--layout", "processes"] and "--no-sandbox" not in argv
    argv = standin_argv(Path("/x/standin"), layout="threads", sandbox=False, legacy_names=True,
                        dead_tiles=["verify:1"], exit_tiles=["verify:2"], booting_tiles=["net:0"])
    assert argv[1:] == ["--layout", "threads", "--no-sandbox", "--legacy-names", "--dead-tile",
                        "verify:1", "--exit-tile", "verify:2", "--booting-tile", "net:0"]


def check_agave(proc: StandinProcess, tiles: dict[str, tuple[int, int]], agave_tiles: set[str]) -> int:
    """The agave process: the Agave-side tiles and Agave's own threads; dumpable, unsandboxed."""
    agave = proc.agave_pid()
    assert {tiles[name][0] for name in agave_tiles} == {agave}
    names = set(proc.threads()[agave].values())
    assert {"agave", *AGAVE_THREADS, *agave_tiles} <= names
    assert ns(agave, "mnt") == ns(proc.pid, "mnt") and ns(agave, "user") == ns(proc.pid, "user")
    assert "bin" in os.listdir(f"/proc/{agave}/root")
    return agave


def test_production_layout_sandboxes_each_tile_process(binary: Path) -> None:
    with run_standin(binary, load=2) as proc:
        if not proc.sandboxed():
            pytest.skip(f"this machine cannot sandbox the tiles: {proc.log().strip()}")
        tiles = proc.tiles()
        assert set(tiles) == EXPECTED
        assert advertised(proc) == tiles
        assert {g["tile_status"] for g in proc.tile_gauges().values()} == {RUNNING}
        threads = proc.threads()
        assert threads[proc.pid][proc.pid] == "fdctl"
        agave = check_agave(proc, tiles, AGAVE_TILES)
        processes = {pid for name, (pid, _) in tiles.items() if name not in AGAVE_TILES}
        user_ns = "user namespaces: yes" in proc.log()
        for name, (pid, tid) in tiles.items():
            if name in AGAVE_TILES:
                continue
            assert pid == tid != proc.pid
            assert threads[pid] == {pid: name}  # a single-threaded process of its own
            # fd_sandbox: namespaces of its own, root an empty folder, no capabilities
            assert ns(pid, "mnt") not in (ns(proc.pid, "mnt"), ns(agave, "mnt"))
            assert (ns(pid, "user") != ns(proc.pid, "user")) == user_ns
            assert os.listdir(f"/proc/{pid}/root") == []
            fields = status_fields(pid)
            assert fields["NoNewPrivs"] == "1" and int(fields["CapEff"], 16) == int(fields["CapBnd"], 16) == 0
        assert len({ns(pid, "mnt") for pid in processes}) == len(processes)
        seen = dumpable([proc.pid, agave, *sorted(processes)])
        assert seen.pop(proc.pid) and seen.pop(agave)
        assert not any(seen.values()), seen


def test_no_sandbox_keeps_the_processes_dumpable_in_the_hosts_namespaces(binary: Path) -> None:
    with run_standin(binary, sandbox=False, load=1) as proc:
        assert not proc.sandboxed() and "sandbox disabled" in proc.log()
        tiles = proc.tiles()
        assert set(tiles) == EXPECTED
        agave = check_agave(proc, tiles, AGAVE_TILES)
        processes = sorted({pid for name, (pid, _) in tiles.items() if name not in AGAVE_TILES})
        for pid in processes:
            assert tiles[proc.threads()[pid][pid]] == (pid, pid)
            assert ns(pid, "mnt") == ns(proc.pid, "mnt")
            assert "bin" in os.listdir(f"/proc/{pid}/root")
        assert all(dumpable([agave, *processes]).values())


def test_development_layout_runs_tiles_as_threads_of_the_main_process(binary: Path) -> None:
    with run_standin(binary, layout="threads", load=2) as proc:
        tiles = proc.tiles()
        assert set(tiles) == EXPECTED
        assert advertised(proc) == tiles
        assert proc.threads()[proc.pid][proc.pid] == "fdctl"
        check_agave(proc, tiles, AGAVE_TILES)
        for name, (pid, tid) in tiles.items():
            if name not in AGAVE_TILES:
                assert pid == proc.pid != tid
        assert proc.pids() == [proc.pid, proc.agave_pid()]


def http(url: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    """One request, read to the end: status line, headers, body."""
    host, _, rest = url.removeprefix("http://").partition("/")
    addr, port = host.rsplit(":", 1)
    with socket.create_connection((addr, int(port)), timeout=5) as s:
        s.sendall(f"{method} /{rest} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    return status, dict(line.split(": ", 1) for line in lines), body


SERIES = re.compile(r'^([a-z_]+)\{kind="([a-z]+)",kind_id="(\d+)"((?:,[a-z_]+="[^"]*")*)\} (\S+)$')


def metric_blocks(body: str) -> dict[str, tuple[str, list[re.Match[str]]]]:
    """The page as fd_prometheus.c writes it: blocks separated by one blank line, each
    `# HELP name desc`, `# TYPE name type`, then its series; name -> (type, series)."""
    assert body.endswith("\n") and not body.endswith("\n\n") and "\n\n\n" not in body
    blocks: dict[str, tuple[str, list[re.Match[str]]]] = {}
    for block in body[:-1].split("\n\n"):
        help_line, type_line, *lines = block.split("\n")
        _, _, name, desc = help_line.split(" ", 3)
        assert help_line.startswith("# HELP ") and desc
        assert type_line.startswith(f"# TYPE {name} ")
        kind = type_line.split(" ")[3]
        assert kind in ("gauge", "counter", "histogram") and name not in blocks
        series = [SERIES.match(line) for line in lines]
        assert lines and all(series), (name, [ln for ln, m in zip(lines, series) if not m])
        names = {m[1] for m in series if m}
        expect = {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
        assert names <= expect, (name, names)
        blocks[name] = (kind, [m for m in series if m])
    return blocks


def test_metrics_page_is_in_firedancers_format(binary: Path) -> None:
    with run_standin(binary, load=5) as proc:
        assert proc.metrics_url is not None
        time.sleep(0.3)  # a few periods of histogram samples
        status, headers, raw = http(proc.metrics_url)
        assert status == "HTTP/1.1 200 OK"
        assert headers["Connection"] == "close"
        assert headers["Content-Type"] == "text/plain; version=0.0.4"
        assert int(headers["Content-Length"]) == len(raw)
        blocks = metric_blocks(raw.decode())

        assert len(blocks) >= 40 and raw.count(b"\n") >= 800  # realistic: a lot around the tile gauges
        assert list(blocks)[:2] == ["tile_pid", "tile_tid"]  # FD_METRICS_ALL's order
        for gauge in ("tile_pid", "tile_tid", "tile_status"):
            kind, series = blocks[gauge]
            assert kind == "gauge"
            assert [f"{m[2]}:{m[3]}" for m in series] == sorted(EXPECTED, key=lambda n: [
                *DEFAULT_TILES].index(n.split(":")[0]) * 100 + int(n.split(":")[1]))
        counters = [name for name, (kind, _) in blocks.items() if kind == "counter"]
        assert counters and all(name.endswith("_total") for name in counters)
        assert "tile_context_switch_involuntary_total" in blocks

        _, regimes = blocks["tile_regime_duration_nanos_total"]  # an enum metric
        assert {m[4].split('"')[1] for m in regimes} >= {"caught_up_housekeeping", "processing_postfrag"}
        assert len(regimes) == 8 * len(EXPECTED)
        _, links = blocks["link_frag_consumed_total"]
        assert all(m[4].startswith(',link_kind="') and ',link_kind_id="' in m[4] for m in links)

        kind, hist = blocks["pack_schedule_microblock_duration_seconds"]
        assert kind == "histogram"
        buckets = [m for m in hist if m[1].endswith("_bucket")]
        les = [m[4].split('"')[1] for m in buckets]
        assert len(buckets) == 16 and les[-1] == "+Inf"
        assert [float(x) for x in les[:-1]] == sorted(float(x) for x in les[:-1])
        counts = [int(m[5]) for m in buckets]
        assert counts == sorted(counts) and counts[-1] > 0
        (total,) = [int(m[5]) for m in hist if m[1].endswith("_count")]
        (seconds,) = [float(m[5]) for m in hist if m[1].endswith("_sum")]
        assert total == counts[-1] and seconds > 0

        assert http(proc.metrics_url.replace("/metrics", "/nope"))[0] == "HTTP/1.1 404 Not Found"
        assert http(proc.metrics_url + "?x=1")[0] == "HTTP/1.1 404 Not Found"  # as fd_http_server
        status, headers, raw = http(proc.metrics_url, "POST")
        assert status == "HTTP/1.1 400 Bad Request" and headers["Content-Length"] == "0"


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("layout", ["processes", "threads"])
def test_exiting_and_booting_tiles(binary: Path, layout: str) -> None:
    exiting, booting = ("verify:1", "bank:1"), ("verify:2", "pohh:0")
    with run_standin(binary, layout=layout, load=1, exit_tiles=exiting, booting_tiles=booting) as proc:
        first = proc.tile_gauges()
        for name in booting:
            assert first[name] == {"tile_pid": 0, "tile_tid": 0, "tile_status": BOOTING}
            assert name not in proc.tiles()
        for name in exiting:
            assert first[name]["tile_pid"] > 0
        wait_for(lambda: all(proc.tile_gauges()[n]["tile_status"] == SHUTDOWN for n in exiting))
        gauges = proc.tile_gauges()
        for name in exiting:  # stale pid and tid, as the metrics of a shut-down tile keep them
            assert (gauges[name]["tile_pid"], gauges[name]["tile_tid"]) == (
                first[name]["tile_pid"], first[name]["tile_tid"])
            pid, tid = gauges[name]["tile_pid"], gauges[name]["tile_tid"]
            wait_for(lambda: not alive(pid, tid))  # noqa: B023 (called at once)
            assert name not in proc.tiles()
        assert gauges["verify:2"]["tile_status"] == BOOTING
        others = EXPECTED - set(exiting) - set(booting)
        assert {gauges[name]["tile_status"] for name in others} == {RUNNING}
        assert set(proc.tiles()) == others
        if layout == "processes":  # reaped, as run.c reaps a tile that may shut down
            wait_for(lambda: "tile verify:1 exited gracefully with code 0" in proc.log())
        assert proc.popen.poll() is None


def test_custom_tiles_and_no_metrics(binary: Path) -> None:
    with run_standin(binary, tiles={"net": 2, "verify": 4, "bank": 1}, no_metrics=True,
                     load=1) as proc:
        assert proc.metrics_url is None
        assert set(proc.tiles()) == {"net:0", "net:1", "verify:0", "verify:1", "verify:2",
                                     "verify:3", "bank:0"}


@pytest.mark.parametrize("layout", ["threads", "processes"])
def test_dead_tiles(binary: Path, layout: str) -> None:
    with run_standin(binary, layout=layout, dead_tiles=("verify:1", "bank:1"), load=1) as proc:
        gauges = proc.tile_gauges()
        ads = advertised(proc)
        assert set(ads) == EXPECTED  # still advertised ...
        for name in ("verify:1", "bank:1"):
            assert not alive(*ads[name])  # ... but gone
            assert name not in proc.tiles()
            assert gauges[name]["tile_status"] == RUNNING  # nothing told the metrics
        assert alive(*ads["verify:0"]) and alive(*ads["bank:0"])


def test_legacy_names(binary: Path) -> None:
    """An older Frankendancer: resolv, poh and gui (resolv and poh Agave-side), metric names
    from before "metrics: normalize naming scheme"."""
    with run_standin(binary, legacy_names=True, load=1, exit_tiles=["pohh:0"]) as proc:
        tiles = proc.tiles()
        assert set(tiles) | {"poh:0"} == LEGACY and "pohh:0" not in tiles
        check_agave(proc, tiles, {"resolv:0", "bank:0", "bank:1", "store:0"})
        assert tiles["gui:0"][0] == tiles["gui:0"][1] != proc.agave_pid()
        blocks = metric_blocks(proc.metrics_text())
        assert {f"{m[2]}:{m[3]}" for m in blocks["tile_status"][1]} == LEGACY
        assert blocks["tile_context_switch_involuntary_count"][0] == "counter"
        assert "tile_context_switch_involuntary_total" not in blocks and "tile_heartbeat" in blocks
        assert "link_consumed_count" in blocks and "poh_begin_leader_delay_seconds" in blocks
        assert {m[4] for m in blocks["link_consumed_count"][1] if m[2] == "pack"} >= {
            ',link_kind="resolv_pack",link_kind_id="0"', ',link_kind="poh_pack",link_kind_id="0"'}


def test_bad_arguments(binary: Path) -> None:
    for args in (["--tiles", "nosuch:1"], ["--dead-tile", "verify:9"], ["--layout", "x"],
                 ["--exit-tile", "verify:9"], ["--booting-tile", "nosuch:0"],
                 ["--exit-tile", "net:0", "--booting-tile", "net:0"],
                 ["--busy", "verify"], ["--busy", "nosuch:5"], ["--busy", "verify:150"]):
        res = subprocess.run([str(binary), "--no-metrics", *args], capture_output=True,
                             text=True, timeout=10)
        assert res.returncode == 2 and res.stderr.startswith("standin:"), res


def test_extra_path_window_is_validated(binary: Path) -> None:
    """--extra-path-window MOD:LO:HI: whole seconds, 1 <= MOD <= 86400, 0 <= LO <= HI < MOD, and
    only beside --extra-path; anything else is one line naming the option, exit 2."""
    argv = standin_argv(Path("/x/standin"), extra_path="verify", extra_path_window="10:3:4")
    assert argv[-4:] == ["--extra-path", "verify", "--extra-path-window", "10:3:4"]
    assert "--extra-path-window" not in standin_argv(Path("/x/standin"), extra_path="verify")
    run = ["--no-metrics", "--layout", "threads", "--tiles", "verify:1", "--load", "1"]
    for window in ("10:3", "10:3:4:5", "10:4:3", "10:3:10", "0:0:0", "86401:0:0", "10:-1:3", "10:+3:4",
                   "10:3:4x", " 10:3:4", "10:3.5:4", "x:1:2", "", "::", "1000000000:0:0"):
        res = subprocess.run([str(binary), *run, "--extra-path", "verify", "--extra-path-window", window],
                             capture_output=True, text=True, timeout=10)
        assert res.returncode == 2, (window, res)
        assert res.stderr.startswith(f"standin: --extra-path-window {window}: want MOD:LO:HI"), res.stderr
    res = subprocess.run([str(binary), *run, "--extra-path-window", "10:3:4"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 2 and res.stderr == "standin: --extra-path-window needs --extra-path KIND\n", res
    res = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=10)
    assert res.returncode == 2 and "--extra-path-window MOD:LO:HI" in res.stderr
    for window in ("10:3:4", "1:0:0", "86400:0:86399", "60:59:59"):
        res = subprocess.run([str(binary), *run, "--extra-path", "verify", "--extra-path-window", window,
                              "--duration", "0.05"], capture_output=True, text=True, timeout=10)
        assert res.returncode == 0, (window, res)


def gone(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(running(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_cleans_everything(binary: Path, sig: int) -> None:
    with run_standin(binary, load=1) as proc:
        pids = proc.pids()
        assert len(pids) == len(EXPECTED) - len(AGAVE_TILES) + 2  # tile processes, agave, main
        proc.popen.send_signal(sig)
        assert proc.popen.wait(5) == 0
        assert gone(pids)
        assert not proc.pidfile.exists()


def test_children_die_with_killed_main(binary: Path) -> None:
    with run_standin(binary, load=1) as proc:
        pids = proc.pids()
        proc.popen.kill()
        proc.popen.wait(5)
        assert gone(pids)


def test_duration(binary: Path) -> None:
    argv = standin_argv(binary, no_metrics=True, load=1, extra_args=["--duration", "0.3"])
    start = time.monotonic()
    assert subprocess.run(argv, timeout=10, capture_output=True).returncode == 0
    assert time.monotonic() - start < 3


@contextmanager
def wrapped(binary: Path, tmp_path: Path, prefix: list[str], *, metrics: str) -> Iterator[
        subprocess.Popen[str]]:
    """The stand-in under `prefix` (unshare ...), ready (its pidfile written), then stopped."""
    pidfile = tmp_path / "standin.pid"
    argv = standin_argv(binary, metrics=metrics, load=1, pidfile=pidfile)
    proc = subprocess.Popen([*prefix, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for(lambda: pidfile.exists() or proc.poll() is not None, timeout=10)
        assert proc.poll() is None, proc.communicate()[0]
        yield proc
    finally:
        proc.kill()  # unshare --fork ignores SIGTERM; --kill-child and PR_SET_PDEATHSIG do the rest
        proc.wait(10)


def need_unshare() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1)")


@pytest.mark.root
def test_sandbox_works_in_a_lab_hosts_pid_and_mount_namespace(binary: Path, tmp_path: Path) -> None:
    need_unshare()
    metrics = f"127.0.0.1:{free_port()}"
    lab_host = ["unshare", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child"]
    with wrapped(binary, tmp_path, lab_host, metrics=metrics) as proc:
        gauges = parse_tile_gauges(fetch(metrics))
        assert set(gauges) == EXPECTED
        assert {g["tile_status"] for g in gauges.values()} == {RUNNING}
    out = proc.communicate()[0]
    assert "full sandbox is being enabled" in out, out


@pytest.mark.root
def test_without_user_namespaces_the_sandbox_does_without_them(binary: Path, tmp_path: Path) -> None:
    """Silently: no user namespace to be had (here: max_user_namespaces 0 in the namespace the
    stand-in runs in), the rest of the sandbox on the process's own CAP_SYS_ADMIN."""
    need_unshare()
    metrics = f"127.0.0.1:{free_port()}"
    no_userns = ["unshare", "--user", "--map-root-user", "--", "sh", "-c",
                 'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"', "sh"]
    with wrapped(binary, tmp_path, no_userns, metrics=metrics) as proc:
        main = int((tmp_path / "standin.pid").read_text())
        gauges = parse_tile_gauges(fetch(metrics))
        pid = gauges["verify:0"]["tile_pid"]
        assert ns(pid, "user") == ns(main, "user") and ns(pid, "mnt") != ns(main, "mnt")
        assert os.listdir(f"/proc/{pid}/root") == []
    out = proc.communicate()[0]
    assert "full sandbox is being enabled (user namespaces: no)" in out, out


@pytest.mark.root
def test_without_the_privilege_to_sandbox_it_runs_unsandboxed_and_says_so(binary: Path,
                                                                          tmp_path: Path) -> None:
    need_unshare()
    metrics = f"127.0.0.1:{free_port()}"
    no_privilege = ["unshare", "--user", "--map-root-user", "--", "sh", "-c",
                    'echo 0 >/proc/sys/user/max_user_namespaces && exec "$@"', "sh",
                    "setpriv", "--bounding-set", "-sys_admin", "--"]
    with wrapped(binary, tmp_path, no_privilege, metrics=metrics) as proc:
        main = int((tmp_path / "standin.pid").read_text())
        gauges = parse_tile_gauges(fetch(metrics))
        assert set(gauges) == EXPECTED
        pid = gauges["verify:0"]["tile_pid"]
        assert gauges["verify:0"]["tile_tid"] == pid and ns(pid, "mnt") == ns(main, "mnt")
    out = proc.communicate()[0]
    assert re.search(r"cannot sandbox the tiles \(unshare\(CLONE_NEWNS.*\): running them unsandboxed", out), out


def fetch(metrics: str) -> str:
    return http(f"http://{metrics}/metrics")[2].decode()


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


def need_perf() -> str:
    if os.geteuid() != 0:
        pytest.skip("needs root: perf on another process (perf_event_paranoid)")
    perf = shutil.which("perf")
    if perf is None:
        pytest.skip("perf is not installed")
    return perf


# Agave's threads: their prefix and their entry function (standin.c)
SOL = {"solRpcSvc": ("sol_rpc", "sol_rpc_service"), "solGossip": ("sol_gossip", "sol_gossip_service"),
       "solRepairSvc": ("sol_repair", "sol_repair_service"), "solReplayStg": ("sol_replay", "sol_replay_stage")}
ENTRIES = {entry for _, entry in SOL.values()}


@pytest.mark.root
@pytest.mark.parametrize("layout", ["threads", "processes"])
def test_perf_sees_each_kind_in_its_own_threads(binary: Path, tmp_path: Path, layout: str) -> None:
    """Frame pointers all the way (leaf functions too), each kind's functions only in its own
    threads. perf script runs once the stand-in has stopped (see the next test for why)."""
    perf = need_perf()
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
    assert set(SOL) == set(AGAVE_THREADS)
    for name in EXPECTED | set(AGAVE_THREADS):
        kind, entry = SOL.get(name) or (name.split(":")[0], name.split(":")[0] + "_tile_run")
        loop = "sol_thread_loop" if name in SOL else "fd_stem_run"
        frames = seen.get(name, set())
        # the whole chain, so frame pointers work through leaf functions
        chain = {f for f in frames if f.startswith(kind + "_")}
        assert len(chain) == 3 and entry in chain, (name, sorted(frames))
        assert loop in frames
        entries = {f for f in frames if f.endswith("_tile_run") or f in ENTRIES}
        assert entries == {entry}, (name, entries)


@pytest.mark.root
def test_perf_cannot_symbolize_a_running_sandboxed_tile_with_cap_sys_admin(binary: Path,
                                                                          tmp_path: Path) -> None:
    """What the sandbox does to perf, as on a production host: while the tile runs, `perf script`
    with CAP_SYS_ADMIN enters the tile's mount namespace to read its binary, finds an empty root
    and prints [unknown]; without CAP_SYS_ADMIN (setns fails) it reads the binary from its own
    namespace and names every frame. (perf 6.1; a perf that falls back by itself fails this.)"""
    perf = need_perf()
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv(1)")
    data = tmp_path / "perf.data"
    with run_standin(binary, load=20) as proc:
        if not proc.sandboxed():
            pytest.skip(f"this machine cannot sandbox the tiles: {proc.log().strip()}")
        tid = proc.tile_gauges()["verify:0"]["tile_tid"]
        # user-space samples only: perf script then reads no kallsyms (seconds on some machines)
        subprocess.run([perf, "record", "-q", "-e", "cpu-clock:u", "-F", "499", "-g", "-t", str(tid),
                        "-o", str(data), "--", "sleep", "1"], check=True, capture_output=True, timeout=60)

        def frames(prefix: list[str]) -> list[str]:
            script = subprocess.run([*prefix, perf, "script", "-i", str(data)], check=True,
                                    capture_output=True, text=True, timeout=60).stdout
            return [f for comm, stack in perf_samples(script) if comm == "verify:0" for f in stack]

        as_root = frames([])
        without_sys_admin = frames(["setpriv", "--bounding-set", "-sys_admin"])
    assert as_root and set(as_root) == {"[unknown]"}, set(as_root)
    assert {"verify_sha512_block", "verify_sigverify_batch", "fd_stem_run",
            "verify_tile_run"} <= set(without_sys_admin)
