"""The stand-in validator: a small C program modelling a Frankendancer host, for tests and the demo.

`build_standin()` compiles `standin.c` (cached by a hash of source and flags);
`run_standin()` starts it and stops it again, also when the body raises.

Layouts (standin.c's header says what each models, after which Firedancer file):
* "processes" (default, production): every non-Agave tile a sandboxed process of its own
  (pid == tid, a mount namespace of its own, user namespaces where the machine allows them,
  root an empty tmpfs, not dumpable);
  `sandbox=False` keeps the processes without the sandbox;
* "threads" (development): every non-Agave tile a thread of the main process, unsandboxed.
In both, the Agave-side tiles (AGAVE_KINDS) are threads of the "agave" process, with Agave's
own threads (AGAVE_THREADS).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

SOURCE = Path(__file__).with_name("standin.c")
CFLAGS = (
    "-std=c11", "-O1", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer",
    "-fno-optimize-sibling-calls", "-fno-ipa-icf", "-pthread",
)
LDLIBS = ("-lm",)
# Today's Frankendancer topology (src/app/fdctl/topology.c), in its order; the verify and bank
# counts are a choice.
DEFAULT_TILES = {
    "netlnk": 1, "net": 1, "quic": 1, "verify": 3, "dedup": 1, "resolh": 1, "pack": 1, "bank": 2,
    "pohh": 1, "shred": 1, "store": 1, "sign": 1, "metric": 1, "diag": 1, "plugin": 1, "guih": 1,
}
# `legacy_names=True`: the names before Firedancer's 2026-01 renames (and its older metric names).
LEGACY_NAMES = {"resolh": "resolv", "pohh": "poh", "guih": "gui"}
# Tiles that are threads of the agave process (is_agave in topology.c), and Agave's own threads.
AGAVE_KINDS = frozenset({"resolh", "bank", "pohh", "store", "resolv", "poh"})
AGAVE_THREADS = ("solRpcSvc", "solGossip", "solRepairSvc", "solReplayStg")
TILE_NAME = re.compile(r"^([a-z]+):(\d+)$")
# tile_status values (src/disco/metrics/generated/fd_metrics_all.h)
BOOTING, RUNNING, SHUTDOWN = 0, 1, 2
_GAUGE = re.compile(r'^(tile_pid|tile_tid|tile_status)\{kind="([a-z0-9_]+)",kind_id="(\d+)"\} (\d+)$', re.M)


class StandinError(RuntimeError):
    """The stand-in could not be built or started."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fleetflame"


