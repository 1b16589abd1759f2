"""One host, locally, with real perf: the whole pipeline of `fleetflame run` against the stand-in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

from fleetflame import folded
from fleetflame.standin import AGAVE_KINDS, DEFAULT_TILES, free_port, run_standin

from .conftest import need_root_and_perf

KIND_FUNCTION = re.compile(r"^([a-z]+)_")
SHARED_PREFIXES = ("fd_", "tile_")


def write_inventory(path: Path, metrics_url: str, **extra: str) -> Path:
    lines = [
        "all:",
        "  hosts:",
        "    localhost:",
        "      ansible_connection: local",
        f"      fleetflame_metrics_url: {metrics_url}",
    ]
    lines += [f"      {key}: {json.dumps(value)}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


CHECKOUT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")


def fleetflame(*args: str, user: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if not user:
        argv = [sys.executable, "-m", "fleetflame", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=cwd, env=env)
    # Another user may not be able to reach the checkout (a clone in a 0700 `mktemp -d` folder),
    # nor this interpreter (pyenv's lives under /root). So, in a mount namespace of its own that
    # ends with the command, the checkout is bind-mounted on a world-readable mount point, and
    # the system's Python 3 runs fleetflame and the venv's packages from there.
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is needed to run fleetflame as {user}")
    site = Path(sysconfig.get_paths()["purelib"]).relative_to(CHECKOUT)  # .venv is in the checkout
    with tempfile.TemporaryDirectory(prefix="fleetflame-checkout-") as mount_point:
        os.chmod(mount_point, 0o755)
        env["PYTHONPATH"] = f"{mount_point}:{mount_point}/{site}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        argv = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", 'mount --bind -- "$1" "$2" && shift 2 && exec "$@"', "sh", str(CHECKOUT), mount_point,
            "setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups",
            str(SYSTEM_PYTHON), "-m", "fleetflame", *args,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=cwd, env=env)


def capture_folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def kind_of(function: str) -> str | None:
    match = KIND_FUNCTION.match(function)
    if not match or function.startswith(SHARED_PREFIXES):
        return None
    return match[1]


@pytest.mark.root
@pytest.mark.parametrize("layout", ["threads", "processes"])
def test_capture_puts_each_tiles_functions_under_that_tile(standin_binary: Path, tmp_path: Path, layout: str) -> None:
    need_root_and_perf()
    with run_standin(standin_binary, layout=layout, metrics=f"127.0.0.1:{free_port()}", load=3) as standin:
        inventory = write_inventory(tmp_path / "local.yml", standin.metrics_url, fleetflame_tmpdir=str(tmp_path))
        done = fleetflame("run", "all", "-i", str(inventory), "--duration", "1.5", "-F", "999", "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    folder = capture_folder(tmp_path / "out")
    manifest = json.loads((folder / "manifest.json").read_text())
    host = manifest["hosts"]["localhost"]
    assert host["status"] == "ok" and host["error"] is None
    # one clock on both sides: the measured offset is within its own uncertainty (a real shell's `date`)
    assert abs(host["clock_offset_s"]) <= host["clock_uncertainty_s"] + 1e-6 < 0.5, host
    assert {t["name"] for t in host["tiles"]} >= {"net:0", "quic:0", "verify:0", "verify:1", "verify:2", "bank:0", "bank:1"}
    if layout == "processes":
        assert all(t["pid"] == t["tid"] for t in host["tiles"] if t["kind"] not in AGAVE_KINDS)

    fleet = folded.read_folded(folder / "fleet.folded")
    assert sum(fleet.values()) == host["samples"] > 0
    assert host["samples"] == host["perf_samples_reported"]
    seen_kinds: dict[str, set[str]] = {}
    for stack in fleet:
        hostname, tile, *frames = stack.split(";")
        assert hostname == "localhost"
        tile_kind = tile.split(":")[0]
        for function in frames:
            kind = kind_of(function)
            if kind in DEFAULT_TILES:
                assert kind == tile_kind, f"{function} found under tile {tile}"
                seen_kinds.setdefault(tile, set()).add(function)
    assert {t for t in seen_kinds} >= {"verify:0", "verify:1", "verify:2", "net:0", "bank:0"}

    per_host = folded.read_folded(folder / "hosts" / "localhost" / "stacks.folded")
    assert folded.with_prefix(per_host, "localhost") == fleet
    assert (folder / "hosts" / "localhost" / "perf.data").stat().st_size == host["perf_data_bytes"]
    for name in ("flamegraph.svg", "flamegraph.html", "hosts/localhost/flamegraph.svg"):
        assert (folder / name).stat().st_size > 1000
    assert not list(tmp_path.glob("fleetflame-*")), "the host's capture folder was not cleaned up"
    for key in ("id", "target", "started_at", "ended_at", "duration_s", "frequency_hz"):
        assert manifest[key] not in (None, "")


@pytest.mark.root
def test_agave_records_the_whole_process_including_non_tile_threads(standin_binary: Path, tmp_path: Path) -> None:
    need_root_and_perf()
    with run_standin(standin_binary, layout="processes", metrics=f"127.0.0.1:{free_port()}", load=3) as standin:
        inventory = write_inventory(tmp_path / "local.yml", standin.metrics_url)
        done = fleetflame("run", "agave", "-i", str(inventory), "--duration", "1.5", "-F", "999", "--out", str(tmp_path / "out"), "--json")
        agave_pid = standin.agave_pid()
    assert done.returncode == 0, done.stderr
    recap = json.loads(done.stdout)
    assert recap["hosts"][0]["tiles"] == ["agave"]
    folder = capture_folder(tmp_path / "out")
    tiles = json.loads((folder / "manifest.json").read_text())["hosts"]["localhost"]["tiles"]
    assert tiles == [{"name": "agave", "kind": "agave", "kind_id": None, "pid": agave_pid, "tid": None}]
    threads = {stack.split(";")[2] for stack in folded.read_folded(folder / "fleet.folded")}
    assert all(stack.startswith("localhost;agave;") for stack in folded.read_folded(folder / "fleet.folded"))
    assert {"bank:0", "bank:1"} <= threads
    assert threads - {"bank:0", "bank:1", "agave"}, f"no non-tile agave threads in {threads}"


@pytest.mark.root
def test_missing_and_dead_tiles_fail_the_host_naming_the_tile(standin_binary: Path, tmp_path: Path) -> None:
    """A tile named explicitly that is missing or dead fails the host; a glob skips the dead tile
    and names it (issue 14: before, the glob failed the host too)."""
    need_root_and_perf()
    with run_standin(standin_binary, metrics=f"127.0.0.1:{free_port()}", dead_tiles=["verify:1"], load=3) as standin:
        inventory = write_inventory(tmp_path / "local.yml", standin.metrics_url)
        missing = fleetflame("run", "verify:7", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "a"), "--json")
        dead = fleetflame("run", "verify:1", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "b"), "--json")
        glob = fleetflame("run", "verify:*", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "c"), "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["hosts"][0]["error"] == "tile verify:7 not found on localhost"
    assert dead.returncode == 1
    assert json.loads(dead.stdout)["hosts"][0]["error"].startswith("tile verify:1 (pid")
    assert "is not running on localhost" in json.loads(dead.stdout)["hosts"][0]["error"]
    assert glob.returncode == 0, glob.stderr
    row = json.loads(glob.stdout)["hosts"][0]
    assert row["tiles"] == ["verify:0", "verify:2"] and row["skipped_tiles"] == [{"tile": "verify:1", "reason": "not running"}]


@pytest.mark.root
def test_thread_names_are_the_fallback_when_metrics_do_not_answer(standin_binary: Path, tmp_path: Path) -> None:
    need_root_and_perf()
    with run_standin(standin_binary, no_metrics=True, load=3):
        inventory = write_inventory(tmp_path / "local.yml", f"http://127.0.0.1:{free_port()}/metrics")
        done = fleetflame("run", "verify:*,net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    host = json.loads((capture_folder(tmp_path / "out") / "manifest.json").read_text())["hosts"]["localhost"]
    assert host["tile_source"] == "proc"
    assert [t["name"] for t in host["tiles"]] == ["net:0", "verify:0", "verify:1", "verify:2"]


def test_unknown_target_word_is_refused_before_any_host(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "local.yml", "http://127.0.0.1:1/metrics")
    done = fleetflame("run", "verify:*,vrify:2", "-i", str(inventory), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown tile kind 'vrify' in target word 'vrify:2': did you mean 'verify'? use a Firedancer tile kind "
        "such as net, quic, verify, dedup, pack, bank, pohh, shred"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.root
def test_missing_perf_says_what_to_install(standin_binary: Path, tmp_path: Path) -> None:
    need_root_and_perf()
    with run_standin(standin_binary, metrics=f"127.0.0.1:{free_port()}", load=3) as standin:
        inventory = write_inventory(tmp_path / "local.yml", standin.metrics_url, fleetflame_perf="/opt/nowhere/perf")
        done = fleetflame("run", "net", "-i", str(inventory), "--duration", "1", "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 1
    error = json.loads(done.stdout)["hosts"][0]["error"]
    assert error.startswith("perf (/opt/nowhere/perf) is not installed on localhost: install linux-perf")


@pytest.mark.root
def test_user_without_perf_permission_is_told_how_to_get_it(standin_binary: Path, tmp_path: Path) -> None:
    need_root_and_perf()
    if int(Path("/proc/sys/kernel/perf_event_paranoid").read_text()) < 2:
        pytest.skip("perf_event_paranoid < 2: unprivileged users may record here")
    with tempfile.TemporaryDirectory(prefix="fleetflame-nobody-") as shared, run_standin(
        standin_binary, metrics=f"127.0.0.1:{free_port()}", load=3
    ) as standin:
        workdir = Path(shared)  # pytest's tmp_path sits under a 0700 folder that nobody cannot enter
        os.chmod(workdir, 0o1777)  # shared, sticky like /tmp: fleetflame refuses a folder others can swap entries of
        inventory = write_inventory(workdir / "local.yml", standin.metrics_url)
        os.chmod(inventory, 0o644)
        done = fleetflame("run", "net", "-i", str(inventory), "--duration", "1", "--out", str(workdir / "out"), "--json", user="nobody", cwd=workdir)
    assert done.returncode == 1, done.stderr
    error = json.loads(done.stdout)["hosts"][0]["error"]
    assert error.startswith("perf is not permitted to record on localhost: run as root, set ansible_become: true")


@pytest.mark.root
def test_demo_shows_a_fleet_whose_slow_host_skew_finds(tmp_path: Path) -> None:
    """`make demo` (issue 14, 16): three stand-in validators in the production layout (sandboxed
    tile processes) as three local inventory hosts; every tile has samples, at most 1 % of them
    lack a function name, and skew names the host whose verify tiles take the slow path, with the
    viewer link that shows it."""
    from fleetflame.demo import DEMO_HOSTS, SLOW_HOST, TILES

    need_root_and_perf()
    done = fleetflame("demo", "--duration", "3", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    graph = Path(lines[-1].removeprefix("flamegraph: "))
    assert graph.is_absolute() and graph.is_file()
    assert lines[-2] == f"capture folder: {graph.parent}"
    assert lines[-3].startswith(f"{SLOW_HOST}'s verify:") and f"file://{graph}#view=host-vs-rest&host={SLOW_HOST}&tile=verify%3A" in lines[-3]
    assert lines[-3].endswith("&fn=fd_slow_path_retry")
    stacks = folded.read_folded(graph.parent / "fleet.folded")
    assert folded.unnamed_share(stacks) <= 0.01
    tiles = {f"{k}:{i}" for k, n in TILES.items() for i in range(n)}
    assert {(s.split(";")[0], s.split(";")[1]) for s in stacks} == {(h, t) for h in DEMO_HOSTS for t in tiles}
    skew = json.loads((graph.parent / "skew.json").read_text())
    assert [f["host"] for f in skew["findings"] if f["function"] == "fd_slow_path_retry"] and \
        {f["host"] for f in skew["findings"]} == {SLOW_HOST}
