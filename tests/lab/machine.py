"""What the lab needs from this machine: the probe, the machine-wide lock, per-lab state folders.

Lab state (sshd configs and keys, pid files, logs, the stand-in and fakeperf binaries) lives in
`/run/fleetflame-lab/PID-XXXX/`, not next to the test's files: a lab host mounts its own tmpfs
on /tmp, so nothing under the machine's /tmp (where pytest keeps tmp_path) is visible from inside
a host. The folder is 0755 so that the lab's unprivileged users reach their authorized keys and
fakeperf, and it is removed when the lab stops; folders of labs whose process died (SIGKILL)
are removed by the next lab that starts.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from . import procs
from .host import SSHD

TOOLS = ("unshare", "nsenter", "setpriv", "mount")
STATE_ROOT = Path("/run/fleetflame-lab")

# Labs bind fixed loopback addresses and ports, and load the machine: one process at a time may
# run them (several test runs, e.g. from different checkouts, then wait for each other). Labs
# within one process share the hold; the last one stopped releases it.
MACHINE_LOCK = Path("/run/lock/fleetflame-lab.lock")



class LabError(RuntimeError):
    """The lab could not start, or left processes behind."""


class LabUnavailable(LabError):
    """This machine cannot run the lab (not root, sshd or unshare missing)."""


_hold_lock = threading.Lock()
_machine_hold: list[Any] = []   # [open file, count of running labs]
_probe_result: str | None | bool = False   # False: not probed yet
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    global _probe_result
    if _probe_result is not False:
        return _probe_result  # type: ignore[return-value]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = "the lab fleet needs root (sshd on loopback, PID namespaces, perf)"
    elif not os.access(SSHD, os.X_OK):
        reason = f"{SSHD} missing: apt-get install -y openssh-server"
    elif missing := [t for t in TOOLS if shutil.which(t) is None]:
        reason = f"{', '.join(missing)} missing: apt-get install -y util-linux mount"
    elif shutil.which("gcc") is None:
        reason = "gcc missing (builds the stand-in validator): apt-get install -y gcc"
    else:
        probe = subprocess.run(["unshare", "--pid", "--mount", "--fork", "--mount-proc",
                                "mount", "-t", "tmpfs", "probe", "/tmp"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            reason = f"cannot create PID/mount namespaces with their own /tmp here: " \
                     f"{probe.stderr.strip()}"
    _probe_result = reason
    return reason


def require_lab() -> None:
    """pytest.skip with the reason when this machine cannot run the lab."""
    reason = unavailable_reason()
    if reason is not None:
        import pytest
        pytest.skip(reason)


def hold_machine() -> None:
    """Take the machine-wide lab lock (waiting for another process's labs to stop)."""
    with _hold_lock:
        if _machine_hold:
            _machine_hold[1] += 1
            return
        MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        fp = open(MACHINE_LOCK, "a+")
        fcntl.flock(fp.fileno(), fcntl.LOCK_EX)
        _machine_hold[:] = [fp, 1]


def release_machine() -> None:
    with _hold_lock:
        if not _machine_hold:
            return
        _machine_hold[1] -= 1
        if _machine_hold[1] == 0:
            fcntl.flock(_machine_hold[0].fileno(), fcntl.LOCK_UN)
            _machine_hold[0].close()
            _machine_hold.clear()


def new_state_dir() -> Path:
    """A fresh world-traversable folder for one lab's host-side files (call with the lock held)."""
    STATE_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    for stale in STATE_ROOT.iterdir():
        owner = stale.name.split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not procs.running(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=STATE_ROOT))
    path.chmod(0o755)
    return path


def die_with_parent() -> None:  # runs in a forked child, before exec
    _prctl(1, signal.SIGKILL)    # PR_SET_PDEATHSIG


# Prefix for commands the lab starts: they get SIGKILL when the process that started them dies,
# like die_with_parent, but without a preexec_fn, so that subprocess can use vfork (starting
# 256 hosts at once is then a matter of milliseconds, not seconds).
PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"]