def build_standin(cache_dir: Path | None = None) -> Path:
    """Compile the stand-in (once per source+flags) and return the binary's path."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise StandinError("gcc not found: the stand-in validator is built from C "
                           "(apt-get install -y gcc)")
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + "\0".join(CFLAGS + LDLIBS).encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    binary = cache / f"standin-{digest}"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".standin-{digest}.", dir=cache)
    os.close(fd)
    try:
        proc = subprocess.run([gcc, *CFLAGS, "-o", tmp, str(SOURCE), *LDLIBS],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise StandinError(f"compiling {SOURCE} failed:\n{proc.stderr.strip()}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary


def tiles_arg(tiles: dict[str, int] | str) -> str:
    """`{"verify": 3, "bank": 2}` -> `verify:3,bank:2` (a string passes through)."""
    if isinstance(tiles, str):
        return tiles
    return ",".join(f"{kind}:{count}" for kind, count in tiles.items())


def default_tiles(legacy_names: bool = False) -> dict[str, int]:
    """The tiles the stand-in runs when given none (`DEFAULT_TILES`, or its legacy names)."""
    if not legacy_names:
        return dict(DEFAULT_TILES)
    return {LEGACY_NAMES.get(kind, kind): count for kind, count in DEFAULT_TILES.items()}


def standin_argv(binary: Path, *, layout: str = "processes", metrics: str | None = None,
                 tiles: dict[str, int] | str | None = None, load: float | None = None,
                 dead_tiles: Sequence[str] = (), no_metrics: bool = False,
                 pidfile: Path | None = None, extra_path: str | None = None,
                 extra_path_window: str | None = None, sandbox: bool = True,
                 legacy_names: bool = False,
                 exit_tiles: Sequence[str] = (), booting_tiles: Sequence[str] = (),
                 extra_args: Sequence[str] = ()) -> list[str]:
    """The stand-in's command line.

    `extra_path` (a tile kind) makes that kind's tiles also spend a third of their time in
    `fd_slow_path_retry`, a function no other tile runs; `extra_path_window` ("MOD:LO:HI", with
    `extra_path`) only while the wall-clock second (CLOCK_REALTIME) modulo MOD is in LO..HI:
    "10:3:4" from second 3.000 to 4.999 of every ten. `sandbox=False` runs the processes
    layout's tiles unsandboxed. `legacy_names` uses resolv, poh and gui for resolh, pohh and
    guih (in `tiles` too) and the older metric names. `dead_tiles` ("verify:1") are advertised,
    then gone; `exit_tiles` run about a second, then shut down (tile_status 2, stale pid/tid);
    `booting_tiles` are advertised with tile_status 0, pid 0 and tid 0 and never start.
    """
    argv = [str(binary), "--layout", layout]
    if not sandbox:
        argv.append("--no-sandbox")
    if legacy_names:
        argv.append("--legacy-names")
    if tiles is not None:
        argv += ["--tiles", tiles_arg(tiles)]
    if load is not None:
        argv += ["--load", str(load)]
    if no_metrics:
        argv.append("--no-metrics")
    elif metrics is not None:
        argv += ["--metrics", metrics]
    for option, names in (("--dead-tile", dead_tiles), ("--exit-tile", exit_tiles),
                          ("--booting-tile", booting_tiles)):
        for tile in names:
            argv += [option, tile]
    if pidfile is not None:
        argv += ["--pidfile", str(pidfile)]
    if extra_path is not None:
        argv += ["--extra-path", extra_path]
    if extra_path_window is not None:
        argv += ["--extra-path-window", extra_path_window]
    return argv + list(extra_args)


def parse_tile_gauges(text: str) -> dict[str, dict[str, int]]:
    """`tile_pid` / `tile_tid` / `tile_status` of a metrics page: {"verify:0": {"tile_pid": ...}}."""
    values: dict[str, dict[str, int]] = {}
    for metric, kind, idx, value in _GAUGE.findall(text):
        values.setdefault(f"{kind}:{int(idx)}", {})[metric] = int(value)
    return values


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            kids += [int(p) for p in text.split()]
    except OSError:
        pass
    return kids


def _comm(pid: int, tid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/task/{tid}/comm").read_text().rstrip("\n")
    except OSError:
        return None


def _threads(pid: int) -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


@dataclass
class StandinProcess:
    """A running stand-in; pids are as seen from this process's PID namespace."""

    popen: subprocess.Popen[bytes]
    metrics_url: str | None
    layout: str
    log_path: Path
    pidfile: Path
    sandbox: bool = True   # asked for; `sandboxed()` says whether the machine allowed it

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """The main process and its child processes (tile processes, agave)."""
        return [self.pid, *_children(self.pid)]

    def threads(self) -> dict[int, dict[int, str]]:
        """pid -> {tid: comm} for every process of the stand-in."""
        out: dict[int, dict[int, str]] = {}
        for pid in self.pids():
            comms = {tid: c for tid in _threads(pid) if (c := _comm(pid, tid)) is not None}
            if comms:
                out[pid] = comms
        return out

    def tiles(self) -> dict[str, tuple[int, int]]:
        """Live tiles found in /proc: "verify:1" -> (pid, tid)."""
        found: dict[str, tuple[int, int]] = {}
        for pid, comms in self.threads().items():
            for tid, comm in comms.items():
                if TILE_NAME.match(comm):
                    found[comm] = (pid, tid)
        return found

    def agave_pid(self) -> int:
        for pid, comms in self.threads().items():
            if comms.get(pid) == "agave":
                return pid
        raise StandinError("no agave process")

    def metrics_text(self, timeout: float = 5.0) -> str:
        if self.metrics_url is None:
            raise StandinError("this stand-in runs with --no-metrics")
        with urllib.request.urlopen(self.metrics_url, timeout=timeout) as resp:
            body: bytes = resp.read()
        return body.decode()

    def tile_gauges(self, timeout: float = 5.0) -> dict[str, dict[str, int]]:
        """Every tile the metrics page advertises: "verify:0" -> {"tile_pid": .., "tile_tid": ..,
        "tile_status": ..}."""
        return parse_tile_gauges(self.metrics_text(timeout))

    def sandboxed(self) -> bool:
        """The processes layout's tiles run sandboxed (False: asked not to, or the stand-in could
        not make the sandbox here and said so in its log)."""
        return (self.layout == "processes" and self.sandbox
                and "full sandbox is being enabled" in self.log())

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, wait (SIGKILL after `timeout`); returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: StandinProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not proc.pidfile.exists():
        if proc.popen.poll() is not None:
            raise StandinError(f"stand-in exited with status {proc.popen.returncode}: "
                               f"{proc.log().strip()}")
        if time.monotonic() > deadline:
            raise StandinError(f"stand-in not ready after {timeout} s: {proc.log().strip()}")
        time.sleep(0.005)


@contextmanager
def run_standin(binary: Path, *, layout: str = "processes", metrics: str | None = None,
                tiles: dict[str, int] | str | None = None, load: float | None = None,
                dead_tiles: Sequence[str] = (), no_metrics: bool = False,
                extra_path: str | None = None, extra_path_window: str | None = None,
                sandbox: bool = True, legacy_names: bool = False, exit_tiles: Sequence[str] = (),
                booting_tiles: Sequence[str] = (), extra_args: Sequence[str] = (),
                ready_timeout: float = 10.0) -> Iterator[StandinProcess]:
    """Run the stand-in until the block ends; ready means tiles started and metrics listening.

    `metrics` defaults to 127.0.0.1 on a free port; `tiles` is `{"verify": 3}` or "verify:3";
    the other options are `standin_argv`'s.
    """
    if not no_metrics and metrics is None:
        metrics = f"127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory(prefix="fleetflame-standin-") as tmp:
        pidfile = Path(tmp) / "standin.pid"
        log_path = Path(tmp) / "standin.log"
        argv = standin_argv(binary, layout=layout, metrics=metrics, tiles=tiles, load=load,
                            dead_tiles=dead_tiles, no_metrics=no_metrics, pidfile=pidfile,
                            extra_path=extra_path, extra_path_window=extra_path_window,
                            sandbox=sandbox, legacy_names=legacy_names, exit_tiles=exit_tiles,
                            booting_tiles=booting_tiles, extra_args=extra_args)
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        url = None if no_metrics else f"http://{metrics}/metrics"
        proc = StandinProcess(popen, url, layout, log_path, pidfile, sandbox)
        try:
            _wait_ready(proc, ready_timeout)
            yield proc
        finally:
            proc.stop()
