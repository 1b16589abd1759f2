"""The profile document embedded in HTML reports: folded stacks as a compact, lossless call tree.

A fleet capture (`host;tile;frame;...;leaf`) of 500 hosts holds hundreds of thousands of distinct
stacks, but the hosts run the same code: the same call paths repeat on every host. So the stacks
are stored once as the call tree of the *tile kinds* (`KIND;frame;...;leaf`, hosts and tile
indices merged), and each (host, tile) pair lists the tree nodes its stacks end at, with counts.
Any view the viewer shows is a weighting of that one tree: the fleet by tile kind (sum every
pair), a set of hosts (sum their pairs), one host against the rest (two sums), or by host (each
pair's nodes, under host and tile frames). Frame names are stored once.

The page carries a small JSON header (`#ff-data`) and one binary blob (`#ff-blob`: gzip, then
base64), little-endian, sections in this order:

    nodeName  u32[nodes]      index into the names; node 0 is the root ("all"), nodes in preorder,
                              siblings sorted by name (flamegraph.pl's order)
    pairHost  u32[pairs]      index into header.hosts   (fleet profiles; else one pair, host 0)
    pairTile  u32[pairs]      index into header.tiles
    pairStart u32[pairs + 1]  the pair's leaves are leafNode/leafCount[pairStart[p]:pairStart[p+1]]
    leafNode  u32[leaves]     a node where stacks of the pair end ...
    leafCount u32[leaves]     ... and how many samples
    nodeDepth u16[nodes]      (then zero padding to a multiple of 4)
    nameKind  u8[names]       0 root, 1 user, 2 kernel, 3 jit, 4 inlined
    nameRgb   u8[3 × names]   the SVG's colour of each name (then padding to a multiple of 4)
    names     UTF-8, the folded frame names (with `_[k]`-style annotations) joined by "\\n"

A plain (non-fleet) profile is the same with the tree of its stacks as they are and one pair.

When the fleet context has the hosts' timelines, the page also carries when each leaf's samples
were taken: the time section (`#ff-time`), built by timedata.py.
"""

from __future__ import annotations

import base64
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fleetflame.render.palette as palette
from fleetflame.host.targets import tile_kind
from fleetflame.render.layout import stack_sort_key
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.timedata import TIME_BUDGET, build_time
from fleetflame.render.xml import clean

if TYPE_CHECKING:
    from fleetflame.timeline.store import Timeline

FORMAT = "fleetflame-profile"
VERSION = 2
KINDS = (palette.ROOT, palette.USER, palette.KERNEL, palette.JIT, palette.INLINED)
MAX_FINDINGS = 2000  # skew findings embedded in a page; the rest stay in skew.json


@dataclass
class FleetContext:
    """What a fleet page shows besides the stacks: findings, idle tiles, failed hosts, the first view."""

    default_view: str = "kind"  # "kind" (tile kinds, hosts merged) | "host" | "merged"
    skew: Mapping[str, Any] | None = None  # skew.json: {"findings": [...], "not_enough_samples": [...]}
    idle_tiles: Sequence[Mapping[str, Any]] = ()  # [{"tile": "sign:0", "hosts": ["h1", ...]}]
    failed_hosts: Sequence[Mapping[str, Any]] = ()  # [{"host": ..., "error": ...}]
    host_threshold: int = 3
    extra: dict[str, Any] = field(default_factory=dict)
    # hosts/HOST/timeline.json.gz of each host, or None: no timeline. (host, timeline) pairs are
    # read one at a time (timeline.window.iter_timelines): 500 hosts' bins need not fit in memory.
    timelines: Mapping[str, Timeline] | Iterable[tuple[str, Timeline]] | None = None
    recording_start: float | None = None  # epoch seconds: `#from=` and `--from` count from here
    time_budget: int = TIME_BUDGET


