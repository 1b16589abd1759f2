"""Folded stacks → pprof's profile.proto, gzip-compressed (what `go tool pprof`, Pyroscope and Parca read).

Each frame name is one Function with one Location (no addresses: folded stacks have none); each
folded line is one Sample whose location ids run leaf first, as pprof expects.

Sample types: `samples/count` first (and the default, so every reader's first view counts
samples), then `cpu/nanoseconds` (count × period) when the sampling frequency is known; the
period type is then `cpu-clock/nanoseconds`. For fleet stacks (`host;tile;...`) the host and tile
are not frames but sample labels `host`, `tile` and `kind` (plus `thread` for the Agave process's
threads), so `go tool pprof -tagfocus host=val07` and label queries in Pyroscope/Parca work.

The protobuf is encoded by hand rather than with the `protobuf` package: a profile needs only
varints and length-delimited fields (about 30 lines here), while the package would add a runtime
dependency plus code generated from profile.proto by protoc at build time, for a file written at
the end of every capture. Field numbers are those of github.com/google/pprof/proto/profile.proto;
the tests read the output with `go tool pprof` itself, not only with their own decoder.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from fleetflame.host.targets import tile_kind
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import clean

EXTENSION = ".pb.gz"
INT64_MAX = 2**63 - 1

# profile.proto field numbers
PROFILE_SAMPLE_TYPE, PROFILE_SAMPLE, PROFILE_MAPPING, PROFILE_LOCATION, PROFILE_FUNCTION = 1, 2, 3, 4, 5
PROFILE_STRING_TABLE = 6
PROFILE_TIME_NANOS, PROFILE_DURATION_NANOS, PROFILE_PERIOD_TYPE, PROFILE_PERIOD = 9, 10, 11, 12
PROFILE_COMMENT, PROFILE_DEFAULT_SAMPLE_TYPE = 13, 14
VALUE_TYPE_TYPE, VALUE_TYPE_UNIT = 1, 2
SAMPLE_LOCATION_ID, SAMPLE_VALUE, SAMPLE_LABEL = 1, 2, 3
LABEL_KEY, LABEL_STR = 1, 2
MAPPING_ID, MAPPING_FILENAME, MAPPING_HAS_FUNCTIONS = 1, 5, 7
LOCATION_ID, LOCATION_MAPPING_ID, LOCATION_LINE = 1, 2, 4
LINE_FUNCTION_ID = 1
FUNCTION_ID, FUNCTION_NAME, FUNCTION_SYSTEM_NAME = 1, 2, 3

LABEL_KEYS = ("host", "tile", "kind", "thread")
MAPPING_NAME = "[perf script]"  # the frames were symbolized on each host by perf script
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=1 << 16)  # ids and small counts repeat on every sample
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


def split_fleet_stack(stack: str) -> tuple[tuple[str, ...], str]:
    """(label values host, tile, kind[, thread]) and the frames left, of a `host;tile;...` stack."""
    labels, frames = fleet_labels(stack.split(";"))
    return labels, ";".join(frames)


def fleet_labels(names: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(label values host, tile, kind[, thread]) and the frames left, of a fleet stack's frames.

    A tile is `KIND:IDX` (kind KIND) or `agave`, whose next frame is the thread's name. A stack
    too short to hold frames after its labels keeps its last label as its only frame.
    """
    if len(names) < 2:
        return (), names
    host, tile = names[0], names[1]
    if tile == "agave" and len(names) > 2:
        return (host, tile, "agave", names[2]), names[3:] or names[2:]
    return (host, tile, tile_kind(tile)), names[2:] or names[1:]


