"""Benchmark fleetflame's fleet runs on the lab: against a plain OpenSSH loop, over a slow link,
and as the control plane of a big simulated fleet.

    .venv/bin/python bench/fleet.py                            # root; N = 1, 4, 16, loopback
    .venv/bin/python bench/fleet.py --hosts 16,4,1 --repeat 3 --wait 1200 --json out.json
    .venv/bin/python bench/fleet.py --rtt-ms 100               # 8 hosts behind a 100 ms RTT link
    .venv/bin/python bench/fleet.py --simulate 64,256          # fakeperf fleets: the control side
    BENCH_PROFILE=/tmp/prof ... bench/fleet.py ...             # also a cProfile file per fleetflame run
    BENCH_LOG_EVENTS=1 ... bench/fleet.py --keep ...           # keep fleetflame's --log-file (loopback/RTT)

The lab (tests/lab) is N real, stock Debian sshd on 127.0.0.200 and up (then 127.0.1.x), each
host in its own PID + mount namespace with its own /tmp and a stand-in validator of 14 tiles.

Loopback and --rtt-ms: on the same lab, alternately,
* fleetflame: `python -m fleetflame run all -i INV --duration D --out DIR --json`: resolve tiles,
  record on every host at once, symbolize there, stream perf script's output and perf.data back
  over the same SSH channel with sha256 checks, collapse and render.  The bench checks that
  every host's perf.data arrived and matches the sha256 in the manifest.
* the plain loop: for every host `ssh host 'timeout -s INT D perf record -F 99 -g -t TIDS -o F;
  perf script -i F | gzip' > host.gz &`, then `wait`; the tids are read beforehand from the
  hosts' /proc, outside the timed part.  OpenSSH runs with ControlMaster=no and
  KexAlgorithms=curve25519-sha256 (OpenSSH 9's default sntrup761 kex is slow here; asyncssh
  negotiates curve25519 too).  This loop pulls no perf.data and builds no report.
With --rtt-ms, both go through tests/lab/delayproxy.py (a process of its own, so its CPU is
nobody's control CPU), which delays each direction by half the RTT: the inventory and the loop
use the hosts' proxied ports.  Goal (issue "slow links"): at 8 hosts and 5 s, fleetflame's time
beyond the 5 s is at most 1.5x the loop's.

--simulate N,...: a lab of N hosts whose stand-ins burn no CPU and whose `fleetflame_perf` is
tests/lab/fakeperf (records nothing, answers like perf), so what is measured is the control side:
control CPU per host, its peak RSS and open files, the spread of connections (the hosts'
`resolving` events in fleetflame's --log-file, i.e. connect done), of start signals (manifest
`start_signal_at`, control clock, when fleetflame writes it) and of perf starts
(`perf_started_at`, the hosts' shared clock), wall time beyond the duration, and failures.
Goals (issue "500 hosts") at 256: start signals within 50 ms, perf starts within 300 ms where the
lab's shared cores allow it, control CPU <= 20 ms per host plus collapsing, peak RSS <= 200 MB,
no failure a smaller fleet would not have.  --nofile runs fleetflame under a lower RLIMIT_NOFILE
(e.g. 1024, a common default) to see whether operators must raise it.

Measuring.  Each command runs under a small wrapper process (WRAP) that is a child subreaper:
wall time is spawn to exit of the command (wait4), and what the command orphaned
(multiprocessing's forkserver and its collapse workers) is reaped by the wrapper, so its CPU is
counted, apart from the command's own.  fleetflame runs its CLI in-process under a 10-line hook
(HOOK) that notes the control process's CPU (RUSAGE_SELF) and peak RSS (VmHWM) when main
returns; wait4 then adds the interpreter's exit and the children the control process reaped
itself.  Collapse CPU = the orphans' CPU, plus the CPU the bench itself takes afterwards to
collapse (with the same fleetflame function) the small outputs fleetflame collapsed in a thread of
the control process; the rest is control CPU.  Open files of the control process are sampled
every 20 ms from /proc.  The perf start spread is max - min of the hosts' `perf_started_at`
(`date +%s.%N` on the host just before perf, the same clock for every lab host); the loop's is
taken the same way (`date` before its perf).

Before each N the bench waits (--wait seconds at most) for a 1-minute load average <= --max-load,
and it prints the load and the machine's CPU busy share during each run: the machine is shared,
and the lab's hosts share its CPUs with the control process, so only side-by-side ratios mean
much.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import LabFleet  # noqa: E402
from tests.lab import procs  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() \
    else sys.executable
KEX = "curve25519-sha256"
try:
    from fleetflame.collapse.hosts import PROCESS_THRESHOLD as THREAD_COLLAPSE_BELOW  # noqa: E402
except ImportError:     # older or newer fleetflame: count collapse_s as control CPU
    THREAD_COLLAPSE_BELOW = 0
GOAL_RATIO, GOAL_SPREAD_S, GOAL_CPU_PER_HOST_S = 1.15, 0.200, 0.060          # loopback, N = 16
GOAL_BEYOND_RATIO = 1.5                                                       # --rtt-ms, N = 8
GOAL_SIGNAL_SPREAD_S, GOAL_SIM_SPREAD_S = 0.050, 0.300                        # --simulate 256
GOAL_SIM_CPU_PER_HOST_S, GOAL_SIM_RSS_MB = 0.020, 200.0
Verdict = tuple[str, int, bool | None, str]   # goal, N, met (None: not measurable), detail
STAGES = ("connect", "resolve", "record", "symbolize", "transfer", "collapse")

# Tile threads as `TID COMM` lines, read in a host's /proc (names like verify:1).
THREADS = r"""
for t in /proc/[0-9]*/task/[0-9]*; do
  IFS= read -r c 2>/dev/null < "$t/comm" || continue
  case $c in *:[0-9]*) echo "${t##*/} $c" ;; esac
