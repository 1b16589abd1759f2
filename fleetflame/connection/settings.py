"""SSH settings shared by every host of a run (plain data; importing it costs nothing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SshSettings:
    connect_timeout: float = 10.0
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 4
    accept_new_host_keys: bool = False
