"""The loaded inventory, its variables with Ansible's precedence, and host selection."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetflame.errors import InputError
from fleetflame.inventory.ansiblecfg import AnsibleSettings
from fleetflame.inventory.data import Group, InventoryGraph, Where
from fleetflame.inventory.model import HostRecord
from fleetflame.inventory.patterns import match
from fleetflame.inventory.records import resolve
from fleetflame.inventory.sources import build_graph, is_host_list, vars_base
from fleetflame.inventory.varfiles import Layer, VarsDir


class Inventory:
    """One or more `-i` sources merged in order, read like ansible-core reads them.

    `settings`: Ansible's connection settings from the environment and ansible.cfg (ssh_args,
    remote_user, timeout, ...), which apply where the inventory leaves them out; by default read
    now, from where Ansible would read them."""

    def __init__(self, sources: Sequence[str | os.PathLike[str]], settings: AnsibleSettings | None = None) -> None:
        self.sources = [os.fspath(s) for s in sources]
        self.settings = AnsibleSettings.load() if settings is None else settings
        self.graph: InventoryGraph = build_graph(self.sources)
        shared: dict[str, VarsDir] = {}
        self._dirs = [
            shared.setdefault(base, VarsDir(base))
            for base in (vars_base(s) for s in self.sources if not is_host_list(s))
        ]
        for vars_dir in shared.values():
            for group in self.graph.groups:
                vars_dir.layer("group_vars", group)
            for host in self.graph.hosts:
                vars_dir.layer("host_vars", host)

    @property
    def groups(self) -> dict[str, Group]:
        """Groups by name in the order Ansible learned them (`all` and `ungrouped` first)."""
        return self.graph.groups

    @property
    def host_names(self) -> list[str]:
        """Every host in inventory order."""
        return list(self.graph.hosts)

    @property
    def warnings(self) -> list[str]:
        found = self.graph.warnings + [w for d in self._dirs for w in d.warnings]
        return list(dict.fromkeys(found))

    def group_hosts(self, group: str) -> list[str]:
        """Hosts of a group and its descendants, in Ansible's order."""
        return self.graph.members(group)

    def host_vars(self, name: str) -> dict[str, Any]:
        """The host's variables merged with Ansible's precedence (as `ansible-inventory --host`)."""
        return self._merged(name)[0]

    def host_origins(self, name: str) -> dict[str, Where]:
        """For each variable of the host, the file and line its winning value comes from."""
        return self._merged(name)[1]

    def record(self, name: str) -> HostRecord:
        """The host's connection settings; InputError if one of them is invalid."""
        variables, origins = self._merged(name)
        return resolve(name, variables, origins, self.settings)

    def _merged(self, name: str) -> Layer:
        host = self.graph.lookup(name)
        if host is None:
            raise KeyError(name)
        groups = sorted(
            (self.graph.groups[g] for g in self.graph.host_groups(host) - {"all"}),
            key=lambda g: (g.depth, g.priority, g.name),
        )
        everyone = self.graph.groups["all"]
        layers: list[Layer] = [(everyone.vars, everyone.origins)]
        layers += [(g.vars, g.origins) for g in groups]
        layers += [d.layer("group_vars", "all") for d in self._dirs]
        layers += [d.layer("group_vars", g.name) for d in self._dirs for g in groups]
        layers.append((host.vars, host.origins))
        layers += [d.layer("host_vars", host.name) for d in self._dirs]
        variables: dict[str, Any] = {}
        origins: dict[str, Where] = {}
        for values, where in layers:
            variables.update(values)
            origins.update(where)
        return variables, origins


@dataclass
class HostSelection:
    """The hosts a pattern selects, in Ansible's order, and warnings about parts that matched nothing."""

    hosts: list[HostRecord]
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]


def load_inventories(sources: Sequence[str | os.PathLike[str]]) -> Inventory:
    """Read the `-i` sources in order; InputError on a missing or malformed one."""
    if not sources:
        raise InputError("no inventory given; pass -i FILE (an Ansible YAML or INI inventory)")
    return Inventory(sources)


def select(inventory: Inventory, pattern: str = "all") -> HostSelection:
    """Hosts matching an Ansible host pattern, as `ansible -i INV PATTERN --list-hosts` lists them."""
    names, unmatched = match(inventory.graph, pattern)
    if not names:
        detail = f" ({'; '.join(unmatched)})" if unmatched else ""
        listing = shlex.join(["fleetflame", "hosts", *(a for s in inventory.sources for a in ("-i", str(s)))])
        raise InputError(
            f"host pattern {pattern!r} selects no host in {', '.join(inventory.sources)}{detail}; "
            f"run `{listing}` to see the hosts and groups"
        )
    # Parts that matched nothing beside parts that did: Ansible goes on with the rest, and so do we.
    return HostSelection([inventory.record(n) for n in names], [f"{w}; went on without it" for w in unmatched])
