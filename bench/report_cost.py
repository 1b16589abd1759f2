"""What the reports cost at the end of every `run`, before and after a change, in one run.

`fleetflame run` ends with `build_reports` (fleet.folded, skew.json, flamegraph.svg/.html, one SVG
per host up to 16 hosts). For a capture of N hosts × 14 tiles (lab-sized: ~50 samples per host, as the stand-in
gives in bench/fleet.py's 5 s runs; and busy: ~2,000 per tile) this measures, each in a fresh
process: the CPU of importing fleetflame.report and of build_reports. `--before COMMIT` runs the
same on that commit's fleetflame (extracted with `git archive` into a temporary folder), side by
side.

    .venv/bin/python bench/report_cost.py [--before 8952c85^] [--hosts 1,4,16]

`--at-scale 500` measures `fleetflame report` itself on a capture of that many hosts × 14 tiles
(bench/synthetic_fleet.py's defaults: ~1,000 samples per busy tile, host017 skewed, idle tiles;
at 500 hosts 250k distinct stacks), before (`--scale-before`, default 2f838c0: one SVG per host
and one printed line per file) and after, side by side: the CLI in a fresh process on a
terminal (a pty), from a folder holding only the manifest and hosts/*/stacks.folded, as a
capture fetched from the hosts. Wall and CPU time (least of --repeat runs), lines printed, files
and bytes written besides fleet.folded, and the folder's size.

    .venv/bin/python bench/report_cost.py --at-scale 500 [--scale-before 2f838c0] [--repeat 3]

`--timeline 30` gives each host of that capture a 30 s timeline too (bench/fleet_viewer.py's
capture: ~2,970 samples per busy tile), so `report` also reads the timelines and draws the
viewer's Timeline tab: e.g. `--at-scale 500 --timeline 30 --scale-before 9d929a1`.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import resource
import subprocess
import sys
import tempfile
import time
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


def make_capture(folder: Path, hosts: int, samples_per_tile: int | None, timeline_s: float | None = None, **shape: object) -> None:
    """A capture folder as `fetch` leaves it (manifest.json, hosts/HOST/stacks.folded). With
    `samples_per_tile` None, synthetic_fleet's defaults (skewed host, idle tiles) and `shape`.
    With `timeline_s`, each host also has its hosts/HOST/timeline.json.gz of that many seconds
    (bench/synthetic_fleet.synthetic_timelines, as bench/fleet_viewer.py's 30 s capture)."""
    sys.path.insert(0, str(REPO))
    from bench.synthetic_fleet import START, TILES, synthetic_fleet, synthetic_timelines
    from fleetflame.capture import HostResult, Manifest
    from fleetflame.folded import write_folded
    from fleetflame.timeline import write_timeline

    if timeline_s is not None:
        fleet = synthetic_fleet(hosts=hosts, samples_per_tile=round(99 * timeline_s), skew_share=0.02)
    elif samples_per_tile is None:
        fleet = synthetic_fleet(hosts=hosts, **shape)  # type: ignore[arg-type]
    else:
        fleet = synthetic_fleet(hosts=hosts, samples_per_tile=samples_per_tile, paths_per_kind=300, skewed_host=None, idle_every=0)
    per_host: dict[str, dict[str, int]] = {}
    for stack, count in fleet.items():
        host, rest = stack.split(";", 1)
        per_host.setdefault(host, {})[rest] = count
    timelines = synthetic_timelines(fleet, seconds=timeline_s) if timeline_s is not None else {}
    results = {}
    for host, stacks in per_host.items():
        (folder / "hosts" / host).mkdir(parents=True)
        write_folded(stacks, folder / "hosts" / host / "stacks.folded")
        results[host] = HostResult(status="ok", tiles=[{"name": t} for t in TILES], samples=sum(stacks.values()))
        if host in timelines:
            write_timeline(folder / "hosts" / host, timelines[host])
            results[host].perf_started_at, results[host].recorded_s = START, timeline_s
    duration = {"requested_duration_s": timeline_s, "duration_s": timeline_s} if timeline_s is not None else {}
    Manifest(id=folder.name, target="all", started_at="2026-12-02T18:00:00Z", hosts=results, **duration).write(folder)  # type: ignore[arg-type]


def measure(pythonpath: Path, folder: Path, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True,
                              env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}, cwd=folder.parent)  # fmt: skip
        if done.returncode:
            raise SystemExit(f"report failed with {pythonpath}: {done.stderr[-1500:]}")
        runs.append(json.loads(done.stdout))
    return {k: min(r[k] for r in runs) for k in ("import", "build")}


INPUTS = ("manifest.json", "stacks.folded", "timeline.json.gz")  # what a capture holds before `report`


