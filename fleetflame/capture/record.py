"""Recording on one host: open the session, learn the threads, start perf on the signal, wait.

perf runs detached on the host (see scripts.SESSION), bounded by `timeout`, so it ends on its own
even if the control machine or the link dies; the control side only says `go`, maybe `stop`, and
listens. Each step returns what it learned; the per-host driver records it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..connection.base import Connection
from ..errors import HostError
from ..inventory.model import HostRecord
from ..timeline.clock import ClockReading
from ..host.tiles import HostThread, Selection
from .manifest import HostMeta
from .scripts import check_event
from .session import ProtocolError, Session, SessionFailed, open_new

GRACE_S = 30.0  # perf is killed 10 s after its duration (timeout -k 10): give up well after that
START_TIMEOUT_S = 30.0
ABORT_TIMEOUT_S = 15.0  # how long a session told `abort` may take to remove its folder and end
MAX_THREADS = 500_000
_REMOTE_DIR = re.compile(r"^(?P<tmpdir>/.*)/fleetflame-(?P<id>[A-Za-z0-9._+-]+)\.[A-Za-z0-9]{10}$")


class RecordError(HostError):
    """Recording failed on a host; the message says what to do."""


@dataclass(frozen=True)
class RecordSpec:
    duration: float
    frequency: int
    call_graph: str
    max_size_mb: int
    event: str | None = None  # perf record -e EVENT; None: perf's default event

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", check_event(self.event))


@dataclass
class Prepared:
    """The host's session, waiting for meta and the start signal."""

    session: Session
    remote_dir: str
    threads: list[HostThread]


@dataclass(frozen=True)
class PerfStarted:
    at: float  # host clock
    clock: ClockReading  # the host's clock against ours, as it read `go`


@dataclass(frozen=True)
class PerfEnd:
    status: int | None  # perf's exit status; None if the host could not say
    ended_at: float | None  # host clock
    stderr: str
    samples_reported: int | None


async def prepare(conn: Connection, capture_id: str, spec: RecordSpec) -> Prepared:
    """Open the session: the host makes its capture folder and lists its threads."""
    session = await open_new(conn, capture_id, spec.frequency, spec.call_graph, spec.max_size_mb * 1024, spec.duration, spec.event)
    try:
        msg = await session.expect("dir", timeout=START_TIMEOUT_S)
        remote_dir = check_remote_dir(" ".join(msg.args), conn.host, capture_id)
        threads = await _threads(session)
    except asyncio.CancelledError:
        session.close()
        raise
    except BaseException:
        await abort_session(session)  # the host may have made its folder: it must not keep it
        raise
    return Prepared(session, remote_dir, threads)


def check_remote_dir(path: str, host: HostRecord, capture_id: str) -> str:
    """The folder the host says it made must be where we asked, named as we asked."""
    match = _REMOTE_DIR.match(path)
    if not match or match["id"] != capture_id or match["tmpdir"].rstrip("/") != (host.tmpdir.rstrip("/") or ""):
        raise ProtocolError(f"{host.name} made its capture folder in an unexpected place: {path[:120]!r}")
    return path


async def _threads(session: Session) -> list[HostThread]:
    threads: list[HostThread] = []
    while True:
        msg = await session.expect("thread", "threads-end", timeout=START_TIMEOUT_S)
        if msg.verb == "threads-end":
            return threads
        if len(threads) >= MAX_THREADS:
            raise ProtocolError(f"{session.host} lists more than {MAX_THREADS} threads")
        try:
            pid, tid = msg.int_arg(0, 1, 1 << 22), msg.int_arg(1, 1, 1 << 22)
        except ValueError as exc:
            raise ProtocolError(f"{session.host}: bad thread line ({exc})") from None
        comm = msg.raw.decode("utf-8", errors="replace").split(" ", 3)[3] if len(msg.args) > 2 else ""
        threads.append(HostThread(pid, tid, comm))


def send_meta(prepared: Prepared, meta: HostMeta) -> None:
    prepared.session.send("meta " + meta.to_line())


def send_go(prepared: Prepared, selection: Selection, how: str) -> float:
    """The start signal (`how`: run, nodata or detach); returns when it was sent (this clock,
    read just before sending: the earliest the host can have read it, for timeline.clock)."""
    kind, ids = selection.perf_target_args()
    sent_at = time.time()
    prepared.session.send(f"go {kind.lstrip('-')} {ids} {how}")
    return sent_at


async def abort_session(session: Session, timeout: float = ABORT_TIMEOUT_S) -> None:
    """Tell a session that has not started perf to give up, and wait until it has ended: it
    removes its folder before it says `error` and exits (scripts.SESSION). Closing it at once would
    kill the script mid-way on a local host (and race the removal over SSH), leaving an empty
    folder behind. Never raises a HostError; closes the session in any case."""
    try:
        try:
            session.send("abort")
            session.end_input()
        except HostError:
            return  # the link is gone: the script sees its input end and removes its folder too
        async with asyncio.timeout(timeout):
            try:
                while True:
                    await session.message()  # (what it said before it read `abort`)
            except SessionFailed:
                await session.proc.wait()  # its `error` line (the folder is gone): its exit follows
    except (HostError, TimeoutError):
        pass  # it has ended (ProtocolError, LinkLost), or it takes too long: stop waiting
    finally:
        session.close()


