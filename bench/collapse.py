"""Benchmark `fleetflame collapse`: MB/s and peak RSS, one process and every core.

    python bench/collapse.py --generate   # once: record real programs into bench/data/ (root, perf)
    python bench/collapse.py              # single process, then a process pool over 4 parts

Each measurement runs in a fresh child process so that its peak RSS is its own.
Goals on the 2-core dev machine: >= 100 MB/s in one process, >= 180 MB/s on both cores,
peak RSS <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleetflame.collapse import PerfOptions, collapse_perf_file, collapse_perf_files  # noqa: E402
from fleetflame.collapse.fast import Collapser  # noqa: E402

DATA = ROOT / "bench" / "data"
BIG = DATA / "perf-script.txt"
ONCE = DATA / "recordings.txt"
MIN_BYTES = 150_000_000


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM starts afresh at exec, unlike ru_maxrss on Linux)."""
    with open("/proc/self/status") as fp:
        return next(int(line.split()[1]) for line in fp if line.startswith("VmHWM:")) / 1024


def workers_peak_rss_mb() -> float:
    """The largest peak RSS among this process's finished children (forked pool workers)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def split_file(path: Path, parts: int) -> list[Path]:
    """Cut a perf script file into `parts` files at blank lines (whole records)."""
    out = [DATA / f"part-{i}-of-{parts}.txt" for i in range(parts)]
    if all(p.exists() for p in out) and sum(p.stat().st_size for p in out) == path.stat().st_size:
        return out
    data = path.read_bytes()
    start = 0
    for i, p in enumerate(out):
        end = len(data) if i == parts - 1 else data.index(b"\n\n", len(data) * (i + 1) // parts) + 2
        p.write_bytes(data[start:end])
        start = end
    return out


def child(mode: str, paths: list[str]) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "single":
        r = collapse_perf_file(paths[0])
    elif mode == "timed":  # as single, keeping each sample's 20 ms bin (PerfOptions.time_bins)
        r = collapse_perf_file(paths[0], PerfOptions(time_bins=True))
    else:
        r = collapse_perf_files(paths, PerfOptions(), processes=os.cpu_count())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += workers.ru_utime + workers.ru_stime  # the pool's workers (0 for the single run)
    print(json.dumps({
        "wall": wall, "cpu": cpu, "bytes": sum(os.path.getsize(p) for p in paths),
        "stacks": len(r.stacks), "samples": r.samples, "total": sum(r.stacks.values()),
        "rss": peak_rss_mb(), "workers_rss": workers_peak_rss_mb(),
    }))


def run_child(mode: str, paths: list[Path]) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", mode, *map(str, paths)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def check_fast_equals_literal(path: Path, nbytes: int = 40_000_000) -> bool:
    """The memoized fast path against the script's line-by-line loop, on the file's first records."""
    with open(path, "rb") as fp:
        data = fp.read(nbytes)
    data = data[: data.rindex(b"\n\n") + 2]
    literal = Collapser(PerfOptions())
    literal.feed_lines(data.split(b"\n")[:-1])
    fast = Collapser(PerfOptions())
    fast.feed_records(data[:-2].split(b"\n\n"))
    return fast.finish().stacks == literal.finish().stacks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generate", action="store_true", help="record bench/data/ first (root, perf, gcc, node)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each measurement (best and median shown)")
    ap.add_argument("--parts", type=int, default=4, help="files for the parallel run")
    ap.add_argument("--oracle", help="also time FlameGraph's stackcollapse-perf.pl at this path")
    ap.add_argument("--timeline", action="store_true", help="only: single without and with time bins, alternated")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1:])
    if args.generate or not BIG.exists():
        import collapse_data

        collapse_data.main()
    size = BIG.stat().st_size
    if size < MIN_BYTES:
        sys.exit(f"{BIG} has {size / 1e6:.0f} MB; run with --generate")
    print(f"input: {BIG} ({size / 1e6:.1f} MB), {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"fast path == line-by-line path on the first 40 MB: {check_fast_equals_literal(BIG)}")

    def report(name: str, runs: list[dict[str, float]]) -> None:
        mbps = sorted(r["bytes"] / r["wall"] / 1e6 for r in runs)
        per_cpu_s = max(r["bytes"] / r["cpu"] / 1e6 for r in runs)
        rss = max(r["rss"] for r in runs)
        wrss = max(r["workers_rss"] for r in runs)
        extra = f", peak RSS per worker {wrss:.0f} MB" if name.startswith("pool") else ""
        print(f"{name}: best {mbps[-1]:.0f} MB/s, median {statistics.median(mbps):.0f} MB/s "
              f"(wall {min(r['wall'] for r in runs):.2f} s; {per_cpu_s:.0f} MB per CPU-second), "
              f"peak RSS {rss:.0f} MB{extra}; "
              f"{runs[0]['stacks']:.0f} unique stacks, {runs[0]['samples']:.0f} samples")

    if args.timeline:
        plain, timed = [], []
        for _ in range(args.runs):
            plain.append(run_child("single", [BIG]))
            timed.append(run_child("timed", [BIG]))
        report("single", plain)
        report("single, with time bins", timed)
        best = [max(r["bytes"] / r["wall"] for r in runs) for runs in (plain, timed)]
        print(f"time bins cost {100 * (1 - best[1] / best[0]):.1f} % of the best throughput")
        return
    single = [run_child("single", [BIG]) for _ in range(args.runs)]
    report("single", single)
    once = [run_child("single", [ONCE]) for _ in range(args.runs)]
    report(f"single, each recording once ({ONCE.stat().st_size / 1e6:.0f} MB, few repeats)", once)
    parts = split_file(BIG, args.parts)
    pool = [run_child("pool", parts) for _ in range(args.runs)]
    report(f"pool of {os.cpu_count()} over {args.parts} files", pool)
    if pool[0]["total"] != single[0]["total"] or pool[0]["samples"] != single[0]["samples"]:
        sys.exit("parallel and single results differ")
    if args.oracle:
        t0 = time.perf_counter()
        with open(os.devnull, "wb") as null:
            subprocess.run(["perl", args.oracle, str(BIG)], stdout=null, check=True)
        wall = time.perf_counter() - t0
        print(f"stackcollapse-perf.pl: {size / wall / 1e6:.1f} MB/s (wall {wall:.1f} s)")


if __name__ == "__main__":
    main()
