"""A per-host transfer rate limit, so pulling results never crowds out a validator's traffic.

Pacing starts with the first byte (a connection that waited for perf has earned no credit), so
the average over any stretch of a transfer stays at the rate; the SSH channel's flow control then
slows the host's side to match.
"""

from __future__ import annotations

import asyncio
import time


class RateLimit:
    def __init__(self, bytes_per_second: float | None = None) -> None:
        self.rate = bytes_per_second
        self._start: float | None = None
        self._sent = 0

    async def consume(self, nbytes: int) -> None:
        if not self.rate:
            return
        if self._start is None:
            self._start = time.monotonic()
        self._sent += nbytes
        ahead = self._sent / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            await asyncio.sleep(ahead)
