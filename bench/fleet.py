"""Benchmark `fleetflame run all` on a lab fleet against a plain OpenSSH loop.

    .venv/bin/python bench/fleet.py                      # root; N = 1, 4, 16; one pair of runs each
    .venv/bin/python bench/fleet.py --hosts 16,4,1 --repeat 3 --wait 1200 --json out.json

For each N it starts a lab fleet (tests/lab: N real sshd on 127.0.0.200.., each host in its own
PID + mount namespace with a light stand-in validator: 14 tiles, each burning 0.25% of a CPU in
bursts every 200 ms), then, on the same lab, times alternately

* fleetflame: `python -m fleetflame run all -i INV --duration D --out DIR --json`: resolve tiles,
  record on every host at once, symbolize there, pull perf.data by SFTP with sha256 checks,
  collapse and render;
* the plain loop: for every host `ssh host 'timeout -s INT D perf record -F 99 -g -t TIDS -o F;
  perf script -i F | gzip' > host.gz &`, then `wait`; the tids are read beforehand from the
  hosts' /proc over plain ssh, outside the timed part.  OpenSSH runs with ControlMaster=no and
  KexAlgorithms=curve25519-sha256 (OpenSSH 9's default sntrup761 kex is slow here; asyncssh
  negotiates curve25519 too).  This loop pulls no perf.data and builds no report.

Measuring.  Each command runs under a small wrapper process (WRAP) that is a child subreaper:
wall time is spawn to exit of the command (wait4), and what the command orphaned
(multiprocessing's forkserver and its collapse workers) is reaped by the wrapper, so its CPU is
counted, apart from the command's own.  fleetflame runs its CLI in-process under a 10-line hook
(HOOK) that notes the control process's CPU (RUSAGE_SELF) and peak RSS (VmHWM) when main
returns; wait4 then adds the interpreter's exit and the children the control process reaped
itself.  Collapse CPU = the orphans' CPU, plus `collapse_s` of hosts whose small output fleetflame
collapses in a thread of the control process.  The perf start spread is max - min of the hosts'
`perf_started_at` (manifest.json; `date +%s.%N` on the host just before perf, the same clock
for every lab host); the loop's is taken the same way (`date` before its perf).

The lab hosts get an empty /root/.bashrc (tests/lab mounts /dev/null over it in each host's
mount namespace): this machine's runs `pyenv init` on every SSH session (~0.2 s of CPU each),
which no validator host does and which would swamp every figure.  Before each N the bench waits (--wait seconds at most) for a 1-minute
load average <= --max-load, and it prints the load and the machine's CPU busy share during each
run: the machine is shared, and the lab's hosts share its CPUs with the control process, so
only side-by-side ratios mean much.

Goals at N = 16 (issue 4): wall <= 1.15 x the plain loop's, perf start spread <= 200 ms,
control CPU <= 60 ms per host plus collapsing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fleetflame.remote import THREADS  # noqa: E402
from fleetflame.tiles import parse_threads, tiles_from_threads  # noqa: E402
from tests.lab import LabFleet  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() \
    else sys.executable
KEX = "curve25519-sha256"
try:
    from fleetflame.collapse_host import PROCESS_THRESHOLD as THREAD_COLLAPSE_BELOW  # noqa: E402
except ImportError:     # older fleetflame: always worker processes
    THREAD_COLLAPSE_BELOW = 0
GOAL_RATIO, GOAL_SPREAD_S, GOAL_CPU_PER_HOST_S = 1.15, 0.200, 0.060

# The measuring wrapper: `python -c WRAP OUT.json ARGV...`.  A child subreaper, so what the
# command orphans is re-parented here and its CPU reaches our RUSAGE_CHILDREN too.
WRAP = r"""
import ctypes, json, os, resource, sys, time
out, argv = sys.argv[1], sys.argv[2:]
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)       # PR_SET_CHILD_SUBREAPER
t0 = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
orphans = {}
deadline = time.monotonic() + 30
while time.monotonic() < deadline:                             # reap what it left behind
    try:
        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        break
    if info is None:
        time.sleep(0.01)
        continue
    try:
        with open(f"/proc/{info.si_pid}/comm") as fp:
            comm = fp.read().strip()
    except OSError:
        comm = "?"
    oru = os.wait4(info.si_pid, 0)[2]
    orphans[comm] = orphans.get(comm, 0.0) + oru.ru_utime + oru.ru_stime
total = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as fp:
    json.dump({"wall": wall, "rc": os.waitstatus_to_exitcode(status),
               "direct_cpu": ru.ru_utime + ru.ru_stime, "orphans": orphans,
               "cpu": total.ru_utime + total.ru_stime,
               "maxrss_mb": total.ru_maxrss / 1024}, fp)
"""

# The control process itself: fleetflame's CLI run in-process, its own rusage noted at exit.
HOOK = r"""
import json, os, resource, sys
out = sys.argv[1]
sys.argv = ["fleetflame"] + sys.argv[2:]
code = 0
try:
    from fleetflame.cli import app  # what fleetflame.cli.main runs, before it os._exit()s
    app()
except SystemExit as exc:
    code = exc.code
finally:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open("/proc/self/status") as fp:
        hwm = next(int(l.split()[1]) for l in fp if l.startswith("VmHWM:")) / 1024
    with open(out, "w") as fp:
        json.dump({"self_cpu": me.ru_utime + me.ru_stime, "self_user": me.ru_utime,
                   "self_sys": me.ru_stime, "reaped_children_cpu": kids.ru_utime + kids.ru_stime,
                   "hwm_mb": hwm}, fp)
sys.stdout.flush()
sys.stderr.flush()
os._exit(code if isinstance(code, int) else 1)
"""


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fp:
        fields = [float(x) for x in fp.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Measured:
    """One wrapped command, started in its own session so that a Ctrl-C of the bench can end it."""

    def __init__(self, argv: list[str], workdir: Path, tag: str, env: dict[str, str]) -> None:
        self.out = workdir / f"{tag}.rusage.json"
        self.log = workdir / f"{tag}.log"
        self.stdout = workdir / f"{tag}.stdout"
        self.cpu0 = cpu_times()
        with open(self.stdout, "wb") as so, open(self.log, "wb") as se:
            self.popen = subprocess.Popen([PYTHON, "-c", WRAP, str(self.out), *argv], cwd=ROOT,
                                          env=env, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                          start_new_session=True)

    def wait(self, timeout: float) -> dict[str, Any]:
        try:
            self.popen.wait(timeout)
        except BaseException:
            self.kill()
            raise
        if self.popen.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"measuring wrapper failed ({self.popen.returncode}): "
                               f"{self.log.read_text(errors='replace')[-2000:]}")
        busy0, total0 = self.cpu0
        busy1, total1 = cpu_times()
        r = json.loads(self.out.read_text())
        r["machine_busy"] = (busy1 - busy0) / max(1.0, total1 - total0)
        return r

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)   # the group of the wrapper we started
        except ProcessLookupError:
            pass
        self.popen.wait()


def resolve_tids(lab: LabFleet) -> dict[str, list[int]]:
    """Every tile's tid on each host, from thread names in the host's /proc over plain ssh."""
    tids = {}
    for name in lab.names:
        done = lab.ssh(name, shlex.join(["sh", "-c", THREADS, "threads"]), check=True,
                       timeout=120)
        tiles = tiles_from_threads(parse_threads(done.stdout))
        if not tiles:
            raise RuntimeError(f"no tiles found on {name}")
        tids[name] = [t.tid for t in tiles]
    return tids


def baseline_script(lab: LabFleet, tids: dict[str, list[int]], duration: float,
                    outdir: Path) -> str:
    lines = []
    for name in lab.names:
        host = lab.host(name)
        data = host.tmpdir / "baseline.perf.data"
        remote = (f"date +%s.%N >&2; timeout -s INT {duration:g} perf record -F 99 -g "
                  f"-t {','.join(map(str, tids[name]))} -o {shlex.quote(str(data))}; "
                  f"perf script -i {shlex.quote(str(data))} | gzip")
        argv = ["ssh", "-F", str(lab.ssh_config), "-p", str(host.port),
                "-o", "ControlMaster=no", "-o", f"KexAlgorithms={KEX}",
                f"root@{host.addr}", "--", remote]
        lines.append(f"{shlex.join(argv)} > {shlex.quote(str(outdir / name))}.gz "
                     f"2> {shlex.quote(str(outdir / name))}.err < /dev/null &")
    lines.append("wait")
    return "\n".join(lines) + "\n"


def run_baseline(lab: LabFleet, tids: dict[str, list[int]], duration: float, work: Path,
                 tag: str) -> dict[str, Any]:
    outdir = work / tag
    outdir.mkdir()
    script = baseline_script(lab, tids, duration, outdir)
    load = os.getloadavg()[0]
    r = Measured(["sh", "-c", script], work, tag, lab.env()).wait(duration + 300)
    starts, sizes, bad = [], [], []
    for name in lab.names:
        err = (outdir / f"{name}.err").read_text(errors="replace")
        size = (outdir / f"{name}.gz").stat().st_size
        try:
            starts.append(float(err.split("\n", 1)[0]))
        except ValueError:
            bad.append(f"{name}: {err.strip()[-300:]}")
        if "Captured and wrote" not in err:
            bad.append(f"{name}: perf record did not finish: {err.strip()[-300:]}")
        sizes.append(size)
    if bad:
        raise RuntimeError("baseline failed on " + "; ".join(bad))
    return {**r, "load1": load, "spread": max(starts) - min(starts), "bytes": sum(sizes),
            "cpu_per_host": r["cpu"] / len(lab.names)}


def run_fleetflame(lab: LabFleet, inventory: Path, duration: float, work: Path,
                   tag: str) -> dict[str, Any]:
    out = work / tag
    hook = work / f"{tag}.hook.json"
    argv = [PYTHON, "-c", HOOK, str(hook), "run", "all", "-i", str(inventory),
            "--duration", f"{duration:g}", "--out", str(out), "--json"]
    load = os.getloadavg()[0]
    r = Measured(argv, work, tag, lab.env()).wait(duration + 600)
    if r["rc"] != 0:
        raise RuntimeError(f"fleetflame exited {r['rc']}: "
                           f"{(work / f'{tag}.log').read_text(errors='replace')[-2000:]}"
                           f"{(work / f'{tag}.stdout').read_text(errors='replace')[-2000:]}")
    h = json.loads(hook.read_text())
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    manifest = json.loads((folder / "manifest.json").read_text())
    hosts = manifest["hosts"]
    failed = {n: v["error"] for n, v in hosts.items() if v["status"] != "ok"}
    if failed or len(hosts) != len(lab.names):
        raise RuntimeError(f"fleetflame: hosts failed: {failed}")
    starts = [v["perf_started_at"] for v in hosts.values()]
    stages = ("connect", "resolve", "record", "symbolize", "transfer", "collapse")
    timings = {s: max(v["timings"].get(f"{s}_s", 0.0) for v in hosts.values()) for s in stages}
    # What the control process orphaned (multiprocessing's forkserver and the collapse workers it
    # forked, reaped by the wrapper) is collapsing.  fleetflame collapses small outputs in a
    # thread of the control process instead (collapse_host.PROCESS_THRESHOLD); their collapse_s
    # (wall time in that thread) stands in for their CPU.  Everything else the control process
    # used, its interpreter exit and the children it reaped itself included (wait4 on it), is
    # control CPU.
    orphans = sum(r["orphans"].values())
    in_thread = sum(v["timings"].get("collapse_s", 0.0) for v in hosts.values()
                    if v["script_bytes"] < THREAD_COLLAPSE_BELOW)
    collapse_cpu = orphans + in_thread
    control = r["direct_cpu"] - in_thread
    exit_cpu = r["direct_cpu"] - h["self_cpu"] - h["reaped_children_cpu"]
    return {**r, **h, "load1": load, "spread": max(starts) - min(starts),
            "samples": sum(v["samples"] for v in hosts.values()),
            "script_bytes": sum(v["script_bytes"] for v in hosts.values()),
            "perf_data_bytes": sum(v["perf_data_bytes"] for v in hosts.values()),
            "stage_max": timings, "collapse_in_thread": in_thread, "collapse_cpu": collapse_cpu,
            "exit_cpu": exit_cpu, "control_cpu": control,
            "control_cpu_per_host": control / len(lab.names)}


def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until the 1-minute load average is at most max_load."""
    deadline = time.monotonic() + max_wait
    while True:
        load = os.getloadavg()[0]
        if load <= max_load or time.monotonic() >= deadline:
            return load
        print(f"  load average {load:.2f} > {max_load}: waiting...", flush=True)
        time.sleep(min(30.0, max(1.0, deadline - time.monotonic())))


