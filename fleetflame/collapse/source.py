"""Input as big byte chunks: files, stdin, binary or text streams, or lines; gzip transparently.

gzip is inflated a chunk at a time whatever the ratio (a 0.1 MB file can hold 100 MB of
newlines), and a truncated or corrupt stream ends the input with a warning, not an exception.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1 << 20  # 1 MB: bigger chunks cost RSS (a few copies of each) and gain no speed
GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(chunks: Iterator[bytes], warnings: list[str]) -> Iterator[bytes]:
    """Streaming gunzip of one or more concatenated gzip members (as `gzip -dc` reads them), at
    most CHUNK bytes out at a time. What a damaged stream holds up to the damage is kept."""
    d = zlib.decompressobj(wbits=47)
    started = False  # the current member has had input
    members = 0
    try:
        for chunk in chunks:
            while chunk:
                started = True
                yield from _inflate(d, chunk)
                if not d.eof:
                    break  # all of it taken in: the member goes on in the next chunk
                members += 1
                chunk, started = d.unused_data, False  # the next member, if any
                d = zlib.decompressobj(wbits=47)
        if started:
            warnings.append(f"the gzip input ends early (after {members} whole members): truncated? collapsed what it holds")
    except zlib.error as exc:
        warnings.append(f"the gzip input is corrupt after {members} whole members ({exc}): collapsed what came before")


def _inflate(d: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """What `data` inflates to, CHUNK bytes at a time (output can still be pending once all of
    the input is taken in); stops at the end of the member."""
    while True:
        out = d.decompress(data, CHUNK)
        if out:
            yield out
        data = d.unconsumed_tail
        if d.eof or (not data and len(out) < CHUNK):
            return


def _raw_chunks(fp: IO[bytes]) -> Iterator[bytes]:
    while chunk := fp.read(CHUNK):
        yield chunk


def byte_chunks(source: IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes], warnings: list[str]) -> Iterator[bytes]:
    """Chunks of the input's bytes. Text is encoded back to UTF-8 (surrogateescape round-trips
    undecodable bytes). Lines from an iterable are taken as a file yields them, newline included.
    A damaged gzip stream adds a line to `warnings`."""
    read = getattr(source, "read", None)
    if read is not None:
        first = read(CHUNK)
        if isinstance(first, str):
            yield first.encode("utf-8", "surrogateescape")
            while text := read(CHUNK):
                yield text.encode("utf-8", "surrogateescape")
            return
        rest = _raw_chunks(source)  # type: ignore[arg-type]
        chunks = _chain(first, rest)
        yield from _gunzip(chunks, warnings) if first.startswith(GZIP_MAGIC) else chunks
        return
    batch: list[bytes] = []
    size = 0
    for line in source:  # type: ignore[union-attr]
        b = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        if not b.endswith(b"\n"):
            b += b"\n"
        batch.append(b)
        size += len(b)
        if size >= CHUNK:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def open_binary(path: str | Path) -> IO[bytes]:
    """"-" is stdin."""
    if str(path) == "-":
        return sys.stdin.buffer
    return open(path, "rb")
