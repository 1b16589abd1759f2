"""Bringing a host's results back: symbolize there, stream or resume, verify, clean up.

Every pull is resumable: a file arrives as `NAME.part` and becomes `NAME` only once its size and
sha256 match the host's, so an interrupted `run` or `fetch` continues where it stopped and never
downloads twice what already arrived. A fresh run costs the host three commands after perf ends:
symbolize (streamed back), checksum both files, remove the folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from .capture import PERF_DATA, PERF_SCRIPT, HostResult
from .connection.base import Connection
from .remote import CLEAN, STATE, SUMS, SYMBOLIZE, sh

ALREADY_SYMBOLIZED = 10  # SYMBOLIZE's exit status: done, or being done by another fetch
Progress = Callable[[str], None]
Sums = dict[str, tuple[int, str]]  # name -> (size, sha256)


class TransferError(Exception):
    """Results could not be brought back from a host; the message says why."""


def part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


async def pull_results(
    conn: Connection,
    remote_dir: str,
    local_dir: Path,
    result: HostResult,
    progress: Progress,
    keep_perf_data: bool = True,
    fresh: bool = False,
) -> None:
    """perf.script.gz (and perf.data) into local_dir, verified. `fresh`: nothing was tried before."""
    local_dir.mkdir(parents=True, exist_ok=True)
    script = local_dir / PERF_SCRIPT
    if not script.exists():
        if fresh:
            await _stream_script(conn, remote_dir, script, result, progress)
        else:
            await _symbolized(conn, remote_dir, script, result, progress)
    sums = await remote_sums(conn, remote_dir, PERF_SCRIPT, PERF_DATA)
    if PERF_SCRIPT not in sums:  # a fresh stream that found the work already done or under way
        await _symbolized(conn, remote_dir, script, result, progress)
        sums = await remote_sums(conn, remote_dir, PERF_SCRIPT, PERF_DATA)
    result.script_bytes, result.script_sha256 = sums[PERF_SCRIPT]
    if PERF_DATA in sums:
        result.perf_data_bytes, result.perf_data_sha256 = sums[PERF_DATA]
    await pull_file(conn, remote_dir, PERF_SCRIPT, local_dir, result, progress, sums)
    if keep_perf_data:
        await pull_file(conn, remote_dir, PERF_DATA, local_dir, result, progress, sums)
    result.bytes_pulled = sum(int(t["bytes"]) for t in result.transfers)


async def remote_sums(conn: Connection, remote_dir: str, *names: str) -> Sums:
    done = await conn.run(sh(SUMS, "sums", remote_dir, *names), privileged=True, timeout=600)
    if not done.ok:
        raise TransferError(f"cannot checksum capture files on {conn.host.name}: {done.error_text()}")
    sums = {}
    for line in done.stdout.decode().splitlines():
        size, digest, name = line.split(" ", 2)
        sums[name] = (int(size), digest)
    return sums


async def symbolize_state(conn: Connection, remote_dir: str) -> str:
    done = await conn.run(sh(STATE, "state", remote_dir), privileged=True, timeout=60)
    if not done.ok:
        raise TransferError(f"capture folder {remote_dir} is gone from {conn.host.name}: {done.error_text()}")
    return done.stdout.decode().split()[0]


async def _symbolized(
    conn: Connection, remote_dir: str, script: Path, result: HostResult, progress: Progress, max_wait: float = 3600
) -> None:
    """Make sure the host has a complete perf.script.gz, symbolizing it here if no one else is."""
    _keep_longer_prefix(script.with_name(script.name + ".stream"), part(script))
    deadline = asyncio.get_running_loop().time() + max_wait
    while (state := await symbolize_state(conn, remote_dir)) != "done":
        if asyncio.get_running_loop().time() > deadline:
            raise TransferError(f"perf script on {conn.host.name} did not finish within {max_wait:.0f} s")
        if state == "running":
            progress("waiting for another fetch to finish symbolizing")
            await asyncio.sleep(0.5)
            continue
        await _stream_script(conn, remote_dir, script, result, progress)


def _keep_longer_prefix(stream: Path, partial: Path) -> None:
    """An interrupted stream is a prefix of the host's file too: resume from the longer one."""
    if stream.exists() and (not partial.exists() or stream.stat().st_size > partial.stat().st_size):
        os.replace(stream, partial)
    stream.unlink(missing_ok=True)


async def _stream_script(conn: Connection, remote_dir: str, dest: Path, result: HostResult, progress: Progress) -> None:
    progress("symbolizing")
    # Streamed into its own file: a `.part` left by an interrupted pull must survive for resuming.
    stream = dest.with_name(dest.name + ".stream")
    done = await conn.run_to_file(
        sh(SYMBOLIZE, "symbolize", remote_dir, conn.host.perf),
        stream,
        privileged=True,
        progress=lambda n: progress(f"symbolizing, {n / 1e6:.1f} MB"),
    )
    if done.ok:
        result.transfers.append({"file": PERF_SCRIPT, "offset": 0, "bytes": stream.stat().st_size, "how": "stream"})
        os.replace(stream, part(dest))
    elif done.returncode == ALREADY_SYMBOLIZED:
        stream.unlink(missing_ok=True)  # empty: another fetch holds the lock, or it is done
    else:
        raise TransferError(f"perf script failed on {conn.host.name}: {done.error_text()}")


async def pull_file(
    conn: Connection, remote_dir: str, name: str, local_dir: Path, result: HostResult, progress: Progress, sums: Sums
) -> None:
    """Pull one file, resuming a `.part` left by an earlier attempt, and verify it."""
    if name not in sums:
        raise TransferError(f"{name} is missing on {conn.host.name} in {remote_dir}")
    size, digest = sums[name]
    dest, partial = local_dir / name, part(local_dir / name)
    if dest.exists() and _matches(dest, size, digest):
        return
    offset = partial.stat().st_size if partial.exists() else 0
    if offset > size:
        offset = 0
    if offset < size:
        progress(f"{name} {offset / 1e6:.1f}/{size / 1e6:.1f} MB")
        pulled = await conn.fetch_file(
            f"{remote_dir}/{name}",
            partial,
            offset=offset,
            size=size,
            progress=lambda n: progress(f"{name} {n / 1e6:.1f}/{size / 1e6:.1f} MB"),
        )
        result.transfers.append({"file": name, "offset": offset, "bytes": pulled, "how": "sftp"})
    if not _matches(partial, size, digest):
        partial.unlink(missing_ok=True)
        raise TransferError(f"{name} from {conn.host.name} arrived damaged (checksum mismatch); run fetch again")
    os.replace(partial, dest)


async def clean(conn: Connection, remote_dir: str) -> str | None:
    """Remove the host's capture folder; returns an error message, or None."""
    done = await conn.run(sh(CLEAN, "clean", remote_dir), privileged=True, timeout=120)
    return None if done.ok else f"could not remove {remote_dir} on {conn.host.name}: {done.error_text()}"


def _matches(path: Path, size: int, digest: str) -> bool:
    if not path.exists() or path.stat().st_size != size:
        return False
    sha = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest() == digest