def bench_n(n: int, args: argparse.Namespace, base: Path) -> dict[str, Any]:
    work = base / f"n{n}"
    work.mkdir()
    before = wait_for_quiet(args.max_load, args.wait)
    print(f"N={n}: load average {before:.2f} before starting the lab", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"fleetflame": [], "baseline": []}
    with LabFleet(n, work / "lab", load=args.load, addr_base=args.addr_base, start_timeout=60,
                  standin_args=["--period", f"{args.period:g}"]) as lab:
        inventory = lab.write_inventory(work / "inventory.yml")
        tids = resolve_tids(lab)
        time.sleep(args.settle)
        busy0, total0 = cpu_times()
        time.sleep(3)
        busy1, total1 = cpu_times()
        idle_busy = (busy1 - busy0) / max(1.0, total1 - total0)
        print(f"  machine CPU busy with the lab idle: {idle_busy * 100:.0f}%", flush=True)
        for i in range(args.repeat):
            order = ["baseline", "fleetflame"] if i % 2 == 0 else ["fleetflame", "baseline"]
            for which in order:
                tag = f"{which}-{i}"
                if which == "baseline":
                    r = run_baseline(lab, tids, args.duration, work, tag)
                else:
                    r = run_fleetflame(lab, inventory, args.duration, work, tag)
                runs[which].append(r)
                print(f"  {tag}: wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s, "
                      f"start spread {r['spread'] * 1e3:.0f} ms, load {r['load1']:.2f}, "
                      f"machine busy {r['machine_busy'] * 100:.0f}%",
                      flush=True)
                time.sleep(args.settle)
        ntiles = sum(len(t) for t in tids.values())
    return {"n": n, "tiles": ntiles, "load_before": before, "idle_busy": idle_busy, **runs}


