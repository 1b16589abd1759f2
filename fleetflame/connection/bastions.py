"""Jump-host (ProxyJump) connections, opened once and shared by every host behind them.

A bastion is connected like any host (`ssh.open_ssh`): its key is checked against known_hosts
and `--accept-new-host-keys` applies to it as to the hosts behind it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..inventory.sshargs import jump_hops
from .base import ConnectionError_
from .settings import SshSettings

if TYPE_CHECKING:
    import asyncssh


@dataclass
class BastionPool:
    """Jump-host connections shared by every host that goes through the same bastion."""

    settings: SshSettings
    _conns: dict[str, asyncssh.SSHClientConnection] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def get(self, spec: str) -> asyncssh.SSHClientConnection:
        """The connection to the last hop of `user@host:port[,user@host:port...]` (also `ssh://…`,
        and `[v6addr]:port`)."""
        async with self._locks.setdefault(spec, asyncio.Lock()):
            if spec not in self._conns:
                self._conns[spec] = await self._open(spec)
            return self._conns[spec]

    async def _open(self, spec: str) -> asyncssh.SSHClientConnection:
        from .ssh import open_ssh

        hops = spec.split(",")
        previous = await self.get(",".join(hops[:-1])) if len(hops) > 1 else None
        try:
            user, host, port = jump_hops(hops[-1])[0]
        except ValueError as exc:  # a ProxyJump of ~/.ssh/config (the inventory's are checked before)
            raise ConnectionError_(f"jump host {hops[-1]}: {exc}; write [user@]host[:port]") from None
        return await open_ssh(
            f"jump host {hops[-1]}",
            host,
            port,
            self.settings,
            user=user,
            tunnel=previous,
        )

    async def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
