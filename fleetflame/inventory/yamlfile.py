"""YAML inventories, read as ansible-core's `yaml` inventory plugin reads them.

Top-level keys are groups; a group is a mapping of `hosts`, `children` and `vars` (a plain
string is short for a one-entry mapping). Keys are processed in file order, which fixes the
order of hosts and groups. Anything else is skipped with a warning, as Ansible does.
"""

from __future__ import annotations

from typing import Any

from fleetflame.errors import InputError
from fleetflame.inventory.data import InventoryGraph
from fleetflame.inventory.hostnames import RangeError, expand
from fleetflame.inventory.yamlload import Loaded

SECTIONS = ("vars", "children", "hosts")


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else type(value).__name__


class YamlInventory:
    def __init__(self, graph: InventoryGraph, doc: Loaded) -> None:
        self.graph = graph
        self.doc = doc

    def parse(self) -> None:
        for name, body in self.doc.data.items():
            self.group(name, body, self.doc.data)

    def group(self, name: Any, body: Any, owner: dict[Any, Any]) -> Any:
        where = self.doc.where(owner, name)
        if not isinstance(body, (dict, type(None))):
            self.graph.warnings.append(
                f"{where}: skipped {name!r}: a group must be a mapping of hosts, children and vars"
            )
            return name
        name = self.graph.add_group(name, where)
        if body is None:
            return name
        for section in SECTIONS:
            value = body.get(section)
            if isinstance(value, str):
                body[section] = {value: None}
                self.doc.key_lines[id(body[section])] = {value: where.line or 0}
            elif not isinstance(value, (dict, type(None))):
                raise InputError(
                    f"{self.doc.where(body, section)}: '{section}' of group {name!r} is "
                    f"{_kind(value)}; write it as a mapping (one 'name:' per line)"
                )
        for key, value in body.items():
            if value is None:
                continue
            if not isinstance(value, dict) or key not in SECTIONS:
                self.graph.warnings.append(
                    f"{self.doc.where(body, key)}: skipped key {key!r} in group {name!r}: "
                    "only hosts, children and vars are read"
                )
            elif key == "vars":
                for var, val in value.items():
                    self.graph.set_var(self.graph.groups[name], var, val, self.doc.where(value, var))
            elif key == "children":
                for sub, sub_body in value.items():
                    child = self.group(sub, sub_body, value)
                    self.graph.add_child(name, child, self.doc.where(value, sub))
            else:
                for entry, host_vars in value.items():
                    self.hosts(name, entry, host_vars, value)
        return name

    def hosts(self, group: str, entry: Any, host_vars: Any, owner: dict[Any, Any]) -> None:
        where = self.doc.where(owner, entry)
        if not isinstance(entry, str):
            raise InputError(
                f"{where}: host {entry!r} must be a string; enclose numbers in quotation marks"
            )
        try:
            names, port = expand(entry)
        except RangeError as exc:
            raise InputError(
                f"{where}: bad host range in {entry!r}: {exc}; write ranges like val[01:20] "
                "or db-[a:f]"
            ) from None
        host_vars = host_vars or {}
        if not isinstance(host_vars, dict):
            raise InputError(
                f"{where}: variables of host {entry!r} are {_kind(host_vars)}; write them as "
                "a mapping (name: value)"
            )
        for name in names:
            self.graph.add_host(name, group, port, where)
            for var, val in host_vars.items():
                self.graph.set_var(self.graph.hosts[name], var, val, self.doc.where(host_vars, var))


def parse_yaml(graph: InventoryGraph, doc: Loaded) -> None:
    """Add a YAML inventory document (already loaded) to the graph."""
    YamlInventory(graph, doc).parse()
