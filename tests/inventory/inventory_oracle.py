"""ansible-core as the oracle: the hosts a pattern selects and each host's variables.

Ansible walks a group's descendants through Python sets of Group objects, which hash by object
identity, so below the first level of children its host order changes from run to run (try
`ansible -i tests/inventory/fixtures/nested/hosts.yml all --list-hosts` a few times). For an exact
comparison the oracle pins that walk with an insertion-ordered set; fleetflame's order is
Ansible's order under that pinning (level by level, children in the order they were declared).
The CLI comparisons run unpinned ansible on inventories whose order does not depend on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

try:
    import ansible.inventory.group as _ansible_group
    from ansible import constants as C
    from ansible.inventory.manager import InventoryManager, split_host_pattern
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.inventory import expand_hostname_range
    from ansible.parsing.utils.addresses import parse_address
    from ansible.vars.manager import VariableManager

    IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the test environment
    IMPORT_ERROR = f"ansible-core is not importable ({exc}); `pip install ansible-core` to run the oracle"


class InsertionOrderedSet:
    """The part of the set API ansible.inventory.group uses, iterating in insertion order."""

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._items = dict.fromkeys(items)

    def add(self, item: Any) -> None:
        self._items[item] = None

    def update(self, items: Iterable[Any]) -> None:
        for item in items:
            self._items[item] = None

    def difference_update(self, items: Iterable[Any]) -> None:
        for item in list(items):
            self._items.pop(item, None)

    def copy(self) -> InsertionOrderedSet:
        return InsertionOrderedSet(self._items)

    def __contains__(self, item: Any) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


if IMPORT_ERROR is None:
    _ansible_group.set = InsertionOrderedSet  # type: ignore[attr-defined]


class Oracle:
    def __init__(self, sources: list[str]) -> None:
        self.loader = DataLoader()
        self.manager = InventoryManager(loader=self.loader, sources=sources)
        self.variables = VariableManager(loader=self.loader, inventory=self.manager)

    def hosts(self, pattern: str) -> list[str]:
        return [h.name for h in self.manager.get_hosts(pattern)]

    def host_vars(self, name: str) -> dict[str, Any]:
        host = self.manager.get_host(name)
        found = self.variables.get_vars(host=host, include_hostvars=False, stage="all")
        return {k: v for k, v in found.items() if k not in C.INTERNAL_STATIC_VARS}


def ansible_expand(pattern: str) -> tuple[list[str], int | None]:
    """What Ansible's inventory plugins make of one host entry."""
    try:
        name, port = parse_address(pattern, allow_ranges=True)
    except Exception:
        name, port = pattern, None
    return (expand_hostname_range(name) if "[" in name else [name]), port


def ansible_split(pattern: str) -> list[str]:
    return split_host_pattern(pattern)


def cli_env() -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    env.pop("ANSIBLE_CONFIG", None)
    return env


def ansible_inventory_setting() -> tuple[list[str], str | None]:
    """DEFAULT_HOST_LIST and the ansible.cfg it came from, resolved by ansible-core's own ConfigManager
    from this process's environment and current folder (what `ansible-config dump` prints)."""
    from ansible.config.manager import ConfigManager

    manager = ConfigManager()
    return [str(p) for p in manager.get_config_value("DEFAULT_HOST_LIST")], manager.get_config_value("CONFIG_FILE")


FAKE_SSH = """#!{python}
import json, os, sys, uuid
with open(os.path.join(os.environ["FAKE_SSH_OUT"], uuid.uuid4().hex + ".json"), "w") as out:
    json.dump(sys.argv, out)
sys.exit(255)
"""


def ansible_ssh_commands(inventory: str, env: dict[str, str], work: str) -> dict[str, list[str]]:
    """The ssh command line ansible-core builds for each host of `inventory`: `ansible all -m ping`
    runs with a stand-in `ssh` first in PATH, which records its argv and fails (the host is then
    unreachable, and nothing else is tried). `env` is the whole environment Ansible runs with;
    `work` is a scratch folder (HOME, the stand-in, its records), also the current folder."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(work)
    bin_dir, out = root / "bin", root / "argv"
    bin_dir.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    fake = bin_dir / "ssh"
    fake.write_text(FAKE_SSH.format(python=sys.executable))
    fake.chmod(0o755)
    ansible = Path(sys.executable).with_name("ansible")
    run_env = dict(env, PATH=f"{bin_dir}:{env.get('PATH', os.defpath)}", FAKE_SSH_OUT=str(out), HOME=str(root),
                   ANSIBLE_SSH_RETRIES="0", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    subprocess.run([str(ansible), "-i", inventory, "all", "-m", "ping", "--forks", "1"], cwd=root, env=run_env,
                   capture_output=True, text=True, timeout=120)
    found: dict[str, list[str]] = {}
    for record in out.glob("*.json"):
        import json

        argv = json.loads(record.read_text())
        found[argv[-2]] = argv
    return found


def openssh_settings(argv: list[str]) -> dict[str, list[str]]:
    """What OpenSSH makes of an ssh command line (`ssh -G`, no config file): option -> values.
    The destination and the remote command (the last two words) are replaced by a fixed host."""
    import subprocess

    done = subprocess.run(["ssh", "-G", "-F", "/dev/null", *argv[1:-2], "oracle.invalid"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    settings: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), []).append(value)
    return settings
