"""Resolve a host's merged variables into the `HostRecord` the SSH layer uses (the README's variables table).

When both spellings of a variable are set, the `ansible_ssh_*` one wins, as in Ansible's ssh
connection plugin (the last of its `vars` entries wins). A setting the inventory leaves out is
taken from the environment or ansible.cfg, as Ansible does (ansiblecfg.py). The ssh options of
`ssh_args`, `ansible_ssh_common_args` and `ansible_ssh_extra_args` are combined with the other
settings in the order Ansible puts them on ssh's command line, and each option's first value
wins, as in ssh (sshargs.py). Every option is honoured or refused with an InputError naming the
host, the variable, the option and what to do; none is dropped.

Values are taken as written: a Jinja template in a setting fleetflame uses is refused, since
fleetflame does not evaluate templates.
"""

from __future__ import annotations

import decimal
import os
import re
from typing import Any, Mapping

from fleetflame.errors import InputError
import fleetflame.inventory.sshargs as sshargs
from fleetflame.inventory.ansiblecfg import NO_SETTINGS, AnsibleSettings, Setting
from fleetflame.inventory.data import Where
from fleetflame.inventory.model import DEFAULT_METRICS_URL, HostRecord
from fleetflame.inventory.sshargs import Option, Refused
from fleetflame.inventory.yamlload import Vaulted

SSH_CONNECTIONS = frozenset(
    {"ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"}
)
LOCAL_CONNECTIONS = frozenset({"local", "ansible.builtin.local"})
TRUE_WORDS = frozenset({"y", "yes", "on", "1", "true", "t"})
FALSE_WORDS = frozenset({"n", "no", "off", "0", "false", "f"})
SUDO = frozenset({"sudo", "ansible.builtin.sudo"})
RUN_DEFAULT = "<the run's default>"  # the source of a value fleetflame's command line gives


