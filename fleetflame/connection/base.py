"""What the pipeline needs from a host, whether it is reached over SSH, is this machine, or a fake.

Commands are argument vectors, never shell strings: the SSH layer quotes every word once, in one
place (`shell_join`), so nothing from an inventory or a target reaches a remote shell unquoted.
"""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import HostError
from ..inventory.model import HostRecord
from .ratelimit import RateLimit

STDERR_KEPT = 64 * 1024  # the end of a command's stderr that is kept for messages


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_text(self) -> str:
        text = self.stderr.decode(errors="replace").strip() or self.stdout.decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit status {self.returncode}"


class ConnectionError_(HostError):
    """The host could not be reached or authenticated; the message says what to do."""


class LinkLost(ConnectionError_):
    """An established connection to the host broke (sshd killed, network gone, host rebooted)."""


class RunningCommand(ABC):
    """A command running on the host with its stdin open: the capture session speaks through it.

    stdout is read by the caller; stderr is drained in the background (its last 64 KB kept), so
    a command that writes much to stderr never stalls its stdout."""

    @abstractmethod
    async def read(self, n: int) -> bytes:
        """Up to n bytes of stdout; b"" at its end. Raises LinkLost if the connection broke."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Queue bytes for stdin (no wait: the fleet's start signal goes to every host in one loop)."""

    @abstractmethod
    def close_stdin(self) -> None: ...

    @abstractmethod
    async def wait(self) -> int:
        """The exit status once the command has ended (255 if the link broke, 128+N for a signal)."""

    @abstractmethod
    def stderr_tail(self) -> str: ...

    @abstractmethod
    def kill(self) -> None:
        """Stop waiting for it: close the channel (the host's side sees its input end)."""


class Connection(ABC):
    def __init__(self, host: HostRecord) -> None:
        self.host = host
        self.rate = RateLimit()

    def command(self, argv: Sequence[str], privileged: bool = False) -> list[str]:
        """The argv to run; privileged commands go through `sudo -n` when the host says become."""
        argv = [str(a) for a in argv]
        if privileged and self.host.become:
            return ["sudo", "-n", "--", *argv]
        return argv

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        privileged: bool = False,
        timeout: float | None = None,
    ) -> CommandResult: ...

    @abstractmethod
    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand: ...

    @abstractmethod
    async def http_get(self, url: str, timeout: float) -> bytes:
        """GET a URL as seen from the host (for SSH: through a forwarded TCP channel)."""

    @abstractmethod
    async def close(self) -> None: ...


def sh(script: str, name: str, *args: object) -> list[str]:
    """argv running a fixed POSIX shell script with positional arguments: `sh -c SCRIPT NAME ARG...`.
    Inventory values and tile ids only ever arrive as arguments (quoted by the connection), never
    spliced into script text."""
    return ["sh", "-c", script, f"fleetflame-{name}", *(str(a) for a in args)]


def shell_join(argv: Sequence[str]) -> str:
    return shlex.join(str(a) for a in argv)


class StderrTail:
    """The last STDERR_KEPT bytes of a stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > STDERR_KEPT:
            del self.data[: len(self.data) - STDERR_KEPT]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")
