"""What an operator reads when a host fails: the exception, the stage, and what to do next."""

from __future__ import annotations

import asyncio
import errno

from ..connection.base import LinkLost
from ..errors import HostError
from ..inventory.model import HostRecord
from . import record, transfer
from .events import Stage
from .manifest import HostResult
from .scripts import Exit
from .session import SessionFailed, Stalled


def describe_failure(exc: BaseException, host: HostRecord, stage: Stage, row: HostResult, capture_id: str) -> str:
    """One line naming the host and what to do; `row` says whether `fetch` can still help."""
    name = host.name
    recoverable = row.remote_dir is not None and row.perf_started_at is not None and not row.cleaned
    hint = (
        f"; perf's results stay on {name} until its duration ends: `fleetflame fetch {capture_id}` recovers them"
        if recoverable
        else ""
    )
    if isinstance(exc, LinkLost):
        lost = f"lost the connection to {name}"
        reason = str(exc).removeprefix(lost).lstrip(" :")
        return f"{lost} while {stage.value}" + (f" ({reason})" if reason else "") + hint
    if isinstance(exc, SessionFailed):
        if exc.code == Exit.PERF_MISSING and exc.text.startswith(host.perf + ":"):
            return record.perf_missing(host)
        if exc.code == Exit.NO_CAPDROP:
            kept = row.remote_dir if not row.cleaned else None
            return record.no_capdrop(host, kept, capture_id)
        return exc.text if name in exc.text else f"{name}: {exc.text}"
    if isinstance(exc, Stalled):
        return f"{exc}: its results stay on the host; finish with `fleetflame fetch {capture_id}`"
    if isinstance(exc, HostError):
        return str(exc) + (hint if isinstance(exc, transfer.TransferError) else "")
    if isinstance(exc, asyncio.TimeoutError):
        return f"{name} stopped answering while {stage.value} (timed out){hint}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" ({exc.filename})" if exc.filename else ""
        return (f"no space left on this machine for {name}'s results of capture {capture_id}{where}: "
                f"free space there, then `fleetflame fetch {capture_id}` finishes {name}"
                + (" (its results stay on it)" if recoverable else ""))
    if isinstance(exc, OSError):
        return f"cannot write {name}'s results on this machine: {exc.strerror or exc}{hint}"
    return f"unexpected error with {name} while {stage.value} (a fleetflame bug, please report it): {type(exc).__name__}: {exc}{hint}"
