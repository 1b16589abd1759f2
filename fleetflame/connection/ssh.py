"""SSH hosts through asyncssh: one connection per host, held for the whole capture.

User, port and identity come from the inventory, then ~/.ssh/config and the SSH agent, as with
OpenSSH. Host keys are checked against known_hosts; `accept_new_host_keys` admits keys of hosts
that known_hosts does not mention at all (OpenSSH's `StrictHostKeyChecking=accept-new`), never a
key that differs from a recorded one.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncssh

from ..inventory.model import HostRecord
from .base import CommandResult, Connection, ConnectionError_, Progress, RunningCommand, shell_join
from .bastions import BastionPool
from .http import http_get
from .settings import SshSettings

CHUNK = 1 << 20

# The same ciphers as asyncssh's defaults, AES-GCM first: the `cryptography` package does it in C,
# where chacha20-poly1305 goes through Python per packet (about 7x the control CPU per host).
# An explicit `Ciphers` in ~/.ssh/config wins.
FAST_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)


class _HostKeyPolicy(asyncssh.SSHClient):
    """Called by asyncssh only for a key that known_hosts does not already trust."""

    def __init__(self, known_files: list[str], accept_new: bool) -> None:
        self.known_files = known_files
        self.accept_new = accept_new
        self.changed = False
        self.accepted: tuple[str, int, asyncssh.SSHKey] | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        if _has_known_entry(self.known_files, host, addr, port):
            self.changed = True
            return False
        if self.accept_new:
            self.accepted = (host, port, key)
            return True
        return False


def _has_known_entry(files: list[str], host: str, addr: str, port: int) -> bool:
    for path in files:
        if not Path(path).expanduser().is_file():
            continue
        try:
            matches = asyncssh.match_known_hosts(str(Path(path).expanduser()), host, addr, port if port != 22 else None)
        except (OSError, ValueError):
            continue
        if any(matches[:3]):
            return True
    return False


def _known_host_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def _remember_key(files: list[str], host: str, port: int, key: asyncssh.SSHKey) -> None:
    path = Path(files[0]).expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = key.export_public_key("openssh").decode().split()
    with open(path, "a", encoding="utf-8") as fp:
        fp.write(f"{_known_host_name(host, port)} {line[0]} {line[1]}\n")


class SshProcess(RunningCommand):
    def __init__(self, argv: list[str], proc: asyncssh.SSHClientProcess[bytes]) -> None:
        self.argv = argv
        self.proc = proc

    async def readline(self) -> bytes:
        return await self.proc.stdout.readline()

    async def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def wait(self) -> CommandResult:
        self.proc.stdin.write_eof()
        result = await self.proc.wait()
        return CommandResult(self.argv, _exit_status(result), _as_bytes(result.stdout), _as_bytes(result.stderr))

    def kill(self) -> None:
        self.proc.close()


class SshConnection(Connection):
    def __init__(self, host: HostRecord, settings: SshSettings, bastions: BastionPool) -> None:
        super().__init__(host)
        self.settings = settings
        self.bastions = bastions
        self.conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None

    async def connect(self) -> None:
        host = self.host
        kwargs: dict[str, Any] = {
            "connect_timeout": self.settings.connect_timeout,
            "keepalive_interval": self.settings.keepalive_interval,
            "keepalive_count_max": self.settings.keepalive_count_max,
        }
        if host.user:
            kwargs["username"] = host.user
        if host.identity_file:
            kwargs["client_keys"] = [str(Path(host.identity_file).expanduser())]
        port = host.port if host.port is not None else ()
        try:
            options = await asyncssh.SSHClientConnectionOptions.construct(
                None, config=(), host=host.address, port=port, **kwargs
            )
        except (OSError, ValueError, asyncssh.Error) as exc:
            raise ConnectionError_(f"bad SSH settings for {host.name}: {exc}") from exc
        if options.known_hosts is None:
            known_files: list[str] = []
        else:
            known_files = list(options.known_hosts) or ["~/.ssh/known_hosts"]
        policy = _HostKeyPolicy(known_files, self.settings.accept_new_host_keys)
        jump = host.proxy_jump or options.tunnel
        tunnel: Any = ()
        if isinstance(jump, str) and jump and jump.lower() != "none":
            tunnel = await self.bastions.get(jump)
        preferences: dict[str, Any] = {}
        if not options.config.get("Ciphers"):
            preferences["encryption_algs"] = FAST_CIPHERS
        try:
            self.conn = await asyncssh.connect(
                host.address, port, options=options, tunnel=tunnel, client_factory=lambda: policy, **preferences
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise ConnectionError_(self._host_key_message(policy, options.port)) from exc
        except asyncssh.PermissionDenied as exc:
            raise ConnectionError_(
                f"SSH login to {host.name} ({self._where()}) as {options.username} was refused: "
                "check ansible_user and ansible_ssh_private_key_file, or load the key into ssh-agent"
            ) from exc
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            raise ConnectionError_(
                f"cannot connect to {host.name} ({self._where()}): {_describe(exc)}"
            ) from exc
        if policy.accepted is not None and known_files:
            _remember_key(known_files, host.address, options.port, policy.accepted[2])

    def _where(self) -> str:
        return f"{self.host.address}:{self.host.port or 22}"

    def _host_key_message(self, policy: _HostKeyPolicy, port: int) -> str:
        name = _known_host_name(self.host.address, port)
        if policy.changed:
            return (
                f"host key of {self.host.name} ({self._where()}) does NOT match known_hosts: "
                f"if the host was really reinstalled, remove the old key with "
                f"`ssh-keygen -R '{name}'` and connect again"
            )
        return (
            f"host key of {self.host.name} ({self._where()}) is not in known_hosts: "
            f"add it (`ssh-keyscan -p {port} {self.host.address} >> ~/.ssh/known_hosts`, "
            "after checking it) or pass --accept-new-host-keys"
        )

    def _require(self) -> asyncssh.SSHClientConnection:
        if self.conn is None:
            raise ConnectionError_(f"{self.host.name}: not connected")
        return self.conn

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
            result = await self._require().run(
                shell_join(full), input=stdin, encoding=None, timeout=timeout, check=False
            )
        except asyncssh.TimeoutError as exc:
            raise asyncio.TimeoutError(f"{full[0]} timed out on {self.host.name}") from exc
        except (asyncssh.Error, OSError) as exc:
            raise ConnectionError_(f"lost connection to {self.host.name}: {_describe(exc)}") from exc
        return CommandResult(full, _exit_status(result), _as_bytes(result.stdout), _as_bytes(result.stderr))

    async def run_to_file(
        self,
        argv: Sequence[str],
        dest: Path,
        *,
        privileged: bool = False,
        progress: Progress | None = None,
    ) -> CommandResult:
        full = self.command(argv, privileged)
        copied = 0
        try:
            async with self._require().create_process(shell_join(full), encoding=None) as proc:
                proc.stdin.write_eof()
                stderr_task = asyncio.ensure_future(proc.stderr.read())
                with open(dest, "wb") as out:
                    while chunk := await proc.stdout.read(CHUNK):
                        out.write(chunk)
                        copied += len(chunk)
                        await self.rate.consume(len(chunk))
                        if progress:
                            progress(copied)
                result = await proc.wait()
                stderr = await stderr_task
        except (asyncssh.Error, OSError) as exc:
            raise ConnectionError_(f"lost connection to {self.host.name}: {_describe(exc)}") from exc
        return CommandResult(full, _exit_status(result), b"", _as_bytes(stderr))

    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand:
        full = self.command(argv, privileged)
        try:
            proc = await self._require().create_process(shell_join(full), encoding=None)
        except (asyncssh.Error, OSError) as exc:
            raise ConnectionError_(f"lost connection to {self.host.name}: {_describe(exc)}") from exc
        return SshProcess(full, proc)

    async def http_get(self, url: str, timeout: float) -> bytes:
        return await http_get(self._require().open_connection, url, timeout)

    async def fetch_file(
        self, remote: str, dest: Path, *, offset: int = 0, size: int | None = None, progress: Progress | None = None
    ) -> int:
        try:
            if self._sftp is None:
                self._sftp = await self._require().start_sftp_client()
            copied = 0
            async with self._sftp.open(remote, "rb") as inp:
                await inp.seek(offset)
                with open(dest, "ab" if offset else "wb") as out:
                    out.truncate(offset)
                    # Reading only up to the known size: a read past the end costs a batch of requests.
                    while chunk := await inp.read(self.rate.read_size(offset + copied, size)):
                        out.write(_as_bytes(chunk))
                        copied += len(chunk)
                        await self.rate.consume(len(chunk))
                        if progress:
                            progress(offset + copied)
            return copied
        except (asyncssh.Error, OSError) as exc:
            raise ConnectionError_(f"copying {remote} from {self.host.name} failed: {_describe(exc)}") from exc

    async def close(self) -> None:
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        if self.conn is not None:
            self.conn.close()
            try:
                await asyncio.wait_for(self.conn.wait_closed(), 5)
            except (asyncio.TimeoutError, asyncssh.Error, OSError):
                pass
            self.conn = None


def _exit_status(result: asyncssh.SSHCompletedProcess) -> int:
    if result.exit_status is not None:
        return result.exit_status
    return 128 + 9 if result.exit_signal else 255


def _as_bytes(data: object) -> bytes:
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode()
    return bytes(data)  # type: ignore[call-overload]


def _describe(exc: BaseException) -> str:
    """The reason, in words an operator can act on."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out: is the host up and port open? (--connect-timeout sets the wait)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: is sshd running there, and is ansible_port right?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the address ({exc.strerror}): check ansible_host"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "no route to host: check ansible_host and the network path (or a ProxyJump)"
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    return str(exc) or type(exc).__name__