done
"""
TILE = re.compile(r"^[a-z]+:\d+$")

# The measuring wrapper: `python -c WRAP OUT.json NOFILE ARGV...`.  A child subreaper, so what
# the command orphans is re-parented here and its CPU reaches our RUSAGE_CHILDREN too.
WRAP = r"""
import ctypes, json, os, resource, sys, time
out, nofile, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)       # PR_SET_CHILD_SUBREAPER
if nofile:
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
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
    profile_to = os.environ.get("BENCH_PROFILE")  # a folder: one cProfile file per run
    if profile_to:
        import cProfile
        profiler = cProfile.Profile()
        try:
            profiler.runcall(app)
        finally:
            profiler.dump_stats(os.path.join(profile_to, os.path.basename(out) + ".prof"))
    else:
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


class FdSampler(threading.Thread):
    """The most files the measured command (the wrapper's child) had open at once."""

    def __init__(self, wrapper_pid: int) -> None:
        super().__init__(daemon=True)
        self.wrapper_pid, self.peak = wrapper_pid, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            for pid in procs.children(self.wrapper_pid)[:1]:
                try:
                    self.peak = max(self.peak, len(os.listdir(f"/proc/{pid}/fd")))
                except OSError:
                    pass


class Measured:
    """One wrapped command, started in its own session so that a Ctrl-C of the bench can end it."""

    def __init__(self, argv: list[str], workdir: Path, tag: str, env: dict[str, str],
                 nofile: int = 0) -> None:
        self.out = workdir / f"{tag}.rusage.json"
        self.log = workdir / f"{tag}.log"
        self.stdout = workdir / f"{tag}.stdout"
        self.cpu0 = cpu_times()
        with open(self.stdout, "wb") as so, open(self.log, "wb") as se:
            self.popen = subprocess.Popen([PYTHON, "-c", WRAP, str(self.out), str(nofile), *argv],
                                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=so,
                                          stderr=se, start_new_session=True)
        self.fds = FdSampler(self.popen.pid)
        self.fds.start()

    def wait(self, timeout: float) -> dict[str, Any]:
        try:
            self.popen.wait(timeout)
        except BaseException:
            self.kill()
            raise
        finally:
            self.fds.done.set()
        if self.popen.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"measuring wrapper failed ({self.popen.returncode}): "
                               f"{self.log.read_text(errors='replace')[-2000:]}")
        busy0, total0 = self.cpu0
        busy1, total1 = cpu_times()
        r: dict[str, Any] = json.loads(self.out.read_text())
        r["machine_busy"] = (busy1 - busy0) / max(1.0, total1 - total0)
        r["peak_fds"] = self.fds.peak
        return r

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)   # the group of the wrapper we started
        except ProcessLookupError:
            pass
        self.popen.wait()


# ---- the two contenders -------------------------------------------------------------------

def resolve_tids(lab: LabFleet) -> dict[str, list[int]]:
    """Every tile's tid on each host, from thread names in the host's /proc (outside timing)."""
    tids = {}
    for name in lab.names:
        listing = lab.host_exec(name, ["sh", "-c", THREADS], check=True, timeout=120).stdout
        found = [int(tid) for tid, comm in (ln.split(" ", 1) for ln in listing.splitlines())
                 if TILE.match(comm)]
        if not found:
            raise RuntimeError(f"no tiles found on {name}")
        tids[name] = found
    return tids


