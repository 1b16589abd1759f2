"""A scripted host behind the `Connection` interface, for unit tests of the capture pipeline.

`FakeHost` plays the host's side of the capture session (fleetflame/capture/scripts.py) in Python:
its capture folders, perf's run, the streamed results, with delays and failures injected where a
test asks. `FakeConnection` is what the pipeline gets instead of SSH. No root, no sshd, no perf:
the lab tests prove the same pipeline on real hosts; these prove the control side, every failure
path included, in milliseconds.

Latency: every message between the control machine and the host takes `latency` seconds one
way; opening a channel (an exec, the metrics forward) costs a round trip, as it does over SSH
(channel open, then the exec request's reply). Tests count round trips from the clock.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleetflame.capture.scripts import CHUNK_BYTES, LIST, SESSION, Exit
from fleetflame.connection.base import CommandResult, Connection, ConnectionError_, LinkLost, RunningCommand
from fleetflame.connection.http import HttpError
from fleetflame.inventory.model import HostRecord

PERF_OK = b"[ perf record: Woken up 1 times to write data ]\n[ perf record: Captured and wrote 0.010 MB perf.data (%d samples) ]\n"


def perf_script_text(samples: dict[int, list[tuple[str, int]]], comm: str = "fdctl", pid: int = 100, start: float = 1000.0) -> bytes:
    """`perf script` text: for each tid, (leaf-first frames joined by ';', count) samples, 10 ms
    apart from `start` (seconds; perf's default clock unless a test gives a wall-clock time)."""
    out = []
    t = start
    for tid, stacks in samples.items():
        for frames, count in stacks:
            for _ in range(count):
                t += 0.01
                out.append(f"{comm} {pid}/{tid} [000] {t:.6f}: 10101010 cpu-clock:\n")
                for i, frame in enumerate(frames.split(";")):
                    out.append(f"\t    {0x1000 + i:x} {frame}+0x10 (/usr/bin/fdctl)\n")
                out.append("\n")
    return "".join(out).encode()


@dataclass
class Folder:
    """A capture folder on the fake host. perf's run is a time span, not a task, so a folder
    outlives the event loop of the run that made it (detach, then fetch in another loop)."""

    path: str
    meta: str = ""
    started_at: float | None = None
    planned_end: float | None = None  # when perf's duration runs out
    stopped_at: float | None = None  # `stop` arrived
    end_status: int = 0  # perf's status when it ends at its duration
    symbolized: bytes | None = None  # perf.script.gz once complete
    perf_data: bytes = b""
    owner_ok: bool = True  # False: someone else's folder (the session refuses it)

    @property
    def ended(self) -> tuple[int, float] | None:
        if self.stopped_at is not None:
            return 130, self.stopped_at
        if self.planned_end is not None and time.time() >= self.planned_end:
            return self.end_status, self.planned_end
        return None

    async def wait_end(self, limit: float) -> bool:
        deadline = time.monotonic() + limit
        while self.ended is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True


@dataclass
class FakeHost:
    name: str
    threads: list[tuple[int, int, str]] = field(default_factory=list)
    metrics: bytes | None = None  # None: the endpoint does not answer
    perf_script: bytes = b""
    perf_data: bytes = b"PERFILE2" + bytes(200)
    samples_reported: int = 10
    perf_status: int = 0  # when perf ends at its duration (130 when stopped)
    perf_stderr: bytes | None = None  # default: PERF_OK
    latency: float = 0.0
    chunk_bytes: int = CHUNK_BYTES
    symbolize_s: float = 0.0
    # injection point -> detail (see _maybe_fail); besides those: "stall": None (perf script never
    # ends) or N (it hangs after N bytes of the stream); "flood": "perf.script.gz" (chunks without
    # end) or "perf.data" (announces 10^12 bytes and streams until stopped)
    fail: dict[str, object] = field(default_factory=dict)
    tmpdir: str = "/tmp"
    clock_offset: float = 0.0  # this host's clock minus the real one (what it says in clock/started/ended)
    clock_line: str | None = None  # say this instead of `clock EPOCH` (a broken or hostile host)
    folders: dict[str, Folder] = field(default_factory=dict)
    log: list[tuple[float, str]] = field(default_factory=list)  # (time, what): channels and commands
    sessions: int = 0
    flooded: int = 0  # bytes sent by fail={"flood": ...} before the control machine stopped reading
    events: list[str] = field(default_factory=list)  # each `new` session's EVENT argument ("": perf's default)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def note(self, what: str) -> None:
        self.log.append((time.monotonic(), what))

    def channels(self, kind: str) -> int:
        return sum(1 for _, what in self.log if what.startswith(kind))


class FakeProcess(RunningCommand):
    """A session running on the fake host: stdout/stdin pipes with the host's latency."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.out: asyncio.Queue[bytes | None | BaseException] = asyncio.Queue()
        self.inp: asyncio.Queue[str | None] = asyncio.Queue()
        self.buffer = bytearray()
        self.status: int | None = None
        self.done = asyncio.Event()
        self.closed = False
        self.stderr = ""

    # ---- control side (RunningCommand) ----
    async def read(self, n: int) -> bytes:
        while not self.buffer:
            item = await self.out.get()
            if item is None:
                return b""
            if isinstance(item, BaseException):
                raise item
            self.buffer += item
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def write(self, data: bytes) -> None:
        if self.closed:
            raise LinkLost(f"lost the connection to {self.host.name}: channel closed")
        for line in data.decode().splitlines():
            self._later(self.inp.put_nowait, line)

    def close_stdin(self) -> None:
        self._later(self.inp.put_nowait, None)

    async def wait(self) -> int:
        await self.done.wait()
        return self.status if self.status is not None else 255

    def stderr_tail(self) -> str:
        return self.stderr

    def kill(self) -> None:
        if not self.closed:
            self.closed = True
            self._later(self.inp.put_nowait, None)

    def _later(self, fn: object, arg: object) -> None:
        loop = asyncio.get_running_loop()
        if self.host.latency:
            loop.call_later(self.host.latency, fn, arg)  # type: ignore[arg-type]
        else:
            loop.call_soon(fn, arg)  # type: ignore[arg-type]

    # ---- host side ----
    def say(self, line: str, data: bytes = b"") -> None:
        if not self.closed:
            self._later(self.out.put_nowait, line.encode() + b"\n" + data)

    def send_raw(self, data: bytes) -> None:
        if not self.closed:
            self._later(self.out.put_nowait, data)

    def lose_link(self) -> None:
        self.closed = True
        self._later(self.out.put_nowait, LinkLost(f"lost the connection to {self.host.name}: connection reset"))

    async def line(self) -> str | None:
        return await self.inp.get()

    def exit(self, status: int) -> None:
        self.status = status
        self._later(self.out.put_nowait, None)
        self._later(lambda _: self.done.set(), None)


class FakeConnection(Connection):
    def __init__(self, host: HostRecord, fake: FakeHost) -> None:
        super().__init__(host)
        self.fake = fake
        self.connected = False

    async def _round_trip(self) -> None:
        if self.fake.latency:
            await asyncio.sleep(2 * self.fake.latency)

    async def connect(self) -> None:
        self.fake.note("connect")
        if "connect" in self.fake.fail:
            raise ConnectionError_(f"cannot connect to {self.host.name} ({self.host.address}:22): connection refused")
        await self._round_trip()
        self.connected = True

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, privileged: bool = False, timeout: float | None = None
    ) -> CommandResult:
        self.fake.note("exec run")
        await self._round_trip()
        await self._round_trip()
        if len(argv) > 2 and argv[2] == LIST:
            lines = []
            for path, folder in self.fake.folders.items():
                if folder.owner_ok and folder.meta:
                    lines.append(f"{path}\t{folder.meta}\n")
            return CommandResult(list(argv), 0, "".join(lines).encode(), b"")
        return CommandResult(list(argv), 127, b"", b"not scripted")

    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand:
        if not self.connected:
            raise ConnectionError_(f"{self.host.name}: not connected")
        self.fake.note("exec session")
        await self._round_trip()  # channel open
        await self._round_trip()  # exec request and its reply
        assert argv[2] == SESSION, "only the capture session is scripted"
        proc = FakeProcess(self.fake)
        self.fake.sessions += 1
        task = asyncio.ensure_future(_session(self.fake, proc, list(argv[4:])))
        self.fake.tasks.add(task)
        task.add_done_callback(self.fake.tasks.discard)
        return proc

    async def http_get(self, url: str, timeout: float) -> bytes:
        self.fake.note("forward metrics")
        await self._round_trip()
        await self._round_trip()
        if self.fake.metrics is None:
            raise HttpError(f"cannot connect to {url}: connection refused")
        return self.fake.metrics

    async def close(self) -> None:
        self.connected = False


# ---- the host's side of the session protocol ----------------------------------------------------


def _maybe_fail(host: FakeHost, point: str, proc: FakeProcess) -> bool:
    """Inject a failure at `point`: "link" loses the link, an int is an exit code with `error`."""
    how = host.fail.get(point)
    if how is None:
        return False
    if how == "link":
        proc.lose_link()
    elif isinstance(how, int):
        proc.say(f"error {how} injected failure at {point}")
        proc.exit(how)
    return True


def _no_capdrop(host: FakeHost, proc: FakeProcess) -> bool:
    """fail={"nocapdrop": None}: root without setpriv or capsh (checked before anything is recorded or lost)."""
    if "nocapdrop" not in host.fail:
        return False
    proc.say(f"error {Exit.NO_CAPDROP} perf script would run with CAP_SYS_ADMIN and lose the symbols of sandboxed Firedancer tiles")
    proc.exit(Exit.NO_CAPDROP)
    return True


async def _session(host: FakeHost, proc: FakeProcess, args: list[str]) -> None:
    try:
        if args[0] == "new":
            await _new(host, proc, *args[1:])
        else:
            await _attach(host, proc, *args[1:])
    except asyncio.CancelledError:
        pass


async def _new(
    host: FakeHost, proc: FakeProcess, tmpdir: str, capture_id: str, perf: str, frequency: str, call_graph: str, max_kb: str, duration: str, event: str
) -> None:
    proc.say("hello 1")
    host.events.append(event)
    if _maybe_fail(host, "hello", proc) or _no_capdrop(host, proc):
        return
    suffix = "".join(random.choices(string.ascii_letters + string.digits, k=10))
    folder = Folder(f"{tmpdir.rstrip('/')}/fleetflame-{capture_id}.{suffix}")
    host.folders[folder.path] = folder
    proc.say(f"dir {folder.path}")
    for pid, tid, comm in host.threads:
        proc.say(f"thread {pid} {tid} {comm}")
    proc.say("threads-end")
    if _maybe_fail(host, "threads", proc):
        return
    meta = await proc.line()
    if meta is None or not meta.startswith("meta "):
        del host.folders[folder.path]
        proc.say(f"error {Exit.ABORTED} stopped before recording started")
        proc.exit(Exit.ABORTED)
        return
    if "nospace" in host.fail:
        del host.folders[folder.path]
        proc.say(f"error {Exit.NO_SPACE} no space left in {tmpdir} (0 KB free) writing meta.json: free space there")
        proc.exit(Exit.NO_SPACE)
        return
    folder.meta = meta[5:]
    proc.say("ready")
    go = await proc.line()
    if go is None or not go.startswith("go "):
        del host.folders[folder.path]
        proc.say(f"error {Exit.ABORTED} stopped before recording started")
        proc.exit(Exit.ABORTED)
        return
    how = go.split()[3]
    host.note(f"go {go}")
    proc.say(host.clock_line if host.clock_line is not None else f"clock {time.time() + host.clock_offset:.6f}")
    folder.started_at = time.time()
    folder.planned_end = folder.started_at + float(duration)
    folder.end_status = host.perf_status
    folder.perf_data = host.perf_data
    proc.say(f"started {folder.started_at + host.clock_offset:.6f}")
    if how == "detach":
        proc.exit(0)
        return
    if _maybe_fail(host, "recording", proc):
        return
    reader = asyncio.ensure_future(_reader(proc, folder))
    await folder.wait_end(1e9)
    await _finish(host, proc, folder, reader, how != "nodata", 0, 0)


async def _reader(proc: FakeProcess, folder: Folder) -> bool:
    """True once `done` arrives; False at the end of input."""
    while True:
        line = await proc.line()
        if line is None:
            return False
        if line == "stop" and folder.ended is None:
            folder.stopped_at = time.time()
        elif line == "done":
            return True


async def _finish(host: FakeHost, proc: FakeProcess, folder: Folder, reader: asyncio.Future[bool], want_data: bool, script_from: int, data_from: int) -> None:
    assert folder.ended is not None
    status, ended = folder.ended
    stderr = host.perf_stderr if host.perf_stderr is not None else PERF_OK % host.samples_reported
    proc.say(f"ended {status} {ended + host.clock_offset:.6f}")
    proc.say(f"perf-stderr {len(stderr)}", stderr)
    if status not in (0, 130) or b"Captured and wrote" not in stderr:
        del host.folders[folder.path]
        proc.say("cleaned")
        proc.exit(0)
        return
    if _maybe_fail(host, "symbolize", proc):
        return
    if host.fail.get("stall", False) is None:
        await _stall(proc)  # perf script never finishes: nothing more until the channel is closed
        return
    if host.fail.get("flood") == "perf.script.gz":
        await _flood(proc, lambda piece: proc.say(f"chunk {len(piece)}", piece))
        return
    if folder.symbolized is None:
        if script_from:
            proc.say("restart perf.script.gz")
        if host.symbolize_s:
            await asyncio.sleep(host.symbolize_s)
        data = gzip.compress(host.perf_script, compresslevel=1, mtime=0)
        sent = 0
        for at in range(0, len(data), host.chunk_bytes):
            piece = data[at : at + host.chunk_bytes]
            proc.say(f"chunk {len(piece)}", piece)
            sent += len(piece)
            limit = host.fail.get("transfer")
            if isinstance(limit, int) and sent >= limit:
                folder.symbolized = data  # the host's copy completes even if the link drops
                proc.lose_link()
                return
            stall = host.fail.get("stall")
            if isinstance(stall, int) and sent >= stall:
                await _stall(proc)  # perf script hangs half-way
                return
        folder.symbolized = data
        digest = hashlib.sha256(data).hexdigest()
        if "corrupt" in host.fail:
            digest = "0" * 64
        proc.say(f"sum perf.script.gz {len(data)} {digest}")
    else:
        data = folder.symbolized
        start = script_from if script_from <= len(data) else 0
        proc.say(f"file perf.script.gz {len(data)} {hashlib.sha256(data).hexdigest()} {start}", data[start:])
    if want_data and host.fail.get("flood") == "perf.data":
        proc.say(f"file perf.data {10**12} {'0' * 64} 0")  # ...and streams until stopped
        await _flood(proc, proc.send_raw)
        return
    if want_data:
        start = data_from if data_from <= len(folder.perf_data) else 0
        proc.say(f"file perf.data {len(folder.perf_data)} {hashlib.sha256(folder.perf_data).hexdigest()} {start}", folder.perf_data[start:])
    proc.say("sent")
    if await reader and "clean" not in host.fail:
        host.folders.pop(folder.path, None)
        proc.say("cleaned")
    proc.exit(0)


async def _stall(proc: FakeProcess) -> None:
    """Send nothing more, without ending, until the control machine closes the channel."""
    while not proc.closed:
        await asyncio.sleep(0.01)


async def _flood(proc: FakeProcess, send: Callable[[bytes], None]) -> None:
    """Send 1 MB pieces for as long as the channel is open (a host that never stops)."""
    piece = bytes(CHUNK_BYTES)
    while not proc.closed:
        if proc.out.qsize() > 4:  # as the SSH window would: no further ahead than the reader
            await asyncio.sleep(0.001)
            continue
        send(piece)
        proc.host.flooded += len(piece)
        await asyncio.sleep(0)


async def _attach(host: FakeHost, proc: FakeProcess, path: str, perf: str, want_data: str, script_from: str, data_from: str, wait_s: str) -> None:
    proc.say("hello 1")
    folder = host.folders.get(path)
    if folder is None:
        proc.say(f"error {Exit.GONE} capture folder {path} is gone")
        proc.exit(Exit.GONE)
        return
    if not folder.owner_ok:
        proc.say(f"error {Exit.NOT_OURS} {path} is not a private folder of ours (owner or mode changed): left alone")
        proc.exit(Exit.NOT_OURS)
        return
    if folder.symbolized is None and _no_capdrop(host, proc):
        return
    reader = asyncio.ensure_future(_reader(proc, folder))
    if not await folder.wait_end(float(wait_s)):
        proc.say(f"error {Exit.TIMEOUT} perf still running after {wait_s} s")
        proc.exit(Exit.TIMEOUT)
        return
    await _finish(host, proc, folder, reader, want_data == "1", int(script_from), int(data_from))


def fake_connector(hosts: dict[str, FakeHost]):  # type: ignore[no-untyped-def]
    """A Fleet connector giving each inventory host its FakeHost."""

    def connect(host: HostRecord, settings: object, bastions: object) -> Connection:
        return FakeConnection(host, hosts[host.name])

    return connect