def reset(folder: Path) -> None:
    """Back to what `fetch` leaves: every output of a previous `report` removed."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and path.name not in INPUTS:
            path.unlink()


def run_on_a_terminal(pythonpath: Path, folder: Path) -> dict[str, float]:
    """`fleetflame report FOLDER` with its stdout and stderr on a pty: wall and CPU seconds, and
    the lines it printed."""
    main_fd, child_fd = pty.openpty()
    env = {"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin", "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "fleetflame", "report", str(folder)], stdin=subprocess.DEVNULL,
                             stdout=child_fd, stderr=child_fd, env=env, cwd=folder.parent)  # fmt: skip
    os.close(child_fd)
    printed = bytearray()
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        printed += chunk
    code = child.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.close(main_fd)
    if code:
        raise SystemExit(f"report failed with {pythonpath}: {printed[-1500:].decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "lines": printed.count(b"\n")}


def written(folder: Path) -> dict[str, float]:
    """Files `report` wrote besides fleet.folded, their bytes, and the folder's bytes in all."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    outputs = [p for p in files if p.name not in INPUTS and p.name != "fleet.folded"]
    return {"files": len(outputs), "bytes": sum(p.stat().st_size for p in outputs),
            "host_svgs": sum(1 for p in outputs if p.parent.parent.name == "hosts"),
            "folder": sum(p.stat().st_size for p in files)}  # fmt: skip


def checkout(commit: str, into: Path) -> Path:
    """fleetflame as it was at `commit`, extracted into `into`."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "fleetflame"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def at_scale(hosts: int, before_commit: str, repeat: int, timeline_s: float | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        before = checkout(before_commit, Path(tmp) / "before")
        folder = Path(tmp) / f"20261202T180000Z-{hosts}-hosts"
        t0 = time.perf_counter()
        make_capture(folder, hosts, None, timeline_s)
        inputs = written(folder)["folder"]
        what = (f"{timeline_s:.0f} s at 99 Hz, hosts/*/stacks.folded + timeline.json.gz" if timeline_s is not None
                else "bench/synthetic_fleet.py defaults, hosts/*/stacks.folded")
        print(f"{hosts} hosts × 14 tiles ({what}) + manifest: "
              f"{inputs / 1e6:.0f} MB, made in {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        results = {}
        for label, path in (("before", before), ("after", REPO)):
            runs = []
            for _ in range(repeat):
                reset(folder)
                runs.append(run_on_a_terminal(path, folder))
            results[label] = {"wall": min(r["wall"] for r in runs), "cpu": min(r["cpu"] for r in runs),
                              "lines": runs[-1]["lines"], **written(folder)}  # fmt: skip
        old, new = results["before"], results["after"]
        print(f"`fleetflame report` on a terminal (least of {repeat} runs): before = {before_commit}, after = this checkout")
        rows = [
            ("wall time, s", f"{old['wall']:.1f}", f"{new['wall']:.1f}"),
            ("CPU time, s", f"{old['cpu']:.1f}", f"{new['cpu']:.1f}"),
            ("lines printed", f"{old['lines']:.0f}", f"{new['lines']:.0f}"),
            ("files written besides fleet.folded", f"{old['files']:.0f}", f"{new['files']:.0f}"),
            ("  of which per-host SVGs", f"{old['host_svgs']:.0f}", f"{new['host_svgs']:.0f}"),
            ("MB written besides fleet.folded", f"{old['bytes'] / 1e6:.1f}", f"{new['bytes'] / 1e6:.1f}"),
            ("capture folder after report, MB", f"{old['folder'] / 1e6:.0f}", f"{new['folder'] / 1e6:.0f}"),
        ]
        print(f"{'':38s} {'before':>8s} {'after':>8s}")
        for name, a, b in rows:
            print(f"{name:38s} {a:>8s} {b:>8s}")
        print(f"load average after: {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="8952c85^", help="the commit to compare with (default: the one before the 500-host viewer)")
    parser.add_argument("--hosts", default="1,4,16")
    parser.add_argument("--repeat", type=int, default=3, help="processes per figure; the least CPU is reported")
    parser.add_argument("--at-scale", type=int, metavar="HOSTS", help="measure `fleetflame report` on a capture of HOSTS hosts instead")
    parser.add_argument("--scale-before", default="2f838c0", help="--at-scale's before (default: one SVG per host, one line per file)")
    parser.add_argument("--timeline", type=float, metavar="SECONDS",
                        help="with --at-scale: each host also has a timeline of this many seconds (the viewer's Timeline tab)")
    args = parser.parse_args()
    if args.at_scale:
        at_scale(args.at_scale, args.scale_before, args.repeat, args.timeline)
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = checkout(args.before, Path(tmp) / "before")
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
