"""One lab host: its addresses, files, stock sshd config, namespace init and inventory variables."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .keys import known_hosts_pattern

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"   # Debian's Subsystem line
UNREACHABLE_ADDR = "127.0.0.250"   # nothing listens there
TMP_SIZE = re.compile(r"^[1-9][0-9]{0,12}[kmg%]?$")   # what the tmpfs size= option takes here

# PID 1 of the host's PID + mount namespace (argv: the host's state folder, its /tmp size, then
# the stand-in's argv, if any). It gives the host its own /tmp, starts the stand-in and sshd,
# then reaps every orphan re-parented to it: `wait` blocks while a job runs and reaps any child
# meanwhile; the loop covers the time after all jobs are gone. The namespace was made with
# private mount propagation (unshare's default), so these mounts never reach the machine, and
# they go away with the namespace's last process.
INIT_SCRIPT = """#!/bin/sh
dir=$1 tmpsize=$2
shift 2
# A validator's /tmp is its own: not this machine's, not another lab host's.
opts=mode=1777,nosuid,nodev
[ "$tmpsize" = default ] || opts=$opts,size=$tmpsize
mount -t tmpfs -o "$opts" tmpfs /tmp || exit 1
# A lab host is a fresh box: not this machine's login scripts (its /root/.bashrc runs `pyenv init`,
# 0.2 s of CPU per SSH command, which no validator host pays).
for f in /root/.bashrc /root/.profile; do [ -f "$f" ] && mount --bind /dev/null "$f"; done
cd /
# Open files as systemd gives a service (DefaultLimitNOFILE=1024:524288): sshd, its sessions and
# so perf get a soft limit of 1024, not whatever the test process had.
ulimit -Sn 1024 2>/dev/null || true
if [ "$#" -gt 0 ]; then "$@" >"$dir/standin.log" 2>&1 </dev/null & fi
# -E: sshd logs to a file of its own instead of this machine's syslog.
{sshd} -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null &
while :; do wait; sleep 1; done
""".format(sshd=SSHD)


def quote(path: Path | str) -> str:
    return '"' + str(path) + '"'


def lab_addresses(count: int, base: int) -> list[str]:
    """`count` loopback addresses from 127.0.0.`base` on, past .254 into 127.0.1.x and beyond.

    Addresses ending in .0 or .255 are skipped (they look like network and broadcast addresses to
    people and to some tools), and so is UNREACHABLE_ADDR, which must stay silent.
    """
    if not 1 <= base <= 254 or count < 1:
        raise ValueError("addr_base must be 1..254 and the host count at least 1")
    out: list[str] = []
    addr = ipaddress.IPv4Address("127.0.0.0") + base
    while len(out) < count:
        last = int(addr) & 0xFF
        if last not in (0, 255) and str(addr) != UNREACHABLE_ADDR:
            out.append(str(addr))
        addr += 1
        if not addr.is_loopback:
            raise ValueError(f"{count} hosts do not fit in 127.0.0.0/8 from .{base}")
    return out


@dataclass
class LabHost:
    name: str
    addr: str
    port: int
    metrics_port: int
    dir: Path                                # state folder: config, keys, pid files, logs
    proxy_port: int = 0                      # the delay proxy's port on `addr` (0: none)
    tmp_size: str = "default"                # size= of the host's /tmp tmpfs
    sftp: bool = True
    host_key: str = ""                       # "ssh-ed25519 AAAA..."
    standin_argv: list[str] = field(default_factory=list)   # empty: no validator
    popen: subprocess.Popen[bytes] | None = None  # the `unshare` process
    init_pid: int | None = None             # outer pid of the namespace's PID 1
    ns: str | None = None                    # 'pid:[inode]'
    mnt_ns: str | None = None                # 'mnt:[inode]': its /tmp lives and dies with it
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
    def known_hosts_lines(self) -> list[str]:
        """Its key pinned for the direct address, and for the proxied one when there is a proxy."""
        ports = [self.port] + ([self.proxy_port] if self.proxy_port else [])
        return [f"{known_hosts_pattern(self.addr, p)} {self.host_key}" for p in ports]

    def sshd_log(self) -> str:
        return _read(self.dir / "sshd.log")

    def standin_log(self) -> str:
        return _read(self.dir / "standin.log")

    def inventory_vars(self, proxied: bool = False) -> dict[str, Any]:
        """Ansible host vars; fleetflame_tmpdir is left to its default, /tmp, as on a validator."""
        if proxied and not self.proxy_port:
            raise ValueError(f"{self.name}: the lab runs no delay proxy (start_proxy first)")
        return {
            "ansible_host": self.addr,
            "ansible_port": self.proxy_port if proxied else self.port,
            "ansible_user": "root",
            "fleetflame_metrics_url": self.metrics_url,
        }

    def sshd_config(self, auth_dir: Path, log_level: str | None) -> str:
        """Debian's stock sshd_config, plus only what a loopback lab host cannot do without."""
        lines = [
            # --- deviations, each needed because many hosts share one machine ---
            # the host's own address and port (the default, 0.0.0.0:22, is the machine's own sshd)
            f"ListenAddress {self.addr}:{self.port}",
            # its own host key (the default ones in /etc/ssh are the machine's)
            f"HostKey {quote(self.dir / 'ssh_host_ed25519_key')}",
            # its own pid file (the default, /run/sshd.pid, is the machine's sshd's)
            f"PidFile {quote(self.sshd_pidfile)}",
            # the lab's client key per user, in the lab's state folder: the default,
            # ~/.ssh/authorized_keys, is this machine's /root/.ssh, which the lab must not touch
            f"AuthorizedKeysFile {quote(auth_dir / '%u')}",
            # Not included: `Include /etc/ssh/sshd_config.d/*.conf` (this machine's own settings,
            # which could move or close the lab's sshd)
        ]
        if log_level:
            lines.append(f"LogLevel {log_level}")
        lines += [
            # --- Debian 12's /etc/ssh/sshd_config, as shipped ---
            "KbdInteractiveAuthentication no",
            "UsePAM yes",
            "X11Forwarding yes",
            "PrintMotd no",
            "AcceptEnv LANG LC_*",
        ]
        if self.sftp:
            lines.append(f"Subsystem sftp {SFTP_SERVER}")
        return "\n".join(lines) + "\n"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
