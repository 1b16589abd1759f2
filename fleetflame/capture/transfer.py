"""Bringing a host's results back through its session: perf.script.gz while the host symbolizes,
then perf.data, each verified by size and sha256 before it gets its name.

A file arrives as `NAME.part` and becomes `NAME` only once it matches the host's checksum, so an
interrupted `run` or `fetch` resumes from the `.part` (the session is told the offsets) and never
pulls twice what arrived. No SFTP: the data comes on the session's own channel, so a host whose
sshd has no sftp subsystem works the same, and nothing waits for another round trip.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..connection.ratelimit import RateLimit
from ..errors import HostError
from .manifest import PERF_DATA, PERF_SCRIPT
from .scripts import CHUNK_BYTES
from .session import MAX_FILE, Message, ProtocolError, Session

Progress = Callable[[str, int, int | None], None]  # file name, bytes so far, bytes expected
FILES = (PERF_SCRIPT, PERF_DATA)


class TransferError(HostError):
    """Results could not be brought back from a host; the message says why and what to do."""


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


def resume_offsets(local_dir: Path) -> dict[str, int]:
    """How many bytes of each file are here already (a verified file counts whole: the host will
    confirm its checksum)."""
    offsets = {}
    for name in FILES:
        done, partial = local_dir / name, part(local_dir / name)
        if done.is_file() and not done.is_symlink():
            os.replace(done, partial)  # re-verified against the host's checksum below
        offsets[name] = partial.stat().st_size if partial.is_file() and not partial.is_symlink() else 0
    return offsets


class _Incoming:
    """One `.part` file being written: appends, hashes, paces and reports as data arrives."""

    def __init__(self, path: Path, offset: int, rate: RateLimit, progress: Progress, total: int | None) -> None:
        self.path, self.name, self.rate, self.progress, self.total = path, path.name.removesuffix(".part"), rate, progress, total
        self.sha = hashlib.sha256()
        self.size = 0
        self.fp: IO[bytes] = open(path, "r+b" if offset and path.exists() else "wb")
        if offset:
            while self.size < offset and (block := self.fp.read(min(1 << 20, offset - self.size))):
                self.sha.update(block)
                self.size += len(block)
            self.fp.truncate(self.size)
        self.arrived = 0

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
            self.path.unlink(missing_ok=True)
            raise TransferError(
                f"{self.name} from {host} arrived damaged ({self.size} of {size} bytes, checksum "
                f"{'matches' if self.sha.hexdigest() == sha256 else 'differs'}): run `fleetflame fetch` to pull it again"
            )
        os.replace(self.path, self.path.with_name(self.name))
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
) -> Pulled:
    """Read the session's results until `sent`: the streamed perf.script.gz, perf.data if sent.
    `pulled` collects what arrived as it arrives, so a caller knows it even if the link drops."""
    offsets = offsets or {name: 0 for name in FILES}
    pulled = pulled if pulled is not None else Pulled()
    stream: _Incoming | None = None
    opened: list[_Incoming] = []
    try:
        while True:
            msg = await session.message()
            if msg.verb == "sent":
                break
            if msg.verb == "restart" and msg.args == (PERF_SCRIPT,):
                if stream is not None:
                    stream.abandon()
                offsets[PERF_SCRIPT] = 0
                stream = None
            elif msg.verb == "chunk":
                if stream is None:
                    stream = _Incoming(part(local_dir / PERF_SCRIPT), 0, rate, progress, None)
                    opened.append(stream)
                    pulled.transfers.append({"file": PERF_SCRIPT, "offset": 0, "bytes": 0, "how": "stream"})
                n = _number(msg, 0, 1, CHUNK_BYTES, session.host)
                await session.read_exact(n, stream)
                pulled.transfers[-1]["bytes"] += n
            elif msg.verb == "sum" and msg.args[:1] == (PERF_SCRIPT,):
                if stream is None:  # an empty perf script output still comes as a stream
                    stream = _Incoming(part(local_dir / PERF_SCRIPT), 0, rate, progress, 0)
                    opened.append(stream)
                size, sha = _number(msg, 1, 0, MAX_FILE, session.host), _sha(msg, 2, session.host)
                pulled.files[PERF_SCRIPT] = stream.finish(size, sha, session.host)
            elif msg.verb == "file" and msg.args[:1] in ((PERF_SCRIPT,), (PERF_DATA,)):
                name = msg.args[0]
                size, sha = _number(msg, 1, 0, MAX_FILE, session.host), _sha(msg, 2, session.host)
                start = _number(msg, 3, 0, size, session.host)
                have = offsets.get(name, 0)
                if start not in (0, have):
                    raise ProtocolError(f"{session.host} resumed {name} at byte {start}, not {have}")
                incoming = _Incoming(part(local_dir / name), start, rate, progress, size)
                opened.append(incoming)
                await session.read_exact(size - start, incoming)
                pulled.transfers.append({"file": name, "offset": start, "bytes": size - start, "how": "stream"})
                pulled.files[name] = incoming.finish(size, sha, session.host)
            else:
                raise ProtocolError(f"{session.host} sent {msg.verb!r} while sending results")
    finally:
        for incoming in opened:
            if not incoming.fp.closed:
                incoming.abandon()
    if PERF_SCRIPT not in pulled.files:
        raise ProtocolError(f"{session.host} finished without sending {PERF_SCRIPT}")
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