class _Names:
    """The frame-name table: each distinct name once, with its kind and colour."""

    def __init__(self, colors: str) -> None:
        self.colors = colors
        self.index: dict[str, int] = {}
        self.names: list[str] = []
        self.kinds = bytearray()
        self.rgb = bytearray()
        self.add("all", palette.ROOT)

    def add(self, name: str, kind: str | None = None) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            kind = kind or palette.frame_kind(name)
            self.names.append(clean(name).replace("\n", "\ufffd"))
            self.kinds.append(KINDS.index(kind))
            self.rgb.extend(palette.frame_color(name, kind, self.colors))
        return i


def _tree(keys: list[str], names: _Names) -> tuple[array[int], array[int], dict[str, int]]:
    """Preorder call tree of `keys` (stacks): node names, node depths, and each key's last node."""
    node_name, node_depth = array("I", [0]), array("H", [0])
    leaf: dict[str, int] = {}
    add = names.add
    prev: list[str] = []
    path = [0]  # node index of each frame of prev, root first
    for key in sorted(keys, key=stack_sort_key):
        # a NUL inside a name (binary garbage) would sort as a frame boundary: never split on it
        frames = (key.replace("\0", "\ufffd") if "\0" in key else key).split(";")
        k, n = 0, min(len(prev), len(frames))
        while k < n and prev[k] == frames[k]:
            k += 1
        del path[k + 1 :]
        for depth in range(k, len(frames)):
            path.append(len(node_name))
            node_name.append(add(frames[depth]))
            node_depth.append(min(depth + 1, 0xFFFF))
        leaf[key] = path[-1]
        prev = frames
    return node_name, node_depth, leaf


