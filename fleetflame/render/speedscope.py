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

from fleetflame.render.layout import stack_sort_key
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


class _Frames:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def profile(self, name: str, stacks: Mapping[str, int]) -> dict[str, Any]:
        index = self.index
        samples: list[list[int]] = []
        weights: list[int] = []
        for stack in sorted((s for s, v in stacks.items() if v > 0), key=stack_sort_key):
            samples.append([index.setdefault(frame, len(index)) for frame in stack.split(";")])
            weights.append(stacks[stack])
        return {
            "type": "sampled",
            "name": clean(name),
            "unit": "none",  # counts are samples; speedscope has no "samples" unit
            "startValue": 0,
            "endValue": sum(weights),
            "samples": samples,
            "weights": weights,
        }


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    options = options or FlameGraphOptions()
    frames = _Frames()
    if options.fleet_stacks:
        merged, hosts = split_hosts(stacks)
        profiles = [frames.profile(f"{options.title} (all hosts)", merged)]
        profiles += [frames.profile(host, hosts[host]) for host in sorted(hosts)]
    else:
        profiles = [frames.profile(options.title, stacks)]
    document = {
        "$schema": SCHEMA,
        "shared": {"frames": [{"name": clean(name)} for name in frames.index]},
        "profiles": profiles,
        "name": clean(options.title),
        "activeProfileIndex": 0,
        "exporter": "fleetflame",
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
