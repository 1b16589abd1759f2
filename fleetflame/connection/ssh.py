"""SSH hosts through asyncssh: one connection per host, held for the whole capture.

User, port, identities, timeouts, keepalives, known_hosts files, the host-key policy and the
proxy come from the host's record (the inventory's variables and ssh options, as OpenSSH would
read Ansible's command line, see inventory/records.py), then ~/.ssh/config and the SSH agent, as
with OpenSSH: what the record sets is passed to asyncssh explicitly, which beats ~/.ssh/config
as ssh's command line does. Host keys are checked against known_hosts; `accept_new_host_keys`
(or the host's `StrictHostKeyChecking=accept-new`) admits keys of hosts that known_hosts does
not mention at all, never a key that differs from a recorded one. Jump hosts (bastions.py) are
connected the same way, with the same host-key policy; a ProxyCommand runs as ssh runs it
(proxycommand.py).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncssh

from ..inventory.model import HostRecord
from ..inventory.sshargs import safe_for_proxy_command
from .base import CommandResult, Connection, ConnectionError_, LinkLost, RunningCommand, StderrTail, shell_join
from .http import http_get
from .proxycommand import ProxyCommand
from .settings import SshSettings


class JumpHosts(Protocol):
    """What a connection needs of the jump-host pool (bastions.BastionPool, which opens jump
    hosts with open_ssh: a protocol here keeps the two modules from importing each other)."""

    async def get(self, spec: str) -> asyncssh.SSHClientConnection: ...


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


# asyncssh formats a log line for every packet before deciding not to log it (packet.py,
# SSHPacketLogger._log_packet: about 25 µs a packet, 1.5 ms of control CPU per host and capture).
# Skip the formatting unless asyncssh's packet logging (debug level 3) is on.
_format_packet_log = asyncssh.packet.SSHPacketLogger._log_packet


def _log_packet_if_wanted(self: asyncssh.packet.SSHPacketLogger, *args: Any) -> None:
    if asyncssh.logging.SSHLogger._debug_level >= 3:
        _format_packet_log(self, *args)


asyncssh.packet.SSHPacketLogger._log_packet = _log_packet_if_wanted  # type: ignore[method-assign,assignment]

# asyncssh starts client authentication with a `none` request, whose only use is to learn which
# methods the server accepts (RFC 4252 §5.2 makes that step optional). Going to public keys at
# once saves one round trip per host, 100-250 ms to a distant validator. The key query that
# follows is unchanged (no signature with a key the server has not accepted), and if there is no
# key to offer, or the server refuses them, asyncssh goes on with the methods the server names.
_client_init = asyncssh.connection.SSHClientConnection.__init__


def _init_publickey_first(self: asyncssh.SSHClientConnection, *args: Any, **kwargs: Any) -> None:
    _client_init(self, *args, **kwargs)
    if b"publickey" in (self._preferred_auth or ()):
        self._auth_methods = [b"publickey", b"none"]


asyncssh.connection.SSHClientConnection.__init__ = _init_publickey_first  # type: ignore[method-assign]

# known_hosts files parsed once per run, not once per host (asyncssh reads them at every
# connect: with one line per host that is quadratic in the fleet's size, 7 ms a host at 64).
_known_hosts_cache: dict[tuple[tuple[str, int, int], ...], asyncssh.SSHKnownHosts] = {}


def _loaded_known_hosts(files: list[str]) -> asyncssh.SSHKnownHosts | None:
    """The known_hosts files as one parsed object, reused while none of them changes."""
    existing = [Path(f).expanduser() for f in files]
    existing = [p for p in existing if p.is_file()]
    if not existing:
        return None
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in existing)
    if key not in _known_hosts_cache:
        _known_hosts_cache.clear()
        _known_hosts_cache[key] = asyncssh.read_known_hosts([str(p) for p in existing])
    return _known_hosts_cache[key]


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


def _host_options(record: HostRecord | None, settings: SshSettings) -> dict[str, Any]:
    """asyncssh keywords for what the host's record sets (explicit keywords beat ~/.ssh/config,
    as ssh's command line does); the run's SshSettings for timeouts and keepalives it leaves out."""
    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    if record is None:
        return {
            "connect_timeout": settings.connect_timeout,
            "keepalive_interval": settings.keepalive_interval,
            "keepalive_count_max": settings.keepalive_count_max,
        }
    kwargs: dict[str, Any] = {
        "connect_timeout": pick(record.connect_timeout, settings.connect_timeout),
        "keepalive_interval": pick(record.keepalive_interval, settings.keepalive_interval),
        "keepalive_count_max": pick(record.keepalive_count_max, settings.keepalive_count_max),
    }
    if record.tcp_keepalive is not None:
        kwargs["tcp_keepalive"] = record.tcp_keepalive
    if record.compression is not None:
        kwargs["compression_algs"] = ["zlib@openssh.com", "zlib", "none"] if record.compression else ["none"]
    keys = [str(Path(k).expanduser()) for k in record.identity_files]
    if not keys and record.identity_file:
        keys = [str(Path(record.identity_file).expanduser())]
    if keys:
        kwargs["client_keys"] = keys
    if record.identities_only is True:
        # ssh's IdentitiesOnly: of the agent's keys, only those of the identity files (asyncssh
        # does the same for an IdentitiesOnly in ~/.ssh/config).
        identities: list[str] | list[bytes] = keys or list(asyncssh.public_key.load_default_identities())
        if identities:
            kwargs["agent_identities"] = identities
        else:  # no identity file at all: none of the agent's keys (asyncssh reads [] as "all")
            kwargs["agent_path"] = None
    elif record.identities_only is False:
        kwargs["agent_identities"] = None
    if record.known_hosts_files is not None:
        kwargs["known_hosts"] = list(record.known_hosts_files)
    return kwargs


async def open_ssh(
    label: str,
    address: str,
    port: int | None,
    settings: SshSettings,
    *,
    user: str | None = None,
    identity_file: str | None = None,
    jump: str | None = None,
    bastions: JumpHosts | None = None,
    tunnel: Any = None,
    record: HostRecord | None = None,
    proxies: list[ProxyCommand] | None = None,
) -> asyncssh.SSHClientConnection:
    """Connect and authenticate, checking the host key as OpenSSH would (see the module docstring).
    `label` names the host in messages. The jump host is `jump` (ansible_ssh_common_args) or the
    ProxyJump of ~/.ssh/config, opened through `bastions` (shared by every host behind it);
    `tunnel` is an already open connection to go through. `record` carries the host's other SSH
    settings (a ProxyCommand is started and appended to `proxies`, for the caller to close).
    Raises ConnectionError_ saying what to check."""
    where = f"{address}:{port or 22}"
    kwargs = _host_options(record, settings)
    if record is None and identity_file:
        kwargs["client_keys"] = [str(Path(identity_file).expanduser())]
    if user:
        kwargs["username"] = user
    command = record.proxy_command if record is not None else None
    if command or jump == "none":
        # An explicit ProxyCommand, or `none` for either, overrides both proxies of ~/.ssh/config
        # (ssh keeps the first value it obtains, and the command line comes first).
        kwargs["proxy_command"] = None
    try:
        options = await asyncssh.SSHClientConnectionOptions.construct(
            None, config=(), host=address, port=port if port is not None else (), **kwargs
        )
    except (OSError, ValueError, asyncssh.Error) as exc:
        raise ConnectionError_(f"bad SSH settings for {label}: {exc}") from exc
    known_files: list[str] = [] if options.known_hosts is None else (list(options.known_hosts) or ["~/.ssh/known_hosts"])
    accept_new = settings.accept_new_host_keys or (record is not None and record.strict_host_key_checking == "accept-new")
    policy = _HostKeyPolicy(known_files, accept_new)
    preferences: dict[str, Any] = {}
    if not options.config.get("Ciphers"):
        preferences["encryption_algs"] = FAST_CIPHERS
    if known_files:
        try:
            loaded = _loaded_known_hosts(known_files)
        except (OSError, ValueError) as exc:
            raise ConnectionError_(f"cannot read known_hosts for {label}: {exc}") from exc
        # none of the files exists yet: no key is known (as in ssh; asyncssh would fail to read them)
        preferences["known_hosts"] = loaded if loaded is not None else asyncssh.import_known_hosts("")
    tunnel_arg: Any = ()  # (): ~/.ssh/config's ProxyJump, if any
    sock: socket.socket | None = None
    proxy: ProxyCommand | None = None
    if command and command != "none":
        proxy = await _start_proxy(label, command, address, options)
        if proxies is not None:
            proxies.append(proxy)
        sock, tunnel_arg = proxy.sock, None
    elif jump == "none" or command == "none":
        tunnel_arg = None
    else:
        jump = jump or (options.tunnel if isinstance(options.tunnel, str) else None)
        if tunnel is None and jump and jump.lower() != "none" and bastions is not None:
            tunnel = await bastions.get(jump)
        if tunnel is not None:
            tunnel_arg = tunnel
    try:
        conn = await asyncssh.connect(
            address,
            port if port is not None else (),
            options=options,
            tunnel=tunnel_arg,
            sock=sock,
            client_factory=lambda: policy,
            **preferences,
        )
    except asyncssh.HostKeyNotVerifiable as exc:
        raise ConnectionError_(_host_key_message(label, where, address, options.port, policy.changed)) from exc
    except asyncssh.PermissionDenied as exc:
        raise ConnectionError_(
            f"SSH login to {label} ({where}) as {options.username} was refused: "
            "check ansible_user and ansible_ssh_private_key_file, or load the key into ssh-agent"
        ) from exc
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        if proxy is not None:
            raise ConnectionError_(
                f"cannot connect to {label} ({where}) through its ProxyCommand: {describe(exc)}; "
                f"{await proxy.failure()}"
            ) from exc
        raise ConnectionError_(f"cannot connect to {label} ({where}): {describe(exc)}") from exc
    if policy.accepted is not None and known_files:
        _remember_key(known_files, address, options.port, policy.accepted[2])
    return conn


async def _start_proxy(label: str, command: str, address: str,
                       options: asyncssh.SSHClientConnectionOptions) -> ProxyCommand:
    """The host's ProxyCommand, its tokens expanded with the values ssh would use: %h the host
    name (after ~/.ssh/config's Hostname), %p the port, %r the user, %n the name as given."""
    host, user = options.host, options.username
    for kind, value, token in (("host", host, "%h"), ("host", address, "%n"), ("user", user, "%r")):
        if token in command.replace("%%", "") and not safe_for_proxy_command(kind, value):
            raise ConnectionError_(
                f"the ProxyCommand of {label} would put {value!r} ({token}), which has characters a shell "
                "would interpret, into a shell line: give the host's plain name, address and user"
            )
    try:
        return await ProxyCommand.start(command, host, options.port, user, address)
    except OSError as exc:
        raise ConnectionError_(f"cannot run the ProxyCommand of {label}: {exc}") from exc


def _host_key_message(label: str, where: str, address: str, port: int, changed: bool) -> str:
    name = _known_host_name(address, port)
    if changed:
        return (
            f"host key of {label} ({where}) does NOT match known_hosts: "
            f"if the host was really reinstalled, remove the old key with "
            f"`ssh-keygen -R '{name}'` and connect again"
        )
    return (
        f"host key of {label} ({where}) is not in known_hosts: "
        f"add it (`ssh-keyscan -p {port} {address} >> ~/.ssh/known_hosts`, "
        "after checking it) or pass --accept-new-host-keys"
    )


class SshProcess(RunningCommand):
    def __init__(self, host: str, proc: asyncssh.SSHClientProcess[bytes]) -> None:
        self.host = host
        self.proc = proc
        self.stderr = StderrTail()
        self._drain = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        try:
            while chunk := await self.proc.stderr.read(65536):
                self.stderr.add(chunk)
        except (asyncssh.Error, OSError):
            pass

    async def read(self, n: int) -> bytes:
        try:
            return await self.proc.stdout.read(n)
        except (asyncssh.Error, OSError) as exc:
            raise LinkLost(f"lost the connection to {self.host}: {describe(exc)}") from exc

    def write(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except (asyncssh.Error, OSError) as exc:
            raise LinkLost(f"lost the connection to {self.host}: {describe(exc)}") from exc

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.write_eof()
        except (asyncssh.Error, OSError):
            pass

    async def wait(self) -> int:
        try:
            result = await self.proc.wait()
        except (asyncssh.Error, OSError):
            return 255
        await asyncio.wait({self._drain}, timeout=5)
        return _exit_status(result)

    def stderr_tail(self) -> str:
        return self.stderr.text()

    def kill(self) -> None:
        self.proc.close()
        self._drain.cancel()


class SshConnection(Connection):
    def __init__(self, host: HostRecord, settings: SshSettings, bastions: JumpHosts) -> None:
        super().__init__(host)
        self.settings = settings
        self.bastions = bastions
        self.conn: asyncssh.SSHClientConnection | None = None
        self.proxies: list[ProxyCommand] = []  # the ProxyCommand, while the connection lasts

    async def connect(self) -> None:
        host = self.host
        try:
            self.conn = await open_ssh(
                host.name,
                host.address,
                host.port,
                self.settings,
                user=host.user,
                identity_file=host.identity_file,
                jump=host.proxy_jump,
                bastions=self.bastions,
                record=host,
                proxies=self.proxies,
            )
        except BaseException:
            await self._stop_proxies()
            raise

    async def _stop_proxies(self) -> None:
        while self.proxies:
            await self.proxies.pop().close()

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
            result = await self._require().run(shell_join(full), input=stdin, encoding=None, timeout=timeout, check=False)
        except asyncssh.TimeoutError as exc:
            raise asyncio.TimeoutError(f"{full[0]} timed out on {self.host.name}") from exc
        except (asyncssh.Error, OSError) as exc:
            raise LinkLost(f"lost the connection to {self.host.name}: {describe(exc)}") from exc
        return CommandResult(full, _exit_status(result), _as_bytes(result.stdout), _as_bytes(result.stderr))

    async def start(self, argv: Sequence[str], *, privileged: bool = False) -> RunningCommand:
        full = self.command(argv, privileged)
        try:
            proc = await self._require().create_process(shell_join(full), encoding=None)
        except (asyncssh.Error, OSError) as exc:
            raise LinkLost(f"lost the connection to {self.host.name}: {describe(exc)}") from exc
        return SshProcess(self.host.name, proc)

    async def http_get(self, url: str, timeout: float) -> bytes:
        return await http_get(self._require().open_connection, url, timeout)

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            try:
                await asyncio.wait_for(self.conn.wait_closed(), 5)
            except (asyncio.TimeoutError, asyncssh.Error, OSError):
                pass
            self.conn = None
        await self._stop_proxies()


def _exit_status(result: asyncssh.SSHCompletedProcess) -> int:
    if result.exit_status is not None and result.exit_status >= 0:
        return result.exit_status
    return 128 + 9 if result.exit_signal else 255


def _as_bytes(data: object) -> bytes:
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode()
    return bytes(data)  # type: ignore[call-overload]


def describe(exc: BaseException) -> str:
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
