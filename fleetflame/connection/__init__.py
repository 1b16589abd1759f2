"""Reaching hosts: over SSH (asyncssh) or, for `ansible_connection: local`, this machine."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

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


T = TypeVar("T")
Visit = Callable[[Connection, asyncio.Semaphore], Awaitable[T]]


def visit_hosts(hosts: list[HostRecord], settings: SshSettings, forks: int, visit: Visit[T]) -> list[T]:
    """Run `visit(conn, gate)` on every host at once (at most `forks` holding the gate), with
    shared jump hosts; each connection is closed afterwards. Results in the hosts' order."""

    async def all_hosts() -> list[T]:
        bastions = BastionPool(settings)
        gate = asyncio.Semaphore(max(1, forks))

        async def one(host: HostRecord) -> T:
            conn = open_connection(host, settings, bastions)
            try:
                return await visit(conn, gate)
            finally:
                await conn.close()

        try:
            return list(await asyncio.gather(*(one(h) for h in hosts)))
        finally:
            await bastions.close()

    return asyncio.run(all_hosts())


__all__ = [
    "BastionPool",
    "CommandResult",
    "Connection",
    "ConnectionError_",
    "LocalConnection",
    "RunningCommand",
    "SshSettings",
    "open_connection",
    "visit_hosts",
]
