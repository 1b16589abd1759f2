"""Bringing a host's results back through its session: perf.script.gz while the host symbolizes,
then perf.data, each verified by size and sha256 before it gets its name.

A file arrives as `NAME.part` and becomes `NAME` only once it matches the host's checksum, so an
interrupted `run` or `fetch` resumes from the `.part` (the session is told the offsets) and never
pulls twice what arrived. No SFTP: the data comes on the session's own channel, so a host whose
sshd has no sftp subsystem works the same, and nothing waits for another round trip.

The host's folder is opened once (`O_DIRECTORY|O_NOFOLLOW`, ours) and every name is resolved in
it: a `.part` starts as a new file (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600) and is resumed only if it
is a plain file of ours with one link, so nothing planted there (a symbolic or hard link, a FIFO)
is ever written through.

What a host may send is bounded by the capture's --max-perf-data (`Bounds`): perf.data by it plus
a margin (perf's --max-size is approximate), perf.script.gz by twice it; each file arrives at most
once per session. A host past a bound (an announced size, or the running total of the stream) is
refused before the data is read: what arrived from it is deleted here and the session is closed.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..connection.ratelimit import RateLimit
from ..errors import HostError
from . import files
from .manifest import PERF_DATA, PERF_SCRIPT
from .scripts import CHUNK_BYTES
from .session import MAX_FILE, Message, ProtocolError, Session

Progress = Callable[[str, int, int | None], None]  # file name, bytes so far, bytes expected
FILES = (PERF_SCRIPT, PERF_DATA)
MB = 1 << 20  # --max-perf-data's unit (perf record --max-size ...K, K being 1024 bytes)


class TransferError(HostError):
    """Results could not be brought back from a host; the message says why and what to do."""


class TooMuch(ProtocolError):
    """A host sent (or announced) more than --max-perf-data allows: refused, what arrived deleted."""


@dataclass(frozen=True)
class Bounds:
    """The most a host may send, from the capture's --max-perf-data (MB)."""

    max_perf_data_mb: int

    @property
    def perf_data(self) -> int:
        """perf stops near --max-size, not exactly at it: 10 % + 16 MB more are accepted."""
        return int(self.max_perf_data_mb * MB * 1.1) + 16 * MB

    @property
    def script(self) -> int:
        """perf script's output, gzipped, is about perf.data's size; twice --max-perf-data at most."""
        return 2 * self.max_perf_data_mb * MB

    def of(self, name: str) -> int:
        return self.perf_data if name == PERF_DATA else self.script

    def check(self, name: str, size: int, host: str, verb: str = "sent") -> None:
        """TooMuch if `size` bytes of `name` are more than a host may send."""
        if size <= self.of(name):
            return
        allows = "(+ margin)" if name == PERF_DATA else "(twice that for perf script's output)"
        raise TooMuch(
            f"{host} {verb} {_mb(size)} of {name}, more than --max-perf-data {self.max_perf_data_mb} MB allows {allows}: "
            "refused and deleted here, kept on the host; if the host is right, `fleetflame fetch` it with a higher --max-perf-data"
        )


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB" if size >= 100 * MB else f"{size / MB:.1f} MB"


@dataclass(frozen=True)
class Received:
    name: str
    size: int
    sha256: str


@dataclass
class Pulled:
    """What arrived and was verified, and how."""

    files: dict[str, Received] = field(default_factory=dict)
    transfers: list[dict[str, Any]] = field(default_factory=list)  # {file, offset, bytes, how}

    @property
    def bytes_pulled(self) -> int:
        return sum(int(t["bytes"]) for t in self.transfers)


def part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _part_name(name: str) -> str:
    return name + ".part"


def _ours(st: os.stat_result) -> bool:
    """A file fleetflame may append to: a regular file of ours, with no other name (hard link)."""
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(name: str, dir_fd: int) -> None:
    """Remove what is at `name` (a link itself, not its target)."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except (IsADirectoryError, PermissionError) as exc:
        raise TransferError(f"{name} is in the way in the host's capture folder ({exc.strerror}): remove it and run `fleetflame fetch` again") from None


def open_local_dir(local_dir: Path) -> int:
    """The host's local folder, opened once: never a link, and ours."""
    try:
        fd = files.open_dir(local_dir)
    except OSError as exc:
        raise TransferError(f"cannot use {local_dir}: {exc.strerror or exc}") from None
    if os.fstat(fd).st_uid != os.geteuid():
        os.close(fd)
        raise TransferError(f"{local_dir} is not fleetflame's folder (another user owns it): nothing is written there")
    return fd