class _Resolver:
    def __init__(self, name: str, variables: Mapping[str, Any], origins: Mapping[str, Where],
                 settings: AnsibleSettings) -> None:
        self.name = name
        self.vars = variables
        self.origins = origins
        self.settings = settings
        self.places: dict[str, str] = {}  # setting name -> where it is written, for messages

    def fail(self, key: str, problem: str, todo: str) -> InputError:
        """`FILE:LINE: host NAME: VARIABLE PROBLEM; TODO` (a PROBLEM naming an option starts with ':')."""
        where = self.places.get(key) or self.origins.get(key)
        prefix = f"{where}: " if where else ""
        space = "" if problem.startswith(":") else " "
        return InputError(f"{prefix}host {self.name}: {key}{space}{problem}; {todo}")

    def pick(self, *keys: str) -> tuple[str, Any]:
        for key in keys:
            if self.vars.get(key) is not None:
                return key, self.vars[key]
        return keys[-1], None

    def setting(self, keys: tuple[str, ...], setting: str | None = None) -> tuple[str, Any]:
        """The first variable of `keys` that is set, else the environment's or ansible.cfg's `setting`."""
        key, value = self.pick(*keys)
        if value is None and setting is not None:
            found: Setting | None = self.settings.get(setting)
            if found is not None:
                if found.where:
                    self.places[found.name] = found.where
                return found.name, found.value
        return key, value

    def text(self, *keys: str, setting: str | None = None) -> tuple[str, str | None]:
        key, value = self.setting(keys, setting)
        if value is None:
            return key, None
        if isinstance(value, Vaulted):
            raise self.fail(key, "is vault-encrypted, which fleetflame cannot decrypt", "write it in plain text")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.fail(key, f"is {value!r}, not a string", "give it a plain string value")
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            raise self.fail(key, f"{value!r} is a Jinja template, which fleetflame does not evaluate",
                            "write the resulting value directly")
        return key, str(value)

    def value(self, *keys: str, setting: str | None = None) -> str | None:
        return self.text(*keys, setting=setting)[1]

    def integer(self, keys: tuple[str, ...], setting: str, low: int, high: int, what: str,
                todo: str) -> tuple[str, int | None]:
        key, value = self.setting(keys, setting)
        if value is None:
            return key, None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:  # as Ansible's ensure_type(value, 'int'): "30" and "30.0", not "30.5"
                exact = decimal.Decimal(value.strip())
                number = int(exact) if exact == int(exact) else None
            except (decimal.DecimalException, ValueError):
                number = None
        if number is None or not low <= number <= high:
            raise self.fail(key, f"{value!r} is not {what}", todo)
        return key, number

    def boolean(self, keys: tuple[str, ...], setting: str | None = None) -> tuple[str, bool | None]:
        key, value = self.setting(keys, setting)
        if value is None or isinstance(value, bool):
            return key, value
        word = str(value).strip().lower() if isinstance(value, (str, int, float)) else None
        if word in TRUE_WORDS or value == 1:
            return key, True
        if word in FALSE_WORDS or value == 0:
            return key, False
        raise self.fail(key, f"{value!r} is not a boolean", "use true or false (yes/no)")

    def connection(self) -> str:
        value = self.value("ansible_connection")
        if value is None or value in SSH_CONNECTIONS:
            return "ssh"
        if value in LOCAL_CONNECTIONS:
            return "local"
        raise self.fail("ansible_connection", f"{value!r} is not supported",
                        "use ssh (also smart, paramiko) or local")

    def become(self) -> bool:
        key, become = self.boolean(("ansible_become",), "become")
        if not become:
            return False
        method_key, method = self.text("ansible_become_method", setting="become_method")
        if method is not None and method not in SUDO:
            raise self.fail(method_key, f"{method!r} is not supported: fleetflame becomes root with sudo -n only",
                            "use sudo, or log in as root (ansible_user: root) without become")
        user_key, user = self.text("ansible_become_user", setting="become_user")
        if user is not None and user != "root":
            raise self.fail(user_key, f"{user!r} is not supported: perf needs root, so fleetflame becomes root only",
                            "set it to root, or remove it for this host")
        return True

    def executable(self) -> None:
        key, value = self.text("ansible_ssh_executable", setting="ssh_executable")
        if value is not None and os.path.basename(value) != "ssh":
            raise self.fail(key, f"{value!r} cannot be used: fleetflame connects with its own SSH client",
                            "reach the host with ssh options instead (ProxyJump, ProxyCommand in "
                            "ansible_ssh_common_args), or remove it")
        key, value = self.text("ansible_ssh_private_key", "ansible_private_key")
        if value is not None:
            raise self.fail(key, "(a key's text) is not supported", "save the key to a file and name it in "
                            "ansible_ssh_private_key_file")

    def options(self, key: str, text: str | None) -> list[Option]:
        if not text:
            return []
        try:
            return sshargs.parse(text, key)
        except ValueError as exc:
            if isinstance(exc, Refused):
                raise self.fail(key, f": {exc.option} {exc.problem}", exc.todo) from None
            raise self.fail(key, f"cannot be split like a shell line ({exc})", "balance its quotes") from None

    def ssh(self) -> dict[str, Any]:
        """The SSH settings of the host: Ansible's ssh command line, as ssh would read it."""
        self.executable()
        args_key, ssh_args = self.text("ansible_ssh_args", setting="ssh_args")
        common_key, common = self.text("ansible_ssh_common_args", setting="ssh_common_args")
        extra_key, extra = self.text("ansible_ssh_extra_args", setting="ssh_extra_args")
        # Ansible's order (Connection._build_command); ssh keeps the first value of each option.
        order: list[Option] = self.options(args_key, ssh_args)
        hkc_key, checking = self.boolean(("ansible_ssh_host_key_checking", "ansible_host_key_checking"),
                                         "host_key_checking")
        if checking is False:
            order.append(Option("StrictHostKeyChecking", ("no",), "false (Ansible passes -o StrictHostKeyChecking=no)",
                                hkc_key))
        port_key, port = self.integer(("ansible_ssh_port", "ansible_port"), "remote_port", 1, 65535,
                                      "a port number", "use an integer from 1 to 65535")
        if port is not None:
            order.append(Option("Port", (str(port),), str(port), port_key))
        key_key, key = self.text("ansible_ssh_private_key_file", "ansible_private_key_file",
                                 setting="private_key_file")
        if key:
            order.append(Option("IdentityFile", (os.path.expanduser(key),), key, key_key))
        user_key, user = self.text("ansible_ssh_user", "ansible_user", setting="remote_user")
        if user:
            order.append(Option("User", (user,), user, user_key))
        timeout_key, timeout = self.integer(("ansible_ssh_timeout", "ansible_timeout"), "timeout", 1, 86400 * 7,
                                            "a number of seconds", "use a whole number of seconds, e.g. 30")
        # Ansible always passes a ConnectTimeout (its default: 10 s, here the run's --connect-timeout),
        # so one in ssh_common_args or ssh_extra_args never applies, as with Ansible.
        order.append(Option("ConnectTimeout", (str(timeout),), str(timeout), timeout_key) if timeout is not None
                     else Option("ConnectTimeout", ("0",), "--connect-timeout", RUN_DEFAULT))
        order += self.options(common_key, common)
        order += self.options(extra_key, extra)
        try:
            found = sshargs.evaluate(order)
            sshargs.check_effective(found)
        except Refused as exc:
            source = exc.source or common_key
            todo = exc.todo
            if source == hkc_key and exc.option.startswith("false"):
                override = (", or run fleetflame with ANSIBLE_HOST_KEY_CHECKING=true (it beats ansible.cfg)"
                            if source in self.places else "")
                todo = (f"set it to true{override}: fleetflame always checks host keys (--accept-new-host-keys "
                        "trusts hosts not yet in known_hosts, never a changed key)")
            raise self.fail(source, f": {exc.option} {exc.problem}", todo) from None
        return self.mapped(found)

    def mapped(self, found: sshargs.Effective) -> dict[str, Any]:
        def first(keyword: str) -> Option | None:
            return found.get(keyword)

        def seconds(keyword: str, positive: bool) -> int | None:
            option = first(keyword)
            if option is None or option.source == RUN_DEFAULT:
                return None
            value = sshargs.parse_time(option)
            if positive and value == 0:
                raise self.fail(option.source, f": {option.written} is 0", "use a positive number of seconds")
            return value

        def flag(keyword: str) -> bool | None:
            option = first(keyword)
            return None if option is None else sshargs.yes_no(option)

        out: dict[str, Any] = {}
        port, user = first("Port"), first("User")
        out["port"] = int(port.value) if port else None
        out["user"] = user.value if user else None
        out["identity_files"] = tuple(os.path.expanduser(o.value) for o in found.identity_files)
        jump, command = first("ProxyJump"), first("ProxyCommand")
        out["proxy_jump"] = ("none" if jump.value.lower() == "none" else jump.value) if jump else None
        out["proxy_command"] = command.value if command else None
        out["connect_timeout"] = seconds("ConnectTimeout", positive=True)
        out["keepalive_interval"] = seconds("ServerAliveInterval", positive=False)
        count = first("ServerAliveCountMax")
        out["keepalive_count_max"] = int(count.value) if count else None
        out["tcp_keepalive"] = flag("TCPKeepAlive")
        out["compression"] = flag("Compression")
        out["identities_only"] = flag("IdentitiesOnly")
        strict = first("StrictHostKeyChecking")
        out["strict_host_key_checking"] = None if strict is None else (
            "accept-new" if strict.value.lower() == "accept-new" else "yes")
        known = first("UserKnownHostsFile")
        out["known_hosts_files"] = tuple(os.path.expanduser(p) for p in known.args) if known else None
        if command is not None and command.value != "none":
            self.check_proxy_tokens(command, out["user"])
        return out

    def check_proxy_tokens(self, command: Option, user: str | None) -> None:
        """ssh puts %h, %n and %r unquoted into the shell line it runs; refuse values that a shell
        would read as more than a name, as OpenSSH 9.6 refuses them (valid_hostname, valid_ruser)."""
        tokens = set(re.findall(r"%(.)", command.value.replace("%%", "")))
        address_key, address = self.text("ansible_ssh_host", "ansible_host")
        if tokens & {"h", "n"} and not sshargs.safe_for_proxy_command("host", address or self.name):
            raise self.fail(address_key if address else "inventory name", f"{address or self.name!r} has characters "
                            f"a shell would interpret, and {command.written} puts it in a shell line (%h)",
                            "give the host's plain name or address")
        if "r" in tokens and user is not None and not sshargs.safe_for_proxy_command("user", user):
            raise self.fail(command.source, f": {command.written} puts the user {user!r}, which has characters a "
                            "shell would interpret, into a shell line (%r)", "use a plain user name")


