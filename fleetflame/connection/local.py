"""`ansible_connection: local`: the host is this machine; commands run as subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from .base import CommandResult, Connection, Progress, RunningCommand
from .http import http_get

CHUNK = 1 << 20


class LocalProcess(RunningCommand):
    def __init__(self, argv: list[str], proc: asyncio.subprocess.Process) -> None:
        self.argv = argv
        self.proc = proc

    async def readline(self) -> bytes:
        assert self.proc.stdout is not None
        return await self.proc.stdout.readline()

    async def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def wait(self) -> CommandResult:
        stdout, stderr = await self.proc.communicate()
        return CommandResult(self.argv, self.proc.returncode or 0, stdout, stderr)

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


class LocalConnection(Connection):
    async def connect(self) -> None:
        return None

    async def _spawn(self, argv: list[str], stdin: int | None, stdout: int) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *argv, stdin=stdin, stdout=stdout, stderr=asyncio.subprocess.PIPE
            )
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{argv[0]}: command not found on {self.host.name}") from exc

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
            proc = await self._spawn(full, asyncio.subprocess.PIPE, asyncio.subprocess.PIPE)
        except FileNotFoundError as exc:
            return CommandResult(full, 127, b"", str(exc).encode())
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await proc.communicate(stdin)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            raise
        return CommandResult(full, proc.returncode or 0, stdout, stderr)

    async def run_to_file(
        self,
        argv: Sequence[str],
        dest: Path,
        *,
        privileged: bool = False,
        progress: Progress | None = None,
    ) -> CommandResult:
        full = self.command(argv, privileged)
        proc = await self._spawn(full, asyncio.subprocess.DEVNULL, asyncio.subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        stderr_task = asyncio.ensure_future(proc.stderr.read())
        copied = 0
        try:
            with open(dest, "wb") as out:
                while chunk := await proc.stdout.read(CHUNK):
                    out.write(chunk)
                    copied += len(chunk)
                    await self.rate.consume(len(chunk))
                    if progress:
                        progress(copied)
            await proc.wait()
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            stderr_task.cancel()
            raise
        return CommandResult(full, proc.returncode or 0, b"", await stderr_task)

    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand:
        full = self.command(argv, privileged)
        proc = await self._spawn(full, asyncio.subprocess.PIPE, asyncio.subprocess.PIPE)
        return LocalProcess(full, proc)

    async def http_get(self, url: str, timeout: float) -> bytes:
        return await http_get(asyncio.open_connection, url, timeout)

    async def fetch_file(
        self, remote: str, dest: Path, *, offset: int = 0, size: int | None = None, progress: Progress | None = None
    ) -> int:
        copied = 0
        with open(remote, "rb") as inp, open(dest, "ab" if offset else "wb") as out:
            inp.seek(offset)
            out.truncate(offset)
            while chunk := await asyncio.to_thread(inp.read, self.rate.read_size(offset + copied, size)):
                out.write(chunk)
                copied += len(chunk)
                await self.rate.consume(len(chunk))
                if progress:
                    progress(offset + copied)
        return copied

    async def close(self) -> None:
        return None
