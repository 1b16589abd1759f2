"""A per-host transfer rate limit, so pulling perf.data never crowds out a validator's traffic."""

from __future__ import annotations

import asyncio
import time


class RateLimit:
    def __init__(self, bytes_per_second: float | None = None) -> None:
        self.rate = bytes_per_second
        self._start = time.monotonic()
        self._sent = 0

    @property
    def chunk_size(self) -> int:
        """Read size: small enough that a limited transfer advances smoothly."""
        if not self.rate:
            return 4 << 20
        return max(16 << 10, min(4 << 20, int(self.rate / 8)))

    def read_size(self, position: int, size: int | None) -> int:
        """How much to read next; never past a known end (a read past it costs a round trip)."""
        return self.chunk_size if size is None else max(0, min(self.chunk_size, size - position))

    async def consume(self, nbytes: int) -> None:
        if not self.rate:
            return
        self._sent += nbytes
        ahead = self._sent / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            await asyncio.sleep(ahead)