async def started(prepared: Prepared, go_sent_at: float) -> PerfStarted:
    session = prepared.session
    await session.expect("ready", timeout=START_TIMEOUT_S)
    clock = await session.expect("clock", timeout=START_TIMEOUT_S)
    received_at = session.filled_at  # the clock line came with the last data read
    msg = await session.expect("started", timeout=START_TIMEOUT_S)
    try:
        host_at, at = clock.float_arg(0), msg.float_arg(0)
    except ValueError as exc:
        raise ProtocolError(f"{session.host}: {exc}") from None
    if host_at is None:
        raise ProtocolError(f"{session.host} did not say its clock when it read the start signal")
    if at is None:
        raise ProtocolError(f"{session.host} did not say when perf started")
    return PerfStarted(at, ClockReading(go_sent_at, host_at, max(received_at, go_sent_at)))


async def wait_end(
    session: Session, host: HostRecord, stop: asyncio.Event, wait_s: float, on_stop: Callable[[], None]
) -> PerfEnd:
    """Wait for `ended` (saying `stop` when `stop` is set); raise RecordError if perf failed."""
    reading = asyncio.ensure_future(session.expect("ended", timeout=wait_s + GRACE_S))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done() and not reading.done():
            on_stop()
            session.send("stop")
        msg = await reading
    except asyncio.TimeoutError:
        raise RecordError(f"perf on {host.name} did not end within {wait_s + GRACE_S:.0f} s: check the host") from None
    finally:
        stopping.cancel()
        if not reading.done():
            reading.cancel()
    try:
        status = None if msg.args[:1] == ("-",) else msg.int_arg(0, 0, 255)
        ended_at = msg.float_arg(1)
        stderr_msg = await session.expect("perf-stderr", timeout=60)
        stderr_bytes = bytearray()

        async def keep(data: bytes) -> None:
            stderr_bytes.extend(data)

        await session.read_exact(stderr_msg.int_arg(0, 0, 65536), keep)
    except ValueError as exc:
        raise ProtocolError(f"{host.name}: {exc}") from None
    stderr = stderr_bytes.decode("utf-8", errors="replace")
    match = re.search(r"\((\d{1,12}) samples\)", stderr)
    end = PerfEnd(status, ended_at, stderr.strip(), int(match[1]) if match else None)
    # perf record re-raises the SIGINT that ended it, so 130 is a normal end, not a failure
    if status not in (0, 130) or "Captured and wrote" not in stderr:
        raise PerfFailed(perf_failure(host, end), end)
    return end


class PerfFailed(RecordError):
    def __init__(self, message: str, end: PerfEnd) -> None:
        super().__init__(message)
        self.end = end


def perf_missing(host: HostRecord) -> str:
    return (
        f"perf ({host.perf}) is not installed on {host.name}: install linux-perf (Debian) or "
        "linux-tools (Ubuntu), or set fleetflame_perf to its path"
    )


def no_capdrop(host: HostRecord, remote_dir: str | None, capture_id: str) -> str:
    """The session refused to symbolize with CAP_SYS_ADMIN (Exit.NO_CAPDROP): in `new` mode before
    perf started, in `attach` mode with perf's results still in the host's folder."""
    why = (
        f"perf script on {host.name} would run with CAP_SYS_ADMIN and lose the symbols of Firedancer's sandboxed tiles "
        "(every frame [unknown]), and neither setpriv nor capsh can drop it there: install setpriv "
        "(Debian/Ubuntu package util-linux) or capsh (libcap2-bin) on the host"
    )
    if remote_dir is None:
        return why + "; nothing was recorded"
    return why + f", then `fleetflame fetch {capture_id}`: perf's results stay in {remote_dir} until then"


def perf_failure(host: HostRecord, end: PerfEnd) -> str:
    lowered = end.stderr.lower()
    if "no space left" in lowered:
        return (
            f"{host.tmpdir} on {host.name} ran out of space while perf recorded: free space there, "
            "set fleetflame_tmpdir to a roomier folder, or lower --max-perf-data"
        )
    if "permission" in lowered or "perf_event_paranoid" in lowered or "access to performance" in lowered:
        return (
            f"perf is not permitted to record on {host.name}: run as root, set ansible_become: true "
            "(perf then runs through sudo -n), or lower kernel.perf_event_paranoid"
        )
    if "failed to run command" in lowered or "command not found" in lowered:
        return perf_missing(host)
    last = end.stderr.strip().splitlines()[-1] if end.stderr.strip() else "no message"
    status = "an unknown status" if end.status is None else f"status {end.status}"
    return f"perf failed on {host.name} ({status}): {''.join(c if c.isprintable() else ' ' for c in last)[:300]}"
