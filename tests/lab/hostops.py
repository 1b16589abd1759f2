"""Looking into lab hosts and breaking them: their files, commands as root or as a local user,
a stopped validator, a dead sshd, a full /tmp.  A mixin of LabFleet."""

from __future__ import annotations

import errno
import os
import pwd
import signal
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from . import procs
from .client import LabClient
from .host import SSHD, LabHost
from .machine import PDEATHSIG, LabError

FILL_FILE = "/tmp/lab-fill"
FILL_LIMIT = 1 << 30   # fill_tmp refuses a /tmp with more room than this (a tiny tmpfs is meant)


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class HostOps(LabClient):
    binary: Path | None
    start_timeout: float
    die_with_parent: bool
    no_validator: set[str]

    if TYPE_CHECKING:
        def standin_argv(self, host: LabHost, extra: Sequence[str] = ()) -> list[str]: ...

    # ---- looking -----------------------------------------------------------------------

    def processes(self, name: str) -> list[int]:
        """Outer pids of every live process in that host's namespace."""
        host = self.host(name)
        return procs.in_namespaces({host.ns} if host.ns else set())

    def validator_pids(self, name: str) -> list[int]:
        """Outer pids of that host's stand-in processes (main, tiles, agave)."""
        binary = os.path.realpath(str(self.binary))
        out = []
        for pid in self.processes(name):
            try:
                if os.readlink(f"/proc/{pid}/exe") == binary:
                    out.append(pid)
            except OSError:
                pass
        return out

    def host_path(self, name: str, path: str = "/") -> Path:
        """`path` as that host sees it, reachable from outside (through /proc/INIT/root).

        Only the last step is the host's own view: a symlink found there with an absolute target
        resolves against this machine's root, so look at what the host holds with lstat/readlink
        (as tmp_entries does), and never follow links an attacker may have planted.
        """
        if not path.startswith("/"):
            raise ValueError(f"host paths are absolute: {path!r}")
        return Path(f"/proc/{self._init(self.host(name))}/root") / path.lstrip("/")

    def tmp_entries(self, name: str) -> list[str]:
        """The names in that host's /tmp, sorted (empty on a fresh host)."""
        return sorted(os.listdir(self.host_path(name, "/tmp")))

    def tmp_free(self, name: str) -> int:
        """Bytes an unprivileged writer could still put in that host's /tmp."""
        st = os.statvfs(self.host_path(name, "/tmp"))
        return st.f_bavail * st.f_frsize

    # ---- running commands in a host ------------------------------------------------------

    def host_exec(self, name: str, argv: Sequence[str], **kwargs: Any,
                  ) -> subprocess.CompletedProcess[str]:
        """Run a command as root inside that host's PID + mount namespace (not over SSH)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 30)
        return subprocess.run(self._nsenter(self.host(name), argv), text=True, **kwargs)

    def run_as(self, name: str, user: str, argv: Sequence[str], **kwargs: Any,
               ) -> subprocess.CompletedProcess[str]:
        """Run a command as `user` (e.g. ATTACKER) inside that host, as a local user would:
        its own uid, gid and groups, a clean login environment, working folder /."""
        gid = pwd.getpwnam(user).pw_gid   # KeyError for a user the machine does not have
        become = ["setpriv", f"--reuid={user}", f"--regid={gid}",
                  "--init-groups", "--reset-env", "--"]
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 30)
        return subprocess.run(self._nsenter(self.host(name), [*become, *argv]), text=True,
                              **kwargs)

    def _nsenter(self, host: LabHost, argv: Sequence[str]) -> list[str]:
        return ["nsenter", "--target", str(self._init(host)), "--pid", "--mount", "--wdns=/",
                "--", *argv]

    @staticmethod
    def _init(host: LabHost) -> int:
        if host.init_pid is None:
            raise LabError(f"{host.name} is not running")
        return host.init_pid

    def _spawn_inside(self, host: LabHost, argv: Sequence[str], log: Path) -> None:
        """Start a long-running command inside the host, tracked so that stop() waits for it."""
        with open(log, "ab") as out:
            host.nsenters.append(subprocess.Popen(
                (PDEATHSIG if self.die_with_parent else []) + self._nsenter(host, argv),
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True))

    # ---- failure modelling -----------------------------------------------------------------

    def stop_validator(self, name: str, timeout: float = 5.0) -> None:
        """Stop the stand-in on that host (SIGTERM its main process); sshd keeps running."""
        pids = self.validator_pids(name)
        mains = [p for p in pids if procs.comm(p) == "fdctl"]
        for pid in mains or pids:
            kill(pid, signal.SIGTERM)
        if not procs.wait_until(lambda: not self.validator_pids(name), timeout):
            for pid in self.validator_pids(name):
                kill(pid)
            procs.wait_until(lambda: not self.validator_pids(name), 2)
        self._reap(self.host(name))

    def start_validator(self, name: str, extra_args: Sequence[str] = ()) -> None:
        """(Re)start the stand-in inside that host's namespace and wait until it is ready."""
        host = self.host(name)
        if self.validator_pids(name):
            raise LabError(f"{name}: validator already running")
        host.pidfile.unlink(missing_ok=True)
        host.standin_argv = self.standin_argv(host, extra_args)
        self._spawn_inside(host, host.standin_argv, host.dir / "standin.log")
        if not procs.wait_until(host.pidfile.exists, self.start_timeout):
            raise LabError(f"{name}: stand-in not ready: {host.standin_log()[-500:]}")

    def sshd_pids(self, name: str) -> list[int]:
        """Outer pids of that host's sshd processes: the listener and one or two per session."""
        return [p for p in self.processes(name) if procs.comm(p) == "sshd"]

    def kill_sshd(self, name: str) -> None:
        """sshd and its sessions die at once, as when the link to a host is lost: clients see
        their connection drop, new ones are refused, and what runs detached from the sessions
        (perf under setsid) goes on. start_sshd (or reset) brings sshd back."""
        def gone() -> bool:
            pids = self.sshd_pids(name)   # again: a listener may fork while it dies
            for pid in pids:
                kill(pid)
            return not pids

        if not procs.wait_until(gone, 5, interval=0.01):
            raise LabError(f"{name}: sshd processes survive SIGKILL: {self.sshd_pids(name)}")
        self._reap(self.host(name))

    def start_sshd(self, name: str) -> None:
        """Start that host's sshd again (after kill_sshd) and wait until it accepts connections."""
        host = self.host(name)
        if self.sshd_pids(name):
            raise LabError(f"{name}: sshd already running")
        host.sshd_pidfile.unlink(missing_ok=True)
        self._spawn_inside(host, [SSHD, "-D", "-f", str(host.dir / "sshd_config"),
                                  "-E", str(host.dir / "sshd.log")], host.dir / "unshare.log")
        if not procs.wait_until(lambda: host.sshd_pidfile.exists() and _accepts(host),
                                self.start_timeout, interval=0.02):
            raise LabError(f"{name}: sshd did not come back: {host.sshd_log()[-500:]}")

    def fill_tmp(self, name: str) -> int:
        """Fill that host's /tmp (a small tmpfs: LabFleet(tmp_size=...)) with one root-owned file,
        FILL_FILE, until the kernel says ENOSPC; returns the bytes written."""
        free = self.tmp_free(name)
        if free > FILL_LIMIT:
            raise LabError(f"{name}: /tmp has {free >> 20} MB free; give the host a small one "
                           "(LabFleet(..., tmp_size={name: '64k'})) before filling it")
        fd = os.open(self.host_path(name, FILL_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND
                     | os.O_NOFOLLOW, 0o644)
        written = 0
        block = bytes(64 << 10)
        try:
            while True:
                written += os.write(fd, block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        finally:
            os.close(fd)
        return written

    def reset(self) -> None:
        """Undo failure modelling: restore known_hosts, restart a killed sshd and stopped
        validators, empty a filled /tmp."""
        self.restore_known_hosts()
        for host in self.hosts:
            if not self.sshd_pids(host.name):
                self.start_sshd(host.name)
            if host.name not in self.no_validator and not self.validator_pids(host.name):
                self.start_validator(host.name)
            self.host_path(host.name, FILL_FILE).unlink(missing_ok=True)

    @staticmethod
    def _reap(host: LabHost) -> None:
        host.nsenters = [p for p in host.nsenters if p.poll() is None]


def _accepts(host: LabHost) -> bool:
    try:
        with socket.create_connection((host.addr, host.port), timeout=1):
            return True
    except OSError:
        return False
