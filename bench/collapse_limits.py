"""Benchmark `fleetflame collapse` on hostile input: time and peak RSS against the goals.

    python bench/collapse_limits.py                      # the code of this checkout
    python bench/collapse_limits.py --code /tmp/before   # another copy of the code (a "before")
    FLEETFLAME_ORACLE=/path/to/stackcollapse-perf.pl python bench/collapse_limits.py

Each case is written to a temporary folder and collapsed by `python -m fleetflame collapse FILE`
in a child process of its own: "command" is its wall time, start and output included, and
"collapse" the part spent in `collapse_perf_file`. Its peak RSS is that child's VmHWM at exit,
so it is the whole command's, interpreter included (`ru_maxrss` would count this process's RSS, which a child
inherits across fork and exec). A case that runs past --timeout is killed and shown as such,
with its `ru_maxrss` (an upper bound). With FLEETFLAME_ORACLE set, FlameGraph's stackcollapse-perf.pl runs on the same
stream (`gzip -dcf FILE | perl SCRIPT`, its RSS from GNU time) next to it.

Goals (security issue, item 6): each case exits 0 or with a one-line error, never a traceback;
a 1 MB line without blanks in <= 1 s; 25 MB of text without a newline in <= 5 s; 20 MB of random
bytes in <= 10 s; a small gzip that inflates to 100 MB of empty lines in <= 300 MB and no slower
than the perl script; <= 300 MB on any input; a warning for a truncated gzip.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
RSS_GOAL_MB = 300


@dataclass
class Case:
    name: str
    make: Callable[[Path], Path]  # writes the input into a folder, returns its path
    seconds: float | None  # the time goal, if any
    perl: bool = False  # time the perl script on the same stream too


# `python -m fleetflame ARGS` that writes its own peak RSS (VmHWM, kB) and the seconds spent in
# collapse_perf_file to $HWM_FILE at exit
CLI_WITH_PEAK = """
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["HWM_FILE"], "w") as out:
        out.write(f"{kb} {spent[0]}")