def build_document(
    stacks: Mapping[str, int], options: FlameGraphOptions, fleet: FleetContext | None = None
) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the (uncompressed) blob for `stacks`; fleet stacks when `fleet` is given."""
    header, blob, _ = _document(stacks, options, fleet)
    return header, blob


def build_page_data(
    stacks: Mapping[str, int], options: FlameGraphOptions, fleet: FleetContext | None = None
) -> tuple[dict[str, Any], bytes, str]:
    """As build_document, and the page's packed time section ('' when the fleet context has no
    timelines; header["time"] describes it when there is one)."""
    header, blob, leaves = _document(stacks, options, fleet)
    if fleet is None or fleet.timelines is None or (isinstance(fleet.timelines, Mapping) and not fleet.timelines):
        return header, blob, ""
    built = build_time(fleet.timelines, leaves, header["counts"]["leaves"], fleet.recording_start, fleet.time_budget)
    if isinstance(built, str):
        header["timeNote"] = built
        return header, blob, ""
    header["time"], text = built
    return header, blob, text


def _document(
    stacks: Mapping[str, int], options: FlameGraphOptions, fleet: FleetContext | None
) -> tuple[dict[str, Any], bytes, dict[str, dict[str, int]]]:
    """Header, blob, and each leaf's index by host and stack (`tile;frame;...`, as the host's
    timeline names it; fleet stacks only)."""
    palette.check_palette(options.colors)
    names = _Names(options.colors)
    hosts: list[str] = []
    tiles: list[str] = []
    # per pair (host, tile): list of (tree key, count); tree keys are `KIND;frame;...` in a fleet
    pairs: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    if fleet is not None:
        kinds: dict[str, str] = {}
        for stack, count in stacks.items():
            if count <= 0:
                continue
            parts = stack.split(";", 2)
            tile = parts[1] if len(parts) > 1 else "[no tile]"
            kind = kinds.get(tile)
            if kind is None:
                kind = kinds[tile] = tile_kind(tile)
            entries = pairs.get((parts[0], tile))
            if entries is None:
                entries = pairs[parts[0], tile] = []
            entries.append((f"{kind};{parts[2]}" if len(parts) > 2 else kind, count, stack))
        hosts = sorted({h for h, _ in pairs})
        tiles = sorted({t for _, t in pairs})
    else:
        pairs[("", "")] = [(s, v, s) for s, v in stacks.items() if v > 0]
    keys = list({key for entries in pairs.values() for key, _, _ in entries})
    node_name, node_depth, leaf = _tree(keys, names)
    host_index = {h: i for i, h in enumerate(hosts)}
    tile_index = {t: i for i, t in enumerate(tiles)}
    pair_host, pair_tile, pair_start = array("I"), array("I"), array("I", [0])
    leaf_node, leaf_count = array("I"), array("I")
    leaf_of: dict[str, dict[str, int]] = {}  # host -> `tile;frame;...` -> leaf index
    for (host, tile), entries in sorted(pairs.items()):
        pair_host.append(host_index.get(host, 0))
        pair_tile.append(tile_index.get(tile, 0))
        of_host = leaf_of.setdefault(host, {}) if fleet is not None else {}
        for key, count, stack in sorted(entries):  # the same bytes whatever the input's order
            if fleet is not None:
                of_host[stack.partition(";")[2]] = len(leaf_node)
            leaf_node.append(leaf[key])
            leaf_count.append(min(count, 0xFFFFFFFF))
        pair_start.append(len(leaf_node))
    # hosts and tiles are shown as frames of the by-host view; kinds are the tree's first frames
    host_names = [names.add(h, palette.ROOT) for h in hosts]
    tile_names = [names.add(t) for t in tiles]
    tile_kinds = [names.add(tile_kind(t)) for t in tiles]
    sections: list[bytes] = [a.tobytes() for a in (node_name, pair_host, pair_tile, pair_start, leaf_node, leaf_count)]
    sections.append(_padded(node_depth.tobytes()))
    sections.append(_padded(bytes(names.kinds) + bytes(names.rgb)))
    text = "\n".join(names.names).encode("utf-8", "replace")
    sections.append(text)
    if array("I").itemsize != 4 or array("H").itemsize != 2:  # pragma: no cover - every CPython platform
        raise RuntimeError("unexpected C integer sizes")
    blob = b"".join(sections)
    if not _little_endian():  # pragma: no cover
        raise RuntimeError("the HTML viewer's data is little-endian; this machine is not")
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "title": clean(options.title),
        "subtitle": clean(options.subtitle or ""),
        "countName": clean(options.count_name),
        "inverted": options.inverted,
        "searchColor": options.search_color,
        "fleet": fleet is not None,
        "hosts": [clean(h) for h in hosts],
        "tiles": [clean(t) for t in tiles],
        "hostNames": host_names,
        "tileNames": tile_names,
        "tileKinds": tile_kinds,
        "counts": {
            "nodes": len(node_name),
            "names": len(names.names),
            "pairs": len(pair_host),
            "leaves": len(leaf_node),
            "namesBytes": len(text),
        },
    }
    if fleet is not None:
        header.update(_fleet_header(fleet, len(hosts)))
    return header, blob, leaf_of


def _fleet_header(fleet: FleetContext, host_count: int) -> dict[str, Any]:
    skew: dict[str, Any] | None = None
    if fleet.skew is not None:
        findings = list(fleet.skew.get("findings", []))
        skew = {
            "findings": findings[:MAX_FINDINGS],
            "omitted": max(0, len(findings) - MAX_FINDINGS),
            "not_enough_samples": list(fleet.skew.get("not_enough_samples", []))[:MAX_FINDINGS],
        }
    return {
        "defaultView": fleet.default_view,
        "hostThreshold": fleet.host_threshold,
        "skew": skew,
        "idleTiles": [dict(t) for t in fleet.idle_tiles],
        "failedHosts": [dict(h) for h in fleet.failed_hosts],
        **fleet.extra,
    }


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _little_endian() -> bool:
    return array("H", [1]).tobytes() == b"\x01\x00"


def pack_blob(blob: bytes) -> str:
    """gzip then base64: what the page carries (the browser's DecompressionStream undoes the gzip)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    return base64.b64encode(compressor.compress(blob) + compressor.flush()).decode("ascii")
