"""INI inventories, read as ansible-core's `ini` inventory plugin reads them.

Lines before the first section belong to `ungrouped`. `[g]` lists hosts (`name k=v ...`, split
like a shell line, `#` starts a comment), `[g:children]` lists child groups, `[g:vars]` holds
`k = v` lines. Values go through Python's `ast.literal_eval` (so `2` is a number and `yes` stays a
string); that holds for `[g:vars]` too in ansible-core. A group may be used as a child before its
own section, but every group named must get a `[g]` or `[g:children]` section somewhere.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from dataclasses import dataclass, field
from typing import Any

from fleetflame.errors import InputError
from fleetflame.inventory.data import InventoryGraph, Where
from fleetflame.inventory.hostnames import RangeError, expand

_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?")
_GROUP_NAME = re.compile(r"([^:\]\s]+)\s*(?:#.*)?")
# `[mainnet` or `[mainnet:vars  # x`: a section header missing its `]`. No host line looks like
# this: a bracketed IPv6 address or a range closes its bracket within the first word.
_UNCLOSED_SECTION = re.compile(r"\[([^\]\s]*)(\s.*)?")


def parse_value(text: str) -> Any:
    """An INI value: a Python literal when it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is Ellipsis or isinstance(value, complex):
        return "..." if value is Ellipsis else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


@dataclass
class _Pending:
    """A group named before its own section: where, and which parents wait for it."""

    line: int
    kind: str
    parents: list[str] = field(default_factory=list)


class IniInventory:
    def __init__(self, graph: InventoryGraph, path: str) -> None:
        self.graph = graph
        self.path = path
        self.pending: dict[str, _Pending] = {}
        self.group = "ungrouped"
        self.kind = "hosts"

    def fail(self, line: int, problem: str, todo: str) -> InputError:
        return InputError(f"{Where(self.path, line)}: {problem}; {todo}")

    def parse(self, lines: list[str]) -> None:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if line and line[0] not in "#;":
                self.line(number, line)
        for name, pending in self.pending.items():
            if pending.kind == "vars":
                raise self.fail(
                    pending.line,
                    f"section [{name}:vars] is for a group that is never defined",
                    f"add a [{name}] or [{name}:children] section",
                )
            raise self.fail(
                pending.line,
                f"section [{pending.parents[-1]}:children] names undefined group {name!r}",
                f"add a [{name}] section or remove it from the children",
            )

    def line(self, number: int, line: str) -> None:
        m = _SECTION.fullmatch(line)
        if m:
            self.section(number, m.group(1), m.group(2) or "hosts")
        elif line.startswith("[") and line.endswith("]"):
            raise self.fail(
                number,
                f"invalid section header {line!r}",
                "write [group], [group:children] or [group:vars] without spaces",
            )
        elif m := _UNCLOSED_SECTION.fullmatch(line):
            name, rest = m.group(1), (m.group(2) or "").strip()
            plain = name and (not rest or rest.startswith("#"))
            raise self.fail(
                number,
                f"section header {line!r} has no closing ']'",
                f"write [{name}]" if plain else "write [group], [group:children] or [group:vars] without spaces",
            )
        elif self.kind == "hosts":
            self.host_line(number, line)
        elif self.kind == "vars":
            self.var_line(number, line)
        else:
            self.child_line(number, line)

    def section(self, number: int, name: str, kind: str) -> None:
        if kind not in ("hosts", "children", "vars"):
            raise self.fail(
                number, f"section [{name}:{kind}] has unknown type {kind!r}", "use :children or :vars"
            )
        self.group, self.kind = name, kind
        if name not in self.graph.groups:
            if kind == "vars" and name not in self.pending:
                self.pending[name] = _Pending(number, kind)
            self.graph.add_group(name, Where(self.path, number))
        pending = self.pending.get(name)
        if pending and kind != "vars":
            del self.pending[name]
            for parent in pending.parents if pending.kind == "children" else []:
                self.graph.add_child(parent, name, Where(self.path, pending.line))

    def host_line(self, number: int, line: str) -> None:
        where = Where(self.path, number)
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise self.fail(number, f"cannot split host line ({exc})", "balance the quotes") from None
        entry = tokens[0] if tokens else ""
        try:
            names, port = expand(entry)
        except RangeError as exc:
            raise self.fail(
                number, f"bad host range in {entry!r}: {exc}", "write ranges like val[01:20] or db-[a:f]"
            ) from None
        if entry.strip().endswith(":") and port is None:
            raise self.fail(number, f"host {entry!r} ends in ':'", "follow ':' with a port number or drop it")
        if "---" in (n.strip() for n in names):
            raise self.fail(number, "found '---'", "this looks like YAML: name the file *.yml")
        variables: dict[str, Any] = {}
        for token in tokens[1:]:
            if "=" not in token:
                raise self.fail(
                    number, f"expected key=value after the host name, got {token!r}", "write name=value"
                )
            key, value = token.split("=", 1)
            variables[key] = parse_value(value)
        for name in names:
            self.graph.add_host(name, self.group, port, where)
            host = self.graph.hosts[name]
            for key, value in variables.items():
                self.graph.set_var(host, key, value, where)

    def var_line(self, number: int, line: str) -> None:
        if "=" not in line:
            raise self.fail(number, f"expected key=value in [{self.group}:vars], got {line!r}", "write name=value")
        key, value = (part.strip() for part in line.split("=", 1))
        self.graph.set_var(self.graph.groups[self.group], key, parse_value(value), Where(self.path, number))

    def child_line(self, number: int, line: str) -> None:
        m = _GROUP_NAME.fullmatch(line)
        if not m:
            raise self.fail(number, f"expected a group name, got {line!r}", "list one group per line")
        child = m.group(1)
        if child in self.graph.groups:
            self.graph.add_child(self.group, child, Where(self.path, number))
        elif child in self.pending:
            self.pending[child].parents.append(self.group)
        else:
            self.pending[child] = _Pending(number, "children", [self.group])


def parse_ini(graph: InventoryGraph, path: str, text: str) -> None:
    """Add an INI inventory (its text, read from `path`) to the graph."""
    IniInventory(graph, path).parse(text.splitlines())
