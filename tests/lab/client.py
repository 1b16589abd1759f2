"""The control machine's side of the lab: HOME with keys, ssh config and known_hosts; inventories.

A mixin of LabFleet: everything here only writes files under the lab's own HOME or where it is
told, and runs the OpenSSH client. With a delay proxy running (LabFleet.start_proxy), every host
also has a proxied address: known_hosts pins the host's key for both, `ssh(..., proxied=True)`
and `write_inventory(..., proxied=True)` go through the proxy.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .host import UNREACHABLE_ADDR, LabHost
from .keys import random_public_key
from .machine import LabError


class LabClient:
    hosts: list[LabHost]
    home: Path
    port: int
    metrics_port: int
    fake_perf: bool
    state: Path | None          # the lab's state folder while it runs
    _known: dict[str, list[str]]

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

    @property
    def fakeperf(self) -> Path:
        """The stand-in perf (tests/lab/fakeperf), installed where every lab user can run it."""
        if self.state is None:
            raise LabError("the lab is not running: fakeperf is installed when it starts")
        return self.state / "bin" / "fakeperf"

    # ---- files under HOME ---------------------------------------------------------------

    @property
    def known_hosts(self) -> Path:
        return self.home / ".ssh" / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.home / ".ssh" / "config"

    @property
    def client_key(self) -> Path:
        return self.home / ".ssh" / "id_ed25519"

    def _write_ssh_config(self) -> None:
        ssh = self.home / ".ssh"
        self.ssh_config.write_text(
            "Host *\n"
            f"    IdentityFile {ssh / 'id_ed25519'}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {ssh / 'known_hosts'}\n"
            "    StrictHostKeyChecking yes\n"
            "    BatchMode yes\n"
            "    ConnectTimeout 5\n"
            "    LogLevel ERROR\n")

    def corrupt_known_host(self, name: str) -> None:
        """Pin another key for that host in known_hosts: a changed host key."""
        host = self.host(name)
        other = random_public_key()
        self._known[name] = [line.replace(host.host_key, other) for line in host.known_hosts_lines]
        self._write_known_hosts()

    def forget_known_host(self, name: str) -> None:
        """Drop that host from known_hosts: an unknown host key."""
        self._known.pop(name, None)
        self._write_known_hosts()

    def restore_known_hosts(self) -> None:
        self._known = {h.name: h.known_hosts_lines for h in self.hosts}
        self._write_known_hosts()

    def _write_known_hosts(self) -> None:
        path = self.known_hosts
        tmp = path.with_name(".known_hosts.tmp")
        tmp.write_text("".join(line + "\n" for lines in self._known.values() for line in lines))
        tmp.replace(path)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a fleetflame subprocess: HOME is the lab's, no SSH agent."""
        env = dict(os.environ)
        env.setdefault("XDG_CACHE_HOME", str(Path.home() / ".cache"))  # keep the build cache
        env["HOME"] = str(self.home)
        for var in ("SSH_AUTH_SOCK", "SSH_AGENT_PID"):
            env.pop(var, None)
        env.update(extra)
        return env

    # ---- OpenSSH ------------------------------------------------------------------------

    def proxy_jump(self, via: str | None = None, user: str = "root") -> str:
        """`user@addr:port` of a bastion (default the first host), for ProxyJump."""
        host = self.host(via) if via else self.hosts[0]
        return f"{user}@{host.addr}:{host.port}"

    def ssh_argv(self, name: str, *command: str, user: str = "root", jump: str | None = None,
                 proxied: bool = False) -> list[str]:
        """An OpenSSH client command line for that host, using the lab's config and keys."""
        host = self.host(name)
        port = host.inventory_vars(proxied)["ansible_port"]
        argv = ["ssh", "-F", str(self.ssh_config), "-p", str(port)]
        if jump:
            argv += ["-J", jump]
        return argv + [f"{user}@{host.addr}", "--", *command]

    def ssh(self, name: str, *command: str, user: str = "root", jump: str | None = None,
            timeout: float = 30, check: bool = False, proxied: bool = False,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ssh_argv(name, *command, user=user, jump=jump, proxied=proxied),
                              capture_output=True, text=True, timeout=timeout, check=check,
                              env=self.env(), stdin=subprocess.DEVNULL)

    # ---- inventories ----------------------------------------------------------------------

    def unreachable_vars(self) -> dict[str, Any]:
        """Host vars for a host nothing answers for (connection refused at once)."""
        return {"ansible_host": UNREACHABLE_ADDR, "ansible_port": self.port,
                "ansible_user": "root",
                "fleetflame_metrics_url": f"http://{UNREACHABLE_ADDR}:{self.metrics_port}/metrics"}

    def alias_vars(self, name: str, proxied: bool = False) -> dict[str, Any]:
        """Host vars that reach the same lab host as `name`: a second inventory name for it."""
        return self._vars(self.host(name), proxied)

    def _vars(self, host: LabHost, proxied: bool) -> dict[str, Any]:
        out = host.inventory_vars(proxied)
        if self.fake_perf:
            out["fleetflame_perf"] = str(self.fakeperf)
        return out

    def write_inventory(self, path: Path | str, hosts: Sequence[str] | None = None, *,
                        extra_hosts: Mapping[str, Mapping[str, Any]] | None = None,
                        group: str = "lab", host_vars: Mapping[str, Mapping[str, Any]] | None
                        = None, group_vars: Mapping[str, Any] | None = None,
                        proxied: bool = False) -> Path:
        """Write an Ansible YAML inventory of the lab hosts (all, or `hosts`) and return its path.

        `extra_hosts` adds hosts (e.g. `{"lab99": lab.unreachable_vars()}`, or an alias:
        `{"lab01b": lab.alias_vars("lab01")}`); `host_vars` overrides variables per host (e.g.
        `{"lab02": {"ansible_user": "fftest", "ansible_become": True}}`); `proxied` points every
        lab host at its delay-proxy port.
        """
        chosen = list(hosts) if hosts is not None else self.names
        entries: dict[str, dict[str, Any]] = {n: self._vars(self.host(n), proxied) for n in chosen}
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
