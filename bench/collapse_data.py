"""Record real programs with perf and build the >= 150 MB perf script input of bench/collapse.py.

Needs root, perf, gcc, node. Everything goes to bench/data/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PROGRAMS = ROOT / "tests" / "collapse" / "programs"
CFLAGS = "-O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-optimize-sibling-calls".split()
PY_WORKLOAD = """
import json, re, hashlib, time
end = time.time() + float(__import__('sys').argv[1])
def walk(d, n):
    return walk(d, n - 1) + 1 if n else len(json.dumps(d))
while time.time() < end:
    d = {str(i): [i, str(i) * 3, {'k': i}] for i in range(2000)}
    walk(d, 30)
    sorted(d, key=lambda k: hashlib.sha1(k.encode()).hexdigest())
    re.findall(r'(\\d+)"', json.dumps(d))
"""


def run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def record(name: str, cmd: list[str], work: Path) -> Path:
    """One event type (perf's default cpu-clock) throughout, so that no sample is filtered out."""
    data = work / f"{name}.data"
    run(["perf", "record", "-q", "--no-buildid-cache", "-F", "999", "-g", "-o", str(data), "--", *cmd],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = DATA / f"rec-{name}.txt"
    with open(out, "wb") as fp:
        run(["perf", "script", "-i", str(data)], stdout=fp, stderr=subprocess.DEVNULL)
    print(f"  {name}: {out.stat().st_size / 1e6:.1f} MB", flush=True)
    return out


def main(seconds: float = 20.0, target_mb: int = 160) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run(["gcc", *CFLAGS, "-o", str(work / "deep"), str(PROGRAMS / "deep.c")])
        run(["gcc", *CFLAGS, "-pthread", "-o", str(work / "threads"), str(PROGRAMS / "threads.c")])
        run(["gcc", *CFLAGS, "-o", str(work / "jitlike"), str(PROGRAMS / "jitlike.c")])
        (work / "work.py").write_text(PY_WORKLOAD)
        s = str(seconds)
        recs = [
            record("deep", [str(work / "deep"), s], work),
            record("threads", [str(work / "threads"), s], work),
            record("jitlike", [str(work / "jitlike"), s, "map"], work),
            record("python", [shutil.which("python3") or sys.executable, str(work / "work.py"), s], work),
            record("node", ["node", "--perf-basic-prof", str(PROGRAMS / "jit.js"), s], work),
        ]
    once = DATA / "recordings.txt"  # every recording once: no stack seen before
    with open(once, "wb") as out:
        for r in recs:
            out.write(r.read_bytes())
    # the recordings again and again until the target size
    big = DATA / "perf-script.txt"
    size = 0
    with open(big, "wb") as out:
        while size < target_mb * 1_000_000:
            for r in recs:
                size += out.write(r.read_bytes())
    print(f"{big}: {big.stat().st_size / 1e6:.1f} MB (from {sum(r.stat().st_size for r in recs) / 1e6:.1f} MB recorded)")


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("needs root (perf on child processes with kernel frames)")
    main()
