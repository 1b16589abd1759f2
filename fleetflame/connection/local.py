"""`ansible_connection: local`: the host is this machine; commands run as subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from .base import CommandResult, Connection, RunningCommand, StderrTail
from .http import http_get


class LocalProcess(RunningCommand):
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr = StderrTail()
        self._drain = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr.add(chunk)

    async def read(self, n: int) -> bytes:
        assert self.proc.stdout is not None
        return await self.proc.stdout.read(n)

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command has ended; what it said is still to be read

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def wait(self) -> int:
        code = await self.proc.wait()
        await asyncio.wait({self._drain}, timeout=5)
        return code if code >= 0 else 128 - code

    def stderr_tail(self) -> str:
        return self.stderr.text()

    def kill(self) -> None:
        """Close our ends of its pipes, as a dropped SSH channel would: the command sees its input
        end (and its output go nowhere) and finishes on its own terms."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        transport = getattr(self.proc, "_transport", None)
        if transport is not None:
            transport.close()


class LocalConnection(Connection):
    async def connect(self) -> None:
        return None

    async def _spawn(self, argv: list[str], stdin: int | None) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *argv, stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        privileged: bool = False,
        timeout: float | None = None,
    ) -> CommandResult:
        full = self.command(argv, privileged)
        try:
            proc = await self._spawn(full, asyncio.subprocess.PIPE)
        except FileNotFoundError:
            return CommandResult(full, 127, b"", f"{full[0]}: command not found on {self.host.name}".encode())
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await proc.communicate(stdin)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            raise
        return CommandResult(full, proc.returncode or 0, stdout, stderr)

    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand:
        return LocalProcess(await self._spawn(self.command(argv, privileged), asyncio.subprocess.PIPE))

    async def http_get(self, url: str, timeout: float) -> bytes:
        return await http_get(asyncio.open_connection, url, timeout)

    async def close(self) -> None:
        return None
