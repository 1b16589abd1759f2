"""Folded stacks → speedscope's JSON file format: "sampled" profiles over one shared frame table.

Schema: https://www.speedscope.app/file-format-schema.json (src/lib/file-format-spec.ts in
jlfwong/speedscope; the tests validate against the copy published in the speedscope npm
package). Each sample is a list of indices into `shared.frames`, root first, and `weights[i]` is
its count, so a folded line maps to exactly one sample.

Plain folded input gives one profile. Fleet stacks (`host;tile;...`) give the fleet first, hosts
merged (`tile;...`, the profile speedscope opens), then one profile per host (`tile;...`),
selectable in speedscope's profile menu.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import clean

EXTENSION = ".speedscope.json"
SCHEMA = "https://www.speedscope.app/file-format-schema.json"


class _Frames(dict[str, str]):
    """The shared frame table: name → its index as JSON text, a new name getting the next index.

    Known names are looked up by C code (`map(frames.__getitem__, ...)`), so a fleet-sized
    export runs no Python per frame. `sample()` keeps each stack's JSON text, so a stack that
    several profiles hold (a host's, and the fleet's) is looked up once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, str] = {}  # stack -> its frame indices as JSON text, "3,0,7"

    def __missing__(self, name: str) -> str:
        index = self[name] = str(len(self))
        return index

    def sample(self, stack: str) -> str:
        text = self.texts.get(stack)
        if text is None:
            text = self.texts[stack] = ",".join(map(self.__getitem__, stack.split(";")))
        return text


def _profile(name: str, samples: list[str], weights: list[int]) -> str:
    """One sampled profile as JSON text.

    The sample arrays, which are nothing but integers, are joined here rather than by json.dumps:
    that halves the export's time on fleet-sized input (bench/exports.py).
    """
    # unit "none": counts are samples; speedscope has no "samples" unit
    head = {"type": "sampled", "name": clean(name), "unit": "none", "startValue": 0, "endValue": sum(weights)}
    if not samples:
        return f'{_json(head)[:-1]},"samples":[],"weights":[]}}'
    return f'{_json(head)[:-1]},"samples":[[{"],[".join(samples)}]],"weights":[{",".join(map(str, weights))}]}}'


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _positive_sorted(stacks: Mapping[str, int]) -> list[str]:
    # Plain string order, which is deterministic and keeps most runs of a frame together (not
    # all: `a;b!x` sorts between `a;b` and `a;b;c`), is enough for the samples' order, which only
    # speedscope's time-order view shows; it costs half of layout.stack_sort_key's.
    return sorted(s for s, v in stacks.items() if v > 0)


def _fleet_profiles(stacks: Mapping[str, int], title: str, frames: _Frames) -> list[str]:
    """The fleet, hosts merged (`tile;...`), then each host's (`tile;...`), by host name."""
    hosts: dict[str, tuple[list[str], list[int]]] = {}
    merged: dict[str, int] = {}
    for stack in _positive_sorted(stacks):  # sorted by host, then the rest
        count = stacks[stack]
        host, sep, rest = stack.partition(";")
        if not sep:  # a host without frames keeps its name as its frame
            rest = host
        samples, weights = hosts.setdefault(host, ([], []))
        samples.append(frames.sample(rest))
        weights.append(count)
        merged[rest] = merged.get(rest, 0) + count
    order = _positive_sorted(merged)
    fleet = _profile(f"{title} (all hosts)", [frames.texts[rest] for rest in order], [merged[rest] for rest in order])
    return [fleet, *(_profile(host, *hosts[host]) for host in sorted(hosts))]


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    options = options or FlameGraphOptions()
    frames = _Frames()
    if options.fleet_stacks:
        profiles = _fleet_profiles(stacks, options.title, frames)
    else:
        order = _positive_sorted(stacks)
        profiles = [_profile(options.title, [frames.sample(stack) for stack in order], [stacks[stack] for stack in order])]
    shared = _json({"frames": [{"name": clean(name)} for name in frames]})
    return (
        f'{{"$schema":{_json(SCHEMA)},"shared":{shared},"profiles":[{",".join(profiles)}],'
        f'"name":{_json(clean(options.title))},"activeProfileIndex":0,"exporter":"fleetflame"}}\n'
    )
