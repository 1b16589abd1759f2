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


def split_hosts(stacks: Mapping[str, int]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Fleet stacks `host;rest` → (every host merged: rest → count, per host: rest → count)."""
    merged: dict[str, int] = {}
    hosts: dict[str, dict[str, int]] = {}
    for stack, count in stacks.items():
        host, sep, rest = stack.partition(";")
        if not sep:  # a host without frames keeps its name as its frame
            rest = host
        per_host = hosts.setdefault(host, {})
        per_host[rest] = per_host.get(rest, 0) + count
        merged[rest] = merged.get(rest, 0) + count
    return merged, hosts


class _Frames(dict[str, str]):
    """The shared frame table: name → its index as JSON text, a new name getting the next index.

    Known names are looked up by C code (`map(frames.__getitem__, ...)`), so a fleet-sized
    export runs no Python per frame.
    """

    def __missing__(self, name: str) -> str:
        index = self[name] = str(len(self))
        return index

    def profile(self, name: str, stacks: Mapping[str, int]) -> str:
        """One sampled profile as JSON text.

        The sample arrays, which are nothing but integers, are joined here rather than by
        json.dumps: that halves the export's time on fleet-sized input (bench/exports.py).
        """
        lookup = self.__getitem__
        samples: list[str] = []
        weights: list[str] = []
        # Plain string order, which is deterministic and keeps most runs of a frame together (not
        # all: `a;b!x` sorts between `a;b` and `a;b;c`), is enough for the samples' order, which
        # only speedscope's time-order view shows; it costs half of layout.stack_sort_key's.
        for stack in sorted(s for s, v in stacks.items() if v > 0):
            samples.append(",".join(map(lookup, stack.split(";"))))
            weights.append(str(stacks[stack]))
        total = sum(v for v in stacks.values() if v > 0)
        head = {"type": "sampled", "name": clean(name), "unit": "none", "startValue": 0, "endValue": total}
        # unit "none": counts are samples; speedscope has no "samples" unit
        body = f'"samples":[[{"],[".join(samples)}]],"weights":[{",".join(weights)}]' if samples else '"samples":[],"weights":[]'
        return f"{_json(head)[:-1]},{body}}}"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    options = options or FlameGraphOptions()
    frames = _Frames()
    if options.fleet_stacks:
        merged, hosts = split_hosts(stacks)
        profiles = [frames.profile(f"{options.title} (all hosts)", merged)]
        profiles += [frames.profile(host, hosts[host]) for host in sorted(hosts)]
    else:
        profiles = [frames.profile(options.title, stacks)]
    shared = _json({"frames": [{"name": clean(name)} for name in frames]})
    return (
        f'{{"$schema":{_json(SCHEMA)},"shared":{shared},"profiles":[{",".join(profiles)}],'
        f'"name":{_json(clean(options.title))},"activeProfileIndex":0,"exporter":"fleetflame"}}\n'
    )
