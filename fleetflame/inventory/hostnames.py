"""Host names as inventories write them: an optional `:port` and `[x:y]` / `[x:y:step]` ranges.

Mirrors Ansible's address rules: a port is split off only when what remains is a valid IPv4
address, IPv6 address or host name (ranges allowed in each); otherwise the text is kept whole.
"""

from __future__ import annotations

import re
import string

_BRACKETED_PORT = re.compile(r"\[(.+)\]:([0-9]+)")
_TRAILING_PORT = re.compile(r"((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)")

_NUMERIC_RANGE = re.compile(r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]")
_HEX_RANGE = re.compile(r"\[[0-9a-fA-F]+:[0-9a-fA-F]+(?::[0-9]+)?\]")
_NAME_RANGE = re.compile(r"\[(?:[a-zA-Z]:[a-zA-Z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]")

_LABEL = r"(?:\w[\w-]*)?[^\W_]"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_HEX4 = re.compile(r"[0-9a-fA-F]{1,4}")


class RangeError(ValueError):
    """A malformed `[x:y]` host range."""


def _is_ipv4(text: str) -> bool:
    parts = _NUMERIC_RANGE.sub("0", text).split(".")
    return len(parts) == 4 and all(
        p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts
    )


def _hex_groups(text: str) -> list[str] | None:
    groups = text.split(":") if text else []
    return groups if all(_HEX4.fullmatch(g) for g in groups) else None


def _is_ipv6(text: str) -> bool:
    text = _HEX_RANGE.sub("0", text)
    if "." in text:
        head, _, quad = text.rpartition(":")
        dotted = quad.split(".")
        if len(dotted) != 4 or not all(_HEX4.fullmatch(d) for d in dotted):
            return False
        return head.lower() in ("0:0:0:0:0:0", ":", "::ffff", "0:0:0:0:0:ffff")
    if text.count("::") > 1:
        return False
    if "::" not in text:
        groups = _hex_groups(text)
        return groups is not None and len(groups) == 8
    left, right = (_hex_groups(side) for side in text.split("::"))
    if left is None or right is None:
        return False
    if not left or not right:
        return len(left) + len(right) <= 6
    return len(left) + len(right) <= 7


def is_address(text: str) -> bool:
    """True if `text` (ranges allowed) is an IPv4 or IPv6 address or a DNS-style host name."""
    return (
        _is_ipv4(text)
        or _is_ipv6(text)
        or bool(_HOSTNAME.fullmatch(_NAME_RANGE.sub("0", text)))
    )


def split_port(text: str) -> tuple[str, int | None] | None:
    """Split `host:port` / `[host]:port`; None when the host part is not a valid address."""
    port: int | None = None
    for form in (_BRACKETED_PORT, _TRAILING_PORT):
        m = form.fullmatch(text)
        if m:
            text, port = m.group(1), int(m.group(2))
    return (text, port) if is_address(text) else None


def expand(pattern: str) -> tuple[list[str], int | None]:
    """Host names and port for one inventory host entry such as `val[01:20]:8022`."""
    split = split_port(pattern)
    name, port = split if split else (pattern, None)
    return expand_ranges(name), port


def _bounds(spec: str) -> tuple[str, str, int]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise RangeError("a host range must be [begin:end] or [begin:end:step]")
    begin, end = parts[0] or "0", parts[1]
    if not end:
        raise RangeError("a host range must give its end value")
    try:
        step = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        raise RangeError(f"range step {parts[2]!r} is not a number") from None
    return begin, end, step


def _sequence(begin: str, end: str, step: int) -> list[str]:
    padded = begin[0] == "0" and len(begin) > 1
    if padded and len(begin) != len(end):
        raise RangeError("begin and end of a zero-padded range must have the same width")
    letters = string.ascii_letters
    if begin in letters and end in letters and step != 0:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise RangeError("a letter range must have begin <= end")
        return list(letters[first : last + 1 : step])
    try:
        numbers = range(int(begin), int(end) + 1, step)
    except ValueError:
        raise RangeError(f"[{begin}:{end}] is neither a number nor a letter range") from None
    return [str(n).zfill(len(begin)) if padded else str(n) for n in numbers]


def expand_ranges(name: str) -> list[str]:
    """Expand every `[x:y(:step)]` in `name`, left to right; names without `[` are returned as is."""
    if "[" not in name:
        return [name]
    if "]" not in name or "|" in name:
        raise RangeError("a host range must be written [begin:end] with both brackets")
    a, b = sorted((name.index("["), name.index("]")))
    head, spec, tail = name[:a], name[a + 1 : b], name[b + 1 :]
    names: list[str] = []
    for item in _sequence(*_bounds(spec)):
        names.extend(expand_ranges(f"{head}{item}{tail}"))
    return names