def proxy_jump(common_args: str) -> str | None:
    """The ProxyJump given in ssh options (`-J X`, `-o ProxyJump=X`, `-o 'ProxyJump X'`), as ssh
    reads it: the first one wins; `none` is returned as "none" (it turns off ~/.ssh/config's)."""
    jump = sshargs.evaluate(sshargs.parse(common_args)).get("ProxyJump")
    return None if jump is None else ("none" if jump.value.lower() == "none" else jump.value)


def resolve(name: str, variables: Mapping[str, Any], origins: Mapping[str, Where],
            settings: AnsibleSettings = NO_SETTINGS) -> HostRecord:
    """The connection record of one host; a bad value is an InputError naming host and file.
    `settings` are Ansible's settings from the environment and ansible.cfg (ansiblecfg.py)."""
    r = _Resolver(name, variables, origins, settings)
    connection = r.connection()
    ssh = r.ssh() if connection == "ssh" else _local_ssh(r)
    key = r.value("ansible_ssh_private_key_file", "ansible_private_key_file", setting="private_key_file")
    return HostRecord(
        name=name,
        address=r.value("ansible_ssh_host", "ansible_host") or name,
        identity_file=key,
        connection=connection,
        become=r.become(),
        ssh_common_args=r.value("ansible_ssh_common_args", setting="ssh_common_args"),
        metrics_url=r.value("fleetflame_metrics_url") or DEFAULT_METRICS_URL,
        perf=r.value("fleetflame_perf") or "perf",
        tmpdir=r.value("fleetflame_tmpdir") or "/tmp",
        variables=dict(variables),
        **ssh,
    )


