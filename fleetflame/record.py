"""Recording on one host: prepare perf behind a start line, start it, wait for it, stop it early.

perf runs detached on the host (see remote.START), bounded by `timeout`, so it ends on its own
even if the control machine or the link dies; the control side only ever asks and waits.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from .capture import HostResult
from .connection.base import Connection, RunningCommand
from .inventory.model import HostRecord
from .remote import START, STOP, WAIT, perf_record_argv, sh

GRACE_S = 60.0  # how long past its duration perf may take to end before the host is given up
PERF_MISSING = 7  # START's exit status when the perf binary is not there
WAIT_TIMED_OUT = 4


class RecordError(Exception):
    """Recording failed on a host; the message says what to do."""


@dataclass
class RecordSpec:
    duration: float
    frequency: int
    call_graph: str


async def prepare(conn: Connection, remote_dir: str, spec: RecordSpec, target_args: list[str], meta: str) -> RunningCommand:
    """Create the capture folder and leave perf waiting for `go` (so every host starts together)."""
    host = conn.host
    perf = perf_record_argv(host.perf, spec.frequency, spec.call_graph, target_args)
    starter = await conn.start(sh(START, "start", remote_dir, f"{spec.duration:g}", *perf), privileged=True)
    await starter.write(meta.encode() + b"\n")
    line = await asyncio.wait_for(starter.readline(), 30)
    if line.strip() == b"ready":
        return starter
    done = await starter.wait()
    if done.returncode == PERF_MISSING:
        raise RecordError(perf_missing(host))
    raise RecordError(f"cannot prepare {remote_dir} on {host.name}: {done.error_text()}")


async def start(starter: RunningCommand, host: str) -> float:
    """Start perf; returns its start time on the host's clock."""
    await starter.write(b"go\n")
    line = await asyncio.wait_for(starter.readline(), 30)
    await starter.wait()
    try:
        return float(line.decode().strip())
    except ValueError as exc:
        raise RecordError(f"perf did not start on {host}") from exc


async def wait(
    conn: Connection,
    remote_dir: str,
    result: HostResult,
    stop: asyncio.Event | None,
    wait_s: float,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Wait until perf has ended (asking it to stop when `stop` is set) and record how it ended."""
    max_wait = int(max(0.0, wait_s) + GRACE_S)
    waiting = asyncio.ensure_future(
        conn.run(sh(WAIT, "wait", remote_dir, max_wait, int(max(0.0, wait_s - 1))), privileged=True, timeout=max_wait + 30)
    )
    stopping = asyncio.ensure_future(stop.wait() if stop else asyncio.Event().wait())
    try:
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done() and not waiting.done():
            if on_stop:
                on_stop()
            await request_stop(conn, remote_dir)
        outcome = await waiting
    finally:
        stopping.cancel()
        if not waiting.done():
            waiting.cancel()
    if outcome.returncode == WAIT_TIMED_OUT:
        raise RecordError(f"perf on {conn.host.name} did not end within {max_wait} s")
    if not outcome.ok:
        raise RecordError(f"capture folder {remote_dir} on {conn.host.name} is not readable: {outcome.error_text()}")
    status_line, _, stderr = outcome.stdout.decode(errors="replace").partition("\n")
    fields = status_line.split()
    result.perf_stderr = stderr.strip()
    result.perf_exit_status = int(fields[0])
    if len(fields) > 1 and result.perf_started_at is None:
        result.perf_started_at = float(fields[1])
    match = re.search(r"\((\d+) samples\)", stderr)
    result.perf_samples_reported = int(match[1]) if match else None
    # perf record re-raises the SIGINT that ended it, so 130 is a normal end, not a failure
    if result.perf_exit_status not in (0, 130) or "Captured and wrote" not in stderr:
        raise RecordError(perf_failure(conn.host, result.perf_stderr))


async def request_stop(conn: Connection, remote_dir: str) -> None:
    """SIGINT to perf on the host, as Ctrl-C does for `fdctl flame` (not just dropping the channel)."""
    await conn.run(sh(STOP, "stop", remote_dir), privileged=True, timeout=30)


def seconds_left(expected_end: float | None) -> float:
    return 0.0 if expected_end is None else max(0.0, expected_end - time.time())


def perf_missing(host: HostRecord) -> str:
    return (
        f"perf ({host.perf}) is not installed on {host.name}: install linux-perf (Debian) or "
        "linux-tools (Ubuntu), or set fleetflame_perf to its path"
    )


def perf_failure(host: HostRecord, stderr: str) -> str:
    lowered = stderr.lower()
    if "permission" in lowered or "perf_event_paranoid" in lowered or "access to performance" in lowered:
        return (
            f"perf is not permitted to record on {host.name}: run as root, set ansible_become: true "
            "(perf then runs through sudo -n), or lower kernel.perf_event_paranoid"
        )
    if "failed to run command" in lowered or "command not found" in lowered:
        return perf_missing(host)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    return f"perf failed on {host.name}: {last}"
