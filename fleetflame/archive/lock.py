"""A lock per schedule, so a cron run that overlaps the previous run of the same schedule exits at once.

"The same schedule" is the same TARGET, inventories and --limit writing to the same OUT: the lock
file is `OUT/.fleetflame-<key>.lock`. It is an flock(2), not the file's existence: the kernel drops
it when the holder's process dies, however it dies, so a leftover file never blocks a later run.
The file is never deleted: unlinking a lock file lets a process that opened the old one and a
process that creates a new one both "hold" the lock.

The holder writes its pid, start time and command into the file, for the busy message.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..errors import FleetflameError
from ..host.targets import Target

EXIT_BUSY = 75  # EX_TEMPFAIL (sysexits.h): try again later


def schedule_key(target: Target, inventories: Sequence[str | Path], limit: str | None) -> str:
    """A short stable key for (target, inventories, limit), insensitive to spelling that doesn't
    change what is recorded: `verify` = `verify:0` and word order (the Target, parsed once by the
    CLI, compares by `key`), relative or absolute inventory paths, no --limit = `all`."""
    identity = {
        "target": target.key,
        "inventories": sorted({str(Path(p).expanduser().resolve()) for p in inventories}),
        "limit": (limit or "").strip() or "all",
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def lock_path(out: Path, key: str) -> Path:
    return out / f".fleetflame-{key}.lock"


@dataclass(frozen=True)
class Holder:
    pid: int
    started_at: str
    command: str
    host: str = ""

    @classmethod
    def current(cls) -> Holder:
        started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(os.getpid(), started, " ".join(sys.argv), socket.gethostname())

    def describe(self) -> str:
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{where}, started {self.started_at}: {self.command}"


class ScheduleBusy(FleetflameError):
    """Another process holds this schedule's lock."""

    exit_code = EXIT_BUSY

    def __init__(self, path: Path, holder: Holder | None) -> None:
        who = holder.describe() if holder else "a process that has not written its details yet"
        super().__init__(
            f"another run of this schedule is still running ({who}); this run exits without recording. "
            f"If runs keep overlapping, make --duration shorter than the schedule's interval; "
            f"if that run is stuck, stop it{f' (kill {holder.pid})' if holder else ''}. Lock: {path}"
        )
        self.path = path
        self.holder = holder


def read_holder(path: Path) -> Holder | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["started_at"]), str(data["command"]), str(data.get("host", "")))
    except (OSError, ValueError, TypeError, KeyError):
        return None


class ScheduleLock:
    """`with ScheduleLock(out, schedule_key(...)):` holds the schedule's lock, or raises
    ScheduleBusy (exit code 75) at once if another process holds it. Creates OUT if needed."""

    def __init__(self, out: Path, key: str) -> None:
        self.path = lock_path(out, key)
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Created without truncating (the holder's details must survive our failed attempt), never
        # through a symlink someone planted in OUT, close-on-exec so children never inherit the lock.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise FleetflameError(f"cannot open the schedule lock {self.path}: {exc.strerror or exc} (is it a symlink? remove it)") from None
        file = open(fd, "a+", encoding="utf-8")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise ScheduleBusy(self.path, self._wait_for_holder()) from None
        except BaseException:
            file.close()
            raise
        holder = Holder.current()
        file.seek(0)
        file.truncate()
        file.write(json.dumps(asdict(holder)) + "\n")
        file.flush()
        self._file = file

    def _wait_for_holder(self) -> Holder | None:
        # The holder writes its details just after it locks; give it a moment, not more.
        for _ in range(10):
            holder = read_holder(self.path)
            if holder:
                return holder
            time.sleep(0.02)
        return None

    def release(self) -> None:
        if self._file is None:
            return
        try:
            self._file.seek(0)
            self._file.truncate()  # no stale details for a reader to trust
            self._file.flush()
        finally:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> ScheduleLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
