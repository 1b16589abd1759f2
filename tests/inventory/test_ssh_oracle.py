"""SSH settings against ansible-core and OpenSSH: for each host, the ssh command line ansible-core
builds (from the inventory, ansible.cfg and the environment) is handed to `ssh -G`, and what
OpenSSH would use must be what fleetflame resolved: port, user, identity files, proxy, timeouts,
keepalives, host-key policy, known_hosts files, compression."""

from __future__ import annotations

import getpass
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetflame.inventory import Inventory
from fleetflame.inventory.ansiblecfg import AnsibleSettings
from fleetflame.inventory.model import HostRecord
from inventory_oracle import IMPORT_ERROR

pytestmark = [
    pytest.mark.skipif(IMPORT_ERROR is not None, reason=IMPORT_ERROR or ""),
    pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client (ssh -G)"),
]

HOSTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "vars": {"ansible_port": 2222, "ansible_user": "sol", "ansible_ssh_private_key_file": "KEYS/k1",
             "ansible_timeout": 33},
    # ansible_* come before ssh_common_args on Ansible's command line: they win
    "vars_beat_args": {
        "ansible_port": 2222, "ansible_user": "sol", "ansible_ssh_private_key_file": "KEYS/k1",
        "ansible_ssh_common_args": "-o Port=3333 -o User=x -p 4444 -l y -i KEYS/k2 -o ConnectTimeout=99",
    },
    "args_only": {
        "ansible_ssh_common_args": "-p 4444 -l y -o ServerAliveInterval=7 -oServerAliveCountMax=2 -C "
                                   "-o StrictHostKeyChecking=accept-new -o 'UserKnownHostsFile ~/kh1 /kh2'",
        "ansible_ssh_extra_args": "-o Port=5 -o 'ServerAliveInterval 1m'",
    },
    "proxy_command": {
        "ansible_ssh_common_args": "-o ProxyCommand=\"ssh -W %h:%p -q bastion\"",
        "ansible_ssh_extra_args": "-o ProxyCommand=other",
    },
    "proxy_jump": {"ansible_ssh_common_args": "-J ops@b:2222", "ansible_ssh_extra_args": "-o ProxyJump=x"},
    "jump_none": {"ansible_ssh_common_args": "-o ProxyJump=none"},
    "jump_uri": {"ansible_ssh_common_args": "-J ssh://ops@b:2222,[2001:db8::1]:22 -o ProxyCommand=none"},
    "command_none_first": {"ansible_ssh_common_args": "-o ProxyCommand=none", "ansible_ssh_extra_args": "-o ProxyJump=b"},
    "jump_none_first": {"ansible_ssh_common_args": "-o ProxyJump=none", "ansible_ssh_extra_args": "-o 'ProxyCommand=nc %h %p'"},
    "proxy_tokens": {"ansible_ssh_common_args": "-o 'ProxyCommand=nc -X connect -x proxy:3128 %h %p # %r %n 100%%'"},
    "timeouts": {"ansible_ssh_timeout": 44, "ansible_timeout": 33},
    "spellings": {"ansible_ssh_port": 2, "ansible_port": 1, "ansible_ssh_user": "old", "ansible_user": "new",
                  "ansible_ssh_private_key_file": "KEYS/k2", "ansible_private_key_file": "KEYS/k1"},
    "extra": {"ansible_ssh_extra_args": "-oIdentitiesOnly=yes -o TCPKeepAlive=no -oPort=5 -i KEYS/k2",
              "ansible_host_key_checking": True},
    # ssh_args come first of all: they beat ansible_port and ansible_user
    "ssh_args_var": {"ansible_ssh_args": "-o Port=6000 -o User=argsuser -o ConnectTimeout=12 -C",
                     "ansible_port": 2222, "ansible_user": "sol"},
    "no_effect": {"ansible_ssh_common_args": "-o ControlMaster=auto -o ControlPersist=60s -o ForwardAgent=yes "
                                             "-q -T -o LogLevel=ERROR -o BatchMode=yes -o StrictHostKeyChecking=yes"},
}

CONFIG = """\
[defaults]
remote_user = cfguser
remote_port = 2200
timeout = 21
private_key_file = KEYS/k3
[ssh_connection]
ssh_args = "-o ServerAliveInterval=9 -o IdentityFile=KEYS/k4"
ssh_common_args = -o StrictHostKeyChecking=accept-new
timeout = 22
"""

ENV = {"ANSIBLE_SSH_ARGS": "-o ServerAliveCountMax=7", "ANSIBLE_REMOTE_USER": "envuser", "ANSIBLE_TIMEOUT": "23",
       "ANSIBLE_SSH_EXTRA_ARGS": "-oTCPKeepAlive=no", "ANSIBLE_SSH_TIMEOUT": "24"}

