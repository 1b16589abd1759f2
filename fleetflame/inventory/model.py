"""The plain per-host record the connection layer uses, resolved from inventory variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_METRICS_URL = "http://127.0.0.1:7999/metrics"


@dataclass(frozen=True)
class HostRecord:
    """Everything fleetflame needs to reach and profile one inventory host.

    Built from the host's merged Ansible variables (see the variables table in the README). `None` means
    "not set in the inventory": the SSH layer then falls back to ~/.ssh/config and its defaults.
    """

    name: str
    address: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    connection: str = "ssh"  # "ssh" or "local" (smart / paramiko are folded into "ssh")
    become: bool = False
    ssh_common_args: str | None = None
    proxy_jump: str | None = None
    metrics_url: str = DEFAULT_METRICS_URL
    perf: str = "perf"
    tmpdir: str = "/tmp"
    variables: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.connection == "local"
