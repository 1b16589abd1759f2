"""A fleet of validator hosts on loopback, each as much like a real one as a test needs.

    with LabFleet(4, tmp_path / "lab") as lab:
        inv = lab.write_inventory(tmp_path / "inv.yml")
        subprocess.run(["fleetflame", "tiles", "all", "-i", inv], env=lab.env())

Each host (lab01, lab02, ...) is a PID + mount namespace holding
* a stock Debian sshd (host.py says where and why it deviates) on its own loopback address:
  127.0.0.{addr_base}, the next ones, then 127.0.1.1 and on, so hundreds of hosts fit; sftp
  through Debian's sftp-server unless the host is in `no_sftp`;
* its own /tmp, a tmpfs (mode 1777; size per host from `tmp_size`), which is where fleetflame's
  default tmpdir is: inventories from `write_inventory` set no fleetflame_tmpdir;
* a stand-in validator (fleetflame/standin) serving metrics on `metrics_port`, unless the host
  is in `no_validator`; `load=0` leaves its tiles idle (for big simulated fleets);
* the attacker, `ATTACKER` (ffmallory): an unprivileged local user, no sudo, on every host.

Looking at hosts and acting on them (hostops.py):
    lab.host_path(name, "/tmp/x")   that path as the host sees it, from outside (/proc/PID/root)
    lab.tmp_entries(name)           the names in the host's /tmp
    lab.host_exec(name, argv)       run as root inside the host's namespaces
    lab.run_as(name, user, argv)    run as that user inside them (the attacker planting links)
Failure modelling:
    lab.stop_validator / start_validator     the validator stops / comes back
    lab.kill_sshd(name) / start_sshd(name)   sshd and its sessions die (a lost link) while what
                                             runs detached (perf under setsid) keeps running
    tmp_size={"lab02": "64k"} + lab.fill_tmp("lab02")   a tiny /tmp, full
    no_sftp={"lab03"}                        an sshd without the sftp subsystem
    lab.corrupt_known_host / forget_known_host   a changed / an unknown host key
    lab.unreachable_vars()                   an inventory host nothing answers for
    extra_hosts={"lab01b": lab.alias_vars("lab01")}   an alias: two inventory names for one
                                             machine, sharing its /tmp as on a real fleet
A slow link: `rtt_ms=100` (or lab.start_proxy(50)) runs tests/lab/delayproxy.py in a process of
its own, listening on every host's address at `proxy_port`; write_inventory(proxied=True) and
ssh(..., proxied=True) go through it, and known_hosts pins each host key for both ports.
Simulated fleets: `fake_perf=True` makes inventories set fleetflame_perf to lab.fakeperf
(tests/lab/fakeperf, installed in the lab's state folder), which records nothing real, so that
only the control side is measured.

Stopping the lab kills each namespace's init, so the kernel kills everything inside and drops the
namespace's mounts (its /tmp with them); `stop()` checks that no process of the lab is left (in
its PID or mount namespaces, or naming its folders) and removes the state folder (machine.py),
keeping the hosts' logs under `workdir/hosts/NAME/`.

What the lab does not model: a host's /root, /etc and /run are this machine's (shared by every
lab host); this machine's fs.protected_* sysctls apply (here protected_symlinks=0 and
protected_regular=0, laxer than Debian's 1 and 2, so attacks that Debian's defaults would stop
work in the lab); and all hosts share one clock and this machine's CPUs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

from fleetflame.standin import build_standin, tiles_arg

from . import procs
from .client import LabClient
from .host import INIT_SCRIPT, TMP_SIZE, UNREACHABLE_ADDR, LabHost, lab_addresses
from .hostops import HostOps, kill
from .keys import write_keypair
from .machine import (
    PDEATHSIG, LabError, LabUnavailable, hold_machine, new_state_dir,
    release_machine, require_lab, unavailable_reason,
)
from .users import ATTACKER, ensure_user

__all__ = ["UNREACHABLE_ADDR", "LabError", "LabFleet", "LabUnavailable", "require_lab",
           "unavailable_reason"]

FAKEPERF = Path(__file__).with_name("fakeperf")
DELAYPROXY = Path(__file__).with_name("delayproxy.py")
IDLE_PERIOD_MS = 3_600_000   # load=0: the stand-in's tiles sleep an hour between (empty) bursts

_LIVE: set["LabFleet"] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        lab.stop()


class LabFleet(HostOps, LabClient):
    def __init__(self, n_hosts: int, workdir: Path | str, *, layout: str = "processes",
                 tiles: Mapping[str, int] | str | None = None, load: float | None = 1.0,
                 standin_args: Sequence[str] = (),
                 host_args: Mapping[str, Sequence[str]] | None = None,
                 no_validator: Sequence[str] = (), port: int = 2200, metrics_port: int = 7999,
                 addr_base: int = 2, become_user: str | None = None,
                 plain_user: str | None = None, log_level: str | None = None,
                 standin_binary: Path | None = None, start_timeout: float = 10.0,
                 die_with_parent: bool = True,
                 tmp_size: str | Mapping[str, str] | None = None,
                 no_sftp: Sequence[str] = (), fake_perf: bool = False,
                 rtt_ms: float | None = None, proxy_port: int | None = None) -> None:
        if not 1 <= n_hosts <= 2000:
            raise ValueError("n_hosts must be 1..2000")
        self.root = Path(workdir).resolve()
        self.n_hosts, self.port, self.metrics_port = n_hosts, port, metrics_port
        self.layout, self.tiles, self.load = layout, tiles, load
        self.standin_args, self.host_args = list(standin_args), dict(host_args or {})
        self.no_validator = set(no_validator)
        self.become_user, self.plain_user = become_user, plain_user
        self.log_level, self.start_timeout = log_level, start_timeout
        self.die_with_parent = die_with_parent
        self.fake_perf, self.rtt_ms = fake_perf, rtt_ms
        self.proxy_port = proxy_port if proxy_port is not None else port + 100
        self.source_binary = standin_binary
        self.binary: Path | None = None          # the stand-in, as installed for the hosts
        self.home = self.root / "home"
        self.state: Path | None = None
        self.proxy: subprocess.Popen[bytes] | None = None
        width = max(2, len(str(n_hosts)))
        sizes = {} if tmp_size is None or isinstance(tmp_size, str) else dict(tmp_size)
        default_size = tmp_size if isinstance(tmp_size, str) else "default"
        self.hosts: list[LabHost] = []
        for i, addr in enumerate(lab_addresses(n_hosts, addr_base)):
            name = f"lab{i + 1:0{width}d}"
            size = sizes.pop(name, default_size)
            if size != "default" and not TMP_SIZE.match(size):
                raise ValueError(f"tmp_size of {name}: {size!r} is not a tmpfs size like 64k")
            self.hosts.append(LabHost(name, addr, port, metrics_port, Path(), tmp_size=size,
                                      sftp=name not in set(no_sftp)))
        if sizes:
            raise ValueError(f"tmp_size names hosts the lab does not have: {sorted(sizes)}")
        self._known: dict[str, list[str]] = {}
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
        source = self.source_binary or build_standin()
        hold_machine()
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._started = True
        try:
            self.state = new_state_dir()
            self._prepare_files(source)
            self._check_ports_free()
            for host in self.hosts:
                self._launch(host)
            self._wait_ready(self.hosts)
            if self.rtt_ms is not None:
                self.start_proxy(self.rtt_ms / 2)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> list[int]:
        """Kill every host's namespace; return outer pids still alive afterwards (none, normally)."""
        if not self._started:
            return []
        self.stop_proxy()
        for host in self.hosts:
            if host.init_pid is not None and procs.pid_ns(host.init_pid) == host.ns:
                kill(host.init_pid)
            elif host.popen is not None and host.popen.poll() is None:
                kill(host.popen.pid)   # --kill-child takes the namespace's init with it
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
        self._keep_logs()
        if self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)
        release_machine()
        return leftovers

    def leftover_processes(self) -> list[int]:
        """Live processes of this lab: in a host's PID or mount namespace, or naming its folders."""
        mine = set(procs.in_namespaces({h.ns for h in self.hosts if h.ns}))
        mine |= set(procs.in_namespaces({h.mnt_ns for h in self.hosts if h.mnt_ns}, "mnt"))
        markers = [str(self.root)] + ([str(self.state)] if self.state else [])
        for pid in procs.all_pids():
            if pid != os.getpid() and procs.running(pid) and \
                    any(m in arg for arg in procs.cmdline(pid) for m in markers):
                mine.add(pid)
        return sorted(mine)

    def _keep_logs(self) -> None:
        for host in self.hosts:
            if host.dir == Path() or not host.dir.is_dir():
                continue
            keep = self.root / "hosts" / host.name
            keep.mkdir(parents=True, exist_ok=True)
            for log in ("sshd.log", "standin.log", "unshare.log"):
                if (host.dir / log).exists():
                    shutil.copyfile(host.dir / log, keep / log)

    # ---- set-up ----------------------------------------------------------------------

    def _prepare_files(self, source_binary: Path) -> None:
        assert self.state is not None
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)  # sshd's privsep dir
        (self.home / ".ssh").mkdir(parents=True, exist_ok=True)
        bin_dir = self.state / "bin"
        bin_dir.mkdir(mode=0o755)
        # The hosts cannot see the machine's /tmp (where a test's stand-in build may be).
        self.binary = bin_dir / "standin"
        shutil.copyfile(source_binary, self.binary)
        shutil.copyfile(FAKEPERF, bin_dir / "fakeperf")
        for exe in ("standin", "fakeperf"):
            (bin_dir / exe).chmod(0o755)
        init = self.state / "init.sh"
        init.write_text(INIT_SCRIPT)
        init.chmod(0o755)
        users = [u for u in (self.become_user, self.plain_user) if u] + [ATTACKER]
        auth = self.state / "auth"
        auth.mkdir(mode=0o755)
        client_pub = write_keypair(self.client_key, "fleetflame-lab-client")
        for user in ["root", *users]:
            (auth / user).write_text(client_pub + "\n")
            (auth / user).chmod(0o644)
        if self.become_user:
            ensure_user(self.become_user, sudo=True)
        if self.plain_user:
            ensure_user(self.plain_user, sudo=False)
        ensure_user(ATTACKER, sudo=False)
        for host in self.hosts:
            host.dir = self.state / "hosts" / host.name
            host.dir.mkdir(parents=True)
            host.host_key = write_keypair(host.dir / "ssh_host_ed25519_key", host.name)
            (host.dir / "sshd_config").write_text(host.sshd_config(auth, self.log_level))
            host.standin_argv = [] if host.name in self.no_validator else self.standin_argv(host)
            self._known[host.name] = host.known_hosts_lines
        self._write_known_hosts()
        self._write_ssh_config()

    def standin_argv(self, host: LabHost, extra: Sequence[str] = ()) -> list[str]:
        argv = [str(self.binary), "--layout", self.layout,
                "--metrics", f"{host.addr}:{host.metrics_port}", "--pidfile", str(host.pidfile)]
        if self.tiles is not None:
            argv += ["--tiles", tiles_arg(dict(self.tiles) if not isinstance(self.tiles, str)
                                          else self.tiles)]
        if self.load is not None:
            argv += ["--load", str(self.load)]
            if self.load == 0:
                argv += ["--period", str(IDLE_PERIOD_MS)]
        return argv + self.standin_args + list(self.host_args.get(host.name, ())) + list(extra)

    def _check_ports_free(self) -> None:
        for host in self.hosts:
            for port in (host.port, host.metrics_port, self.proxy_port):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((host.addr, port))
                    except OSError as exc:
                        raise LabError(f"{host.addr}:{port} is in use ({exc.strerror}): another "
                                       "lab running? pick another addr_base or port") from None

    def _launch(self, host: LabHost) -> None:
        assert self.state is not None
        argv = ["unshare", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child",
                "/bin/sh", str(self.state / "init.sh"), str(host.dir), host.tmp_size,
                *host.standin_argv]
        with open(host.dir / "unshare.log", "wb") as log:
            host.popen = subprocess.Popen(
                (PDEATHSIG if self.die_with_parent else []) + argv, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True, cwd="/")

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
                host.init_pid = kids[0]
                host.ns = procs.namespace(kids[0], "pid")
                host.mnt_ns = procs.namespace(kids[0], "mnt")
            return host.sshd_pidfile.exists() and \
                (not host.standin_argv or host.pidfile.exists())

        pending = list(hosts)

        def all_ready() -> bool:
            pending[:] = [h for h in pending if not ready(h)]
            return not pending

        if not procs.wait_until(all_ready, self.start_timeout, interval=0.02):
            raise LabError("lab hosts not ready after %.0f s: %s" % (
                self.start_timeout, "; ".join(f"{h.name}: {self._logs(h)}" for h in pending[:5])))

    @staticmethod
    def _logs(host: LabHost) -> str:
        parts = [f"{n}: {t.strip()[-500:]}" for n, t in (
            ("unshare", (host.dir / "unshare.log").read_text(errors="replace")
             if (host.dir / "unshare.log").exists() else ""),
            ("sshd", host.sshd_log()), ("standin", host.standin_log())) if t.strip()]
        return " | ".join(parts) or "(no logs)"

    # ---- the delay proxy ------------------------------------------------------------------

    def start_proxy(self, delay_ms: float) -> None:
        """Run the delay proxy (`delay_ms` each way) in front of every host's sshd."""
        if self.proxy is not None:
            raise LabError("the delay proxy is already running")
        assert self.state is not None
        routes = [f"{h.addr}:{self.proxy_port}={h.addr}:{h.port}" for h in self.hosts]
        table = self.state / "proxy-routes"
        table.write_text("\n".join(routes) + "\n")
        log = open(self.state / "proxy.log", "wb")
        argv = [sys.executable, str(DELAYPROXY), "--delay-ms", f"{delay_ms:g}", "--realtime",
                "--routes", str(table)]
        with log:
            self.proxy = subprocess.Popen((PDEATHSIG if self.die_with_parent else []) + argv,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=log, start_new_session=True, cwd="/")
        assert self.proxy.stdout is not None
        line = self.proxy.stdout.readline()
        if line.strip() != b"ready":
            self.stop_proxy()
            raise LabError(f"delay proxy did not start: {(self.state / 'proxy.log').read_text()}")
        for host in self.hosts:
            host.proxy_port = self.proxy_port
        self.restore_known_hosts()

    def stop_proxy(self) -> None:
        if self.proxy is None:
            return
        self.proxy.terminate()
        try:
            self.proxy.wait(5)
        except subprocess.TimeoutExpired:
            self.proxy.kill()
            self.proxy.wait()
        if self.proxy.stdout is not None:
            self.proxy.stdout.close()
        self.proxy = None
        for host in self.hosts:
            host.proxy_port = 0

    @property
    def proxy_pid(self) -> int | None:
        return self.proxy.pid if self.proxy is not None else None
