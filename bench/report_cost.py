"""What the reports cost at the end of every `run`, before and after a change, in one run.

`fleetflame run` ends with `build_reports` (fleet.folded, skew.json, flamegraph.svg/.html, one SVG
per host). For a capture of N hosts × 14 tiles (lab-sized: ~50 samples per host, as the stand-in
gives in bench/fleet.py's 5 s runs; and busy: ~2,000 per tile) this measures, each in a fresh
process: the CPU of importing fleetflame.report and of build_reports. `--before COMMIT` runs the
same on that commit's fleetflame (extracted with `git archive` into a temporary folder), side by
side.

    .venv/bin/python bench/report_cost.py [--before 8952c85^] [--hosts 1,4,16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs in the measured process: PYTHONPATH chooses which fleetflame is imported.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0 = cpu()
from fleetflame.report import build_reports
from fleetflame.capture import read_manifest
c1 = cpu()
folder = Path(sys.argv[1])
build_reports(folder, read_manifest(folder))
c2 = cpu()
print(json.dumps({"import": c1 - c0, "build": c2 - c1}))
"""


def make_capture(folder: Path, hosts: int, samples_per_tile: int) -> None:
    sys.path.insert(0, str(REPO))
    from bench.synthetic_fleet import TILES, synthetic_fleet
    from fleetflame.capture import HostResult, Manifest
    from fleetflame.folded import write_folded

    fleet = synthetic_fleet(hosts=hosts, samples_per_tile=samples_per_tile, paths_per_kind=300, skewed_host=None, idle_every=0)
    per_host: dict[str, dict[str, int]] = {}
    for stack, count in fleet.items():
        host, rest = stack.split(";", 1)
        per_host.setdefault(host, {})[rest] = count
    results = {}
    for host, stacks in per_host.items():
        (folder / "hosts" / host).mkdir(parents=True)
        write_folded(stacks, folder / "hosts" / host / "stacks.folded")
        results[host] = HostResult(status="ok", tiles=[{"name": t} for t in TILES], samples=sum(stacks.values()))
    Manifest(id=folder.name, target="all", started_at="2026-12-02T18:00:00Z", hosts=results).write(folder)


def measure(pythonpath: Path, folder: Path, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True,
                              env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}, cwd=folder.parent)  # fmt: skip
        if done.returncode:
            raise SystemExit(f"report failed with {pythonpath}: {done.stderr[-1500:]}")
        runs.append(json.loads(done.stdout))
    return {k: min(r[k] for r in runs) for k in ("import", "build")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="8952c85^", help="the commit to compare with (default: the one before the 500-host viewer)")
    parser.add_argument("--hosts", default="1,4,16")
    parser.add_argument("--repeat", type=int, default=3, help="processes per figure; the least CPU is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before, "fleetflame"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        print(f"report CPU at the end of a run (least of {args.repeat} processes), s: before = {args.before}, after = this checkout")
        print(f"{'capture':34s} {'import before':>13s} {'after':>6s} {'build before':>13s} {'after':>6s}")
        for hosts in (int(h) for h in args.hosts.split(",")):
            for label, per_tile in (("lab-sized", 4), ("busy", 2000)):
                folder = Path(tmp) / f"20261202T180000Z-{label}-{hosts}"
                make_capture(folder, hosts, per_tile)
                old, new = measure(before, folder, args.repeat), measure(REPO, folder, args.repeat)
                print(f"{hosts:3d} hosts × 14 tiles, {label:10s}      {old['import']:13.3f} {new['import']:6.3f} "
                      f"{old['build']:13.3f} {new['build']:6.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
