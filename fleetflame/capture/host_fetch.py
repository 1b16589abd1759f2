"""A fetch's driver for one host: attach to the session a run left recording, wait, take the results."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from . import record, transfer
from .events import Stage
from .files import private_dir
from .host import HostCapture
from .manifest import PERF_DATA, PERF_SCRIPT
from .scripts import Exit
from .session import Session, SessionFailed, open_attach


@dataclass
class FetchCapture(HostCapture):
    async def fetch(self) -> None:
        """Finish a capture whose recording was started earlier (detached, or by a run that died)."""
        session: Session | None = None
        row = self.result
        try:
            async with self.forks:
                await self._connect()
            private_dir(self.local_dir)
            offsets = transfer.resume_offsets(self.local_dir)
            left = 0.0 if row.expected_end is None else max(0.0, row.expected_end - time.time())
            assert row.remote_dir is not None
            session = await open_attach(
                self.conn,
                row.remote_dir,
                self.settings.keep_perf_data,
                offsets[PERF_SCRIPT],
                offsets[PERF_DATA],
                int(left + record.GRACE_S),
            )
            self._event(Stage.WAITING, "until perf ends")
            await self._timed("record", self._wait_end(session, left))
            await self._results(session, offsets)
        except BaseException as exc:
            if session is not None:
                session.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            if isinstance(exc, SessionFailed) and exc.code == Exit.GONE:
                self.record.cleaned(self.host.name)  # nothing left there to fetch
            self.fail_host(exc)
