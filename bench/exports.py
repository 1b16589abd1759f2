"""Benchmark: the fleet exports and the bounded folded reader, each beside its baseline.

    .venv/bin/python bench/exports.py [--stacks N] [--repeat R]

Input: bench/render.py's synthetic fleet (8 hosts x 22 tiles, `host;tile;...` stacks, about 26
frames deep), generated once into bench/data/. Times are CPU seconds of this process, best of R.

- read: `folded.load_folded` (blocks, 4 MiB line cap, strict counts) against the reader it
  replaced (text-mode line iteration, kept below as `read_before`). Goal: at most 1.25x.
- exports: pprof (labels, two sample types, gzip) and speedscope (fleet + one profile per host)
  against the SVG of the same stacks, which every run already draws. Goal: each at most 3x.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import DATA, _cpu_model, generate  # noqa: E402

from fleetflame import folded  # noqa: E402
from fleetflame.render import pprof, speedscope, svg  # noqa: E402
from fleetflame.render.options import FlameGraphOptions  # noqa: E402


def read_before(path: Path) -> dict[str, int]:
    """The reader before the bounds (commit 941e8b4): whole text lines, however long."""
    stacks: dict[str, int] = {}
    with open(path, encoding="utf-8", errors="replace") as fp:
        for line in fp:
            stack, sep, count = line.rstrip("\r\n").rpartition(" ")
            if not sep or not stack:
                continue
            try:
                value = int(count)
            except ValueError:
                continue
            stacks[stack] = stacks.get(stack, 0) + value
    return stacks


def best_cpu(func: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        result = func()
        best = min(best, time.process_time() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=200_000, help="unique stacks (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()

    path = DATA / f"render-{args.stacks}.folded"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        folded.write_folded(generate(args.stacks), path)
    print(f"input      {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"machine    {_cpu_model()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip

    t_before, before = best_cpu(lambda: read_before(path), args.repeat)
    t_after, after = best_cpu(lambda: folded.load_folded(path).stacks, args.repeat)
    assert after == before, "the bounded reader must read a well-formed file exactly as before"
    stacks: dict[str, int] = after  # type: ignore[assignment]
    ratio = t_after / t_before
    print(f"read       bounded {t_after:.3f} s   before {t_before:.3f} s   = {ratio:.2f}x "
          f"(goal <= 1.25x: {'met' if ratio <= 1.25 else 'MISSED'})")  # fmt: skip

    options = FlameGraphOptions(title="fleet", fleet_stacks=True, frequency_hz=99, duration_s=30, start_time_ns=1)
    t_svg, drawn = best_cpu(lambda: svg.render(stacks, options), args.repeat)
    print(f"svg        {t_svg:.3f} s, {len(str(drawn)) / 1e6:.1f} MB (baseline)")
    for name, render in (("pprof", pprof.render), ("speedscope", speedscope.render)):
        t, out = best_cpu(lambda render=render: render(stacks, options), args.repeat)  # type: ignore[misc]
        size = len(out) if isinstance(out, bytes) else len(str(out).encode())
        ratio = t / t_svg
        print(f"{name:<10} {t:.3f} s, {size / 1e6:.1f} MB   = {ratio:.2f}x the SVG "
              f"(goal <= 3x: {'met' if ratio <= 3 else 'MISSED'})")  # fmt: skip
    encoded = pprof.encode(stacks, options)
    for level in (6, 9):
        t, small = best_cpu(lambda level=level: gzip.compress(encoded, compresslevel=level, mtime=0), args.repeat)  # type: ignore[misc]
        print(f"gzip -{level}   {t:.3f} s, {len(small) / 1e6:.2f} MB of the pprof's {len(encoded) / 1e6:.1f} MB")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