import time, fleetflame.collapse as collapse
collapse_file, spent = collapse.collapse_perf_file, [0.0]
def timed(*args, **kwargs):
    start = time.perf_counter()
    try:
        return collapse_file(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - start
collapse.collapse_perf_file = timed  # (the command imports it when it runs)
def exit_after_peak(code, _exit=os._exit):
    peak()
    _exit(code)
atexit.register(peak)
os._exit = exit_after_peak  # (the CLI ends with os._exit: no atexit)
sys.argv[0] = "fleetflame"
runpy.run_module("fleetflame", run_name="__main__", alter_sys=True)
"""


@dataclass
class Run:
    wall: float
    rss_mb: float
    code: int | None  # None: killed at the timeout
    stderr: bytes
    collapse: float | None = None  # seconds in collapse_perf_file (the rest: start, output)


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def one_line_no_blanks(folder: Path) -> Path:
    """1 MB of word characters and a newline: the old stack-line pattern backtracked over it."""
    return write(folder, "line-no-blanks.txt", b"a" * MB + b"\n")


def text_no_newline(folder: Path) -> Path:
    """25 MB of text-like bytes (words, digits, colons, blanks, brackets), not one newline."""
    words = b"lorem 12 ipsum: dolor (sit) amet,  1234/5678 [001] 3.14: cpu-clock: \t"
    return write(folder, "text-no-newline.txt", (words * (25 * MB // len(words) + 1))[: 25 * MB])


def random_bytes(folder: Path) -> Path:
    return write(folder, "random.bin", random.Random(6).randbytes(20 * MB))


def gzip_of_empty_lines(folder: Path) -> Path:
    """100 MB of newlines, gzipped to about 0.1 MB (a decompression bomb of blank lines)."""
    path = folder / "empty-lines.gz"
    with gzip.open(path, "wb", compresslevel=9) as fp:
        for _ in range(100):
            fp.write(b"\n" * MB)
    return path


def truncated_gzip(folder: Path) -> Path:
    record = b"app 10 1.0: 1 cpu-clock:\n\t1 main (/app)\n\n"
    data = gzip.compress(record * 10_000)
    return write(folder, "truncated.gz", data[: len(data) // 2])


def one_giant_record(folder: Path) -> Path:
    """25 MB of stack lines under one event line and no blank line: one record that never ends."""
    return write(folder, "giant-record.txt", b"app 10 1.0: 1 cpu-clock:\n" + b"\t4005d0 work (/app)\n" * (25 * MB // 20))


def nested_digits(folder: Path) -> Path:
    """Event lines whose period is a long run of digits: exponential for the old `(\\d+)*`."""
    line = b"app 10 1.0: " + b"1" * 60 + b"x cpu-clock:\n\t1 main (/app)\n\n"
    return write(folder, "nested-digits.txt", line * 1000)


def long_blank_runs(folder: Path) -> Path:
    """Event-like lines with 100 kB runs of blanks: quadratic for a lazy comm followed by \\s+."""
    line = b"app" + b" " * 100_000 + b"x: " + b" " * 100_000 + b"y\n\t1 main (/app)\n\n"
    return write(folder, "blank-runs.txt", line * 100)


def distinct_stacks(folder: Path) -> Path:
    """25 MB of small records, every one a new stack: the output itself is what grows."""
    out = bytearray()
    i = 0
    while len(out) < 25 * MB:
        out += b"app 10 1.0: 1 cpu-clock:\n\t1 f%x (/app)\n\n" % i
        i += 1
    return write(folder, "distinct-stacks.txt", bytes(out))


def many_event_types(folder: Path) -> Path:
    """Records of 20 MB worth of different event types: all but the first are counted as dropped."""
    out = bytearray()
    i = 0
    while len(out) < 20 * MB:
        out += b"app 10 1.0: 1 ev%x:\n\t1 main (/app)\n\n" % i
        i += 1
    return write(folder, "event-types.txt", bytes(out))


def empty_input(folder: Path) -> Path:
    """Nothing: what starting the command costs, in every figure below."""
    return write(folder, "empty.txt", b"")


CASES = [
    Case("empty input: the command's start", empty_input, None),
    Case("1 MB line without blanks", one_line_no_blanks, 1.0),
    Case("25 MB of text without a newline", text_no_newline, 5.0),
    Case("20 MB of random bytes", random_bytes, 10.0),
    Case("gzip of 100 MB of empty lines", gzip_of_empty_lines, None, perl=True),
    Case("truncated gzip", truncated_gzip, None),
    Case("one 25 MB record, no blank line", one_giant_record, None),
    Case("long digit runs in event lines", nested_digits, None),
    Case("100 kB blank runs in lines", long_blank_runs, None),
    Case("25 MB of distinct stacks", distinct_stacks, None, perl=True),
    Case("20 MB of distinct event types", many_event_types, None),
]


def measure_cli(args: list[str], timeout: float, env: dict[str, str]) -> Run:
    """`python -m fleetflame ARGS`, with the peak RSS it reports itself when it gets to exit."""
    with tempfile.NamedTemporaryFile() as hwm:
        run = measure([sys.executable, "-c", CLI_WITH_PEAK, *args], timeout, dict(env, HWM_FILE=hwm.name))
        said = Path(hwm.name).read_text().split()
        if said:
            run.rss_mb, run.collapse = int(said[0]) / 1024, float(said[1])
        return run


def measure(cmd: list[str] | str, timeout: float, env: dict[str, str], shell: bool = False) -> Run:
    """Run a command (its own process group, stdout discarded) and take its wall time and peak RSS.
    It runs in the folder of the code under test: `python -c` puts its folder first on sys.path."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        cwd = env["PYTHONPATH"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, shell=shell, cwd=cwd, start_new_session=True)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                err.seek(0)
                return Run(time.perf_counter() - t0, usage.ru_maxrss / 1024, None, err.read())
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return Run(wall, usage.ru_maxrss / 1024, proc.returncode, err.read())


def verdict(run: Run, seconds: float | None) -> str:
    if run.code is None:
        return "KILLED"
    lines = run.stderr.decode(errors="replace").splitlines()
    if b"Traceback" in run.stderr:
        return "TRACEBACK"
    if run.code != 0 and len(lines) != 1:
        return f"exit {run.code} with {len(lines)} lines"
    ok = (seconds is None or run.wall <= seconds) and run.rss_mb <= RSS_GOAL_MB
    return "ok" if ok else "MISSED"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--code", type=Path, default=ROOT, help="folder holding the fleetflame package to run")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a case is killed")
    ap.add_argument("--perl-timeout", type=float, default=600.0, help="seconds before the perl script is killed")
    ap.add_argument("--only", help="run only the cases whose name contains this")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(args.code.resolve()))
    oracle = os.environ.get("FLEETFLAME_ORACLE")
    print(f"code: {args.code.resolve()}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"RSS goal {RSS_GOAL_MB} MB; timeout {args.timeout:.0f} s")
    print(f"{'case':<34} {'goal':>6} {'command':>8} {'collapse':>9} {'peak RSS':>9}  result; stderr")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if args.only and args.only not in case.name:
                continue
            path = case.make(Path(tmp))
            run = measure_cli(["collapse", str(path)], args.timeout, env)
            goal = f"{case.seconds:.0f} s" if case.seconds else "-"
            first = run.stderr.decode(errors="replace").strip().splitlines()
            said = f"{len(first)} lines, first: {first[0][:70]!r}" if first else "nothing"
            inner = f"{run.collapse:8.2f}s" if run.collapse is not None else f"{'-':>9}"
            print(f"{case.name:<34} {goal:>6} {run.wall:7.2f}s {inner} {run.rss_mb:7.0f}MB  {verdict(run, case.seconds)}; {said}")
            if case.perl:
                if not oracle:
                    print(f"{'  stackcollapse-perf.pl':<34} oracle not available (set FLEETFLAME_ORACLE)")
                else:
                    with tempfile.NamedTemporaryFile() as peak:  # (GNU time: perl's own peak RSS, kB)
                        pipeline = (f"gzip -dcf {shlex.quote(str(path))} | /usr/bin/time -f %M -o {peak.name} "
                                    f"perl {shlex.quote(oracle)}")
                        perl = measure(pipeline, args.perl_timeout, env, shell=True)
                        kb = Path(peak.name).read_text().split()
                        perl.rss_mb = int(kb[-1]) / 1024 if perl.code is not None and kb else perl.rss_mb
                    ratio = f"fleetflame {perl.wall / run.wall:.1f}x faster" if perl.code is not None else "perl killed"
                    print(f"{'  stackcollapse-perf.pl, same input':<34} {'':>6} {perl.wall:7.2f}s {'':>9} {perl.rss_mb:7.0f}MB  {ratio}")
            path.unlink()


if __name__ == "__main__":
    main()