def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def summarize(res: dict[str, Any], duration: float) -> dict[str, float]:
    ff, bl = res["fleetflame"], res["baseline"]
    s = {
        "ff_wall": med(ff, "wall"), "bl_wall": med(bl, "wall"),
        "ff_spread": med(ff, "spread"), "bl_spread": med(bl, "spread"),
        "ff_cpu": med(ff, "cpu"), "ff_self": med(ff, "self_cpu"),
        "ff_reaped": med(ff, "reaped_children_cpu"), "ff_exit": med(ff, "exit_cpu"),
        "ff_control": med(ff, "control_cpu"), "ff_collapse": med(ff, "collapse_cpu"),
        "ff_hwm": max(r["hwm_mb"] for r in ff), "ff_maxrss": max(r["maxrss_mb"] for r in ff),
        "bl_cpu": med(bl, "cpu"), "bl_maxrss": max(r["maxrss_mb"] for r in bl),
        "ff_samples": med(ff, "samples"), "ff_script_mb": med(ff, "script_bytes") / 1e6,
        "ff_data_mb": med(ff, "perf_data_bytes") / 1e6, "bl_script_mb": med(bl, "bytes") / 1e6,
        "load_max": max(r["load1"] for r in ff + bl),
        "ff_busy": med(ff, "machine_busy"), "bl_busy": med(bl, "machine_busy"),
    }
    s["ratio"] = s["ff_wall"] / s["bl_wall"]
    s["ff_beyond"], s["bl_beyond"] = s["ff_wall"] - duration, s["bl_wall"] - duration
    s["ff_control_per_host"] = s["ff_control"] / res["n"]
    for stage in ff[0]["stage_max"]:
        s[f"stage_{stage}"] = statistics.median(r["stage_max"][stage] for r in ff)
    return s


