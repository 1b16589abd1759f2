"""Host patterns, evaluated as ansible-core's `InventoryManager.get_hosts` evaluates them.

A pattern is split on `,` (or, without commas, on `:` and whitespace, unless the whole pattern is
one address such as `fe80::1` or `web[1:3]`). Plain parts are unioned in order, then `&part`s
intersect, then `!part`s exclude, whatever order they were written in. A part matches groups and
hosts by name (`*`/`?`/`[...]` globs, or a regex after `~`, matched from the start); a group
gives its hosts, its children's hosts, and so on. A subscript picks from the part's hosts:
`web[0]`, `web[-1]`, `web[1:3]` (inclusive), `web[2:]`.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetflame.errors import InputError
from fleetflame.inventory.data import LOCALHOST_NAMES, InventoryGraph
from fleetflame.inventory.hostnames import split_port

_PARTS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]")
_GLOB_CHARS = (".", "?", "*", "[")


def split_pattern(pattern: str) -> list[str]:
    """The parts of a pattern, as written (with their `&` / `!` prefixes)."""
    if "," in pattern:
        parts = pattern.split(",")
    elif split_port(pattern) is not None:
        parts = [pattern]
    else:
        parts = _PARTS.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


@dataclass
class Matcher:
    graph: InventoryGraph
    warnings: list[str] = field(default_factory=list)
    _cache: dict[str, list[str]] = field(default_factory=dict)

    def evaluate(self, pattern: str) -> list[str]:
        parts = split_pattern(pattern)
        plain = [p for p in parts if p[0] not in "&!"] or ["all"]
        ordered = plain + [p for p in parts if p[0] == "&"] + [p for p in parts if p[0] == "!"]
        hosts: list[str] = []
        for part in ordered:
            if part in self.graph.hosts:
                hosts.append(part)
                continue
            found = self.part(part[1:] if part[0] in "&!" else part)
            if part[0] == "!":
                excluded = set(found)
                hosts = [h for h in hosts if h not in excluded]
            elif part[0] == "&":
                kept = set(found)
                hosts = [h for h in hosts if h in kept]
            else:
                existing = set(hosts)
                hosts += [h for h in found if h not in existing]
        return list(dict.fromkeys(hosts))

    def part(self, text: str) -> list[str]:
        if not text:
            raise InputError("host pattern has an empty '&' or '!' part; put a group or host after it")
        if text not in self._cache:
            expr, subscript = self._subscript(text)
            hosts = self._matches(expr)
            self._cache[text] = self._pick(text, hosts, subscript)
        return self._cache[text]

    def _subscript(self, text: str) -> tuple[str, tuple[int, int | None] | None]:
        m = None if text[0] == "~" else _SUBSCRIPT.fullmatch(text)
        if not m:
            return text, None
        expr, index, start, sep, end = m.groups()
        if index:
            return expr, (int(index), None)
        if sep == "-":
            self._warn(f"use [x:y] inclusive subscripts instead of [x-y] in {text!r}")
        return expr, (int(start), int(end) if end else -1)

    def _pick(self, text: str, hosts: list[str], subscript: tuple[int, int | None] | None) -> list[str]:
        if not hosts or not subscript:
            return hosts
        start, end = subscript
        if end:
            return hosts[start : (len(hosts) if end == -1 else end + 1)]
        try:
            return [hosts[start]]
        except IndexError:
            raise InputError(
                f"host pattern {text!r}: index {start} is out of range ({len(hosts)} hosts match "
                f"the part before it); use an index from 0 to {len(hosts) - 1} or -1 for the last"
            ) from None

    def _matches(self, expr: str) -> list[str]:
        match = self._compile(expr)
        groups = [g for g in self.graph.groups if match(g)]
        hosts = [h for g in groups for h in self.graph.members(g)]
        if not groups or expr[0] == "~" or any(c in expr for c in _GLOB_CHARS):
            hosts += [h for h in self.graph.hosts if match(h)]
        if not hosts and expr in LOCALHOST_NAMES:
            implicit = self.graph.lookup(expr)
            if implicit is not None:
                hosts.append(implicit.name)
        if not hosts and not groups and expr != "all":
            close = difflib.get_close_matches(expr, [*self.graph.groups, *self.graph.hosts], n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self._warn(f"no group or host matches {expr!r}{hint}")
        return hosts

    def _compile(self, expr: str) -> Callable[[str], re.Match[str] | None]:
        try:
            regex = re.compile(expr[1:] if expr[0] == "~" else fnmatch.translate(expr))
        except re.error as exc:
            raise InputError(
                f"host pattern {expr!r} is not a valid {'regex' if expr[0] == '~' else 'glob'} "
                f"({exc}); fix the pattern"
            ) from None
        return regex.match

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def match(graph: InventoryGraph, pattern: str) -> tuple[list[str], list[str]]:
    """Host names selected by `pattern` in Ansible's order, and warnings about unmatched parts."""
    matcher = Matcher(graph)
    return matcher.evaluate(pattern), matcher.warnings
