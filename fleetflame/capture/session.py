"""The control machine's side of a host's capture session (the protocol is in scripts.py).

Everything the host sends is checked here before anyone uses it: lines are bounded, verbs are
known, numbers are numbers in range, binary data is read exactly as announced. A host that
breaks the protocol fails with ProtocolError; a broken link with LinkLost. All the protocol lines
of one session together are bounded too (MAX_LINES_TOTAL: the thread listing is the long part),
and from perf's end (`ended`) to `sent` a host that sends nothing for `stall_timeout` seconds
fails with Stalled, so one stuck `perf script` cannot hold the fleet's reports.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..connection.base import Connection, LinkLost, RunningCommand
from ..errors import HostError
from ..connection.base import sh
from .scripts import PROTOCOL_VERSION, SESSION, Exit, check_event

MAX_LINE = 64 * 1024
MAX_LINES_TOTAL = 64 << 20  # all of a session's lines: 500,000 threads are about 20 MB of them
READ_SIZE = 256 * 1024
DEFAULT_STALL_TIMEOUT_S = 120.0  # --stall-timeout
MAX_FILE = 1 << 40  # 1 TiB: no capture file is bigger; a bigger number is a broken host
Sink = Callable[[bytes], Awaitable[None]]  # where announced data goes (a file being received)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ProtocolError(HostError):
    """The host answered something the session script never says: a broken or hostile host."""


class SessionFailed(HostError):
    """The session script stopped with `error CODE TEXT`."""

    def __init__(self, host: str, code: int, text: str) -> None:
        super().__init__(f"{host}: {text}")
        self.host_name = host
        self.code = code
        self.text = text


class Stalled(HostError):
    """Perf had ended, then the host sent nothing for `seconds` (its results stay on it)."""

    def __init__(self, host: str, seconds: float) -> None:
        super().__init__(f"{host} sent nothing for {seconds:g} s after perf ended (--stall-timeout)")
        self.host_name = host
        self.seconds = seconds


@dataclass(frozen=True)
class Message:
    verb: str
    args: tuple[str, ...]
    raw: bytes

    def int_arg(self, index: int, low: int = 0, high: int = MAX_FILE) -> int:
        try:
            text = self.args[index]
        except IndexError:
            raise ValueError(f"{self.verb}: missing field {index + 1}") from None
        if not text.isdigit() or len(text) > 15 or not low <= int(text) <= high:
            raise ValueError(f"{self.verb}: bad number {text[:20]!r}")
        return int(text)

    def float_arg(self, index: int) -> float | None:
        """A host-clock time (`date +%s.%N`), or None for `-`."""
        text = self.args[index] if index < len(self.args) else "-"
        if text == "-":
            return None
        if not re.fullmatch(r"\d{1,12}(\.\d{1,9})?", text):
            raise ValueError(f"{self.verb}: bad time {text[:20]!r}")
        return float(text)

    def sha_arg(self, index: int) -> str:
        text = self.args[index] if index < len(self.args) else ""
        if not _SHA256.match(text):
            raise ValueError(f"{self.verb}: bad checksum")
        return text


class Session:
    """One host's session script, as a stream of checked messages and exact-length data."""

    def __init__(self, proc: RunningCommand, host: str) -> None:
        self.proc = proc
        self.host = host
        self._buffer = bytearray()
        self._eof = False
        self._line_bytes = 0  # all lines so far (MAX_LINES_TOTAL)
        # Seconds the host may send nothing once perf has ended (symbolizing, sending): None
        # waits as long as it takes. Set by the caller; it counts from the `ended` line to `sent`
        # (recording has its own limit, and so has the answer to `done`).
        self.stall_timeout: float | None = None
        self.watching = False
        self.filled_at = 0.0  # this machine's clock when the last data arrived (the clock line's arrival)

    async def message(self, timeout: float | None = None) -> Message:
        """The next line; SessionFailed for `error`, ProtocolError for garbage, LinkLost if the
        session ended without saying why."""
        if timeout and b"\n" not in self._buffer:  # (a buffered line needs no timer: thread lists come in bulk)
            line = await asyncio.wait_for(self._line(), timeout)
        else:
            line = await self._line()
        text = line.decode("utf-8", errors="replace")
        verb, _, rest = text.partition(" ")
        if verb in ("ended", "sent"):
            self.watching = verb == "ended"
        if verb == "error":
            code, _, why = rest.partition(" ")
            raise SessionFailed(self.host, int(code) if code.isdigit() and len(code) < 4 else -1, _printable(why))
        return Message(verb, tuple(rest.split(" ")) if rest else (), line)

    async def expect(self, *verbs: str, timeout: float | None = None) -> Message:
        msg = await self.message(timeout)
        if msg.verb not in verbs:
            raise ProtocolError(f"{self.host} said {_printable(msg.raw.decode(errors='replace'))[:80]!r} where fleetflame expected {' or '.join(verbs)}")
        return msg

    async def _line(self) -> bytes:
        while True:
            cut = self._buffer.find(b"\n")
            if cut >= 0:
                self._line_bytes += cut + 1
                if self._line_bytes > MAX_LINES_TOTAL:
                    raise ProtocolError(f"{self.host} sent more than {MAX_LINES_TOTAL >> 20} MB of protocol lines")
                line = bytes(self._buffer[:cut])
                del self._buffer[: cut + 1]
                return line
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError(f"{self.host} sent a line longer than {MAX_LINE} bytes")
            if self._eof:
                raise await self._ended()
            await self._fill()

    async def _fill(self) -> None:
        if self.watching and self.stall_timeout is not None:
            try:
                chunk = await asyncio.wait_for(self.proc.read(READ_SIZE), self.stall_timeout)
            except asyncio.TimeoutError:
                raise Stalled(self.host, self.stall_timeout) from None
        else:
            chunk = await self.proc.read(READ_SIZE)
        if chunk:
            self.filled_at = time.time()
            self._buffer += chunk
        else:
            self._eof = True

    async def _ended(self) -> HostError:
        """Why the session's output stopped: the script's own exit, sudo, or a lost link."""
        try:
            status = await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            status = 255
        stderr = _printable(self.proc.stderr_tail().strip().splitlines()[-1]) if self.proc.stderr_tail().strip() else ""
        if "sudo" in stderr and ("password" in stderr or "not allowed" in stderr or "not in the sudoers" in stderr):
            return SessionFailed(self.host, status, f"`sudo -n` was refused ({stderr}): allow passwordless sudo for the SSH user, or connect as root")
        if status == 255 or status >= 128:
            return LinkLost(f"lost the connection to {self.host}" + (f" ({stderr})" if stderr else ""))
        return ProtocolError(f"the capture session on {self.host} ended early (status {status}): {stderr or 'no message'}")

    async def read_exact(self, n: int, sink: Sink) -> None:
        """Pass exactly n bytes of data to `sink` as they arrive (bytes already buffered first)."""
        left = n
        while left:
            if not self._buffer:
                if self._eof:
                    raise await self._ended()
                await self._fill()
                continue
            take = min(left, len(self._buffer))
            await sink(bytes(self._buffer[:take]))
            del self._buffer[:take]
            left -= take

    def send(self, line: str) -> None:
        """One line to the script's stdin (never waits)."""
        if "\n" in line:
            raise ValueError("a session line holds no newline")
        self.proc.write(line.encode("utf-8") + b"\n")

    def end_input(self) -> None:
        self.proc.close_stdin()

    def close(self) -> None:
        self.proc.kill()