def resume_offsets(local_dir: Path) -> dict[str, int]:
    """How many bytes of each file are here already (a verified file counts whole: the host will
    confirm its checksum). A `.part` that is not a plain file of ours is removed, not resumed."""
    offsets = {}
    dir_fd = open_local_dir(local_dir)
    try:
        for name in FILES:
            partial = _part_name(name)
            done = _lstat(name, dir_fd)
            if done is not None and _ours(done):
                os.replace(name, partial, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)  # re-verified against the host's checksum below
            st = _lstat(partial, dir_fd)
            if st is not None and not _ours(st):
                _remove(partial, dir_fd)  # a link or someone else's file is never appended to
                st = None
            offsets[name] = st.st_size if st is not None else 0
    finally:
        os.close(dir_fd)
    return offsets


class _Incoming:
    """One `.part` file being written: appends, hashes, paces and reports as data arrives."""

    def __init__(
        self, dir_fd: int, local_dir: Path, name: str, offset: int, rate: RateLimit, progress: Progress, total: int | None
    ) -> None:
        self.dir_fd, self.name, self.part = dir_fd, name, _part_name(name)
        self.path = local_dir / self.part
        self.rate, self.progress, self.total = rate, progress, total
        self.sha = hashlib.sha256()
        self.size = 0
        self.fp: IO[bytes] = self._open(offset)
        if offset:
            while self.size < offset and (block := self.fp.read(min(1 << 20, offset - self.size))):
                self.sha.update(block)
                self.size += len(block)
            self.fp.truncate(self.size)
        self.arrived = 0

    def _open(self, offset: int) -> IO[bytes]:
        """The `.part` to resume (a plain file of ours), or a new one in place of whatever was there."""
        if offset:
            try:
                fd = os.open(self.part, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass  # nothing to resume after all: the host's data will not add up, and says so
            except OSError as exc:
                raise self._planted(exc.strerror or str(exc)) from None
            else:
                if not _ours(os.fstat(fd)):
                    os.close(fd)
                    raise self._planted("not a plain file of fleetflame's")
                os.set_blocking(fd, True)
                return os.fdopen(fd, "r+b")
        _remove(self.part, self.dir_fd)
        try:
            fd = files.create_new(self.part, dir_fd=self.dir_fd)
        except FileExistsError:
            raise self._planted("created by someone else meanwhile") from None
        return os.fdopen(fd, "wb")

    def _planted(self, why: str) -> TransferError:
        return TransferError(f"{self.path} changed while fleetflame resumed it ({why}): nothing was written to it; run `fleetflame fetch` to pull it again")

    async def __call__(self, data: bytes) -> None:
        self.fp.write(data)
        self.sha.update(data)
        self.size += len(data)
        self.arrived += len(data)
        await self.rate.consume(len(data))
        self.progress(self.name, self.size, self.total)

    def finish(self, size: int, sha256: str, host: str) -> Received:
        self.fp.close()
        if self.size != size or self.sha.hexdigest() != sha256:
            _remove(self.part, self.dir_fd)
            raise TransferError(
                f"{self.name} from {host} arrived damaged ({self.size} of {size} bytes, checksum "
                f"{'matches' if self.sha.hexdigest() == sha256 else 'differs'}): run `fleetflame fetch` to pull it again"
            )
        os.replace(self.part, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        return Received(self.name, size, sha256)

    def abandon(self) -> None:
        self.fp.close()


async def receive(
    session: Session,
    local_dir: Path,
    rate: RateLimit,
    progress: Progress,
    offsets: dict[str, int] | None = None,
    pulled: Pulled | None = None,
    *,
    max_perf_data_mb: int,
) -> Pulled:
    """Read the session's results until `sent`: the streamed perf.script.gz, perf.data if sent.
    `pulled` collects what arrived as it arrives, so a caller knows it even if the link drops.
    A host that sends more than `max_perf_data_mb` allows (Bounds) fails with TooMuch, and what
    arrived from it in this session (or earlier: the `.part` files) is deleted."""
    offsets = offsets or {name: 0 for name in FILES}
    pulled = pulled if pulled is not None else Pulled()
    bounds = Bounds(max_perf_data_mb)
    host = session.host
    stream: _Incoming | None = None
    streamed = 0  # bytes of the perf.script.gz stream so far
    restarted = False
    opened: list[_Incoming] = []
    dir_fd = open_local_dir(local_dir)

    def incoming(name: str, offset: int, total: int | None) -> _Incoming:
        new = _Incoming(dir_fd, local_dir, name, offset, rate, progress, total)
        opened.append(new)
        return new

    def once(name: str) -> None:
        """Each file arrives once per session: a host repeating one would never end."""
        if name in pulled.files or (name == PERF_SCRIPT and stream is not None):
            raise ProtocolError(f"{host} sent {name} twice")

    try:
        while True:
            msg = await session.message()
            if msg.verb == "sent":
                break
            if msg.verb == "restart" and msg.args == (PERF_SCRIPT,):
                if restarted or stream is not None or PERF_SCRIPT in pulled.files:
                    raise ProtocolError(f"{host} restarted {PERF_SCRIPT} after sending it")
                restarted = True
                offsets[PERF_SCRIPT] = 0
            elif msg.verb == "chunk":
                if PERF_SCRIPT in pulled.files:
                    raise ProtocolError(f"{host} sent {PERF_SCRIPT} twice")
                n = _number(msg, 0, 1, CHUNK_BYTES, host)
                bounds.check(PERF_SCRIPT, streamed + n, host)
                if stream is None:
                    stream = incoming(PERF_SCRIPT, 0, None)
                    pulled.transfers.append({"file": PERF_SCRIPT, "offset": 0, "bytes": 0, "how": "stream"})
                await session.read_exact(n, stream)
                streamed += n
                pulled.transfers[-1]["bytes"] += n
            elif msg.verb == "sum" and msg.args[:1] == (PERF_SCRIPT,):
                if PERF_SCRIPT in pulled.files:
                    raise ProtocolError(f"{host} sent {PERF_SCRIPT} twice")
                if stream is None:  # an empty perf script output still comes as a stream
                    stream = incoming(PERF_SCRIPT, 0, 0)
                size, sha = _number(msg, 1, 0, MAX_FILE, host), _sha(msg, 2, host)
                pulled.files[PERF_SCRIPT] = stream.finish(size, sha, host)
            elif msg.verb == "file" and msg.args[:1] in ((PERF_SCRIPT,), (PERF_DATA,)):
                name = msg.args[0]
                once(name)
                size, sha = _number(msg, 1, 0, MAX_FILE, host), _sha(msg, 2, host)
                bounds.check(name, size, host, "announced")  # before a byte of it is read
                start = _number(msg, 3, 0, size, host)
                have = offsets.get(name, 0)
                if start not in (0, have):
                    raise ProtocolError(f"{host} resumed {name} at byte {start}, not {have}")
                arriving = incoming(name, start, size)
                await session.read_exact(size - start, arriving)
                pulled.transfers.append({"file": name, "offset": start, "bytes": size - start, "how": "stream"})
                pulled.files[name] = arriving.finish(size, sha, host)
            else:
                raise ProtocolError(f"{host} sent {msg.verb!r} while sending results")
    except TooMuch:
        for each in opened:
            if not each.fp.closed:
                each.abandon()
        for name in FILES:  # nothing from a host that broke the bound is kept, resumable or not
            for each_name in (name, _part_name(name)):
                try:
                    _remove(each_name, dir_fd)
                except TransferError:
                    pass  # not a file (someone made a folder there): not ours to delete
        pulled.files.clear()
        raise
    finally:
        for each in opened:
            if not each.fp.closed:
                each.abandon()
        os.close(dir_fd)
    if PERF_SCRIPT not in pulled.files:
        raise ProtocolError(f"{host} finished without sending {PERF_SCRIPT}")
    return pulled


def _number(msg: Message, index: int, low: int, high: int, host: str) -> int:
    try:
        return msg.int_arg(index, low, high)
    except ValueError as exc:
        raise ProtocolError(f"{host}: {exc}") from None


def _sha(msg: Message, index: int, host: str) -> str:
    try:
        return msg.sha_arg(index)
    except ValueError as exc:
        raise ProtocolError(f"{host}: {exc}") from None
