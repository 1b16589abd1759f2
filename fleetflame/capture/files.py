"""Local files of a capture: private to the operator (folders 0700, files 0600), and out of
reach of the control machine's other users.

A capture holds the fleet's recordings (perf.data can carry memory contents of the validator),
so nothing in it is readable by other local users: while a capture is written the process umask
is 077, which every writer (manifest, stacks, reports) inherits, and the folders are created
0700 and made so again if they existed and are ours.

fleetflame runs as root, so a folder another user can write to (or swap for one of theirs) would
let them point root's writes anywhere through a symbolic or hard link. Hence:

- `check_out_dir` refuses an --out that is not ours or is writable by others, or that sits below
  a folder another user could rename it from (OpenSSH's StrictModes, with /tmp's sticky bit
  allowed); `private_dir` never creates, adopts or chmods a folder someone else owns;
- every file is written whole under a fresh temporary name (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600
  whatever the umask) and renamed into place: never truncated in place, never written through a
  link, and a reader sees the old file or the new one;
- every file in a capture folder is read with `O_NOFOLLOW` and must be a regular file.

Writers may pass `dir_fd`, a folder opened with `open_dir` (`O_DIRECTORY|O_NOFOLLOW`): names are
then resolved in that very folder, whatever happens to its path meanwhile.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputError

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted in place of a file must not hang the open (it is then refused).
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

StrPath = str | os.PathLike[str]


@contextmanager
def private_files() -> Iterator[None]:
    """Files and folders created meanwhile are private (umask 077); the old umask comes back after."""
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


# ---- who owns what ---------------------------------------------------------------------------


def user_name(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def describe(st: os.stat_result) -> str:
    """`owned by nobody (uid 65534), mode 0777`."""
    return f"owned by {user_name(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):04o}"


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def _parent_problem(folder: Path, st: os.stat_result) -> tuple[str, str] | None:
    """Why another user could rename or replace what is in this folder, and the fix (None:
    nobody can)."""
    if not _trusted_owner(st.st_uid):
        return "its owner can rename what is in it", f"`chown root {folder}`"
    if st.st_mode & stat.S_ISVTX:
        return None  # like /tmp: only an entry's owner (or the folder's) may rename it
    if st.st_mode & stat.S_IWOTH:
        return "every user can write to it and it has no sticky bit, so anyone can rename what is in it", f"`chmod o-w {folder}`, or `chmod +t {folder}` as /tmp has"
    if st.st_mode & stat.S_IWGRP and st.st_gid not in (0, os.getegid()):
        return f"group {st.st_gid} can write to it and it has no sticky bit, so its members can rename what is in it", f"`chmod g-w {folder}`"
    return None


def _ancestors(path: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every existing folder above `path`, as written and as links resolve, nearest first. A link
    on the way is not itself a folder to check: its target is (on the resolved path)."""
    lexical = Path(os.path.abspath(path))
    real = Path(os.path.realpath(lexical))
    seen: set[tuple[int, int]] = set()
    for chain in (lexical.parents, real.parents):
        for folder in chain:
            try:
                st = os.lstat(folder)
            except FileNotFoundError:
                continue  # to be created by us (0700), then checked again by private_dir
            if not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            yield folder, st


def check_parents(path: Path, what: str) -> None:
    """InputError if a folder above `path` lets another user swap `path` for something of theirs:
    one owned by a user other than root or us, or one writable by others (or by a group other
    than root's or ours) without the sticky bit. Like OpenSSH's StrictModes, with /tmp allowed."""
    for folder, st in _ancestors(path):
        problem = _parent_problem(folder, st)
        if problem:
            why, fix = problem
            raise InputError(
                f"{what}: the folder above it, {folder}, is {describe(st)}: {why}, and so point the files "
                f"fleetflame writes as {user_name(os.geteuid())} anywhere. Fix it ({fix}), or choose a folder "
                f"below folders only you and root can write to"
            )


