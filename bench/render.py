"""Benchmark: render a fleet-sized folded file (≥ 50k unique stacks) to SVG. Goal: ≤ 0.5 s.
Then the 500-host viewer: a 500-host × 14-tile capture (bench/synthetic_fleet.py, ≥ 200k
distinct stacks) rendered to flamegraph.html and flamegraph.svg as `fleetflame report` does, and
the page opened in headless Chromium (Debian's, through Playwright): first paint ≤ 1.5 s from
navigation start, zoom / search / view switches ≤ 100 ms, HTML ≤ 30 MB.

The SVG input is synthetic but shaped like a fleet capture: `host;tile;` roots, a shared tile
run-loop prefix, per-kind call trees up to 40 frames deep with kernel (`_[k]`) and inlined (`_[i]`)
leaves, and skewed (Zipf-like) counts. Inputs are generated once into bench/data/ (not committed).

    .venv/bin/python bench/render.py [--stacks N] [--repeat R] [--out FILE.svg] [--hosts 500] [--only svg|fleet] [--before COMMIT]
    .venv/bin/python bench/render.py --timeline [--hosts 500] [--repeat R]     # the Timeline tab (issue 18)
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleetflame.folded import read_folded, write_folded  # noqa: E402
from fleetflame.render import html, svg  # noqa: E402
from fleetflame.render.options import FlameGraphOptions  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TILES = ["net:0", "net:1", "quic:0", "verify:0", "verify:1", "verify:2", "verify:3", "verify:4",
         "verify:5", "dedup:0", "resolv:0", "pack:0", "bank:0", "bank:1", "bank:2", "bank:3",
         "poh:0", "shred:0", "store:0", "sign:0", "metric:0", "gui:0"]  # fmt: skip
PREFIX = ["_start", "__libc_start_main", "main", "fd_main", "fdctl_main", "run_cmd_fn",
          "fd_topo_run_single_process", "run_tile_thread_main", "fd_topo_run_tile", "stem_run",
          "stem_run1"]  # fmt: skip
VERBS = ["process", "handle", "parse", "verify", "hash", "encode", "decode", "publish", "poll",
         "drain", "insert", "query", "update", "flush", "merge", "schedule", "execute", "sign"]  # fmt: skip
NOUNS = ["txn", "packet", "shred", "entry", "slot", "block", "account", "frag", "batch", "sig",
         "conn", "stream", "ack", "fec_set", "microblock", "bundle", "vote", "leader"]  # fmt: skip
KERNEL = ["entry_SYSCALL_64_after_hwframe_[k]", "do_syscall_64_[k]", "__x64_sys_recvmmsg_[k]",
          "__sys_sendmmsg_[k]", "udp_sendmsg_[k]", "ip_finish_output2_[k]", "__dev_queue_xmit_[k]",
          "asm_sysvec_apic_timer_interrupt_[k]", "__sched_yield_[k]", "copy_user_generic_[k]"]  # fmt: skip


class _Node:
    """A call-tree node whose callees are invented the first time a sample walks into it."""

    __slots__ = ("name", "weight", "depth", "children")

    def __init__(self, name: str, weight: float, depth: int) -> None:
        self.name, self.weight, self.depth = name, weight, depth
        self.children: list[_Node] | None = None

    def callees(self, rng: random.Random, kind: str, max_depth: int) -> list[_Node]:
        if self.children is None:
            self.children = []
            if self.depth < max_depth:
                mean = max(0.6, 3.5 - 0.25 * self.depth)
                for _ in range(1 + int(rng.expovariate(1 / mean))):
                    self.children.append(_Node(_name(rng, kind, self.depth), rng.paretovariate(1.1), self.depth + 1))
        return self.children


def _name(rng: random.Random, kind: str, depth: int) -> str:
    r = rng.random()
    if depth > 6 and r < 0.08:
        return rng.choice(KERNEL)
    if r < 0.16:
        return f"fd_{rng.choice(VERBS)}_{rng.choice(NOUNS)}_[i]"
    return f"fd_{kind}_{rng.choice(VERBS)}_{rng.choice(NOUNS)}"


def generate(unique: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    hosts = [f"lab{i:02d}" for i in range(1, 9)]
    kinds = sorted({t.split(":")[0] for t in TILES})
    roots = {k: _Node(k, 1.0, 0) for k in kinds}
    max_depth = {k: rng.randint(10, 30) for k in kinds}
    stacks: dict[str, int] = {}
    while len(stacks) < unique:
        host, tile = rng.choice(hosts), rng.choice(TILES)
        kind = tile.split(":")[0]
        frames = [host, tile, *PREFIX[: rng.choice((9, 11, 11, 11))]]
        node = roots[kind]
        while rng.random() > 0.04:
            callees = node.callees(rng, kind, max_depth[kind])
            if not callees:
                break
            node = rng.choices(callees, weights=[c.weight for c in callees])[0]
            frames.append(node.name)
        key = ";".join(frames)
        stacks[key] = stacks.get(key, 0) + int(rng.paretovariate(1.5))
    return stacks


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=50_000, help="unique stacks (default 50000)")
    parser.add_argument("--repeat", type=int, default=5, help="renders to time; the best is reported")
    parser.add_argument("--out", type=Path, help="keep the SVG here")
    parser.add_argument("--hosts", type=int, default=500, help="hosts of the viewer benchmark's capture (default 500)")
    parser.add_argument("--only", choices=("svg", "fleet"), help="run one part")
    parser.add_argument("--before", metavar="COMMIT", help="the viewer's first paint and page size at COMMIT too, measured in turns")
    parser.add_argument("--timeline", action="store_true", help="only the viewer's Timeline: the capture for 30 s with timelines, "
                        "with and without them (issue 18)")
    args = parser.parse_args()
    if args.timeline:
        from fleet_viewer import timeline_bench  # bench/fleet_viewer.py

        timeline_bench(args.hosts, args.repeat)
    if args.only != "fleet" and not args.timeline:
        svg_bench(args)
    if args.only != "svg" and not args.timeline:
        from fleet_viewer import fleet_bench  # bench/fleet_viewer.py

        fleet_bench(args.hosts, args.repeat, args.before)
    print(f"machine    {_cpu_model()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip


def svg_bench(args: argparse.Namespace) -> None:
    path = DATA / f"render-{args.stacks}.folded"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        write_folded(generate(args.stacks), path)
    t0 = time.perf_counter()
    stacks = read_folded(path)
    t_read = time.perf_counter() - t0
    frames = sum(k.count(";") + 1 for k in stacks)
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = svg.render(stacks, FlameGraphOptions(title="bench"))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    t0 = time.perf_counter()
    page = html.render(stacks, FlameGraphOptions(title="bench"))
    t_html = time.perf_counter() - t0
    data = out.encode("utf-8")
    if args.out:
        args.out.write_bytes(data)
    best, median = min(times), sorted(times)[len(times) // 2]
    print(f"input      {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"stacks     {len(stacks):,} unique, {sum(stacks.values()):,} samples, "
          f"{frames / len(stacks):.1f} frames deep on average")  # fmt: skip
    print(f"read       {t_read:.3f} s")
    verdict = "met" if best <= 0.5 else "MISSED"
    print(f"render     best {best:.3f} s, median {median:.3f} s over {args.repeat}, CPU {min(cpu):.3f} s "
          f"(goal <= 0.5 s for 50k stacks: {verdict})")  # fmt: skip
    print(f"svg        {len(data) / 1e6:.2f} MB, {out.count('<g data-x='):,} frames drawn")
    print(f"html       {t_html:.3f} s, {len(page.encode()) / 1e6:.2f} MB (for reference, no goal)")


if __name__ == "__main__":
    main()