def _local_ssh(r: _Resolver) -> dict[str, Any]:
    """A local host is not reached over SSH, so Ansible reads none of its ssh options; its port
    and user are kept (and checked) for `hosts --json`."""
    port = r.integer(("ansible_ssh_port", "ansible_port"), "remote_port", 1, 65535, "a port number",
                     "use an integer from 1 to 65535")[1]
    return {"port": port, "user": r.value("ansible_ssh_user", "ansible_user", setting="remote_user")}


def host_record_to_json(record: HostRecord) -> dict[str, Any]:
    """Name and connection settings of a host, for `fleetflame hosts --json`."""
    return {
        "name": record.name,
        "address": record.address,
        "port": record.port,
        "user": record.user,
        "identity_file": record.identity_file,
        "identity_files": list(record.identity_files),
        "connection": record.connection,
        "become": record.become,
        "ssh_common_args": record.ssh_common_args,
        "proxy_jump": record.proxy_jump,
        "proxy_command": record.proxy_command,
        "connect_timeout": record.connect_timeout,
        "keepalive_interval": record.keepalive_interval,
        "keepalive_count_max": record.keepalive_count_max,
        "tcp_keepalive": record.tcp_keepalive,
        "compression": record.compression,
        "identities_only": record.identities_only,
        "strict_host_key_checking": record.strict_host_key_checking,
        "known_hosts_files": None if record.known_hosts_files is None else list(record.known_hosts_files),
        "metrics_url": record.metrics_url,
        "perf": record.perf,
        "tmpdir": record.tmpdir,
    }
