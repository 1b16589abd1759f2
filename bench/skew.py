"""Benchmark: `fleetflame skew` on a 500-host × 14-tile capture (≥ 200k distinct stacks).

skew runs at the end of every `run`, `fetch` and `report`, so it must cost little next to what
those already do. Each measurement runs in a fresh process (CPU time, wall time, peak RSS), and
all are printed side by side in one run:

- read:   `folded.load_folded(fleet.folded)`, the floor of any analysis of the file;
- svg:    reading it and rendering the fleet SVG, which every run does anyway;
- skew:   `analyse_capture` + `write_skew_json` of this checkout, numpy import included;
- before: the same with the fleetflame of `--before COMMIT` (default: the first, pure-Python
          skew), extracted with `git archive`.

Goal: skew ≤ 1.5 s of CPU and ≤ 250 MB peak RSS on the 2-core machine, and less CPU than
rendering the SVG. The capture is bench/synthetic_fleet.py's (host017's verify tiles take an
extra code path), written once into bench/data/skew/ (not committed); the bench also checks that
skew finds that host and no other.

    .venv/bin/python bench/skew.py [--repeat 3] [--hosts 500] [--before COMMIT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data" / "skew"
FIRST_SKEW = "0f0c788"  # the first skew: counting and comparing in plain Python

# Runs in the measured process: PYTHONPATH chooses which fleetflame is imported.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
what, folder = sys.argv[1], Path(sys.argv[2])
c0, w0 = cpu(), time.perf_counter()
result = {}
if what == "read":
    from fleetflame import folded
    result["stacks"] = len(folded.load_folded(folder / "fleet.folded").stacks)
elif what == "svg":
    from fleetflame import folded
    from fleetflame.render import svg
    result["bytes"] = len(svg.render(folded.load_folded(folder / "fleet.folded").stacks))
else:
    from fleetflame.analysis.skew import analyse_capture, write_skew_json
    report = analyse_capture(folder)
    write_skew_json(folder, report)
    result["findings"] = sorted({(f.host, f.tile) for f in report.findings})
    result["comparisons"] = report.comparisons
result["cpu"] = cpu() - c0
result["wall"] = time.perf_counter() - w0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
result["rss_mb"] = int(hwm.split()[1]) / 1024
result["module"] = sys.modules["fleetflame"].__file__
print(json.dumps(result))
"""


def make_capture(folder: Path, hosts: int) -> None:
    sys.path.insert(0, str(REPO))
    from bench.synthetic_fleet import TILES, synthetic_fleet
    from fleetflame.capture import HostResult, Manifest
    from fleetflame.folded import write_folded

    fleet = synthetic_fleet(hosts=hosts)
    folder.mkdir(parents=True, exist_ok=True)
    write_folded(fleet, folder / "fleet.folded")
    per_host: dict[str, int] = {}
    for stack, count in fleet.items():
        host = stack.partition(";")[0]
        per_host[host] = per_host.get(host, 0) + count
    results = {h: HostResult(status="ok", samples=n, tiles=[{"name": t} for t in TILES]) for h, n in per_host.items()}
    Manifest(id=folder.name, target="all", started_at="2026-12-02T18:00:00.000000Z", hosts=results).write(folder)


def measure(what: str, folder: Path, source: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    # cwd too: `python -c` puts the working directory first on sys.path, before PYTHONPATH.
    done = subprocess.run([sys.executable, "-c", CHILD, what, str(folder)], capture_output=True, text=True, env=env, cwd=source, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout)
    if not str(result["module"]).startswith(str(source)):
        raise SystemExit(f"{what} imported {result['module']}, not the fleetflame in {source}")
    return result


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (default 3)")
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--before", default=FIRST_SKEW, help=f"commit to compare with (default {FIRST_SKEW}); '' for none")
    args = parser.parse_args()

    folder = DATA / f"20261202T180000Z-all-{args.hosts}"  # a capture id, as manifests must have
    if not (folder / "fleet.folded").is_file():
        print(f"generating {folder} ...", flush=True)
        make_capture(folder, args.hosts)
    size = (folder / "fleet.folded").stat().st_size
    stacks = measure("read", folder, REPO)["stacks"]
    print(f"input: {folder / 'fleet.folded'}: {args.hosts} hosts x 14 tiles, {stacks:,} distinct stacks, {size / 1e6:.0f} MB")
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="fleetflame-before-") as tmp:
        sources = {"read": REPO, "svg": REPO, "skew": REPO}
        if args.before:
            archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before, "fleetflame"], capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
            sources["before"] = Path(tmp)
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in sources}
        for _ in range(args.repeat):  # interleaved, so background load falls on every column alike
            for name, source in sources.items():
                runs[name].append(measure(name if name in ("read", "svg") else "skew", folder, source))

    def figure(name: str, key: str) -> float:
        values = [float(r[key]) for r in runs[name]]  # type: ignore[arg-type]
        return min(values) if key != "rss_mb" else max(values)

    def median(name: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in runs[name])  # type: ignore[arg-type]

    labels = {"read": "read fleet.folded", "svg": "read + render SVG", "skew": "skew (this checkout)", "before": f"skew ({args.before})"}
    print(f"\n| {'':22} | CPU best | CPU median | wall best | peak RSS |")
    print(f"|{'-' * 24}|---------:|-----------:|----------:|---------:|")
    for name in runs:
        print(
            f"| {labels[name]:22} | {figure(name, 'cpu'):6.2f} s | {median(name, 'cpu'):8.2f} s | "
            f"{figure(name, 'wall'):7.2f} s | {figure(name, 'rss_mb'):5.0f} MB |"
        )
    now = runs["skew"][0]
    print(f"\nskew: {now['comparisons']:,} comparisons; findings on {now['findings']}")
    found = {tuple(x) for x in now["findings"]}  # type: ignore[attr-defined]
    cpu, rss, svg_cpu = figure("skew", "cpu"), figure("skew", "rss_mb"), figure("svg", "cpu")
    if args.hosts >= 17:
        right = bool(found) and {h for h, _ in found} == {"host017"}
        print(f"finds the skewed host (host017) and no other: {'yes' if right else 'NO'}")
    if args.hosts == 500:
        verdict = "met" if cpu <= 1.5 and rss <= 250 and cpu < svg_cpu else "MISSED"
        print(f"goal (<= 1.5 s CPU, <= 250 MB, less CPU than the SVG's {svg_cpu:.2f} s): {verdict}")
    if "before" in runs:
        print(f"before -> now: {figure('before', 'cpu') / cpu:.1f}x less CPU")


if __name__ == "__main__":
    main()
