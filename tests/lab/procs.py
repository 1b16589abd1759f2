"""Process helpers for the lab: PID namespaces seen from outside, liveness, waiting."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable


def namespace(pid: int, kind: str) -> str | None:
    """The namespace of that kind ('pid', 'mnt') a process lives in, e.g. 'pid:[4026532290]'."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def pid_ns(pid: int) -> str | None:
    """The PID namespace a process lives in (e.g. 'pid:[4026532290]'), or None if gone."""
    return namespace(pid, "pid")


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def in_namespaces(namespaces: set[str], kind: str = "pid") -> list[int]:
    """Outer pids of the live processes in any of these namespaces (of one kind)."""
    if not namespaces:
        return []
    return [p for p in all_pids() if namespace(p, kind) in namespaces and running(p)]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().rstrip("\n")
    except OSError:
        return ""


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def inner_pid(pid: int) -> int | None:
    """The pid a process has inside its own (innermost) PID namespace."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used so far (0.0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            kids += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return kids


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