async def open_new(
    conn: Connection, capture_id: str, frequency: int, call_graph: str, max_size_kb: int, duration: float, event: str | None = None
) -> Session:
    """Start the session script in `new` mode and check that it speaks our protocol. `event` is
    perf record's -e (None: perf's default event); it travels as one argument of its own."""
    host = conn.host
    event_arg = check_event(event) or ""
    argv = sh(SESSION, "session", "new", host.tmpdir, capture_id, host.perf, frequency, call_graph, max_size_kb, f"{duration:g}", event_arg)
    session = Session(await conn.start(argv, privileged=True), host.name)
    await _hello(session)
    return session


async def open_attach(
    conn: Connection, remote_dir: str, want_data: bool, script_from: int, data_from: int, wait_s: int
) -> Session:
    """Start the session script in `attach` mode on a folder left by an earlier run."""
    host = conn.host
    argv = sh(SESSION, "session", "attach", remote_dir, host.perf, int(want_data), script_from, data_from, wait_s)
    session = Session(await conn.start(argv, privileged=True), host.name)
    await _hello(session)
    return session


async def _hello(session: Session) -> None:
    msg = await session.expect("hello", timeout=60)
    if msg.args != (str(PROTOCOL_VERSION),):
        raise ProtocolError(f"{session.host} speaks capture protocol {msg.args!r}, not {PROTOCOL_VERSION}")


def _printable(text: str) -> str:
    """Host text as one line without control characters (it is shown to the operator)."""
    return "".join(c if c.isprintable() else " " for c in text)


__all__ = ["Exit", "Message", "ProtocolError", "Session", "SessionFailed", "Sink", "Stalled", "open_attach", "open_new"]