SCENARIOS = {"inventory only": (False, {}), "ansible.cfg": (True, {}), "ansible.cfg and environment": (True, ENV)}


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}


def _expected(record: HostRecord, home: Path) -> dict[str, Any]:
    """fleetflame's record in `ssh -G`'s words (None where fleetflame leaves ssh's default)."""
    def expand(path: str) -> str:
        return str(home / path[2:]) if path.startswith("~/") else path

    return {
        "port": str(record.port or 22),
        "user": record.user or getpass.getuser(),
        "identityfile": [expand(p) for p in record.identity_files] or None,
        "proxycommand": None if record.proxy_command in (None, "none") else record.proxy_command,
        "proxyjump": None if record.proxy_jump in (None, "none") else record.proxy_jump,
        "connecttimeout": str(record.connect_timeout or 10),  # no value: --connect-timeout, 10 as Ansible's
        "serveraliveinterval": None if record.keepalive_interval is None else str(record.keepalive_interval),
        "serveralivecountmax": None if record.keepalive_count_max is None else str(record.keepalive_count_max),
        "stricthostkeychecking": {None: "ask", "yes": "true", "accept-new": "accept-new"}[record.strict_host_key_checking],
        "userknownhostsfile": None if record.known_hosts_files is None else [expand(p) for p in record.known_hosts_files],
        "compression": "yes" if record.compression else "no",
        "identitiesonly": "yes" if record.identities_only else "no",
        "tcpkeepalive": "no" if record.tcp_keepalive is False else "yes",
    }


SSH_DEFAULTS = {"serveraliveinterval": "0", "serveralivecountmax": "3"}


def _openssh(settings: dict[str, list[str]], expected: dict[str, Any]) -> dict[str, Any]:
    """`ssh -G`'s values in the shape of `_expected` (None: ssh's default, where fleetflame has its own)."""
    out: dict[str, Any] = {}
    for key, want in expected.items():
        values = settings.get(key, [])
        if key == "identityfile":
            out[key] = None if want is None else values
        elif key == "userknownhostsfile":
            out[key] = None if want is None else values[0].split()
        else:
            value = values[0] if values else None
            out[key] = None if want is None and value == SSH_DEFAULTS.get(key) else value
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_ssh_settings_are_what_openssh_makes_of_ansibles_command_line(scenario: str, tmp_path: Path) -> None:
    with_config, extra_env = SCENARIOS[scenario]
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("k1", "k2", "k3", "k4"):
        (keys / name).write_text("not a key\n")  # ssh -G drops an -i file that does not exist
    hosts = {}
    for i, (name, values) in enumerate(HOSTS.items()):
        text = yaml.safe_dump(values).replace("KEYS/", f"{keys}/")
        hosts[name] = {"ansible_host": f"10.9.0.{i + 1}", **yaml.safe_load(text)}
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    env = dict(_clean_environment(), **extra_env)
    config = ""
    if with_config:
        config = str(tmp_path / "ansible.cfg")
        Path(config).write_text(CONFIG.replace("KEYS/", f"{keys}/"))
        env["ANSIBLE_CONFIG"] = config
    from inventory_oracle import ansible_ssh_commands, openssh_settings

    commands = ansible_ssh_commands(str(inventory), env, str(tmp_path))
    assert len(commands) == len(HOSTS), sorted(commands)
    ours = Inventory([inventory], settings=AnsibleSettings.load(environ=env, config_file=config))
    for name in HOSTS:
        record = ours.record(name)
        expected = _expected(record, tmp_path)
        if not with_config and "ansible_ssh_args" not in HOSTS[name]:
            # Ansible's default ssh_args, `-C -o ControlMaster=auto -o ControlPersist=60s`, are
            # not applied: fleetflame compresses only when told to (README, Inventories).
            expected["compression"] = "yes"
        if "BatchMode=yes" in str(HOSTS[name]) and record.keepalive_interval is None:
            # ssh's BatchMode also sets ServerAliveInterval=300 when nothing else sets it;
            # fleetflame keeps its own keepalive (15 s, 4 missed) there.
            expected["serveraliveinterval"] = "300"
        got = _openssh(openssh_settings(commands[record.address]), expected)
        assert got == expected, (name, commands[record.address])


def test_the_oracle_sees_precedence(tmp_path: Path) -> None:
    """The cases above really disagree where precedence matters (else the comparison proves little)."""
    ours = Inventory([_write(tmp_path, HOSTS)], settings=AnsibleSettings())
    assert (ours.record("vars_beat_args").port, ours.record("vars_beat_args").user) == (2222, "sol")
    assert ours.record("args_only").port == 4444
    assert ours.record("ssh_args_var").port == 6000
    assert ours.record("timeouts").connect_timeout == 44
    assert ours.record("proxy_command").proxy_command == "ssh -W %h:%p -q bastion"


def _write(tmp_path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return inventory
