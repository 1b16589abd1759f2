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


def write_json(path: Path, data: Any, indent: int | None = 1) -> None:
    """Replace `path` atomically with JSON (0600): readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fp:
        json.dump(data, fp, indent=indent)
        fp.write("\n")
    os.replace(tmp, path)