def print_table(results: list[dict[str, Any]], duration: float) -> list[tuple[str, int, bool, str]]:
    results = sorted(results, key=lambda r: r["n"])
    sums = [summarize(r, duration) for r in results]
    ns = [r["n"] for r in results]
    rows: list[tuple[str, str, Any]] = [
        ("tiles recorded (all hosts)", "{:.0f}", [r["tiles"] for r in results]),
        ("fleetflame wall, s", "{:.2f}", [s["ff_wall"] for s in sums]),
        ("plain ssh loop wall, s", "{:.2f}", [s["bl_wall"] for s in sums]),
        ("wall ratio fleetflame / loop", "{:.2f}x", [s["ratio"] for s in sums]),
        (f"fleetflame beyond the {duration:g} s, s", "{:.2f}", [s["ff_beyond"] for s in sums]),
        (f"loop beyond the {duration:g} s, s", "{:.2f}", [s["bl_beyond"] for s in sums]),
        ("fleetflame perf start spread, ms", "{:.0f}", [s["ff_spread"] * 1e3 for s in sums]),
        ("loop perf start spread, ms", "{:.0f}", [s["bl_spread"] * 1e3 for s in sums]),
        ("fleetflame CPU total, s", "{:.2f}", [s["ff_cpu"] for s in sums]),
        ("  control process, excl. collapsing, s", "{:.2f}", [s["ff_control"] for s in sums]),
        ("    of which its run (to main's return)", "{:.2f}", [s["ff_self"] for s in sums]),
        ("    of which interpreter exit", "{:.2f}", [s["ff_exit"] for s in sums]),
        ("    of which its own children", "{:.2f}", [s["ff_reaped"] for s in sums]),
        ("  collapsing, s", "{:.2f}", [s["ff_collapse"] for s in sums]),
        ("  control excl. collapsing per host, ms", "{:.0f}", [s["ff_control_per_host"] * 1e3
                                                                for s in sums]),
        ("loop CPU (sh + ssh clients), s", "{:.2f}", [s["bl_cpu"] for s in sums]),
        ("control peak RSS (VmHWM), MB", "{:.0f}", [s["ff_hwm"] for s in sums]),
        ("peak RSS of any process of the run, MB", "{:.0f}", [s["ff_maxrss"] for s in sums]),
        ("samples (all hosts)", "{:.0f}", [s["ff_samples"] for s in sums]),
        ("perf.script.gz / perf.data pulled, MB", "{}", [f"{s['ff_script_mb']:.2f} / "
                                                          f"{s['ff_data_mb']:.2f}" for s in sums]),
        *[(("slowest host: " if i == 0 else "  ") + f"{stage}, s", "{:.2f}",
           [s[f"stage_{stage}"] for s in sums])
          for i, stage in enumerate(st for st in ("connect", "resolve", "record", "symbolize",
                                                  "transfer", "collapse")
                                    if any(s[f"stage_{st}"] for s in sums))],
        ("machine CPU busy, lab idle", "{:.0f}%", [r["idle_busy"] * 100 for r in results]),
        ("max 1-min load at run starts", "{:.2f}", [s["load_max"] for s in sums]),
        ("machine CPU busy, fleetflame / loop runs", "{}", [f"{s['ff_busy'] * 100:.0f}% / "
                                                             f"{s['bl_busy'] * 100:.0f}%"
                                                             for s in sums]),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"| {'N hosts':<{width}} | " + " | ".join(f"{n:>11}" for n in ns) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 13 for _ in ns) + "|")
    for label, fmt, values in rows:
        print(f"| {label:<{width}} | " + " | ".join(f"{fmt.format(v):>11}" for v in values)
              + " |")
    verdicts = []
    for r, s in zip(results, sums):
        n = r["n"]
        budget = GOAL_CPU_PER_HOST_S * n
        verdicts += [
            ("wall <= 1.15x plain loop", n, s["ratio"] <= GOAL_RATIO,
             f"{s['ratio']:.2f}x ({s['ff_wall']:.2f} s vs {s['bl_wall']:.2f} s)"
             + ("" if s["ratio"] <= GOAL_RATIO else
                f": over by {(s['ratio'] / GOAL_RATIO - 1) * 100:.0f}%"
                f" ({s['ff_wall'] - GOAL_RATIO * s['bl_wall']:.2f} s)")),
            ("perf start spread <= 200 ms", n, s["ff_spread"] <= GOAL_SPREAD_S,
             f"{s['ff_spread'] * 1e3:.0f} ms"),
            ("control CPU <= 60 ms/host + collapsing", n, s["ff_control"] <= budget,
             f"{s['ff_control']:.2f} s excl. {s['ff_collapse']:.2f} s collapsing, "
             f"budget {budget:.2f} s ({s['ff_control_per_host'] * 1e3:.0f} ms/host)"
             + ("" if s["ff_control"] <= budget else
                f": over by {s['ff_control'] - budget:.2f} s")),
        ]
    if len(sums) >= 2 and ns[-1] != ns[0]:
        slope = (sums[-1]["ff_control"] - sums[0]["ff_control"]) / (ns[-1] - ns[0])
        print(f"\nmarginal control CPU per extra host (N={ns[0]}..{ns[-1]}): {slope * 1e3:.0f} ms; "
              f"fixed part ~{(sums[0]['ff_control'] - slope * ns[0]):.2f} s")
    print(f"\nbaseline OpenSSH: ControlMaster=no, KexAlgorithms={KEX} (OpenSSH's default "
          "sntrup761 kex is slow here)")
    print("\nverdicts (the goals are set for N = 16; smaller N shown for reference):")
    for goal, n, ok, detail in verdicts:
        print(f"  N={n:<3} {goal:<40} {'PASS' if ok else 'MISS'}  {detail}")
    return verdicts


