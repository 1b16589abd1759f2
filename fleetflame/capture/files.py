"""Local files of a capture: private to the operator (folders 0700, files 0600).

A capture holds the fleet's recordings (perf.data can carry memory contents of the validator),
so nothing in it is readable by other local users: while a capture is written the process umask
is 077, which every writer (manifest, stacks, reports) inherits, and the folders are created
0700 and made so again if they existed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PRIVATE_UMASK = 0o077


@contextmanager
def private_files() -> Iterator[None]:
    """Files and folders created meanwhile are private (umask 077); the old umask comes back after."""
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it 0700; refuses a symlink."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_symlink():
        raise OSError(f"{path} is a symbolic link; refusing to write a capture through it")
    os.chmod(path, 0o700)
    return path


def write_text(path: Path, text: str) -> None:
    """Replace `path` atomically (0600, never through a symlink): readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fp:
        fp.write(text)
    os.replace(tmp, path)


def json_by_line(data: dict[str, Any], nested: str) -> str:
    """JSON of an object with one line per key, and one line per entry of `data[nested]`: easy to
    read and to diff by host, and written by the C encoder (json's indent= is pure Python,
    0.1 s for a manifest of 64 hosts)."""
    lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items() if k != nested]
    inner = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.get(nested, {}).items()]
    lines.append(f" {json.dumps(nested)}: {{" + ("\n" + ",\n".join(inner) + "\n }" if inner else "}"))
    return "{\n" + ",\n".join(lines) + "\n}\n"
