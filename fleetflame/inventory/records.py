"""Resolve a host's merged variables into the `HostRecord` the SSH layer uses (the README's variables table).

When both spellings are set, the older `ansible_ssh_*` one wins, as in Ansible's connection
settings. Values are taken as written: a Jinja template in a setting fleetflame uses is refused,
since fleetflame does not evaluate templates.
"""

from __future__ import annotations

import shlex
from typing import Any, Mapping

from fleetflame.errors import InputError
from fleetflame.inventory.data import Where
from fleetflame.inventory.model import DEFAULT_METRICS_URL, HostRecord
from fleetflame.inventory.yamlload import Vaulted

SSH_CONNECTIONS = frozenset(
    {"ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"}
)
LOCAL_CONNECTIONS = frozenset({"local", "ansible.builtin.local"})
TRUE_WORDS = frozenset({"y", "yes", "on", "1", "true", "t"})
FALSE_WORDS = frozenset({"n", "no", "off", "0", "false", "f"})


class _Resolver:
    def __init__(self, name: str, variables: Mapping[str, Any], origins: Mapping[str, Where]) -> None:
        self.name = name
        self.vars = variables
        self.origins = origins

    def fail(self, key: str, problem: str, todo: str) -> InputError:
        where = self.origins.get(key)
        prefix = f"{where}: " if where else ""
        return InputError(f"{prefix}host {self.name}: {key} {problem}; {todo}")

    def pick(self, *keys: str) -> tuple[str, Any]:
        for key in keys:
            if self.vars.get(key) is not None:
                return key, self.vars[key]
        return keys[-1], None

    def text(self, *keys: str) -> str | None:
        key, value = self.pick(*keys)
        if value is None:
            return None
        if isinstance(value, Vaulted):
            raise self.fail(key, "is vault-encrypted, which fleetflame cannot decrypt", "write it in plain text")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(key, f"is {value!r}, not a string", "give it a plain string value")
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            raise self.fail(key, f"{value!r} is a Jinja template, which fleetflame does not evaluate",
                            "write the resulting value directly")
        return str(value)

    def port(self) -> int | None:
        key, value = self.pick("ansible_ssh_port", "ansible_port")
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        if number is None or not 1 <= number <= 65535:
            raise self.fail(key, f"{value!r} is not a port number", "use an integer from 1 to 65535")
        return number

    def connection(self) -> str:
        value = self.text("ansible_connection")
        if value is None or value in SSH_CONNECTIONS:
            return "ssh"
        if value in LOCAL_CONNECTIONS:
            return "local"
        raise self.fail("ansible_connection", f"{value!r} is not supported",
                        "use ssh (also smart, paramiko) or local")

    def become(self) -> bool:
        value = self.vars.get("ansible_become")
        if value is None or isinstance(value, bool):
            return bool(value)
        word = str(value).strip().lower() if isinstance(value, (str, int, float)) else None
        if word in TRUE_WORDS or value == 1:
            return True
        if word in FALSE_WORDS or value == 0:
            return False
        raise self.fail("ansible_become", f"{value!r} is not a boolean", "use true or false (yes/no)")


def proxy_jump(common_args: str) -> str | None:
    """The ProxyJump given in ssh options (`-J X`, `-o ProxyJump=X`, `-o 'ProxyJump X'`)."""
    args = shlex.split(common_args)
    for i, arg in enumerate(args):
        if arg in ("-J", "-o"):
            value = args[i + 1] if i + 1 < len(args) else ""
        elif arg.startswith(("-J", "-o")):
            value = arg[2:]
        else:
            continue
        if arg.startswith("-J"):
            return value or None
        key, _, rest = value.replace("=", " ", 1).partition(" ")
        if key.lower() == "proxyjump":
            jump = rest.strip()
            return None if not jump or jump.lower() == "none" else jump
    return None


def resolve(name: str, variables: Mapping[str, Any], origins: Mapping[str, Where]) -> HostRecord:
    """The connection record of one host; a bad value is an InputError naming host and file."""
    r = _Resolver(name, variables, origins)
    common_args = r.text("ansible_ssh_common_args")
    try:
        jump = proxy_jump(common_args) if common_args else None
    except ValueError as exc:
        raise r.fail("ansible_ssh_common_args", f"cannot be split like a shell line ({exc})",
                     "balance its quotes") from None
    return HostRecord(
        name=name,
        address=r.text("ansible_ssh_host", "ansible_host") or name,
        port=r.port(),
        user=r.text("ansible_ssh_user", "ansible_user"),
        identity_file=r.text("ansible_ssh_private_key_file", "ansible_private_key_file"),
        connection=r.connection(),
        become=r.become(),
        ssh_common_args=common_args,
        proxy_jump=jump,
        metrics_url=r.text("fleetflame_metrics_url") or DEFAULT_METRICS_URL,
        perf=r.text("fleetflame_perf") or "perf",
        tmpdir=r.text("fleetflame_tmpdir") or "/tmp",
        variables=dict(variables),
    )


def host_record_to_json(record: HostRecord) -> dict[str, Any]:
    """Name and connection settings of a host, for `fleetflame hosts --json`."""
    return {
        "name": record.name,
        "address": record.address,
        "port": record.port,
        "user": record.user,
        "identity_file": record.identity_file,
        "connection": record.connection,
        "become": record.become,
        "ssh_common_args": record.ssh_common_args,
        "proxy_jump": record.proxy_jump,
        "metrics_url": record.metrics_url,
        "perf": record.perf,
        "tmpdir": record.tmpdir,
    }
