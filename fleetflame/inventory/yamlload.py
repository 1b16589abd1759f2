"""Read YAML / JSON the way Ansible's loader does (JSON first, then YAML), keeping key line numbers.

`!unsafe` values load as their plain value and `!vault` values as a `Vaulted` string holding
the ciphertext: fleetflame never templates or decrypts.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterator

import yaml

from fleetflame.errors import InputError
from fleetflame.inventory.data import Where

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Vaulted(str):
    """An Ansible-vault encrypted value, kept as its ciphertext."""


@dataclass
class Loaded:
    """A parsed document plus the line of every mapping key (when it came from YAML)."""

    data: Any
    path: str
    key_lines: dict[int, dict[Any, int]] = field(default_factory=dict)

    def where(self, mapping: Any, key: Any = None) -> Where:
        lines = self.key_lines.get(id(mapping), {})
        return Where(self.path, lines.get(key))


class _Loader(_Base):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[Any, int]] = {}

    def construct_marked_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))
        self.key_lines[id(data)] = {
            self.construct_object(key): key.start_mark.line + 1 for key, _ in node.value
        }

    def construct_unsafe(self, node: yaml.Node) -> Any:
        plain = copy.copy(node)
        plain.tag = self.resolve(type(node), node.value, (True, False))
        return self.construct_object(plain, deep=True)

    def construct_vault(self, node: yaml.Node) -> Vaulted:
        return Vaulted(self.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_marked_map)
_Loader.add_constructor("!unsafe", _Loader.construct_unsafe)
_Loader.add_constructor("!vault", _Loader.construct_vault)
_Loader.add_constructor("!vault-encrypted", _Loader.construct_vault)


def read_text(path: str, shown: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{shown}: cannot read it ({exc.strerror}); check the path and permissions") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


def is_vault_file(text: str) -> bool:
    return text.startswith("$ANSIBLE_VAULT;")


def load(text: str, shown: str) -> Loaded:
    """Parse JSON or YAML text; a syntax error is an InputError naming the line."""
    try:
        return Loaded(json.loads(text), shown)
    except ValueError:
        pass
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "syntax error"
        raise InputError(
            f"{Where(shown, line)}: not valid YAML ({problem}); fix the syntax at that line"
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{shown}: not valid YAML ({exc}); fix the file") from None
    finally:
        loader.dispose()
    return Loaded(data, shown, loader.key_lines)
