"""Names that become local paths: capture ids and host folder names, each with one parser.

A capture id comes from this machine's clock and TARGET, but also from a host's meta.json (when
`fetch` rebuilds a capture) or a manifest someone edited, so it is parsed, never trusted. Host
folder names are an injective encoding of the inventory name, so two inventory names can never
share `hosts/HOST`, and no name can leave the capture folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import InputError

_ID = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-(?P<slug>[A-Za-z0-9][A-Za-z0-9._+-]{0,119})$")
_SAFE_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True, order=True)
class CaptureId:
    """`20261125T221500Z-all`: UTC start time to the second, then the target's slug (and `-N` for
    a second capture started in the same second). Safe as a file name and as a host-side name."""

    text: str

    @classmethod
    def parse(cls, text: object) -> CaptureId:
        """The id, or ValueError if `text` is not one (use `parse_input` for user input)."""
        if not isinstance(text, str) or not _ID.match(text) or ".." in text:
            raise ValueError(f"not a capture id: {str(text)[:80]!r}")
        return cls(text)

    @classmethod
    def parse_input(cls, text: str) -> CaptureId:
        """The same for a name the operator typed: InputError with what to do."""
        try:
            return cls.parse(text)
        except ValueError:
            raise InputError(
                f"{text[:80]!r} is not a capture id (like 20261125T221500Z-all): see `fleetflame captures`"
            ) from None

    @classmethod
    def new(cls, slug: str, moment: datetime, out: Path) -> CaptureId:
        """A fresh id; a suffix keeps two captures started in the same second apart."""
        base = f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{slug}"
        candidate, n = base, 2
        while (out / candidate).exists():
            candidate, n = f"{base}-{n}", n + 1
        return cls.parse(candidate)

    @property
    def stamp(self) -> str:
        match = _ID.match(self.text)
        assert match is not None
        return match["stamp"]

    def __str__(self) -> str:
        return self.text


def is_capture_id(text: object) -> bool:
    try:
        CaptureId.parse(text)
    except ValueError:
        return False
    return True


def host_folder_name(host: str) -> str:
    """The inventory name as a file name: letters, digits, `.`, `_`, `-` as they are, every other
    byte of its UTF-8 as `%XX` (so `%` too), and a leading `.` as `%2E`. Injective: distinct names,
    distinct folders."""
    if not host:
        raise ValueError("empty host name")
    out = []
    for i, byte in enumerate(host.encode("utf-8", "surrogatepass")):
        if byte in _SAFE_BYTES and not (i == 0 and byte == ord(".")):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def inside(folder: Path, path: Path) -> Path:
    """`path` if it lies inside `folder` once both are resolved; ValueError otherwise."""
    root = folder.resolve()
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"{path} is outside {folder}")
    return path
