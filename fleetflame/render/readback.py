"""A page's data read back: the profile document (model.py) and the time section (timedata.py)
decoded in Python, as the viewer decodes them in the browser. For tests and tools that check
what a report holds; fleetflame itself only writes pages.
"""

from __future__ import annotations

import base64
import zlib
from array import array
from collections.abc import Mapping
from typing import Any


def unpack_blob(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text), 31)


def decode_stacks(header: Mapping[str, Any], blob: bytes) -> dict[str, int]:
    """The folded stacks back from a document (for tests and tools reading a report's data)."""
    counts = header["counts"]
    nodes, pairs, leaves, n_names = counts["nodes"], counts["pairs"], counts["leaves"], counts["names"]
    offset = 0

    def take(code: str, n: int) -> array[int]:
        nonlocal offset
        values = array(code)
        values.frombytes(blob[offset : offset + n * values.itemsize])
        offset += n * values.itemsize
        return values

    node_name = take("I", nodes)
    pair_host, pair_tile, pair_start = take("I", pairs), take("I", pairs), take("I", pairs + 1)
    leaf_node, leaf_count = take("I", leaves), take("I", leaves)
    node_depth = take("H", nodes)
    offset += -offset % 4
    offset += n_names * 4
    offset += -offset % 4
    names = blob[offset : offset + counts["namesBytes"]].decode("utf-8").split("\n")
    paths: list[list[str]] = []
    path: list[str] = []
    for i in range(nodes):
        del path[max(node_depth[i] - 1, 0) :]
        if i:
            path.append(names[node_name[i]])
        paths.append(list(path))
    out: dict[str, int] = {}
    for p in range(pairs):
        prefix: list[str] = []
        if header["fleet"]:
            prefix = [header["hosts"][pair_host[p]], header["tiles"][pair_tile[p]]]
        for j in range(pair_start[p], pair_start[p + 1]):
            frames = paths[leaf_node[j]]
            key = ";".join(prefix + (frames[1:] if header["fleet"] else frames))
            out[key] = out.get(key, 0) + leaf_count[j]
    return out


def _read_varints(data: bytes) -> list[int]:
    out, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
        else:
            out.append(value)
            value = shift = 0
    return out


def decode_time(header: Mapping[str, Any], text: str) -> tuple[list[dict[int, int]], list[dict[int, int]]]:
    """The time section back (for tests and tools): per leaf {bin: samples} at header.time.binMs,
    and per host {bin: samples} at header.time.fineMs (bins from origin / fineOrigin)."""
    meta = header["time"]
    values = _read_varints(unpack_blob(text))
    at = 0

    def series(owners: int) -> list[dict[int, int]]:
        nonlocal at
        out = []
        for _ in range(owners):
            n, at, b = values[at], at + 1, 0
            bins: dict[int, int] = {}
            for _ in range(n):
                b += values[at]
                bins[b] = bins.get(b, 0) + values[at + 1]
                at += 2
            out.append(bins)
        return out

    return series(meta["leaves"]), series(meta["hosts"])


def range_stacks(header: Mapping[str, Any], blob: bytes, text: str, lo: float, hi: float) -> dict[str, int]:
    """The fleet stacks of the page's samples in bins that start within [lo, hi), seconds from
    header.time.start: what the viewer's range shows, as folded stacks."""
    meta = header["time"]
    leaves, _ = decode_time(header, text)
    width = meta["binMs"] / 1000
    offset = meta["origin"] - meta["start"]
    counts = [sum(c for b, c in bins.items() if lo - 1e-9 <= offset + b * width < hi - 1e-9) for bins in leaves]
    view = bytearray(blob)
    c = header["counts"]
    at = 4 * (c["nodes"] + 3 * c["pairs"] + 1 + c["leaves"])  # leafCount's offset
    view[at : at + 4 * c["leaves"]] = array("I", counts).tobytes()
    return {k: v for k, v in decode_stacks(header, bytes(view)).items() if v}
