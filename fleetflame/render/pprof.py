"""Folded stacks → pprof's profile.proto, gzip-compressed (what `go tool pprof` reads).

The protobuf is encoded by hand: only varints and length-delimited fields are needed.
Field numbers are those of github.com/google/pprof/proto/profile.proto. Each frame name is one
Function with one Location (no addresses: folded stacks have none); each folded line is one
Sample whose location ids run leaf first, as pprof expects.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping

from fleetflame.render.layout import stack_sort_key
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import clean

EXTENSION = ".pb.gz"

# profile.proto field numbers
PROFILE_SAMPLE_TYPE, PROFILE_SAMPLE, PROFILE_LOCATION, PROFILE_FUNCTION = 1, 2, 4, 5
PROFILE_STRING_TABLE, PROFILE_DEFAULT_SAMPLE_TYPE = 6, 14
VALUE_TYPE_TYPE, VALUE_TYPE_UNIT = 1, 2
SAMPLE_LOCATION_ID, SAMPLE_VALUE = 1, 2
LOCATION_ID, LOCATION_LINE = 1, 4
LINE_FUNCTION_ID = 1
FUNCTION_ID, FUNCTION_NAME, FUNCTION_SYSTEM_NAME = 1, 2, 3


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, as protobuf does
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def packed(number: int, values: list[int]) -> bytes:
    return field_bytes(number, b"".join(varint(v) for v in values))


def encode(stacks: Mapping[str, int], options: FlameGraphOptions) -> bytes:
    """The uncompressed profile.proto message."""
    strings: dict[str, int] = {"": 0}  # string_table[0] must be ""

    def s(text: str) -> int:
        return strings.setdefault(clean(text), len(strings))

    functions: dict[str, int] = {}  # frame name -> function id (= location id)
    parts = [field_bytes(PROFILE_SAMPLE_TYPE, field_varint(VALUE_TYPE_TYPE, s(options.count_name)) + field_varint(VALUE_TYPE_UNIT, s("count")))]
    for stack in sorted((k for k, v in stacks.items() if v > 0), key=stack_sort_key):
        ids = [functions.setdefault(name, len(functions) + 1) for name in stack.split(";")]
        ids.reverse()
        parts.append(field_bytes(PROFILE_SAMPLE, packed(SAMPLE_LOCATION_ID, ids) + packed(SAMPLE_VALUE, [stacks[stack]])))
    for fid in functions.values():
        line = field_varint(LINE_FUNCTION_ID, fid)
        parts.append(field_bytes(PROFILE_LOCATION, field_varint(LOCATION_ID, fid) + field_bytes(LOCATION_LINE, line)))
    for name, fid in functions.items():
        n = s(name)
        body = field_varint(FUNCTION_ID, fid) + field_varint(FUNCTION_NAME, n) + field_varint(FUNCTION_SYSTEM_NAME, n)
        parts.append(field_bytes(PROFILE_FUNCTION, body))
    parts.append(field_varint(PROFILE_DEFAULT_SAMPLE_TYPE, s(options.count_name)))
    # every string must be interned before the table is written
    parts.extend(field_bytes(PROFILE_STRING_TABLE, text.encode("utf-8")) for text in strings)
    return b"".join(parts)


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> bytes:
    # mtime=0: same input, same bytes
    return gzip.compress(encode(stacks, options or FlameGraphOptions()), mtime=0)