def baseline_script(lab: LabFleet, tids: dict[str, list[int]], duration: float,
                    outdir: Path, proxied: bool) -> str:
    lines = []
    for name in lab.names:
        host = lab.host(name)
        data = "/tmp/baseline.perf.data"      # the host's own /tmp
        remote = (f"date +%s.%N >&2; timeout -s INT {duration:g} perf record -F 99 -g "
                  f"-t {','.join(map(str, tids[name]))} -o {data}; "
                  f"perf script -i {data} | gzip; rm -f {data}")
        port = host.proxy_port if proxied else host.port
        argv = ["ssh", "-F", str(lab.ssh_config), "-p", str(port),
                "-o", "ControlMaster=no", "-o", f"KexAlgorithms={KEX}",
                f"root@{host.addr}", "--", remote]
        lines.append(f"{shlex.join(argv)} > {shlex.quote(str(outdir / name))}.gz "
                     f"2> {shlex.quote(str(outdir / name))}.err < /dev/null &")
    lines.append("wait")
    return "\n".join(lines) + "\n"


def run_baseline(lab: LabFleet, tids: dict[str, list[int]], duration: float, work: Path,
                 tag: str, proxied: bool) -> dict[str, Any]:
    outdir = work / tag
    outdir.mkdir()
    script = baseline_script(lab, tids, duration, outdir, proxied)
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


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while block := fp.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def event_times(log_file: Path, stage: str) -> dict[str, float]:
    """When each host first reached `stage`, from fleetflame's --log-file (10 ms resolution)."""
    out: dict[str, float] = {}
    if not log_file.exists():
        return out
    for line in log_file.read_text(errors="replace").splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[2] == stage and parts[1] not in out:
            try:
                out[parts[1]] = datetime.fromisoformat(parts[0].replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return out


def collapse_cpu_of(hosts: dict[str, dict[str, Any]], folder: Path) -> float:
    """CPU seconds this process takes to collapse those hosts' perf.script.gz as fleetflame did."""
    if not hosts:
        return 0.0
    from fleetflame.collapse.hosts import collapse_host
    began = time.process_time()
    for name, v in hosts.items():
        roots = {int(tid): root for tid, root in v.get("collapse_roots", {}).items()}
        collapse_host(str(folder / "hosts" / name / "perf.script.gz"), roots,
                      v.get("unknown_tid_root"))
    return time.process_time() - began


def spread(values: list[float]) -> float | None:
    return max(values) - min(values) if len(values) >= 2 else (0.0 if values else None)


def run_fleetflame(lab: LabFleet, inventory: Path, duration: float, work: Path, tag: str,
                   *, allow_failures: bool = False, log_events: bool = False,
                   nofile: int = 0) -> dict[str, Any]:
    out = work / tag
    hook = work / f"{tag}.hook.json"
    argv = [PYTHON, "-c", HOOK, str(hook), "run", "all", "-i", str(inventory),
            "--duration", f"{duration:g}", "--out", str(out), "--json"]
    log_file = work / f"{tag}.events.log"
    if log_events:
        argv += ["--log-file", str(log_file)]
    load = os.getloadavg()[0]
    r = Measured(argv, work, tag, lab.env(), nofile).wait(duration + 900)
    if r["rc"] not in ((0, 1) if allow_failures else (0,)) or not hook.exists():
        raise RuntimeError(f"fleetflame exited {r['rc']}: "
                           f"{(work / f'{tag}.log').read_text(errors='replace')[-2000:]}"
                           f"{(work / f'{tag}.stdout').read_text(errors='replace')[-2000:]}")
    h = json.loads(hook.read_text())
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    hosts: dict[str, dict[str, Any]] = json.loads((folder / "manifest.json").read_text())["hosts"]
    failed = {n: v.get("error") or v["status"] for n, v in hosts.items() if v["status"] != "ok"}
    if (failed and not allow_failures) or len(hosts) != len(lab.names):
        raise RuntimeError(f"fleetflame: hosts failed: {failed}")
    ok = {n: v for n, v in hosts.items() if v["status"] == "ok"}
    for name, v in ok.items():        # perf.data and its checksum really came back
        data = folder / "hosts" / name / "perf.data"
        if not v.get("perf_data_sha256") or not data.exists() or \
                sha256(data) != v["perf_data_sha256"]:
            raise RuntimeError(f"fleetflame: {name}: perf.data missing or not matching its sha256")
    starts = [v["perf_started_at"] for v in ok.values() if v.get("perf_started_at")]
    signals = [v["start_signal_at"] for v in ok.values() if v.get("start_signal_at")]
    connected = event_times(log_file, "resolving")
    timings = {s: max((v.get("timings", {}).get(f"{s}_s", 0.0) for v in ok.values()),
                      default=0.0) for s in STAGES}
    # What the control process orphaned (multiprocessing's forkserver and the collapse workers it
    # forked, reaped by the wrapper) is collapsing.  fleetflame collapses small outputs in a
    # thread of the control process instead (collapse.hosts.PROCESS_THRESHOLD): that CPU is
    # measured here afterwards, collapsing the same files the same way in this process (their
    # collapse_s, wall time in a thread shared by hundreds of hosts, overlaps and overstates it).
    # Everything else the control process used, its interpreter exit and the children it reaped
    # itself included (wait4 on it), is control CPU.
    orphans = sum(r["orphans"].values())
    in_thread = collapse_cpu_of({n: v for n, v in ok.items()
                                 if v.get("script_bytes", 0) < THREAD_COLLAPSE_BELOW}, folder)
    control = r["direct_cpu"] - in_thread
    n = len(lab.names)
    return {**r, **h, "load1": load, "spread": spread(starts) or 0.0,
            "signal_spread": spread(signals), "connect_spread": spread(list(connected.values())),
            "failed": failed, "samples": sum(v.get("samples", 0) for v in ok.values()),
            "script_bytes": sum(v.get("script_bytes", 0) for v in ok.values()),
            "perf_data_bytes": sum(v.get("perf_data_bytes", 0) for v in ok.values()),
            "stage_max": timings, "collapse_in_thread": in_thread,
            "collapse_cpu": orphans + in_thread,
            "exit_cpu": r["direct_cpu"] - h["self_cpu"] - h["reaped_children_cpu"],
            "control_cpu": control, "control_cpu_per_host": control / n}


# ---- loopback and --rtt-ms: fleetflame against the loop ----------------------------------------

def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until the 1-minute load average is at most max_load."""
    deadline = time.monotonic() + max_wait
    while True:
        load = os.getloadavg()[0]
        if load <= max_load or time.monotonic() >= deadline:
            return load
        print(f"  load average {load:.2f} > {max_load}: waiting...", flush=True)
        time.sleep(min(30.0, max(1.0, deadline - time.monotonic())))


def idle_busy(seconds: float = 3.0) -> float:
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    return (busy1 - busy0) / max(1.0, total1 - total0)


def bench_pair(n: int, args: argparse.Namespace, base: Path) -> dict[str, Any]:
    """Alternate fleetflame and the plain loop on one lab of n hosts (through the proxy if asked)."""
    work = base / f"n{n}"
    work.mkdir()
    before = wait_for_quiet(args.max_load, args.wait)
    print(f"N={n}: load average {before:.2f} before starting the lab", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"fleetflame": [], "baseline": []}
    proxied = args.rtt_ms is not None
    with LabFleet(n, work / "lab", load=args.load, addr_base=args.addr_base, start_timeout=120,
                  standin_args=["--period", f"{args.period:g}"], rtt_ms=args.rtt_ms) as lab:
        inventory = lab.write_inventory(work / "inventory.yml", proxied=proxied)
        tids = resolve_tids(lab)
        time.sleep(args.settle)
        busy = idle_busy()
        print(f"  machine CPU busy with the lab idle: {busy * 100:.0f}%", flush=True)
        proxy_cpu0 = procs.cpu_seconds(lab.proxy_pid) if lab.proxy_pid else 0.0
        for i in range(args.repeat):
            order = ["baseline", "fleetflame"] if i % 2 == 0 else ["fleetflame", "baseline"]
            for which in order:
                tag = f"{which}-{i}"
                if which == "baseline":
                    r = run_baseline(lab, tids, args.duration, work, tag, proxied)
                else:
                    r = run_fleetflame(lab, inventory, args.duration, work, tag, log_events=bool(os.environ.get("BENCH_LOG_EVENTS")))
                runs[which].append(r)
                print(f"  {tag}: wall {r['wall']:.2f} s (beyond {args.duration:g} s: "
                      f"{r['wall'] - args.duration:.2f}), cpu {r['cpu']:.2f} s, "
                      f"start spread {r['spread'] * 1e3:.0f} ms, load {r['load1']:.2f}, "
                      f"machine busy {r['machine_busy'] * 100:.0f}%", flush=True)
                time.sleep(args.settle)
        proxy_cpu = (procs.cpu_seconds(lab.proxy_pid) - proxy_cpu0) if lab.proxy_pid else 0.0
        ntiles = sum(len(t) for t in tids.values())
    return {"n": n, "tiles": ntiles, "load_before": before, "idle_busy": busy,
            "proxy_cpu": proxy_cpu, **runs}


def med(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


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
    s["beyond_ratio"] = s["ff_beyond"] / s["bl_beyond"] if s["bl_beyond"] > 0 else float("inf")
    s["ff_control_per_host"] = s["ff_control"] / res["n"]
    for stage in ff[0]["stage_max"]:
        s[f"stage_{stage}"] = statistics.median(r["stage_max"][stage] for r in ff)
    return s


Row = tuple[str, str, list[Any]]


def print_rows(header: str, columns: list[str], rows: list[Row]) -> None:
    width = max(len(r[0]) for r in rows + [(header, "", [])])
    cell = max(11, *(len(c) for c in columns))
    print()
    print(f"| {header:<{width}} | " + " | ".join(f"{c:>{cell}}" for c in columns) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * (cell + 2) for _ in columns) + "|")
    for label, fmt, values in rows:
        print(f"| {label:<{width}} | " + " | ".join(
            f"{('n/a' if v is None else fmt.format(v)):>{cell}}" for v in values) + " |")


def print_pairs(results: list[dict[str, Any]], args: argparse.Namespace,
                ) -> list[Verdict]:
    duration = args.duration
    results = sorted(results, key=lambda r: r["n"])
    sums = [summarize(r, duration) for r in results]
    rows: list[Row] = [
        ("tiles recorded (all hosts)", "{:.0f}", [r["tiles"] for r in results]),
        ("fleetflame wall, s", "{:.2f}", [s["ff_wall"] for s in sums]),
        ("plain ssh loop wall, s", "{:.2f}", [s["bl_wall"] for s in sums]),
        ("wall ratio fleetflame / loop", "{:.2f}x", [s["ratio"] for s in sums]),
        (f"fleetflame beyond the {duration:g} s, s", "{:.2f}", [s["ff_beyond"] for s in sums]),
        (f"loop beyond the {duration:g} s, s", "{:.2f}", [s["bl_beyond"] for s in sums]),
        ("time beyond, fleetflame / loop", "{:.2f}x", [s["beyond_ratio"] for s in sums]),
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
          for i, stage in enumerate(st for st in STAGES if any(s.get(f"stage_{st}") for s in sums))],
        ("machine CPU busy, lab idle", "{:.0f}%", [r["idle_busy"] * 100 for r in results]),
        ("max 1-min load at run starts", "{:.2f}", [s["load_max"] for s in sums]),
        ("machine CPU busy, fleetflame / loop runs", "{}", [f"{s['ff_busy'] * 100:.0f}% / "
                                                             f"{s['bl_busy'] * 100:.0f}%"
                                                             for s in sums]),
    ]
    if args.rtt_ms is not None:
        rows.append(("delay proxy CPU, all runs, s", "{:.2f}", [r["proxy_cpu"] for r in results]))
    header = "N hosts" + (f", {args.rtt_ms:g} ms RTT" if args.rtt_ms is not None else "")
    print_rows(header, [str(r["n"]) for r in results], rows)
    verdicts: list[Verdict] = []
    for r, s in zip(results, sums):
        n = r["n"]
        if args.rtt_ms is not None:
            verdicts.append((f"time beyond {duration:g} s <= {GOAL_BEYOND_RATIO}x loop's", n,
                             s["beyond_ratio"] <= GOAL_BEYOND_RATIO,
                             f"{s['beyond_ratio']:.2f}x ({s['ff_beyond']:.2f} s vs "
                             f"{s['bl_beyond']:.2f} s)"))
            continue
        budget = GOAL_CPU_PER_HOST_S * n
        verdicts += [
            ("wall <= 1.15x plain loop", n, s["ratio"] <= GOAL_RATIO,
             f"{s['ratio']:.2f}x ({s['ff_wall']:.2f} s vs {s['bl_wall']:.2f} s)"),
            ("perf start spread <= 200 ms", n, s["ff_spread"] <= GOAL_SPREAD_S,
             f"{s['ff_spread'] * 1e3:.0f} ms"),
            ("control CPU <= 60 ms/host + collapsing", n, s["ff_control"] <= budget,
             f"{s['ff_control']:.2f} s excl. {s['ff_collapse']:.2f} s collapsing, "
             f"budget {budget:.2f} s ({s['ff_control_per_host'] * 1e3:.0f} ms/host)"),
        ]
    ns = [r["n"] for r in results]
    if len(sums) >= 2 and ns[-1] != ns[0]:
        slope = (sums[-1]["ff_control"] - sums[0]["ff_control"]) / (ns[-1] - ns[0])
        print(f"\nmarginal control CPU per extra host (N={ns[0]}..{ns[-1]}): {slope * 1e3:.0f} ms; "
              f"fixed part ~{(sums[0]['ff_control'] - slope * ns[0]):.2f} s")
    print(f"\nbaseline OpenSSH: ControlMaster=no, KexAlgorithms={KEX} (OpenSSH's default "
          "sntrup761 kex is slow here)")
    goals_at = "N = 8 behind the proxy" if args.rtt_ms is not None else "N = 16"
    print(f"\nverdicts (the goals are set for {goals_at}; other N shown for reference):")
    print_verdicts(verdicts)
    return verdicts


def print_verdicts(verdicts: list[Verdict]) -> None:
    width = max(len(v[0]) for v in verdicts)
    for goal, n, ok, detail in verdicts:
        print(f"  N={n:<4} {goal:<{width}} {'n/a ' if ok is None else 'PASS' if ok else 'MISS'}"
              f"  {detail}")


# ---- --simulate: the control plane of a big fleet ----------------------------------------------

def bench_simulated(n: int, args: argparse.Namespace, base: Path) -> dict[str, Any]:
    work = base / f"sim{n}"
    work.mkdir()
    before = wait_for_quiet(args.max_load, args.wait)
    print(f"simulated N={n}: load average {before:.2f} before starting the lab", flush=True)
    began = time.monotonic()
    with LabFleet(n, work / "lab", load=0, layout="threads", addr_base=args.addr_base,
                  start_timeout=600, fake_perf=True) as lab:
        started = time.monotonic() - began
        print(f"  lab of {n} hosts ready in {started:.1f} s", flush=True)
        jump = {"ansible_ssh_common_args": f"-o ProxyJump={lab.proxy_jump()}"}
        inventory = lab.write_inventory(work / "inventory.yml", host_vars={
            name: jump for name in lab.names[1:]} if args.bastion else None)
        pinned = not args.shared_cores and (os.cpu_count() or 1) > 1
        if pinned:
            pin_hosts(lab)
        time.sleep(args.settle)
        busy = idle_busy()
        runs = []
        for i in range(args.repeat):
            mine = os.sched_getaffinity(0)
            if pinned:  # fleetflame inherits CPU 0; the hosts' sessions inherit CPU 1 from sshd
                os.sched_setaffinity(0, {0})
            try:
                r = run_fleetflame(lab, inventory, args.duration, work, f"fleetflame-{i}",
                                   allow_failures=True, log_events=True, nofile=args.nofile)
            finally:
                os.sched_setaffinity(0, mine)
            runs.append(r)
            print(f"  run {i}: wall {r['wall']:.2f} s, control CPU {r['control_cpu']:.2f} s "
                  f"({r['control_cpu_per_host'] * 1e3:.1f} ms/host), peak RSS {r['hwm_mb']:.0f} MB, "
                  f"failed {len(r['failed'])}, load {r['load1']:.2f}", flush=True)
            time.sleep(args.settle)
    return {"n": n, "lab_start_s": started, "idle_busy": busy, "load_before": before, "runs": runs,
            "pinned": pinned}


def pin_hosts(lab: LabFleet) -> None:
    """A simulated host is another machine: keep its processes off the control process's core.
    On 2 cores, the hosts (sshd, and every session and perf it starts later, which inherit the
    affinity) get CPU 1 and fleetflame CPU 0. Without this, the hundreds of processes the hosts
    start on the start signal preempt the loop that sends it, which no real fleet does to the
    control machine."""
    for name in lab.names:
        for pid in lab.processes(name):
            try:
                os.sched_setaffinity(pid, {1})
            except OSError:
                pass  # it ended meanwhile


def print_simulated(results: list[dict[str, Any]], args: argparse.Namespace,
                    ) -> list[Verdict]:
    duration = args.duration
    results = sorted(results, key=lambda r: r["n"])

    def m(res: dict[str, Any], key: str) -> float | None:
        values = [r[key] for r in res["runs"] if r.get(key) is not None]
        return statistics.median(values) if values else None

    def ms(value: float | None) -> float | None:
        return None if value is None else value * 1e3

    rows: list[Row] = [
        ("lab start, s", "{:.1f}", [r["lab_start_s"] for r in results]),
        ("cores: control / hosts", "{}", ["0 / 1" if r.get("pinned") else "shared" for r in results]),
        ("machine CPU busy, lab idle", "{:.0f}%", [r["idle_busy"] * 100 for r in results]),
        ("fleetflame wall, s", "{:.2f}", [m(r, "wall") for r in results]),
        (f"  beyond the {duration:g} s, s", "{:.2f}",
         [(m(r, "wall") or 0.0) - duration for r in results]),
        ("control CPU excl. collapsing, s", "{:.2f}", [m(r, "control_cpu") for r in results]),
        ("  per host, ms", "{:.1f}", [ms(m(r, "control_cpu_per_host")) for r in results]),
        ("  of which interpreter exit, s", "{:.2f}", [m(r, "exit_cpu") for r in results]),
        ("collapsing CPU, s", "{:.2f}", [m(r, "collapse_cpu") for r in results]),
        ("control peak RSS (VmHWM), MB", "{:.0f}", [max(x["hwm_mb"] for x in r["runs"])
                                                     for r in results]),
        ("control peak open files", "{:.0f}", [max(x["peak_fds"] for x in r["runs"])
                                                for r in results]),
        ("connect spread (connect done), ms", "{:.0f}", [ms(m(r, "connect_spread"))
                                                         for r in results]),
        ("start signal spread (control), ms", "{:.0f}", [ms(m(r, "signal_spread"))
                                                          for r in results]),
        ("perf start spread (hosts), ms", "{:.0f}", [ms(m(r, "spread")) for r in results]),
        *[(("slowest host: " if i == 0 else "  ") + f"{stage}, s", "{:.2f}",
           [statistics.median(x["stage_max"][stage] for x in r["runs"]) for r in results])
          for i, stage in enumerate(STAGES)],
        ("hosts failed (worst run)", "{:.0f}", [max(len(x["failed"]) for x in r["runs"])
                                                for r in results]),
        ("max 1-min load at run starts", "{:.2f}", [max(x["load1"] for x in r["runs"])
                                                    for r in results]),
        ("machine CPU busy during runs", "{:.0f}%", [100 * (m(r, "machine_busy") or 0)
                                                     for r in results]),
    ]
    print_rows("simulated N hosts (fakeperf)", [str(r["n"]) for r in results], rows)
    for r in results:
        errors: dict[str, list[str]] = {}
        for x in r["runs"]:
            for host, error in x["failed"].items():
                errors.setdefault(str(error), []).append(host)
        for error, hosts in sorted(errors.items(), key=lambda e: -len(e[1])):
            print(f"  N={r['n']}: {len(hosts)} host-runs failed: {error[:300]} "
                  f"(e.g. {', '.join(sorted(set(hosts))[:3])})")
    verdicts: list[Verdict] = []
    for r in results:
        n, signal_spread = r["n"], m(r, "signal_spread")
        cpu = m(r, "control_cpu_per_host") or 0.0
        verdicts += [
            ("start signals within 50 ms", n,
             None if signal_spread is None else signal_spread <= GOAL_SIGNAL_SPREAD_S,
             "n/a (no start_signal_at in the manifest)" if signal_spread is None
             else f"{signal_spread * 1e3:.0f} ms"),
            ("perf starts within 300 ms", n, (m(r, "spread") or 0) <= GOAL_SIM_SPREAD_S,
             f"{(m(r, 'spread') or 0) * 1e3:.0f} ms"),
            ("control CPU <= 20 ms/host + collapsing", n, cpu <= GOAL_SIM_CPU_PER_HOST_S,
             f"{cpu * 1e3:.1f} ms/host"),
            ("peak RSS <= 200 MB", n, max(x["hwm_mb"] for x in r["runs"]) <= GOAL_SIM_RSS_MB,
             f"{max(x['hwm_mb'] for x in r['runs']):.0f} MB"),
            ("no host fails", n, not any(x["failed"] for x in r["runs"]),
             f"{max(len(x['failed']) for x in r['runs'])} failed"),
        ]
    print("\nverdicts (the goals are set for N = 256; other N shown for reference):")
    print_verdicts(verdicts)
    return verdicts


# ---- the machine, and main -----------------------------------------------------------------

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
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h"],
                            capture_output=True, text=True).stdout.strip() or f"in {ROOT}"
    return {"cpu": model, "cores": str(os.cpu_count()), "ram": f"{mem:.1f} GiB",
            "kernel": platform.release(), "openssh": cmd("ssh", "-V"), "asyncssh": asyncssh,
            "python": subprocess.run([PYTHON, "-V"], capture_output=True, text=True)
            .stdout.strip(), "perf": cmd("perf", "--version"), "commit": commit,
            "nofile": " / ".join(map(str, resource.getrlimit(resource.RLIMIT_NOFILE)))}


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", help="fleet sizes, comma separated (1,4,16; 8 with --rtt-ms)")
    ap.add_argument("--rtt-ms", type=float,
                    help="put the hosts behind the delay proxy with this round trip (100)")
    ap.add_argument("--simulate", help="simulated fleet sizes (fakeperf, idle stand-ins), "
                                       "e.g. 64,256; fleetflame alone")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of recording (5)")
    ap.add_argument("--repeat", type=int,
                    help="runs per N (pairs, alternating; medians shown): 1, 2 with --rtt-ms")
    ap.add_argument("--load", type=float, default=0.25,
                    help="stand-in CPU load, percent per tile (0.25; 14 tiles per host)")
    ap.add_argument("--period", type=float, default=200.0,
                    help="stand-in duty-cycle period, ms (200: few wake-ups, so 16 hosts idle "
                         "lightly on 2 cores)")
    ap.add_argument("--nofile", type=int, default=0,
                    help="--simulate: run fleetflame with this RLIMIT_NOFILE soft limit "
                         "(0: as the bench has it)")
    ap.add_argument("--shared-cores", action="store_true",
                    help="--simulate: leave the lab hosts on both cores with the control process "
                         "(by default the hosts get CPU 1 and fleetflame CPU 0)")
    ap.add_argument("--bastion", action="store_true",
                    help="--simulate: every host but the first is reached through the first "
                         "(ProxyJump), whose sshd then carries every connection")
    ap.add_argument("--max-load", type=float, default=3.0,
                    help="wait for a 1-minute load average at most this before each N (3)")
    ap.add_argument("--wait", type=float, default=0.0,
                    help="at most this many seconds of waiting for --max-load (0: don't wait)")
    ap.add_argument("--addr-base", type=int, default=200,
                    help="hosts are 127.0.0.ADDR_BASE and up (200: clear of the tests' labs)")
    ap.add_argument("--settle", type=float, default=2.0, help="pause between runs, s")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (captures, logs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/fleet.py needs root (the lab fleet: sshd on loopback, namespaces, perf)")
    if args.simulate and args.rtt_ms is not None:
        sys.exit("bench/fleet.py: --simulate and --rtt-ms are separate benchmarks; run them apart")
    try:
        ns = sizes(args.simulate or args.hosts or ("8" if args.rtt_ms is not None else "1,4,16"))
    except ValueError:
        sys.exit("bench/fleet.py: --hosts and --simulate take sizes like 1,4,16")
    if args.repeat is None:
        args.repeat = 2 if args.rtt_ms is not None else 1
    signal.signal(signal.SIGTERM, _terminate)   # clean up (lab, work folder) as on Ctrl-C
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']}, Linux {info['kernel']}")
    print(f"         {info['openssh']}; asyncssh {info['asyncssh']}; {info['python']}; "
          f"{info['perf']}; fleetflame {info['commit']}; RLIMIT_NOFILE {info['nofile']}")
    if args.simulate:
        via = ", all through the first host (ProxyJump)" if args.bastion else ""
        print(f"fleetflame run all --duration {args.duration:g} on simulated fleets (fakeperf, "
              f"idle stand-ins{via}); {args.repeat} run(s) per N", flush=True)
    else:
        link = f" behind a {args.rtt_ms:g} ms RTT delay proxy" if args.rtt_ms is not None else ""
        print(f"fleetflame run all --duration {args.duration:g} vs plain ssh loop{link}; stand-in "
              f"load {args.load}% per tile every {args.period:g} ms; {args.repeat} run(s) of each "
              "per N", flush=True)
    base = Path(tempfile.mkdtemp(prefix="fleetflame-bench-fleet-"))
    results = []
    try:
        for n in ns:
            results.append(bench_simulated(n, args, base) if args.simulate
                           else bench_pair(n, args, base))
    finally:
        if args.keep:
            print(f"work folder kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    verdicts = print_simulated(results, args) if args.simulate else print_pairs(results, args)
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores, {info['ram']}, Linux {info['kernel']}; "
          f"{info['openssh']}; asyncssh {info['asyncssh']}; {info['python']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in
                                                                  vars(args).items()},
                                         "results": results,
                                         "verdicts": verdicts}, indent=1) + "\n")


if __name__ == "__main__":
    main()
