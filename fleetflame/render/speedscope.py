"""Folded stacks → speedscope's JSON file format, one "sampled" profile.

Schema: https://www.speedscope.app/file-format-schema.json (src/lib/file-format-spec.ts in
jlfwong/speedscope). Each sample is a list of indices into `shared.frames`, root first, and
`weights[i]` is its count, so a folded line maps to exactly one sample.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fleetflame.render.layout import stack_sort_key
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import clean

EXTENSION = ".speedscope.json"
SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    options = options or FlameGraphOptions()
    index: dict[str, int] = {}
    samples: list[list[int]] = []
    weights: list[int] = []
    for stack in sorted((s for s, v in stacks.items() if v > 0), key=stack_sort_key):
        samples.append([index.setdefault(name, len(index)) for name in stack.split(";")])
        weights.append(stacks[stack])
    total = sum(weights)
    document = {
        "$schema": SCHEMA,
        "shared": {"frames": [{"name": clean(name)} for name in index]},
        "profiles": [
            {
                "type": "sampled",
                "name": clean(options.title),
                "unit": "none",  # counts are samples; speedscope has no "samples" unit
                "startValue": 0,
                "endValue": total,
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": clean(options.title),
        "activeProfileIndex": 0,
        "exporter": "fleetflame",
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
