"""Ansible's connection settings that come from the environment or ansible.cfg, not the inventory.

An inventory variable (`ansible_user`, `ansible_ssh_common_args`, ...) wins over these, as in
Ansible. Each setting is read from the places ansible-core 2.19 reads it (the ssh connection
plugin's and the become settings' definitions): its environment variables, else its keys in the
one ansible.cfg Ansible picks (discovery.find_config_file). When several of the same kind are
set, the last one listed below wins, as ConfigManager._loop_entries does; a value from ansible.cfg
loses its surrounding quotes, as ensure_type does for ini values. Ansible's defaults are not
applied here: the caller knows what "not set" means (see records.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from fleetflame.inventory.discovery import _Notes, find_config_file, parse_config_file
from fleetflame.terminal import safe_line as printable

# setting: (environment variables, (section, key) in ansible.cfg), each in ansible-core's order.
SOURCES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "remote_port": (("ANSIBLE_REMOTE_PORT",), (("defaults", "remote_port"),)),
    "remote_user": (("ANSIBLE_REMOTE_USER",), (("defaults", "remote_user"),)),
    "private_key_file": (("ANSIBLE_PRIVATE_KEY_FILE",), (("defaults", "private_key_file"),)),
    "ssh_args": (("ANSIBLE_SSH_ARGS",), (("ssh_connection", "ssh_args"),)),
    "ssh_common_args": (("ANSIBLE_SSH_COMMON_ARGS",), (("ssh_connection", "ssh_common_args"),)),
    "ssh_extra_args": (("ANSIBLE_SSH_EXTRA_ARGS",), (("ssh_connection", "ssh_extra_args"),)),
    # The connection timeout reaches the ssh plugin through the play context (C.DEFAULT_TIMEOUT),
    # whose value beats the plugin's own ANSIBLE_SSH_TIMEOUT and [ssh_connection] timeout: those
    # two never take effect (see the oracle test), so they are not read.
    "timeout": (("ANSIBLE_TIMEOUT",), (("defaults", "timeout"),)),
    "host_key_checking": (
        ("ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"),
        (("defaults", "host_key_checking"), ("ssh_connection", "host_key_checking")),
    ),
    "ssh_executable": (("ANSIBLE_SSH_EXECUTABLE",), (("ssh_connection", "ssh_executable"),)),
    "become": (("ANSIBLE_BECOME",), (("privilege_escalation", "become"),)),
    "become_method": (("ANSIBLE_BECOME_METHOD",), (("privilege_escalation", "become_method"),)),
    "become_user": (("ANSIBLE_BECOME_USER",), (("privilege_escalation", "become_user"),)),
}


@dataclass(frozen=True)
class Setting:
    """A value, the name an operator knows it by, and the ansible.cfg it is in (None: the environment)."""

    value: str
    name: str
    where: str | None = None


def _unquote(value: str) -> str:
    """ansible.parsing.quoting.unquote."""
    if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'" and value[-2] != "\\":
        return value[1:-1]
    return value


class AnsibleSettings:
    """The settings above as Ansible would find them now (environment, current folder, HOME)."""

    def __init__(self, values: Mapping[str, Setting] | None = None, config_file: str | None = None) -> None:
        self._values = dict(values or {})
        self.config_file = config_file

    def get(self, setting: str) -> Setting | None:
        return self._values.get(setting)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, config_file: str | None = None) -> AnsibleSettings:
        """Read the environment and ansible.cfg (`config_file`, else the one Ansible would pick).
        InputError if that ansible.cfg cannot be read, as Ansible refuses it too."""
        env = os.environ if environ is None else environ
        if config_file is None:
            config_file = find_config_file(_Notes())  # its warnings are discovery's to give
        parser = parse_config_file(config_file) if config_file else None
        values: dict[str, Setting] = {}
        for setting, (env_names, keys) in SOURCES.items():
            found: Setting | None = None
            if parser is not None:
                for section, key in keys:
                    raw = parser.get(section, key, raw=True, fallback=None)
                    if raw is not None:
                        found = Setting(_unquote(raw), f"{key} in [{section}]", printable(config_file or ""))
            for name in env_names:
                if name in env:
                    found = Setting(env[name], name)
            if found is not None:
                values[setting] = found
        return cls(values, config_file)


NO_SETTINGS = AnsibleSettings()