def check_out_dir(path: Path) -> Path:
    """Refuse (InputError, exit 2) an --out another user could use to redirect fleetflame's writes,
    before anything is created in it (the schedule lock included):

    - --out exists and is not a folder, is a symbolic link, is not owned by the user fleetflame
      runs as, or is writable by its group or by others;
    - a folder above it is owned by another user than root or us, or is writable by others
      (or by a group other than root's or ours) without the sticky bit.

    A missing --out is fine if the folders above it pass: fleetflame creates it 0700."""
    path = Path(path)
    what = f"--out {path}"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InputError(
                f"{what} is a symbolic link (to {os.path.realpath(path)}): fleetflame does not write captures "
                f"through a link someone could repoint; give the folder itself as --out"
            )
        if not stat.S_ISDIR(st.st_mode):
            raise InputError(f"{what} is not a folder: give the folder that holds (or will hold) the capture folders")
        if st.st_uid != os.geteuid():
            raise InputError(
                f"{what} is {describe(st)}, not by {user_name(os.geteuid())} who runs fleetflame: its owner "
                f"could swap a capture's files for links to files of yours. Use a folder of your own that "
                f"only you can write to (`mkdir -m 700 DIR`)"
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise InputError(
                f"{what} is {describe(st)}: other users can write to it and could swap a capture's files for "
                f"links. Make it yours alone (`chmod 700 {path}`), or use another folder"
            )
    check_parents(path, what)
    return path


# ---- folders ---------------------------------------------------------------------------------


def open_dir(path: StrPath, *, dir_fd: int | None = None) -> int:
    """A folder's file descriptor (`O_DIRECTORY|O_NOFOLLOW`): the folder itself, never a link's
    target. OSError if it is a link or not a folder."""
    try:
        return os.open(path, _DIR_FLAGS, dir_fd=dir_fd)
    except NotADirectoryError as exc:  # what O_DIRECTORY|O_NOFOLLOW says of a link, too
        try:
            link = stat.S_ISLNK(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            link = False
        raise _explained(OSError(errno.ELOOP, "", os.fspath(path)) if link else exc, path) from None
    except OSError as exc:
        raise _explained(exc, path) from None


@contextmanager
def opened_dir(path: StrPath, *, dir_fd: int | None = None) -> Iterator[int]:
    fd = open_dir(path, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def make_private(fd: int) -> bool:
    """Make an opened folder 0700 if it is ours; someone else's is left as it is. True if ours."""
    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        return False
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.fchmod(fd, DIR_MODE)
    return True


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it 0700.

    Refuses (InputError) a symbolic link, something that is not a folder, a folder owned by
    someone else (never chmodded nor written into), and a folder another user could swap (see
    `check_parents`). The mode is changed through a descriptor of the folder itself, so a link
    swapped in meanwhile is never followed."""
    check_parents(path, str(path))  # before anything is created below a folder someone else could swap
    if not os.path.lexists(path):
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        check_parents(path, str(path))  # the folders just created are ours (not someone's planted in a race)
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            what = "a symbolic link" if os.path.islink(path) else "not a folder"
            raise InputError(f"{path} is {what}; refusing to write a capture through it") from None
        raise
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise InputError(
                f"{path} is {describe(st)}, not by {user_name(os.geteuid())}: fleetflame does not write a "
                f"capture into someone else's folder. Remove it or choose another --out"
            )
        if stat.S_IMODE(st.st_mode) != DIR_MODE:
            os.fchmod(fd, DIR_MODE)
    finally:
        os.close(fd)
    return path


# ---- files -----------------------------------------------------------------------------------


def _explained(exc: OSError, path: StrPath) -> OSError:
    """ELOOP from O_NOFOLLOW says "too many levels of symbolic links": say what it means."""
    if exc.errno == errno.ELOOP:
        return OSError(errno.ELOOP, "is a symbolic link; fleetflame does not follow links in a capture folder", os.fspath(path))
    return exc


def open_read(path: StrPath, *, dir_fd: int | None = None) -> BinaryIO:
    """Open a regular file for reading, never through a symbolic link (OSError if it is one, or
    if it is not a regular file: a FIFO, a device, a folder)."""
    try:
        fd = os.open(path, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _explained(exc, path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "is not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: StrPath, *, dir_fd: int | None = None, limit: int | None = None) -> bytes:
    with open_read(path, dir_fd=dir_fd) as fp:
        return fp.read() if limit is None else fp.read(limit)


def read_text(path: StrPath, *, dir_fd: int | None = None, limit: int | None = None) -> str:
    """A file's text (UTF-8), read with `open_read`: e.g. `manifest.json`."""
    return read_bytes(path, dir_fd=dir_fd, limit=limit).decode("utf-8")


def file_size(path: StrPath, *, dir_fd: int | None = None) -> int | None:
    """The size of a regular file at `path` (not followed if a link); None if there is none."""
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def create_new(path: StrPath, *, dir_fd: int | None = None) -> int:
    """A new file (0600 whatever the umask) where nothing was: `O_CREAT|O_EXCL|O_NOFOLLOW`, so
    never a planted link or file. FileExistsError if the name is taken."""
    fd = os.open(path, _CREATE_FLAGS, FILE_MODE, dir_fd=dir_fd)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def replace_file(path: StrPath, data: bytes | str, *, dir_fd: int | None = None) -> None:
    """Write `data` (str as UTF-8) as `path`, atomically: to a fresh temporary name beside it
    (`create_new`), then renamed over `path`. Never truncates or writes through what is at `path`
    (a link there is replaced, not followed); readers see the old file or the new one; 0600."""
    name = os.fspath(path)
    folder, base = os.path.split(name)
    if not base:
        raise ValueError(f"not a file name: {name!r}")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    while True:
        tmp = os.path.join(folder, f"{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = create_new(tmp, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue  # 48 random bits taken: someone is guessing; draw again
        except OSError as exc:
            raise _explained(exc, tmp) from None
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(payload)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def write_text(path: Path, text: str) -> None:
    """Replace `path` atomically (0600, never through a symlink): readers never see half a file."""
    replace_file(path, text)


# ---- saying so -------------------------------------------------------------------------------

def warn(text: str) -> None:
    """Say on stderr that a file lost data (or was kept instead), as the CLI's `warning:` lines;
    `text` is printed literally. (A live progress display on stderr shows it above itself.)"""
    from ..terminal import safe_line

    print(f"warning: {safe_line(text)}", file=sys.stderr)


def json_by_line(data: dict[str, Any], nested: str) -> str:
    """JSON of an object with one line per key, and one line per entry of `data[nested]`: easy to
    read and to diff by host, and written by the C encoder (json's indent= is pure Python,
    0.1 s for a manifest of 64 hosts)."""
    lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items() if k != nested]
    inner = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.get(nested, {}).items()]
    lines.append(f" {json.dumps(nested)}: {{" + ("\n" + ",\n".join(inner) + "\n }" if inner else "}"))
    return "{\n" + ",\n".join(lines) + "\n}\n"
