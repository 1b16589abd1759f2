"""Control-side CPU of two fleetflame checkouts on the same 1-host lab, run alternately.

    .venv/bin/python bench/fleet_ab.py /path/to/old/checkout [--pairs 4]

Each run is `python -m fleetflame run all --duration 2` from that checkout against the same
lab host (tests/lab, the current stand-in), timed with /usr/bin/time (user + sys of the whole
command). It tells a slower fleetflame from a busier lab: bench/fleet.py's figures move with
both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lab import LabFleet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other checkout (e.g. `git worktree add /tmp/old e0b5c15`)")
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleetflame-ab-"))
    checkouts = {"before": args.before.resolve(), "now": ROOT}
    cpu: dict[str, list[float]] = {name: [] for name in checkouts}
    with LabFleet(1, work / "lab", load=1, addr_base=150) as lab:
        inventory = lab.write_inventory(work / "inv.yml")
        for _ in range(args.pairs):
            for name, root in checkouts.items():
                out = work / f"out-{name}-{time.monotonic_ns()}"
                argv = ["/usr/bin/time", "-f", "CPU %U %S", sys.executable, "-m", "fleetflame", "run", "all",
                        "-i", str(inventory), "--duration", "2", "--out", str(out), "--json"]
                done = subprocess.run(argv, cwd=root, env={**lab.env(), "PYTHONPATH": str(root)}, capture_output=True, text=True)
                line = [x for x in done.stderr.splitlines() if x.startswith("CPU ")][-1]
                cpu[name].append(round(sum(float(v) for v in line.split()[1:3]), 2))
    for name, values in cpu.items():
        print(f"{name:>6}: {' '.join(f'{v:.2f}' for v in values)} s   (median {statistics.median(values):.2f})")
    print(json.dumps(cpu))


if __name__ == "__main__":
    main()
