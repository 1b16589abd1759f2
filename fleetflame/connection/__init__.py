"""Reaching hosts: over SSH (asyncssh) or, for `ansible_connection: local`, this machine."""

from __future__ import annotations

from ..inventory.model import HostRecord
from .base import CommandResult, Connection, ConnectionError_, RunningCommand
from .local import LocalConnection
from .ssh import BastionPool, SshConnection, SshSettings


def open_connection(host: HostRecord, settings: SshSettings, bastions: BastionPool) -> Connection:
    """An unconnected Connection for the host; call `await conn.connect()`."""
    if host.is_local:
        return LocalConnection(host)
    return SshConnection(host, settings, bastions)


__all__ = [
    "BastionPool",
    "CommandResult",
    "Connection",
    "ConnectionError_",
    "LocalConnection",
    "RunningCommand",
    "SshConnection",
    "SshSettings",
    "open_connection",
]
