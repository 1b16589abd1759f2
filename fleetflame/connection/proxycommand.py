"""A host's ProxyCommand, run as ssh runs it, with the SSH connection over its stdin and stdout.

ssh (sshconnect.c, ssh_proxy_connect) expands the command's tokens (%h %p %r %n %%) into
`exec COMMAND` and runs that with `$SHELL -c`. fleetflame runs it with `/bin/sh -c`, so the
command means the same whatever the operator's login shell is; `exec` leaves no shell behind.
Nothing is quoted into the command: the operator wrote it for ssh, and only ssh's own token
expansion puts values in, which the inventory side checks first (OpenSSH 9.6's rules).

asyncssh can run a proxy command itself, but it would feed the command's stderr into the SSH
stream and keep nothing of it for the error message; here the command gets one end of a socket
pair as stdin and stdout (the other end is the connection's socket), and its stderr is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket

from fleetflame.inventory.sshargs import expand_proxy_command

from .base import StderrTail

SHELL = "/bin/sh"


class ProxyCommand:
    """A running proxy command: `sock` is the SSH connection's end of its stdin/stdout."""

    def __init__(self, argv: list[str], process: asyncio.subprocess.Process, sock: socket.socket) -> None:
        self.argv = argv
        self.process = process
        self.sock = sock
        self.stderr = StderrTail()
        self._drain = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def start(cls, command: str, host: str, port: int, user: str, original: str) -> ProxyCommand:
        """Run `command` with its tokens expanded; OSError if it cannot be started."""
        argv = [SHELL, "-c", "exec " + expand_proxy_command(command, host, port, user, original)]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(argv, process, ours)

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        with contextlib.suppress(OSError):
            while chunk := await self.process.stderr.read(65536):
                self.stderr.add(chunk)

    async def failure(self, wait: float = 1.0) -> str:
        """Why the command may have failed: its exit status and the end of its stderr, one line."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.process.wait()), wait)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._drain), 0.5)
        said = " ".join(self.stderr.text().split())
        said = said if len(said) <= 300 else "…" + said[-300:]
        status = self.process.returncode
        state = "is still running" if status is None else f"exited with status {status}"
        return f"the ProxyCommand {state}" + (f" and said: {said}" if said else " and said nothing")

    async def close(self) -> None:
        """Once the connection is closed, the command sees its input end and exits; else it is
        stopped (TERM, then KILL)."""
        self.sock.close()
        for sig, wait in ((None, 5.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if self.process.returncode is not None:
                break
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(sig)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.process.wait()), wait)
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await self._drain
