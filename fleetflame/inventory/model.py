"""The plain per-host record the connection layer uses, resolved from inventory variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_METRICS_URL = "http://127.0.0.1:7999/metrics"


@dataclass(frozen=True)
class HostRecord:
    """Everything fleetflame needs to reach and profile one inventory host.

    Built from the host's merged Ansible variables (see the variables table in the README), with
    the ssh options of Ansible's ssh_args / ssh_common_args / ssh_extra_args folded in as ssh
    would read them (records.py). `None` means "not set": the SSH layer then falls back to
    ~/.ssh/config and its defaults (and `SshSettings`, the command line's, for timeouts and
    keepalives).
    """

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None  # ansible_ssh_private_key_file, as written
    connection: str = "ssh"  # "ssh" or "local" (smart / paramiko are folded into "ssh")
    become: bool = False
    ssh_common_args: str | None = None
    proxy_jump: str | None = None  # "none": no jump host, not even ~/.ssh/config's
    # The SSH settings below come from ssh options (Ansible's own, then ssh_args & co).
    identity_files: tuple[str, ...] = ()  # every identity file, in ssh's order (identity_file included)
    proxy_command: str | None = None  # with ssh's %h %p %r %n %% tokens; "none": no proxy at all
    connect_timeout: int | None = None
    keepalive_interval: int | None = None  # ServerAliveInterval; 0 turns keepalives off
    keepalive_count_max: int | None = None
    tcp_keepalive: bool | None = None
    compression: bool | None = None
    identities_only: bool | None = None
    strict_host_key_checking: str | None = None  # "yes" or "accept-new"
    known_hosts_files: tuple[str, ...] | None = None
    metrics_url: str = DEFAULT_METRICS_URL
    perf: str = "perf"
    tmpdir: str = "/tmp"
    variables: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.connection == "local"
