"""What the pipeline needs from a host, whether it is reached over SSH or is this machine.

Commands are argument vectors, never shell strings: the SSH layer quotes every word once, in one
place (`shell_join`), so nothing from an inventory or a target reaches a remote shell unquoted.
"""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..inventory.model import HostRecord
from .ratelimit import RateLimit

Progress = Callable[[int], None]  # called with bytes transferred so far


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


class ConnectionError_(Exception):
    """The host could not be reached or authenticated; the message says what to do."""


class RunningCommand(ABC):
    """A command started on the host with its stdin open, for the synchronised start."""

    @abstractmethod
    async def readline(self) -> bytes: ...

    @abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abstractmethod
    async def wait(self) -> CommandResult: ...

    @abstractmethod
    def kill(self) -> None: ...


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
    async def run_to_file(
        self,
        argv: Sequence[str],
        dest: Path,
        *,
        privileged: bool = False,
        progress: Progress | None = None,
    ) -> CommandResult:
        """Run a command, streaming its stdout into a local file."""

    @abstractmethod
    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand: ...

    @abstractmethod
    async def http_get(self, url: str, timeout: float) -> bytes:
        """GET a URL as seen from the host (for SSH: through a forwarded TCP channel)."""

    @abstractmethod
    async def fetch_file(
        self, remote: str, dest: Path, *, offset: int = 0, size: int | None = None, progress: Progress | None = None
    ) -> int:
        """Copy a host file into `dest`, appending from `offset` (resume) up to `size` when known.
        Returns the bytes copied."""

    @abstractmethod
    async def close(self) -> None: ...


def shell_join(argv: Sequence[str]) -> str:
    return shlex.join(str(a) for a in argv)
