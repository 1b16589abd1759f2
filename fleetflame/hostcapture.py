"""One host's part of a fleet capture, stage by stage."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import re
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .capture import PERF_DATA, PERF_SCRIPT, STACKS_FOLDED, HostResult
from .collapse_host import collapse_host
from .connection.base import Connection, ConnectionError_, RunningCommand
from .folded import write_folded
from .inventory.model import HostRecord
from .remote import CLEAN, START, STOP, SUMS, SYMBOLIZE, WAIT, capture_dir, perf_record_argv, sh
from .resolve import DiscoveryError, discover
from .tiles import Selection, TileError, select_tiles

if TYPE_CHECKING:
    from .fleet import CaptureOptions, StartBarrier

GRACE_S = 60.0  # how long past the duration a host may take to end perf before we give up on it


class Stage(str, enum.Enum):
    CONNECTING = "connecting"
    RESOLVING = "resolving"
    READY = "ready"
    RECORDING = "recording"
    STOPPING = "stopping"
    SYMBOLIZING = "symbolizing"
    TRANSFERRING = "transferring"
    COLLAPSING = "collapsing"
    DONE = "done"
    FAILED = "failed"


class HostFailure(Exception):
    """Ends this host's capture with an operator-facing message."""


@dataclass
class HostCapture:
    host: HostRecord
    conn: Connection
    result: HostResult
    options: CaptureOptions
    capture_id: str
    meta: str
    local_dir: Path
    forks: asyncio.Semaphore
    barrier: StartBarrier
    stop: asyncio.Event
    executor: Executor
    report: Callable[[str, Stage, str], None]
    selection: Selection | None = field(default=None, init=False)

    @property
    def remote_dir(self) -> str:
        return capture_dir(self.host.tmpdir, self.capture_id)

    def _stage(self, stage: Stage, detail: str = "") -> None:
        self.report(self.host.name, stage, detail)

    async def run(self) -> None:
        starter: RunningCommand | None = None
        arrived = False
        try:
            async with self.forks:
                await self._timed("connect", self._connect())
                await self._timed("resolve", self._resolve())
                starter = await self._prepare()
            self.barrier.arrive()
            arrived = True
            await self.barrier.wait()
            if self.stop.is_set():
                starter.kill()
                raise HostFailure("stopped before recording started")
            await self._timed("record", self._record(starter))
            async with self.forks:
                await self._timed("symbolize", self._symbolize())
                await self._timed("transfer", self._transfer())
            await self._timed("collapse", self._collapse())
            await self._clean()
            self.result.status = "ok"
            self._stage(Stage.DONE, f"{self.result.samples} samples")
        except (HostFailure, TileError, DiscoveryError, ConnectionError_) as exc:
            self._fail(str(exc))
        except asyncio.TimeoutError:
            self._fail(f"{self.host.name} stopped answering (timed out)")
        except OSError as exc:
            self._fail(f"{self.host.name}: {exc}")
        finally:
            if not arrived:
                self.barrier.arrive()

    def _fail(self, message: str) -> None:
        self.result.fail(message)
        self._stage(Stage.FAILED, message)

    async def _timed(self, name: str, step: object) -> None:
        begin = time.monotonic()
        try:
            await step  # type: ignore[misc]
        finally:
            self.result.timings[f"{name}_s"] = round(time.monotonic() - begin, 3)

    async def close(self) -> None:
        await self.conn.close()

    async def _connect(self) -> None:
        self._stage(Stage.CONNECTING, self.host.address)
        await self.conn.connect()

    async def _resolve(self) -> None:
        self._stage(Stage.RESOLVING)
        found = await discover(self.conn)
        self.result.tile_source = found.source
        self.selection = select_tiles(self.options.target, found.tiles, found.threads, self.host.name)
        self.result.set_tiles(list(self.selection.tiles), self.selection.agave_pid)

    async def _prepare(self) -> RunningCommand:
        assert self.selection is not None
        perf = perf_record_argv(
            self.host.perf, self.options.frequency, self.options.call_graph, self.selection.perf_target_args()
        )
        duration = f"{self.options.duration:g}"
        starter = await self.conn.start(sh(START, "start", self.remote_dir, duration, *perf), privileged=True)
        self.result.remote_dir = self.remote_dir
        await starter.write(self.meta.encode() + b"\n")
        line = await asyncio.wait_for(starter.readline(), 30)
        if line.strip() != b"ready":
            done = await starter.wait()
            if done.returncode == 7:
                raise HostFailure(
                    f"perf ({self.host.perf}) is not installed on {self.host.name}: install linux-perf "
                    "(Debian) or linux-tools (Ubuntu), or set fleetflame_perf to its path"
                )
            raise HostFailure(f"cannot prepare {self.remote_dir} on {self.host.name}: {done.error_text()}")
        self._stage(Stage.READY, ", ".join(self.selection.names))
        return starter

    async def _record(self, starter: RunningCommand) -> None:
        await starter.write(b"go\n")
        started = await asyncio.wait_for(starter.readline(), 30)
        await starter.wait()
        try:
            self.result.perf_started_at = float(started.decode().strip())
        except ValueError as exc:
            raise HostFailure(f"perf did not start on {self.host.name}") from exc
        self._stage(Stage.RECORDING, f"until {time.time() + self.options.duration:.3f}")
        max_wait = int(self.options.duration + GRACE_S)
        waiting = asyncio.ensure_future(self.conn.run(sh(WAIT, "wait", self.remote_dir, max_wait), timeout=max_wait + 30))
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping.done() and not waiting.done():
                self._stage(Stage.STOPPING)
                await self.conn.run(sh(STOP, "stop", self.remote_dir), privileged=True, timeout=30)
            outcome = await waiting
        finally:
            stopping.cancel()
            if not waiting.done():
                waiting.cancel()
        if not outcome.ok:
            raise HostFailure(f"perf on {self.host.name} did not end within {max_wait} s")
        status_line, _, stderr = outcome.stdout.decode(errors="replace").partition("\n")
        self.result.perf_stderr = stderr.strip()
        self.result.perf_exit_status = int(status_line.split()[0])
        match = re.search(r"\((\d+) samples\)", stderr)
        self.result.perf_samples_reported = int(match[1]) if match else None
        # perf record re-raises the SIGINT that ended it, so 130 is a normal end, not a failure
        if self.result.perf_exit_status not in (0, 130) or "Captured and wrote" not in stderr:
            raise HostFailure(_perf_failure(self.host, self.result.perf_stderr))

    async def _symbolize(self) -> None:
        self._stage(Stage.SYMBOLIZING)
        self.local_dir.mkdir(parents=True, exist_ok=True)
        script = self.local_dir / PERF_SCRIPT
        done = await self.conn.run_to_file(
            sh(SYMBOLIZE, "symbolize", self.remote_dir, self.host.perf),
            script,
            privileged=True,
            progress=lambda n: self._stage(Stage.SYMBOLIZING, _mb(n)),
        )
        if not done.ok:
            raise HostFailure(f"perf script failed on {self.host.name}: {done.error_text()}")

    async def _remote_sums(self, *names: str) -> dict[str, tuple[int, str]]:
        done = await self.conn.run(sh(SUMS, "sums", self.remote_dir, *names), privileged=True, timeout=600)
        if not done.ok:
            raise HostFailure(f"cannot checksum capture files on {self.host.name}: {done.error_text()}")
        sums = {}
        for line in done.stdout.decode().splitlines():
            size, digest, name = line.split(" ", 2)
            sums[name] = (int(size), digest)
        return sums

    async def _transfer(self) -> None:
        names = [PERF_SCRIPT] + ([PERF_DATA] if self.options.keep_perf_data else [])
        sums = await self._remote_sums(PERF_SCRIPT, PERF_DATA)
        script = self.local_dir / PERF_SCRIPT
        self.result.script_bytes, self.result.script_sha256 = sums[PERF_SCRIPT]
        self.result.bytes_pulled += script.stat().st_size
        if PERF_DATA in sums:
            self.result.perf_data_bytes, self.result.perf_data_sha256 = sums[PERF_DATA]
        if not _matches(script, sums[PERF_SCRIPT]):
            raise HostFailure(f"{PERF_SCRIPT} from {self.host.name} arrived damaged (checksum mismatch)")
        if PERF_DATA in names and PERF_DATA in sums:
            self._stage(Stage.TRANSFERRING, "perf.data")
            local = self.local_dir / PERF_DATA
            pulled = await self.conn.fetch_file(
                f"{self.remote_dir}/{PERF_DATA}",
                local,
                progress=lambda n: self._stage(Stage.TRANSFERRING, f"perf.data {_mb(n)}"),
            )
            self.result.bytes_pulled += pulled
            if not _matches(local, sums[PERF_DATA]):
                raise HostFailure(f"perf.data from {self.host.name} arrived damaged (checksum mismatch)")

    async def _collapse(self) -> None:
        assert self.selection is not None
        self._stage(Stage.COLLAPSING)
        agave_root = "agave;{comm}" if self.selection.agave_pid is not None else None
        stacks = await asyncio.get_running_loop().run_in_executor(
            self.executor,
            collapse_host,
            str(self.local_dir / PERF_SCRIPT),
            self.selection.roots_by_tid(),
            agave_root,
        )
        write_folded(stacks, self.local_dir / STACKS_FOLDED)
        self.result.samples = sum(stacks.values())

    async def _clean(self) -> None:
        done = await self.conn.run(sh(CLEAN, "clean", self.remote_dir), privileged=True, timeout=120)
        if not done.ok:
            self.result.error = f"could not remove {self.remote_dir} on {self.host.name}: {done.error_text()}"


def _matches(path: Path, expected: tuple[int, str]) -> bool:
    size, digest = expected
    if path.stat().st_size != size:
        return False
    sha = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest() == digest


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _perf_failure(host: HostRecord, stderr: str) -> str:
    lowered = stderr.lower()
    if "permission" in lowered or "perf_event_paranoid" in lowered or "access to performance" in lowered:
        return (
            f"perf is not permitted to record on {host.name}: run as root, set ansible_become: true "
            "(perf then runs through sudo -n), or lower kernel.perf_event_paranoid"
        )
    if "command not found" in lowered or "no such file" in lowered and "failed to run" in lowered:
        return (
            f"perf ({host.perf}) is not installed on {host.name}: install linux-perf (Debian) or "
            "linux-tools (Ubuntu), or set fleetflame_perf to its path"
        )
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    return f"perf failed on {host.name}: {last}"
