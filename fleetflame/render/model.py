"""The profile document embedded in HTML reports: folded stacks as compact, lossless JSON.

One document can carry several profiles over one shared frame table, so a richer viewer can
group by host or tile (the first frames) or compare two captures from the same data:

    {"format": "fleetflame-profile", "version": 1, "title": ..., "subtitle": ...,
     "countName": "samples", "inverted": false,
     "frames": {"name": [...], "label": [...], "kind": [...], "color": [...]},
     "profiles": [{"name": ..., "total": N, "stacks": [[k, f, f, ...], ...], "counts": [...]}]}

`frames.name` is the folded frame as read (with any `_[k]` annotation), `label` the name shown,
`kind` one of root/user/kernel/jit/inlined, `color` the same colour the SVG uses. Stacks are
sorted frame by frame (root first) and front-coded: `[k, f...]` is the first k frames of the
previous stack followed by frames f... (indices into `frames`); `counts[i]` weighs `stacks[i]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetflame.render import palette
from fleetflame.render.layout import stack_sort_key
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import clean

FORMAT = "fleetflame-profile"
VERSION = 1


class _FrameTable:
    def __init__(self, colors: str) -> None:
        self.colors = colors
        self.index: dict[str, int] = {}
        self.columns: dict[str, list[str]] = {"name": [], "label": [], "kind": [], "color": []}

    def add(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.index)
            kind = palette.frame_kind(name)
            self.columns["name"].append(clean(name))
            self.columns["label"].append(clean(palette.display_name(name)))
            self.columns["kind"].append(kind)
            self.columns["color"].append(palette.css_rgb(palette.frame_color(name, kind, self.colors)))
        return i


def _encode(stacks: Mapping[str, int], name: str, table: _FrameTable) -> dict[str, Any]:
    encoded: list[list[int]] = []
    counts: list[int] = []
    prev: list[str] = []
    for stack in sorted((s for s, v in stacks.items() if v > 0), key=stack_sort_key):
        frames = stack.split(";")
        k = 0
        n = min(len(prev), len(frames))
        while k < n and prev[k] == frames[k]:
            k += 1
        encoded.append([k, *(table.add(f) for f in frames[k:])])
        counts.append(stacks[stack])
        prev = frames
    return {"name": clean(name), "total": sum(counts), "stacks": encoded, "counts": counts}


def build_document(profiles: Mapping[str, Mapping[str, int]], options: FlameGraphOptions) -> dict[str, Any]:
    """The document for named profiles (e.g. {"all": fleet stacks} or {"before": .., "after": ..})."""
    palette.check_palette(options.colors)
    table = _FrameTable(options.colors)
    encoded = [_encode(stacks, name, table) for name, stacks in profiles.items()]
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": clean(options.title),
        "subtitle": clean(options.subtitle or ""),
        "countName": clean(options.count_name),
        "inverted": options.inverted,
        "rootColor": palette.css_rgb(palette.frame_color("all", palette.ROOT)),
        "searchColor": options.search_color,
        "frames": table.columns,
        "profiles": encoded,
    }


def decode_profile(document: Mapping[str, Any], index: int = 0) -> dict[str, int]:
    """Folded stacks back from a document (for tests and tools reading a report's data)."""
    names = document["frames"]["name"]
    profile = document["profiles"][index]
    stacks: dict[str, int] = {}
    prev: list[str] = []
    for entry, count in zip(profile["stacks"], profile["counts"]):
        prev = prev[: entry[0]] + [names[i] for i in entry[1:]]
        key = ";".join(prev)
        stacks[key] = stacks.get(key, 0) + count
    return stacks
