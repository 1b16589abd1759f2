"""Jump-host (ProxyJump) connections, opened once and shared by every host behind them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
        async with self._locks.setdefault(spec, asyncio.Lock()):
            if spec not in self._conns:
                self._conns[spec] = await self._open(spec)
            return self._conns[spec]

    async def _open(self, spec: str) -> asyncssh.SSHClientConnection:
        import asyncssh

        hops = spec.split(",")
        previous = await self.get(",".join(hops[:-1])) if len(hops) > 1 else None
        user, _, hostport = hops[-1].rpartition("@")
        host, _, port = hostport.partition(":")
        kwargs: dict[str, Any] = {}
        if user:
            kwargs["username"] = user
        if previous is not None:
            kwargs["tunnel"] = previous
        try:
            return await asyncssh.connect(
                host,
                int(port) if port else (),
                connect_timeout=self.settings.connect_timeout,
                keepalive_interval=self.settings.keepalive_interval,
                **kwargs,
            )
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            reason = "timed out" if isinstance(exc, asyncio.TimeoutError) else str(exc) or type(exc).__name__
            raise ConnectionError_(f"cannot reach jump host {hops[-1]}: {reason}") from exc

    async def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
