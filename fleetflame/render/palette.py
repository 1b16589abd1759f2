"""Frame kinds and deterministic colours.

Kinds follow the annotations of stackcollapse-perf.pl (`--kernel`, `--jit`, inlined frames):
`_[k]` kernel, `_[j]` JIT, `_[i]` inlined, `_[w]` waker; frames perf could not name keep their
module in brackets, e.g. `[kernel.kallsyms]`. Colours come from a CRC of the name, so the same
input always gives the same bytes. The default user palette ("hot") already spans red to
yellow, so kernel frames get blue rather than flamegraph.pl's orange, to stay apart.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from fleetflame.errors import InputError

ROOT = "root"
USER = "user"
KERNEL = "kernel"
JIT = "jit"
INLINED = "inlined"

_SUFFIX_KIND = {"_[k]": KERNEL, "_[j]": JIT, "_[i]": INLINED, "_[w]": KERNEL}


def frame_kind(name: str) -> str:
    if name.endswith("]"):
        kind = _SUFFIX_KIND.get(name[-4:])
        if kind:
            return kind
        if name.startswith("[kernel") or name == "[vmlinux]" or name.endswith(".ko]"):
            return KERNEL
    return USER


def display_name(name: str) -> str:
    """The name without its `_[k]`-style annotation (the colour tells the kind)."""
    if name[-4:] in _SUFFIX_KIND:
        return name[:-4]
    return name


Rgb = tuple[int, int, int]
_Palette = Callable[[float, float, float], Rgb]

PALETTES: dict[str, _Palette] = {
    "hot": lambda a, b, c: (205 + int(50 * c), int(230 * a), int(55 * b)),
    "red": lambda a, b, c: (200 + int(55 * a), 50 + int(80 * a), 50 + int(80 * a)),
    "mem": lambda a, b, c: (0, 190 + int(50 * b), int(210 * a)),
    "io": lambda a, b, c: (80 + int(60 * a), 80 + int(60 * a), 190 + int(55 * b)),
}
_KIND_PALETTES: dict[str, _Palette] = {
    KERNEL: lambda a, b, c: (70 + int(50 * a), 110 + int(50 * b), 205 + int(45 * c)),
    JIT: lambda a, b, c: (50 + int(60 * a), 185 + int(55 * b), 50 + int(60 * a)),
    INLINED: lambda a, b, c: (40 + int(50 * a), 180 + int(45 * b), 190 + int(45 * b)),
    ROOT: lambda a, b, c: (200, 200, 205),
}


def check_palette(colors: str) -> None:
    if colors not in PALETTES:
        raise InputError(f"unknown colour palette {colors!r}; choose one of {', '.join(PALETTES)}")


def frame_color(name: str, kind: str, colors: str = "hot") -> Rgb:
    h = zlib.crc32(display_name(name).encode("utf-8", "surrogatepass"))
    a, b, c = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    palette = _KIND_PALETTES.get(kind) or PALETTES[colors]
    return palette(a, b, c)


def css_rgb(rgb: Rgb) -> str:
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"