def time_nanos(iso: str | None) -> int | None:
    """ns since the epoch for an ISO 8601 UTC time (a manifest's started_at), None if unreadable."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}  # string_table[0] must be ""

    def __call__(self, text: str) -> int:
        # clean(): protobuf strings must be valid UTF-8 (lone surrogates from undecodable bytes are not)
        return self.index.setdefault(clean(text), len(self.index))


class _LocationCodes(dict[str, bytes]):
    """Frame name → its location id as varint bytes; a new name gets the next id (1, 2, ...).

    Known names are looked up by C code (`map(codes.__getitem__, ...)`): the hot loop of a
    fleet-sized profile runs no Python per frame.
    """

    def __missing__(self, name: str) -> bytes:
        code = self[name] = varint(len(self) + 1)
        return code


def _value_type(strings: _Strings, kind: str, unit: str) -> bytes:
    return field_varint(VALUE_TYPE_TYPE, strings(kind)) + field_varint(VALUE_TYPE_UNIT, strings(unit))


def encode(stacks: Mapping[str, int], options: FlameGraphOptions) -> bytes:
    """The uncompressed profile.proto message."""
    s = _Strings()
    period = round(1e9 / options.frequency_hz) if options.frequency_hz and options.frequency_hz > 0 else None
    parts = [field_bytes(PROFILE_SAMPLE_TYPE, _value_type(s, options.count_name, "count"))]
    if period:
        parts.append(field_bytes(PROFILE_SAMPLE_TYPE, _value_type(s, "cpu", "nanoseconds")))
    codes = _LocationCodes()  # frame name -> location id (= function id), as varint bytes
    label_bytes: dict[tuple[str, ...], bytes] = {}
    location_tag, value_tag, sample_tag = varint(SAMPLE_LOCATION_ID << 3 | 2), varint(SAMPLE_VALUE << 3 | 2), varint(PROFILE_SAMPLE << 3 | 2)
    join = b"".join
    for stack in sorted(k for k, v in stacks.items() if v > 0):  # any fixed order: same input, same bytes
        count = stacks[stack]
        names = stack.split(";")
        encoded = b""
        if options.fleet_stacks:
            labels, names = fleet_labels(names)
            encoded = label_bytes.get(labels, b"")
            if not encoded and labels:
                encoded = label_bytes[labels] = join(
                    field_bytes(SAMPLE_LABEL, field_varint(LABEL_KEY, s(key)) + field_varint(LABEL_STR, s(value)))
                    for key, value in zip(LABEL_KEYS, labels)
                )
        names.reverse()  # leaf first
        ids = join(map(codes.__getitem__, names))
        values = varint(count) + varint(min(count * period, INT64_MAX)) if period else varint(count)
        body = join((location_tag, varint(len(ids)), ids, value_tag, varint(len(values)), values, encoded))
        parts += (sample_tag, varint(len(body)), body)
    # One mapping that says the frames are already symbolized, so readers do not try to do it.
    mapping = field_varint(MAPPING_ID, 1) + field_varint(MAPPING_FILENAME, s(MAPPING_NAME)) + field_varint(MAPPING_HAS_FUNCTIONS, 1)
    parts.append(field_bytes(PROFILE_MAPPING, mapping))
    for fid in range(1, len(codes) + 1):
        line = field_varint(LINE_FUNCTION_ID, fid)
        location = field_varint(LOCATION_ID, fid) + field_varint(LOCATION_MAPPING_ID, 1) + field_bytes(LOCATION_LINE, line)
        parts.append(field_bytes(PROFILE_LOCATION, location))
    for fid, name in enumerate(codes, 1):
        n = s(name)
        body = field_varint(FUNCTION_ID, fid) + field_varint(FUNCTION_NAME, n) + field_varint(FUNCTION_SYSTEM_NAME, n)
        parts.append(field_bytes(PROFILE_FUNCTION, body))
    if options.start_time_ns is not None and options.start_time_ns > 0:
        parts.append(field_varint(PROFILE_TIME_NANOS, min(options.start_time_ns, INT64_MAX)))
    if options.duration_s is not None and options.duration_s > 0:
        parts.append(field_varint(PROFILE_DURATION_NANOS, min(round(options.duration_s * 1e9), INT64_MAX)))
    if period:
        parts.append(field_bytes(PROFILE_PERIOD_TYPE, _value_type(s, "cpu-clock", "nanoseconds")))
        parts.append(field_varint(PROFILE_PERIOD, period))
    for comment in (options.title, options.subtitle):
        if comment:
            parts.append(field_varint(PROFILE_COMMENT, s(comment)))
    parts.append(field_varint(PROFILE_DEFAULT_SAMPLE_TYPE, s(options.count_name)))
    # every string must be interned before the table is written
    parts.extend(field_bytes(PROFILE_STRING_TABLE, text.encode("utf-8")) for text in s.index)
    return b"".join(parts)


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> bytes:
    # mtime=0: same input, same bytes. Level 6: on a 50k-stack fleet, a third of level 9's time
    # for a file 0.7 % bigger (bench/exports.py).
    return gzip.compress(encode(stacks, options or FlameGraphOptions()), compresslevel=6, mtime=0)
