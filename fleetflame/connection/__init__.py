"""Reaching hosts: over SSH (asyncssh) or, for `ansible_connection: local`, this machine."""

from __future__ import annotations

from ..inventory.model import HostRecord
from .base import CommandResult, Connection, ConnectionError_, RunningCommand
from .local import LocalConnection
from .bastions import BastionPool
from .settings import SshSettings


def open_connection(host: HostRecord, settings: SshSettings, bastions: BastionPool) -> Connection:
    """An unconnected Connection for the host; call `await conn.connect()`."""
    if host.is_local:
        return LocalConnection(host)
    from .ssh import SshConnection  # asyncssh costs 0.3 s to import: only when a host needs it

    return SshConnection(host, settings, bastions)


__all__ = [
    "BastionPool",
    "CommandResult",
    "Connection",
    "ConnectionError_",
    "LocalConnection",
    "RunningCommand",
    "SshSettings",
    "open_connection",
]
