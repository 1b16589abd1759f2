"""Turn `-i` arguments into one inventory graph, as ansible-core's InventoryManager does.

Each `-i` is a file, a directory (every file in it, recursively, in sorted order, skipping hidden
names, group_vars/, host_vars/, vars_plugins/ and the extensions Ansible ignores), or a
comma-separated host list such as `lab01,lab02,`. Files with a .yml/.yaml/.json extension or none
are read as YAML when they hold a YAML mapping, others as INI. Dynamic inventory scripts,
inventory plugin configs and TOML inventories are refused: export them to a static file first.
"""

from __future__ import annotations

import os
import re

from fleetflame.errors import InputError
from fleetflame.inventory.data import InventoryGraph, Where, show_path
from fleetflame.inventory.hostnames import split_port
from fleetflame.inventory.inifile import parse_ini
from fleetflame.inventory.yamlfile import parse_yaml
from fleetflame.inventory.yamlload import is_vault_file, load

IGNORED_EXTENSIONS = (
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
)
_IGNORED = re.compile(
    r"^\.|^host_vars$|^group_vars$|^vars_plugins$|(?:"
    + "|".join(re.escape(ext) for ext in IGNORED_EXTENSIONS)
    + r")$"
)
YAML_EXTENSIONS = (".yml", ".yaml", ".json")
EXPORT_HINT = "export it with `ansible-inventory -i {src} --list --yaml > static.yml` and use that"


def is_host_list(source: str) -> bool:
    return "," in source and not os.path.exists(source)


def vars_base(source: str) -> str:
    """The directory whose group_vars/ and host_vars/ apply to this source."""
    path = source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))
    return os.path.realpath(path)


def add_source(graph: InventoryGraph, source: str) -> None:
    if is_host_list(source):
        _add_host_list(graph, source)
    elif not os.path.exists(source):
        raise InputError(f"inventory {source} not found; check the path given to -i")
    elif os.path.isdir(source):
        for name in sorted(os.listdir(source)):
            if not _IGNORED.search(name):
                add_source(graph, os.path.join(source, name))
    else:
        _add_file(graph, source)


def _add_host_list(graph: InventoryGraph, source: str) -> None:
    where = Where(f"-i {source}")
    for item in (part.strip() for part in source.split(",")):
        if not item:
            continue
        split = split_port(item)
        name, port = split if split and "[" not in split[0] else (item, None)
        if name not in graph.hosts:
            graph.add_host(name, "ungrouped", port, where)


def _add_file(graph: InventoryGraph, path: str) -> None:
    shown = show_path(path)
    raw = _read_bytes(path, shown)
    if raw.startswith(b"#!") and os.access(path, os.X_OK):
        raise InputError(f"{shown} is a dynamic inventory script, which fleetflame does not run; "
                         + EXPORT_HINT.format(src=shown))
    ext = os.path.splitext(path)[1]
    if ext == ".toml":
        raise InputError(f"{shown}: TOML inventories are not supported; " + EXPORT_HINT.format(src=shown))
    text = _decode(raw, shown)
    if is_vault_file(text):
        raise InputError(f"{shown} is vault-encrypted; fleetflame cannot decrypt it, keep the "
                         "inventory itself unencrypted")
    if ext in YAML_EXTENSIONS or not ext:
        _add_yaml_or_ini(graph, shown, text, yaml_named=bool(ext))
    else:
        parse_ini(graph, shown, text)


def _add_yaml_or_ini(graph: InventoryGraph, shown: str, text: str, yaml_named: bool) -> None:
    try:
        doc = load(text, shown)
        yaml_error = None
    except InputError as exc:
        doc, yaml_error = None, exc
    if doc is not None and isinstance(doc.data, dict):
        if doc.data.get("plugin"):
            raise InputError(f"{shown} configures the inventory plugin {doc.data['plugin']!r}, "
                             "which fleetflame does not run; " + EXPORT_HINT.format(src=shown))
        parse_yaml(graph, doc)
        return
    if doc is not None and doc.data is None:
        return
    try:
        parse_ini(graph, shown, text)
    except InputError as ini_error:
        if yaml_error is None:
            yaml_error = InputError(f"{shown}: a YAML inventory must be a mapping of group names; "
                                    "start it with `all:` and indent groups under it")
        if yaml_named:
            raise yaml_error from None
        raise InputError(f"{shown} is neither a YAML inventory ({yaml_error}) nor an INI one "
                         f"({ini_error})") from None


def _read_bytes(path: str, shown: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read it ({exc.strerror}); check the path and permissions") from None


def _decode(raw: bytes, shown: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            if line[:1] not in (b"#", b";"):
                raise InputError(f"{shown}:{number}: not UTF-8 text; save the file as UTF-8") from None
            lines.append("")
    return "\n".join(lines)


def build_graph(sources: list[str]) -> InventoryGraph:
    graph = InventoryGraph()
    for source in sources:
        add_source(graph, source)
    graph.finish()
    return graph

