"""`group_vars/` and `host_vars/` beside an inventory, found as ansible-core's `host_group_vars` does.

For a group or host NAME, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists is
used. If it is a folder, every file in it (and in its sub-folders without an extension) is read in
sorted order, skipping hidden files, `*~` backups and extensions other than none/.yml/.yaml/.json.
A vault-encrypted file is skipped with a warning: fleetflame cannot decrypt it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fleetflame.errors import InputError
from fleetflame.inventory.data import Where, show_path
from fleetflame.inventory.yamlload import is_vault_file, load, read_text

VARS_EXTENSIONS = (".yml", ".yaml", ".json")

Layer = tuple[dict[str, Any], dict[str, Where]]


def _folder_files(path: str) -> list[str]:
    found: list[str] = []
    for name in sorted(os.listdir(path)):
        if name.startswith(".") or name.endswith("~"):
            continue
        full = os.path.join(path, name)
        ext = os.path.splitext(name)[1]
        if os.path.isdir(full) and not ext:
            found.extend(_folder_files(full))
        elif os.path.isfile(full) and (not ext or ext in VARS_EXTENSIONS):
            found.append(full)
    return found


@dataclass
class VarsDir:
    """The group_vars/ and host_vars/ of one inventory source directory."""

    base: str
    warnings: list[str] = field(default_factory=list)
    _listing: dict[str, set[str] | None] = field(default_factory=dict)
    _files: dict[str, Layer] = field(default_factory=dict)

    def _entries(self, kind: str) -> set[str] | None:
        if kind not in self._listing:
            folder = os.path.join(self.base, kind)
            if os.path.isdir(folder):
                self._listing[kind] = set(os.listdir(folder))
            else:
                if os.path.exists(folder):
                    self.warnings.append(f"{show_path(folder)} is not a directory; skipped it")
                self._listing[kind] = None
        return self._listing[kind]

    def files(self, kind: str, name: str) -> list[str]:
        entries = self._entries(kind)
        if entries is None or name.startswith(os.sep):
            return []
        first, _, _ = name.partition(os.sep)
        if first not in entries and not any(first + ext in entries for ext in VARS_EXTENSIONS):
            return []
        folder = os.path.join(self.base, kind)
        for candidate in (name, *(name + ext for ext in VARS_EXTENSIONS)):
            path = os.path.join(folder, candidate)
            if os.path.isdir(path):
                return _folder_files(path)
            if os.path.exists(path):
                return [path]
        return []

    def layer(self, kind: str, name: str) -> Layer:
        """The variables NAME gets from this directory (later files override earlier ones)."""
        merged: dict[str, Any] = {}
        origins: dict[str, Where] = {}
        for path in self.files(kind, name):
            data, where = self._load(path)
            merged.update(data)
            origins.update(where)
        return merged, origins

    def _load(self, path: str) -> Layer:
        if path not in self._files:
            shown = show_path(path)
            text = read_text(path, shown)
            if is_vault_file(text):
                self.warnings.append(f"{shown} is vault-encrypted; fleetflame cannot decrypt it and skipped it")
                self._files[path] = ({}, {})
                return self._files[path]
            doc = load(text, shown)
            if not doc.data:
                self._files[path] = ({}, {})
            elif not isinstance(doc.data, dict):
                raise InputError(f"{shown}: a vars file must be a mapping of names to values; fix its top level")
            else:
                self._files[path] = (doc.data, {k: doc.where(doc.data, k) for k in doc.data})
        return self._files[path]
