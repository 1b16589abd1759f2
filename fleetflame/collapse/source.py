"""Input as big byte chunks: files, stdin, binary or text streams, or lines; gzip transparently."""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1 << 20  # 1 MB: bigger chunks cost RSS (a few copies of each) and gain no speed
GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Streaming gunzip of one or more concatenated gzip members (as `gzip -dc` reads them)."""
    d = zlib.decompressobj(wbits=47)
    for chunk in chunks:
        while chunk:
            yield d.decompress(chunk)
            if not d.eof:
                break
            chunk = d.unused_data  # next member
            d = zlib.decompressobj(wbits=47)
    yield d.flush()


def _raw_chunks(fp: IO[bytes]) -> Iterator[bytes]:
    while chunk := fp.read(CHUNK):
        yield chunk


def byte_chunks(source: IO[bytes] | IO[str] | Iterable[str] | Iterable[bytes]) -> Iterator[bytes]:
    """Chunks of the input's bytes. Text is encoded back to UTF-8 (surrogateescape round-trips
    undecodable bytes). Lines from an iterable are taken as a file yields them, newline included."""
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
        yield from _gunzip(chunks) if first.startswith(GZIP_MAGIC) else chunks
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
