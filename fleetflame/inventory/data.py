"""The inventory graph: groups, hosts, their membership and the variables written on them.

Follows Ansible's InventoryData rules: `all` and `ungrouped` always exist, every parentless
group becomes a child of `all`, a host in no group but `all` lands in `ungrouped`, a group's depth
is its longest distance from `all`, and a group lists its hosts breadth-first through its children.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from fleetflame.errors import InputError

LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Where:
    """The file (and line, when known) a value or a problem comes from."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def show_path(path: str | os.PathLike[str]) -> str:
    """A path as an operator would type it: relative when under the current directory."""
    text = os.fspath(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return text if rel.startswith("..") else rel


@dataclass(eq=False)
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Where] = field(default_factory=dict)
    priority: int = 1
    depth: int = 0


@dataclass(eq=False)
class Host:
    name: str
    groups: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Where] = field(default_factory=dict)
    implicit: bool = False


class InventoryGraph:
    """Mutable while the parsers fill it; `finish()` then applies Ansible's reconciliation."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.hosts: dict[str, Host] = {}
        self.warnings: list[str] = []
        self.localhost: str | None = None
        self._implicit: Host | None = None
        self._members: dict[str, list[str]] = {}
        self._ancestors: dict[str, set[str]] = {}
        for name in ("all", "ungrouped"):
            self.groups[name] = Group(name)
        self.add_child("all", "ungrouped", Where("<built-in>"))

    def add_group(self, name: object, where: Where) -> str:
        if not name:
            raise InputError(f"{where}: empty group name; give the group a name")
        if not isinstance(name, str):
            raise InputError(f"{where}: group name {name!r} is not a string; quote it")
        self.groups.setdefault(name, Group(name))
        return name

    def add_host(self, name: str, group: str | None, port: int | None, where: Where) -> None:
        if not name:
            raise InputError(f"{where}: empty host name; give the host a name")
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = Host(name)
            if port:
                self.set_var(host, "ansible_port", port, where)
            if name in LOCALHOST_NAMES:
                if self.localhost is None:
                    self.localhost = name
                else:
                    self.warnings.append(
                        f"{where}: {name} duplicates the localhost entry {self.localhost}"
                    )
        if group is not None:
            self._join(host, self.groups[group])

    def _join(self, host: Host, group: Group) -> None:
        if host.name not in group.hosts:
            group.hosts.append(host.name)
            host.groups.append(group.name)

    def add_child(self, parent: str, child: str, where: Where) -> None:
        """Make group or host `child` a member of group `parent`."""
        if child in self.groups:
            self._adopt(self.groups[parent], self.groups[child], where)
        elif child in self.hosts:
            self._join(self.hosts[child], self.groups[parent])
        else:
            raise InputError(f"{where}: {child!r} is neither a group nor a host; define it first")

    def _adopt(self, parent: Group, child: Group, where: Where) -> None:
        if child.name in parent.children:
            return
        if child is parent or child.name in self.ancestors(parent.name):
            raise InputError(
                f"{where}: making {child.name!r} a child of {parent.name!r} creates a loop of "
                "groups; remove one of the two children entries"
            )
        parent.children.append(child.name)
        if parent.name not in child.parents:
            child.parents.append(parent.name)

    def set_var(self, entity: Group | Host, key: Any, value: Any, where: Where) -> None:
        if isinstance(entity, Group) and key == "ansible_group_priority":
            try:
                entity.priority = int(value)
            except TypeError:
                pass
            except ValueError:
                raise InputError(
                    f"{where}: ansible_group_priority {value!r} of group {entity.name} is not "
                    "a number; use an integer"
                ) from None
            return
        entity.vars[key] = value
        entity.origins[key] = where

    def ancestors(self, group: str) -> set[str]:
        if group in self._ancestors:
            return self._ancestors[group]
        found: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo.extend(self.groups[name].parents)
        return found

    def finish(self) -> None:
        """Apply Ansible's reconciliation once every source is parsed."""
        root = Where("<built-in>")
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                self.add_child("all", group.name, root)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            closure = self.host_groups(host)
            if "ungrouped" in closure:
                if closure - {"all", "ungrouped"} and host.name in ungrouped.hosts:
                    ungrouped.hosts.remove(host.name)
                    host.groups.remove("ungrouped")
            elif not closure or closure == {"all"}:
                self._join(host, ungrouped)
        for name in sorted(set(self.groups) & set(self.hosts)):
            self.warnings.append(f"{name!r} is both a group and a host; patterns pick the host")
        self._ancestors = {name: self.ancestors(name) for name in self.groups}
        for group in self.groups.values():
            group.depth = self._depth(group.name, {})

    def _depth(self, name: str, memo: dict[str, int]) -> int:
        if name not in memo:
            parents = self.groups[name].parents
            memo[name] = 1 + max((self._depth(p, memo) for p in parents), default=-1)
        return memo[name]

    def host_groups(self, host: Host) -> set[str]:
        """Every group the host belongs to, directly or through a child group (with `all`)."""
        closure: set[str] = set()
        for name in host.groups:
            closure.add(name)
            closure |= self.ancestors(name)
        return closure

    def members(self, group: str) -> list[str]:
        """Hosts of a group in Ansible's order: its own, then its children's, level by level."""
        if group in self._members:
            return self._members[group]
        children = self.groups[group].children
        order, seen, level = [group, *children], {group, *children}, list(children)
        while level:
            below: list[str] = []
            for name in level:
                for child in self.groups[name].children:
                    if child not in seen:
                        seen.add(child)
                        below.append(child)
            order += below
            level = below
        hosts = list(dict.fromkeys(h for g in order for h in self.groups[g].hosts))
        self._members[group] = hosts
        return hosts

    def lookup(self, name: str) -> Host | None:
        """A host by name; a localhost name not in the inventory gives Ansible's implicit one."""
        host = self.hosts.get(name)
        if host is None and name in LOCALHOST_NAMES:
            if self.localhost is not None:
                return self.hosts[self.localhost]
            if self._implicit is None:
                self._implicit = Host(name, implicit=True)
                builtin = Where("<implicit localhost>")
                self.set_var(self._implicit, "ansible_python_interpreter", sys.executable, builtin)
                self.set_var(self._implicit, "ansible_connection", "local", builtin)
            return self._implicit
        return host