def machine() -> dict[str, str]:
    def cmd(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip()
        except OSError:
            return "?"

    model = next((line.split(":", 1)[1].strip() for line in cmd("lscpu").splitlines()
                  if line.startswith("Model name")), "?")
    with open("/proc/meminfo") as fp:
        mem = int(fp.readline().split()[1]) / 1024 / 1024
    asyncssh = subprocess.run([PYTHON, "-c", "import asyncssh; print(asyncssh.__version__)"],
                              capture_output=True, text=True).stdout.strip()
    perf = cmd("perf", "--version")
    return {"cpu": model, "cores": str(os.cpu_count()), "ram": f"{mem:.1f} GiB",
            "kernel": platform.release(), "openssh": cmd("ssh", "-V"), "asyncssh": asyncssh,
            "python": subprocess.run([PYTHON, "-V"], capture_output=True, text=True)
            .stdout.strip(), "perf": perf}


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="1,4,16", help="fleet sizes, comma separated (1,4,16)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of recording (5)")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of runs per N; medians shown")
    ap.add_argument("--load", type=float, default=0.25,
                    help="stand-in CPU load, percent per tile (0.25; 14 tiles per host)")
    ap.add_argument("--period", type=float, default=200.0,
                    help="stand-in duty-cycle period, ms (200: few wake-ups, so 16 hosts idle "
                         "lightly on 2 cores)")
    ap.add_argument("--max-load", type=float, default=3.0,
                    help="wait for a 1-minute load average at most this before each N (3)")
    ap.add_argument("--wait", type=float, default=0.0,
                    help="at most this many seconds of waiting for --max-load (0: don't wait)")
    ap.add_argument("--addr-base", type=int, default=200,
                    help="hosts are 127.0.0.ADDR_BASE+i (200: clear of the tests' labs)")
    ap.add_argument("--settle", type=float, default=2.0, help="pause between runs, s")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (captures, logs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/fleet.py needs root (the lab fleet: sshd on loopback, namespaces, perf)")
    ns = [int(x) for x in args.hosts.split(",") if x.strip()]
    signal.signal(signal.SIGTERM, _terminate)   # clean up (lab, work folder) as on Ctrl-C
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']}, Linux {info['kernel']}")
    print(f"         {info['openssh']}; asyncssh {info['asyncssh']}; {info['python']}; "
          f"{info['perf']}")
    print(f"fleetflame run all --duration {args.duration:g} vs plain ssh loop; stand-in load "
          f"{args.load}% per tile every {args.period:g} ms; {args.repeat} pair(s) of runs per N",
          flush=True)
    base = Path(tempfile.mkdtemp(prefix="fleetflame-bench-fleet-"))
    results = []
    try:
        for n in ns:
            results.append(bench_n(n, args, base))
    finally:
        if args.keep:
            print(f"work folder kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    verdicts = print_table(results, args.duration)
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores, {info['ram']}, Linux {info['kernel']}; "
          f"{info['openssh']}; asyncssh {info['asyncssh']}; {info['python']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in
                                                                  vars(args).items()},
                                         "results": results,
                                         "verdicts": verdicts}, indent=1) + "\n")


if __name__ == "__main__":
    main()
