"""A capture folder opened for reading and rewriting its reports: `report`, windows and
`timeline` read the hosts' files through it, by name in folders opened once, never through a link.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import folded
from . import files
from .ids import host_folder_name
from .manifest import FLEET_FOLDED, HOSTS_DIR, STACKS_FOLDED


class CaptureFolder:
    """A capture folder opened once (`O_DIRECTORY|O_NOFOLLOW`): its files are read and written by
    name in that very folder (capture.files), and its folders are made 0700 again if ours."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = files.open_dir(path)
        files.make_private(self.fd)
        self._hosts: int | None = None
        self._fleet: folded.Stacks | None = None
        self._fleet_read = False

    def close(self) -> None:
        if self._hosts is not None:
            os.close(self._hosts)
            self._hosts = None
        os.close(self.fd)

    def hosts_fd(self) -> int | None:
        """hosts/, opened; None if the folder has none (a copy of the capture without it)."""
        if self._hosts is None:
            try:
                self._hosts = files.open_dir(HOSTS_DIR, dir_fd=self.fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(self.path / HOSTS_DIR)) from None
            files.make_private(self._hosts)
        return self._hosts

    def host_path(self, host: str, name: str = "") -> Path:
        return self.path / HOSTS_DIR / host_folder_name(host) / name

    @contextmanager
    def host_dir(self, host: str) -> Iterator[int | None]:
        """hosts/HOST, opened (and made 0700 if ours); None if it is not there."""
        hosts = self.hosts_fd()
        fd = None
        if hosts is not None:
            try:
                fd = files.open_dir(host_folder_name(host), dir_fd=hosts)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, str(self.host_path(host))) from None
        if fd is None:
            yield None
            return
        try:
            files.make_private(fd)
            yield fd
        finally:
            os.close(fd)

    def host_stacks(self, host: str) -> folded.Stacks | None:
        """hosts/HOST/stacks.folded; None if it is not there."""
        with self.host_dir(host) as fd:
            if fd is None:
                return None
            try:
                return read_stacks(STACKS_FOLDED, fd, self.host_path(host, STACKS_FOLDED))
            except FileNotFoundError:
                return None

    def old_fleet(self) -> folded.Stacks | None:
        """What fleet.folded holds now (before it is written again); None if there is none."""
        if not self._fleet_read:
            self._fleet_read = True
            try:
                self._fleet = read_stacks(FLEET_FOLDED, self.fd, self.path / FLEET_FOLDED)
            except FileNotFoundError:
                self._fleet = None
        return self._fleet

    def write(self, name: str, data: str | bytes) -> Path:
        files.replace_file(name, data, dir_fd=self.fd)
        return self.path / name


def read_stacks(name: str, dir_fd: int, label: Path) -> folded.Stacks:
    """A folded file of a capture folder, by name in the opened folder, never through a link.
    OSError (FileNotFoundError if it is not there) names the file by `label`, its path."""
    try:
        stream = folded.open_binary(name, dir_fd=dir_fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(label)) from None
    with stream:
        return folded.load_folded(stream, name=str(label)).stacks
