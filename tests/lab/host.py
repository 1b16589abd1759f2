"""One lab host: its files, its sshd config, its namespace init, its inventory variables."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .keys import known_hosts_pattern

SSHD = "/usr/sbin/sshd"

# PID 1 of the host's PID namespace: start the stand-in (argv after the host dir, if any)
# and sshd, then reap every orphan re-parented to us.  `wait` blocks while a job runs and
# reaps any child meanwhile; the loop covers the time after all jobs are gone.
INIT_SCRIPT = """#!/bin/sh
dir=$1; shift
# A lab host is a fresh box: not this machine's login scripts (its /root/.bashrc runs `pyenv init`,
# 0.2 s of CPU per SSH command, which no validator host pays). Mounts stay in this namespace.
for f in /root/.bashrc /root/.profile; do [ -f "$f" ] && mount --bind /dev/null "$f"; done
if [ "$#" -gt 0 ]; then "$@" >"$dir/standin.log" 2>&1 </dev/null & fi
{sshd} -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null &
while :; do wait; sleep 1; done
""".format(sshd=SSHD)


def quote(path: Path | str) -> str:
    return '"' + str(path) + '"'


@dataclass
class LabHost:
    name: str
    addr: str
    port: int
    metrics_port: int
    dir: Path
    tmpdir: Path
    host_key: str = ""                       # "ssh-ed25519 AAAA..."
    standin_argv: list[str] = field(default_factory=list)   # empty: no validator
    popen: subprocess.Popen[bytes] | None = None  # the `unshare` process
    init_pid: int | None = None             # outer pid of the namespace's PID 1
    ns: str | None = None                    # 'pid:[inode]'
    nsenters: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def metrics_url(self) -> str:
        return f"http://{self.addr}:{self.metrics_port}/metrics"

    @property
    def pidfile(self) -> Path:
        """The stand-in's pid file (a pid inside the host's namespace)."""
        return self.dir / "standin.pid"

    @property
    def sshd_pidfile(self) -> Path:
        return self.dir / "sshd.pid"

    @property
    def known_hosts_line(self) -> str:
        return f"{known_hosts_pattern(self.addr, self.port)} {self.host_key}"

    def sshd_log(self) -> str:
        return _read(self.dir / "sshd.log")

    def standin_log(self) -> str:
        return _read(self.dir / "standin.log")

    def inventory_vars(self) -> dict[str, Any]:
        return {
            "ansible_host": self.addr,
            "ansible_port": self.port,
            "ansible_user": "root",
            "fleetflame_metrics_url": self.metrics_url,
            "fleetflame_tmpdir": str(self.tmpdir),
        }

    def sshd_config(self, auth_dir: Path, log_level: str) -> str:
        return "\n".join([
            f"ListenAddress {self.addr}:{self.port}",
            f"HostKey {quote(self.dir / 'ssh_host_ed25519_key')}",
            f"PidFile {quote(self.sshd_pidfile)}",
            f"AuthorizedKeysFile {quote(auth_dir / '%u')}",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "AllowTcpForwarding yes",
            "X11Forwarding no",
            "MaxSessions 50",
            "MaxStartups 100",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            f"LogLevel {log_level}",
            "Subsystem sftp internal-sftp",
            "",
        ])


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
