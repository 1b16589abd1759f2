"""A fleet of validator hosts on loopback: one sshd + stand-in per PID/mount namespace.

    with LabFleet(4, tmp_path / "lab") as lab:
        inv = lab.write_inventory(tmp_path / "inv.yml")
        subprocess.run(["fleetflame", "tiles", "all", "-i", inv], env=lab.env())

Host i (lab01, lab02, ...) is 127.0.0.{addr_base+i}: sshd on `port`, stand-in metrics on
`metrics_port`.  Stopping the lab kills each namespace's init, so the kernel kills
everything inside; `stop()` checks that nothing is left.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from fleetflame.standin import build_standin, tiles_arg

from . import procs
from .host import SSHD, INIT_SCRIPT, LabHost
from .keys import random_public_key, write_keypair
from .users import ensure_user

UNREACHABLE_ADDR = "127.0.0.250"   # nothing listens there
_TOOLS = ("unshare", "nsenter")


class LabError(RuntimeError):
    """The lab could not start, or left processes behind."""


class LabUnavailable(LabError):
    """This machine cannot run the lab (not root, sshd or unshare missing)."""


_probe_result: str | None | bool = False   # False: not probed yet


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
    elif missing := [t for t in _TOOLS if shutil.which(t) is None]:
        reason = f"{', '.join(missing)} missing: apt-get install -y util-linux"
    elif shutil.which("gcc") is None:
        reason = "gcc missing (builds the stand-in validator): apt-get install -y gcc"
    else:
        probe = subprocess.run(["unshare", "--pid", "--mount", "--fork", "--mount-proc", "true"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            reason = f"cannot create PID/mount namespaces here: {probe.stderr.strip()}"
    _probe_result = reason
    return reason


def require_lab() -> None:
    """pytest.skip with the reason when this machine cannot run the lab."""
    reason = unavailable_reason()
    if reason is not None:
        import pytest
        pytest.skip(reason)


_prctl = ctypes.CDLL(None, use_errno=True).prctl
_LIVE: set["LabFleet"] = set()
_LIVE_LOCK = threading.Lock()

# Labs bind fixed loopback addresses and ports, and load the machine: one process at a time may
# run them (several test runs, e.g. from different checkouts, then wait for each other). Labs
# within one process share the hold; the last one stopped releases it.
MACHINE_LOCK = Path("/run/lock/fleetflame-lab.lock")
_machine_hold: list[Any] = []   # [open file, count of running labs]


def _hold_machine() -> None:
    with _LIVE_LOCK:
        if _machine_hold:
            _machine_hold[1] += 1
            return
        MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        fp = open(MACHINE_LOCK, "a+")
        fcntl.flock(fp.fileno(), fcntl.LOCK_EX)
        _machine_hold[:] = [fp, 1]


def _release_machine() -> None:
    with _LIVE_LOCK:
        if not _machine_hold:
            return
        _machine_hold[1] -= 1
        if _machine_hold[1] == 0:
            fcntl.flock(_machine_hold[0].fileno(), fcntl.LOCK_UN)
            _machine_hold[0].close()
            _machine_hold.clear()


def _die_with_parent() -> None:  # runs in the forked child, before exec
    _prctl(1, signal.SIGKILL)    # PR_SET_PDEATHSIG


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        lab.stop()


class LabFleet:
    def __init__(self, n_hosts: int, workdir: Path | str, *, layout: str = "processes",
                 tiles: Mapping[str, int] | str | None = None, load: float | None = 1.0,
                 standin_args: Sequence[str] = (),
                 host_args: Mapping[str, Sequence[str]] | None = None,
                 no_validator: Sequence[str] = (), port: int = 2200, metrics_port: int = 7999,
                 addr_base: int = 2, become_user: str | None = None,
                 plain_user: str | None = None, log_level: str = "ERROR",
                 standin_binary: Path | None = None, start_timeout: float = 10.0,
                 die_with_parent: bool = True) -> None:
        if not 1 <= n_hosts <= 253 - addr_base:
            raise ValueError(f"n_hosts must be 1..{253 - addr_base}")
        self.root = Path(workdir).resolve()
        self.n_hosts, self.port, self.metrics_port = n_hosts, port, metrics_port
        self.layout, self.tiles, self.load = layout, tiles, load
        self.standin_args, self.host_args = list(standin_args), dict(host_args or {})
        self.no_validator = set(no_validator)
        self.become_user, self.plain_user = become_user, plain_user
        self.log_level, self.start_timeout = log_level, start_timeout
        self.die_with_parent = die_with_parent
        self.binary = standin_binary
        width = max(2, len(str(n_hosts)))
        self.home = self.root / "home"
        # Non-root users must reach their authorized_keys and tmpdirs: pytest's tmp_path is
        # 0700, so those then live in a world-traversable directory of their own.
        self.shared: Path | None = None
        self.hosts: list[LabHost] = []
        for i in range(n_hosts):
            name = f"lab{i + 1:0{width}d}"
            self.hosts.append(LabHost(name, f"127.0.0.{addr_base + i}", port, metrics_port,
                                      self.root / "hosts" / name, Path()))
        self._known: dict[str, str] = {}
        self._started = False

    # ---- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> "LabFleet":
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        leftovers = self.stop()
        if leftovers and exc_type is None:
            raise LabError(f"lab processes left after stop: {leftovers}")

    def start(self) -> "LabFleet":
        reason = unavailable_reason()
        if reason is not None:
            raise LabUnavailable(reason)
        if self.binary is None:
            self.binary = build_standin()
        _hold_machine()
        try:
            self._prepare_files()
            self._check_ports_free()
        except BaseException:
            _release_machine()
            raise
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._started = True
        try:
            for host in self.hosts:
                self._launch(host)
            self._wait_ready(self.hosts)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[int]:
        """Kill every host's namespace; return outer pids still alive afterwards (none, normally)."""
        if not self._started:
            return []
        for host in self.hosts:
            if host.init_pid is not None and procs.pid_ns(host.init_pid) == host.ns:
                _kill(host.init_pid)
            elif host.popen is not None and host.popen.poll() is None:
                _kill(host.popen.pid)   # --kill-child takes the namespace's init with it
        for host in self.hosts:
            for p in ([host.popen] if host.popen else []) + host.nsenters:
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            host.nsenters.clear()
        procs.wait_until(lambda: not self.leftover_processes(), 5)
        leftovers = self.leftover_processes()
        self._started = False
        with _LIVE_LOCK:
            _LIVE.discard(self)
        _release_machine()
        if self.shared is not None:
            shutil.rmtree(self.shared, ignore_errors=True)
        return leftovers

    def leftover_processes(self) -> list[int]:
        """Live processes of this lab: in a host namespace, or naming the lab dir."""
        namespaces = {h.ns for h in self.hosts if h.ns}
        mine = set(procs.in_namespaces(namespaces))
        marker = str(self.root)
        for pid in procs.all_pids():
            if pid != os.getpid() and procs.running(pid) and \
                    any(marker in arg for arg in procs.cmdline(pid)):
                mine.add(pid)
        return sorted(mine)

    # ---- set-up ----------------------------------------------------------------------

    def _prepare_files(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        (self.home / ".ssh").mkdir(parents=True, exist_ok=True)
        users = [u for u in (self.become_user, self.plain_user) if u]
        if users:
            self.shared = Path(tempfile.mkdtemp(prefix="fleetflame-lab-"))
            self.shared.chmod(0o755)
        base = self.shared or self.root
        auth = base / "auth"
        auth.mkdir(parents=True, exist_ok=True)
        auth.chmod(0o755)
        client_pub = write_keypair(self.home / ".ssh" / "id_ed25519", "fleetflame-lab-client")
        for user in ["root", *users]:
            (auth / user).write_text(client_pub + "\n")
            (auth / user).chmod(0o644)
        if self.become_user:
            ensure_user(self.become_user, sudo=True)
        if self.plain_user:
            ensure_user(self.plain_user, sudo=False)
        init = self.root / "init.sh"
        init.write_text(INIT_SCRIPT)
        init.chmod(0o755)
        for host in self.hosts:
            host.dir.mkdir(parents=True, exist_ok=True)
            host.tmpdir = base / "hosts" / host.name / "tmp"
            host.tmpdir.mkdir(parents=True, exist_ok=True)
            if users:
                host.tmpdir.chmod(0o1777)
                host.tmpdir.parent.chmod(0o755)
                host.tmpdir.parent.parent.chmod(0o755)
            for stale in (host.pidfile, host.sshd_pidfile, host.dir / "sshd.log"):
                stale.unlink(missing_ok=True)
            host.host_key = write_keypair(host.dir / "ssh_host_ed25519_key", host.name)
            (host.dir / "sshd_config").write_text(host.sshd_config(auth, self.log_level))
            host.standin_argv = [] if host.name in self.no_validator else self.standin_argv(host)
            self._known[host.name] = host.known_hosts_line
        self._write_known_hosts()
        ssh = self.home / ".ssh"
        (ssh / "config").write_text(
            "Host *\n"
            f"    IdentityFile {ssh / 'id_ed25519'}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {ssh / 'known_hosts'}\n"
            "    StrictHostKeyChecking yes\n"
            "    BatchMode yes\n"
            "    ConnectTimeout 5\n"
            "    LogLevel ERROR\n")

    def standin_argv(self, host: LabHost, extra: Sequence[str] = ()) -> list[str]:
        argv = [str(self.binary), "--layout", self.layout,
                "--metrics", f"{host.addr}:{host.metrics_port}", "--pidfile", str(host.pidfile)]
        if self.tiles is not None:
            argv += ["--tiles", tiles_arg(dict(self.tiles) if not isinstance(self.tiles, str)
                                          else self.tiles)]
        if self.load is not None:
            argv += ["--load", str(self.load)]
        return argv + self.standin_args + list(self.host_args.get(host.name, ())) + list(extra)

    def _check_ports_free(self) -> None:
        for host in self.hosts:
            for port in (host.port, host.metrics_port):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((host.addr, port))
                    except OSError as exc:
                        raise LabError(f"{host.addr}:{port} is in use ({exc.strerror}): another "
                                       "lab running? pick another addr_base or port") from None

    def _launch(self, host: LabHost) -> None:
        argv = ["unshare", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child",
                "/bin/sh", str(self.root / "init.sh"), str(host.dir), *host.standin_argv]
        with open(host.dir / "unshare.log", "wb") as log:
            host.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None)

    def _wait_ready(self, hosts: list[LabHost]) -> None:
        def ready(host: LabHost) -> bool:
            assert host.popen is not None
            if host.popen.poll() is not None:
                raise LabError(f"{host.name}: namespace exited ({host.popen.returncode}): "
                               f"{self._logs(host)}")
            if host.init_pid is None:
                kids = procs.children(host.popen.pid)
                if not kids:
                    return False
                host.init_pid, host.ns = kids[0], procs.pid_ns(kids[0])
            return host.sshd_pidfile.exists() and \
                (not host.standin_argv or host.pidfile.exists())

        pending = list(hosts)

        def all_ready() -> bool:
            pending[:] = [h for h in pending if not ready(h)]
            return not pending

        if not procs.wait_until(all_ready, self.start_timeout):
            raise LabError("lab hosts not ready after %.0f s: %s" % (
                self.start_timeout, "; ".join(f"{h.name}: {self._logs(h)}" for h in pending)))

    @staticmethod
    def _logs(host: LabHost) -> str:
        parts = [f"{n}: {t.strip()[-500:]}" for n, t in (
            ("unshare", (host.dir / "unshare.log").read_text(errors="replace")
             if (host.dir / "unshare.log").exists() else ""),
            ("sshd", host.sshd_log()), ("standin", host.standin_log())) if t.strip()]
        return " | ".join(parts) or "(no logs)"

    # ---- lookups -----------------------------------------------------------------------

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

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

    # ---- failure modelling -----------------------------------------------------------------

    def stop_validator(self, name: str, timeout: float = 5.0) -> None:
        """Stop the stand-in on that host (SIGTERM its main process); sshd keeps running."""
        pids = self.validator_pids(name)
        mains = [p for p in pids if procs.comm(p) == "fdctl"]
        for pid in mains or pids:
            _kill(pid, signal.SIGTERM)
        if not procs.wait_until(lambda: not self.validator_pids(name), timeout):
            for pid in self.validator_pids(name):
                _kill(pid)
            procs.wait_until(lambda: not self.validator_pids(name), 2)
        host = self.host(name)
        host.nsenters = [p for p in host.nsenters if p.poll() is None]  # reap restarted ones

    def start_validator(self, name: str, extra_args: Sequence[str] = ()) -> None:
        """(Re)start the stand-in inside that host's namespace and wait until it is ready."""
        host = self.host(name)
        if self.validator_pids(name):
            raise LabError(f"{name}: validator already running")
        host.pidfile.unlink(missing_ok=True)
        host.standin_argv = self.standin_argv(host, extra_args)
        with open(host.dir / "standin.log", "ab") as log:
            host.nsenters.append(subprocess.Popen(
                self._nsenter(host, host.standin_argv), stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, preexec_fn=_die_with_parent if self.die_with_parent else None))
        if not procs.wait_until(host.pidfile.exists, self.start_timeout):
            raise LabError(f"{name}: stand-in not ready: {host.standin_log()[-500:]}")

    def reset(self) -> None:
        """Undo failure modelling: restore known_hosts, restart stopped validators."""
        self.restore_known_hosts()
        for host in self.hosts:
            if host.name not in self.no_validator and not self.validator_pids(host.name):
                self.start_validator(host.name)

    def host_exec(self, name: str, argv: Sequence[str], **kwargs: Any,
                  ) -> subprocess.CompletedProcess[str]:
        """Run a command inside that host's PID + mount namespace (not over SSH)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("timeout", 30)
        return subprocess.run(self._nsenter(self.host(name), argv), text=True, **kwargs)

    def _nsenter(self, host: LabHost, argv: Sequence[str]) -> list[str]:
        if host.init_pid is None:
            raise LabError(f"{host.name} is not running")
        return ["nsenter", "--target", str(host.init_pid), "--pid", "--mount", "--", *argv]

    def corrupt_known_host(self, name: str) -> None:
        """Pin another key for that host in known_hosts: a changed host key."""
        host = self.host(name)
        self._known[name] = host.known_hosts_line.replace(host.host_key, random_public_key())
        self._write_known_hosts()

    def forget_known_host(self, name: str) -> None:
        """Drop that host from known_hosts: an unknown host key."""
        self._known.pop(name, None)
        self._write_known_hosts()

    def restore_known_hosts(self) -> None:
        self._known = {h.name: h.known_hosts_line for h in self.hosts}
        self._write_known_hosts()

    def _write_known_hosts(self) -> None:
        path = self.known_hosts
        tmp = path.with_name(".known_hosts.tmp")
        tmp.write_text("".join(line + "\n" for line in self._known.values()))
        tmp.replace(path)

    # ---- client side -----------------------------------------------------------------------

    @property
    def known_hosts(self) -> Path:
        return self.home / ".ssh" / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.home / ".ssh" / "config"

    @property
    def client_key(self) -> Path:
        return self.home / ".ssh" / "id_ed25519"

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a fleetflame subprocess: HOME is the lab's, no SSH agent."""
        env = dict(os.environ)
        env.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))  # keep the build cache
        env["HOME"] = str(self.home)
        for var in ("SSH_AUTH_SOCK", "SSH_AGENT_PID"):
            env.pop(var, None)
        env.update(extra)
        return env

    def proxy_jump(self, via: str | None = None, user: str = "root") -> str:
        """`user@addr:port` of a bastion (default the first host), for ProxyJump."""
        host = self.host(via) if via else self.hosts[0]
        return f"{user}@{host.addr}:{host.port}"

    def ssh_argv(self, name: str, *command: str, user: str = "root",
                 jump: str | None = None) -> list[str]:
        """An OpenSSH client command line for that host, using the lab's config and keys."""
        host = self.host(name)
        argv = ["ssh", "-F", str(self.ssh_config), "-p", str(host.port)]
        if jump:
            argv += ["-J", jump]
        return argv + [f"{user}@{host.addr}", "--", *command]

    def ssh(self, name: str, *command: str, user: str = "root", jump: str | None = None,
            timeout: float = 30, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ssh_argv(name, *command, user=user, jump=jump),
                              capture_output=True, text=True, timeout=timeout, check=check,
                              env=self.env(), stdin=subprocess.DEVNULL)

    # ---- inventory ---------------------------------------------------------------------------

    def unreachable_vars(self) -> dict[str, Any]:
        """Host vars for a host nothing answers for (connection refused at once)."""
        return {"ansible_host": UNREACHABLE_ADDR, "ansible_port": self.port,
                "ansible_user": "root",
                "fleetflame_metrics_url": f"http://{UNREACHABLE_ADDR}:{self.metrics_port}/metrics",
                "fleetflame_tmpdir": str(self.root / "unreachable-tmp")}

    def write_inventory(self, path: Path | str, hosts: Sequence[str] | None = None, *,
                        extra_hosts: Mapping[str, Mapping[str, Any]] | None = None,
                        group: str = "lab", host_vars: Mapping[str, Mapping[str, Any]] | None
                        = None, group_vars: Mapping[str, Any] | None = None) -> Path:
        """Write an Ansible YAML inventory of the lab hosts (all, or `hosts`) and return its path.

        `extra_hosts` adds hosts (e.g. `{"lab99": lab.unreachable_vars()}`); `host_vars`
        overrides variables per host (e.g. `{"lab02": {"ansible_user": "fftest",
        "ansible_become": True}}`).
        """
        chosen = list(hosts) if hosts is not None else self.names
        entries: dict[str, dict[str, Any]] = {n: self.host(n).inventory_vars() for n in chosen}
        for name, values in (extra_hosts or {}).items():
            entries[name] = dict(values)
        for name, values in (host_vars or {}).items():
            entries.setdefault(name, {}).update(values)
        body: dict[str, Any] = {"hosts": entries}
        if group_vars:
            body["vars"] = dict(group_vars)
        path = Path(path)
        path.write_text(yaml.safe_dump({"all": {"children": {group: body}}}, sort_keys=False))
        return path


def _kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
