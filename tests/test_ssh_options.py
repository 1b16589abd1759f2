"""Ansible's SSH settings, honoured or refused, never ignored.

The ssh options of ssh_args (ansible.cfg), ansible_ssh_common_args and ansible_ssh_extra_args
are parsed as ssh parses them, combined with ansible_port & co in the order Ansible writes its
ssh command line (first value wins, as in ssh), and each one is mapped onto asyncssh, known to
change nothing, or refused with one `error:` line naming the host, the variable, the option and
what to do, before any host is touched. tests/inventory/test_ssh_oracle.py compares the
precedence with ansible-core and `ssh -G`; the lab test at the end connects through a real
ProxyCommand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetflame.connection.proxycommand import ProxyCommand
from fleetflame.connection.settings import SshSettings
from fleetflame.connection.ssh import _host_options
from fleetflame.errors import InputError
from fleetflame.inventory import Inventory
from fleetflame.inventory.ansiblecfg import AnsibleSettings, Setting
from fleetflame.inventory.model import HostRecord
from fleetflame.inventory.records import resolve
from fleetflame.inventory.sshargs import expand_proxy_command

from .lab import LabFleet


def record(settings: AnsibleSettings | None = None, **variables: Any) -> HostRecord:
    return resolve("val01", variables, {}, settings or AnsibleSettings())


def common(args: str, **variables: Any) -> HostRecord:
    return record(ansible_ssh_common_args=args, **variables)


# ---- parsing: the forms ssh accepts ----------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    ["-o Port=2222", "-o Port 2222", "-o 'Port 2222'", "-oPort=2222", "-o 'Port = 2222'", "-o port=2222",
     "-o PORT=2222", "-p 2222", "-p2222", "-qp 2222", "-Cqp2222", "-o Port='2222'"],
)
def test_port_forms(args: str) -> None:
    # `-o Port 2222` is two words for ssh: -o's argument is "Port", which has no value; refused
    if args == "-o Port 2222":
        with pytest.raises(InputError, match="-o Port has no value"):
            common(args)
        return
    assert common(args).port == 2222


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        ("-l ops", "user", "ops"),
        ("-lops", "user", "ops"),
        ("-o User=ops", "user", "ops"),
        ("-o user=\"ops\"", "user", "ops"),
        ("-i /k", "identity_files", ("/k",)),
        ("-i/k -o IdentityFile=/k2", "identity_files", ("/k", "/k2")),
        ("-J ops@b:2222", "proxy_jump", "ops@b:2222"),
        ("-Jb1,b2", "proxy_jump", "b1,b2"),
        ("-o ProxyJump=none", "proxy_jump", "none"),
        ("-J ssh://ops@b:2222,[2001:db8::1]:22", "proxy_jump", "ssh://ops@b:2222,[2001:db8::1]:22"),
        ("-o ProxyCommand=\"ssh -W %h:%p -q bastion\"", "proxy_command", "ssh -W %h:%p -q bastion"),
        ("-o 'ProxyCommand ssh -W %h:%p \"my bastion\"'", "proxy_command", "ssh -W %h:%p \"my bastion\""),
        ("-o proxycommand=none", "proxy_command", "none"),
        ("-o ServerAliveInterval=30", "keepalive_interval", 30),
        ("-o ServerAliveInterval=1m30s", "keepalive_interval", 90),
        ("-o ServerAliveInterval=0", "keepalive_interval", 0),
        ("-o ServerAliveCountMax=2", "keepalive_count_max", 2),
        ("-o TCPKeepAlive=no", "tcp_keepalive", False),
        ("-C", "compression", True),
        ("-o Compression=no", "compression", False),
        ("-o IdentitiesOnly=yes", "identities_only", True),
        ("-o StrictHostKeyChecking=accept-new", "strict_host_key_checking", "accept-new"),
        ("-o StrictHostKeyChecking=ask", "strict_host_key_checking", "yes"),
        ("-o StrictHostKeyChecking=yes", "strict_host_key_checking", "yes"),
        ("-o 'UserKnownHostsFile=/a /b'", "known_hosts_files", ("/a", "/b")),
        ("-o UserKnownHostsFile=~/kh", "known_hosts_files", (os.path.expanduser("~/kh"),)),
        ("-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=accept-new", "known_hosts_files", ("/dev/null",)),
    ],
)
def test_honoured_options(args: str, field: str, value: Any) -> None:
    assert getattr(common(args), field) == value


@pytest.mark.parametrize(
    "args",
    ["-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=~/.ansible/cp/%C",
     "-o ForwardAgent=yes -A -a -X -x -Y", "-q -v -vvv -o LogLevel=QUIET", "-o BatchMode=yes", "-T -n",
     "-o RequestTTY=no", "-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no",
     "-o PreferredAuthentications=gssapi-with-mic,publickey", "-o PubkeyAuthentication=yes",
     "-o NumberOfPasswordPrompts=1 -o AddKeysToAgent=yes -k", "  ", ""],
)
def test_options_with_no_effect_are_accepted(args: str) -> None:
    assert dataclasses.replace(common(args), ssh_common_args=None) == record()


# ---- precedence: Ansible's order, ssh's first-wins --------------------------------------------


def test_inventory_variables_beat_common_and_extra_args() -> None:
    # Ansible writes -o Port=/IdentityFile=/User= before ssh_common_args and ssh_extra_args
    rec = common("-o Port=3333 -l other -i /k2", ansible_port=2222, ansible_user="sol",
                 ansible_ssh_private_key_file="/k1", ansible_ssh_extra_args="-p 4444 -i /k3")
    assert (rec.port, rec.user, rec.identity_files) == (2222, "sol", ("/k1", "/k2", "/k3"))


def test_common_args_beat_extra_args_and_the_first_value_wins() -> None:
    rec = common("-o Port=3333 -p 3334 -o ServerAliveInterval=5", ansible_ssh_extra_args="-o Port=4444 -C")
    assert (rec.port, rec.keepalive_interval, rec.compression) == (3333, 5, True)


def test_ssh_args_beat_inventory_variables() -> None:
    # ssh_args come first of all on Ansible's command line
    cfg = AnsibleSettings({"ssh_args": Setting("-o Port=5555 -o ConnectTimeout=7", "ssh_args in [ssh_connection]", "/x/ansible.cfg")})
    rec = record(cfg, ansible_port=2222, ansible_timeout=30)
    assert (rec.port, rec.connect_timeout) == (5555, 7)
    assert record(cfg, ansible_ssh_args="-o Port=6000").port == 6000  # the variable beats ansible.cfg


def test_connect_timeout_in_common_args_never_applies() -> None:
    # Ansible always writes its own ConnectTimeout (ansible_timeout, default 10) before them
    assert common("-o ConnectTimeout=99").connect_timeout is None  # the run's --connect-timeout
    assert common("-o ConnectTimeout=99", ansible_timeout=5).connect_timeout == 5
    assert record(ansible_ssh_timeout=44, ansible_timeout=33).connect_timeout == 44
    assert record(ansible_timeout="33").connect_timeout == 33


def test_environment_beats_ansible_cfg_and_inventory_beats_both(tmp_path: Path) -> None:
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\nremote_user = cfguser\ntimeout = 21\nremote_port=2200\n"
                      "[ssh_connection]\nssh_common_args = '-o ServerAliveInterval=9'\ntimeout = 22\n"
                      "[privilege_escalation]\nbecome = True\n")
    only_cfg = AnsibleSettings.load(environ={}, config_file=str(config))
    rec = record(only_cfg)
    assert (rec.user, rec.connect_timeout, rec.port, rec.keepalive_interval, rec.become) == ("cfguser", 21, 2200, 9, True)
    env = {"ANSIBLE_REMOTE_USER": "envuser", "ANSIBLE_TIMEOUT": "23", "ANSIBLE_SSH_TIMEOUT": "24"}
    both = AnsibleSettings.load(environ=env, config_file=str(config))
    assert (record(both).user, record(both).connect_timeout) == ("envuser", 23)
    assert record(both, ansible_user="sol").user == "sol"


def test_ansible_cfg_is_found_as_ansible_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ansible.cfg").write_text("[ssh_connection]\nssh_args = -o ServerAliveCountMax=2\n")
    (tmp_path / "inv.ini").write_text("val01\n")
    monkeypatch.chdir(tmp_path)
    tmp_path.chmod(0o755)
    for name in list(os.environ):
        if name.startswith("ANSIBLE_"):
            monkeypatch.delenv(name)
    assert Inventory([tmp_path / "inv.ini"]).record("val01").keepalive_count_max == 2


# ---- ProxyCommand --------------------------------------------------------------------------


def test_proxy_command_tokens_expand_as_in_ssh() -> None:
    assert expand_proxy_command("ssh -W %h:%p -l %r %n 100%%", "10.0.0.7", 2222, "sol", "val07") == \
        "ssh -W 10.0.0.7:2222 -l sol val07 100%"


def test_proxy_command_runs_with_sh_and_carries_the_connection() -> None:
    async def go() -> tuple[bytes, str, int | None]:
        proxy = await ProxyCommand.start("sh -c 'echo %h:%p:%r:%n:%%:$0 >&2; exec cat'", "10.0.0.7", 22, "sol", "val07")
        reader, writer = await asyncio.open_connection(sock=proxy.sock)
        writer.write(b"SSH-2.0-x\r\n")
        echoed = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        said = await proxy.failure(wait=10)
        await proxy.close()
        return echoed, said, proxy.process.returncode

    echoed, said, status = asyncio.run(go())
    assert echoed == b"SSH-2.0-x\r\n"
    assert said == "the ProxyCommand exited with status 0 and said: 10.0.0.7:22:sol:val07:%:sh"
    assert status == 0


def test_a_proxy_command_that_fails_says_why() -> None:
    async def go() -> str:
        proxy = await ProxyCommand.start("echo no route to %h >&2; exit 3", "bastion", 22, "u", "h")
        said = await proxy.failure(wait=10)
        await proxy.close()
        return said

    # `exec echo ...; exit 3`: as in ssh, the first command replaces the shell
    assert asyncio.run(go()) == "the ProxyCommand exited with status 0 and said: no route to bastion"


def test_host_options_for_asyncssh() -> None:
    settings = SshSettings(connect_timeout=10, keepalive_interval=15, keepalive_count_max=4)
    rec = common("-o ServerAliveInterval=0 -C -o IdentitiesOnly=yes -i /k -o UserKnownHostsFile=/kh -o TCPKeepAlive=no",
                 ansible_timeout=30)
    assert _host_options(rec, settings) == {
        "connect_timeout": 30, "keepalive_interval": 0, "keepalive_count_max": 4, "tcp_keepalive": False,
        "compression_algs": ["zlib@openssh.com", "zlib", "none"], "client_keys": ["/k"],
        "agent_identities": ["/k"], "known_hosts": ["/kh"],
    }
    assert _host_options(record(), settings) == {"connect_timeout": 10, "keepalive_interval": 15, "keepalive_count_max": 4}


# ---- refusals: one line, naming host, variable, option and what to do --------------------------

CFG = AnsibleSettings({
    "ssh_args": Setting("-C -o ControlMaster=auto -o ExitOnForwardFailure=yes", "ssh_args in [ssh_connection]",
                        "/srv/validators/ansible.cfg"),
})
ENV = AnsibleSettings({"ssh_extra_args": Setting("-D 1080", "ANSIBLE_SSH_EXTRA_ARGS")})

REFUSALS: list[tuple[str, dict[str, Any], AnsibleSettings | None, str, str, str]] = [
    ("port forward", {"ansible_ssh_common_args": "-L 8080:localhost:80"}, None,
     "ansible_ssh_common_args", "-L 8080:localhost:80", "remove it"),
    ("no host key checking", {"ansible_ssh_extra_args": "-o StrictHostKeyChecking=no"}, None,
     "ansible_ssh_extra_args", "-o StrictHostKeyChecking=no", "use StrictHostKeyChecking=accept-new"),
    ("unknown keyword", {"ansible_ssh_common_args": "-o HostKeyAlgorithms=+ssh-rsa"}, None,
     "ansible_ssh_common_args", "-o HostKeyAlgorithms=+ssh-rsa", "remove it; fleetflame honours Port"),
    ("stray word", {"ansible_ssh_common_args": "-J ops@b bastion"}, None,
     "ansible_ssh_common_args", "'bastion' is not an ssh option", "remove it"),
    ("both proxies", {"ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p b' -J j"}, None,
     "ansible_ssh_common_args", "-J j is a -J after a ProxyCommand", "and no ProxyCommand"),
    ("both proxies across variables", {"ansible_ssh_common_args": "-J j", "ansible_ssh_extra_args": "-o 'ProxyCommand=nc %h %p'"},
     None, "ansible_ssh_extra_args", "-o ProxyCommand=nc %h %p and -J j", "keep one of the two"),
    ("bad jump host", {"ansible_ssh_common_args": "-J ops@b:ssh"}, None, "ansible_ssh_common_args",
     "-J ops@b:ssh is not a jump host list", "[user@]host[:port]"),
    ("two -J", {"ansible_ssh_common_args": "-J a -J b"}, None, "ansible_ssh_common_args", "-J b", "-J hop1,hop2"),
    ("unknown token", {"ansible_ssh_common_args": "-o ProxyCommand='nc %x %p'"}, None,
     "ansible_ssh_common_args", "token %x", "use %h, %p, %r, %n or %%"),
    ("bad port", {"ansible_ssh_common_args": "-o Port=http"}, None, "ansible_ssh_common_args", "-o Port=http",
     "use an integer from 1 to 65535"),
    ("bad shadowed time", {"ansible_ssh_common_args": "-o ConnectTimeout=soon"}, None,
     "ansible_ssh_common_args", "-o ConnectTimeout=soon", "use seconds"),
    ("terminal", {"ansible_ssh_extra_args": "-tt"}, None, "ansible_ssh_extra_args", "-t asks for a terminal", "remove it"),
    ("config file", {"ansible_ssh_common_args": "-F ./ssh.cfg"}, None, "ansible_ssh_common_args", "-F ./ssh.cfg",
     "remove it"),
    ("no known hosts", {"ansible_ssh_common_args": "-o UserKnownHostsFile=none"}, None, "ansible_ssh_common_args",
     "-o UserKnownHostsFile=none", "name a file"),
    ("passwords only", {"ansible_ssh_common_args": "-o PreferredAuthentications=password"}, None,
     "ansible_ssh_common_args", "-o PreferredAuthentications=password", "add publickey"),
    ("quotes", {"ansible_ssh_common_args": "-o 'ProxyJump x"}, None, "ansible_ssh_common_args",
     "cannot be split like a shell line", "balance its quotes"),
    ("host key checking off", {"ansible_host_key_checking": False}, None, "ansible_host_key_checking",
     "StrictHostKeyChecking=no", "set it to true"),
    ("su", {"ansible_become": True, "ansible_become_method": "su"}, None, "ansible_become_method", "'su'",
     "use sudo"),
    ("become another user", {"ansible_become": True, "ansible_become_user": "postgres"}, None,
     "ansible_become_user", "'postgres'", "set it to root"),
    ("wrapper", {"ansible_ssh_executable": "/usr/local/bin/tsh-ssh"}, None, "ansible_ssh_executable",
     "'/usr/local/bin/tsh-ssh'", "reach the host with ssh options"),
    ("key text", {"ansible_ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, None,
     "ansible_ssh_private_key", "a key's text", "ansible_ssh_private_key_file"),
    ("timeout", {"ansible_timeout": "soon"}, None, "ansible_timeout", "'soon'", "whole number of seconds"),
    ("nasty address in %h", {"ansible_host": "x;touch y", "ansible_ssh_common_args": "-o ProxyCommand='nc %h %p'"},
     None, "ansible_host", "'x;touch y'", "plain name or address"),
    ("nasty user in %r", {"ansible_user": "a;b", "ansible_ssh_common_args": "-o ProxyCommand='ssh -l %r -W %h:%p b'"},
     None, "ansible_ssh_common_args", "'a;b'", "plain user name"),
    ("ansible.cfg", {}, CFG, "ssh_args in [ssh_connection]", "-o ExitOnForwardFailure=yes", "remove it"),
    ("environment", {}, ENV, "ANSIBLE_SSH_EXTRA_ARGS", "-D 1080 (a SOCKS proxy)", "remove it"),
]


@pytest.mark.parametrize(("variables", "settings", "variable", "option", "todo"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusals_name_host_variable_option_and_fix(variables: dict[str, Any], settings: AnsibleSettings | None,
                                                    variable: str, option: str, todo: str) -> None:
    with pytest.raises(InputError) as caught:
        record(settings, **variables)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "\n" not in message
    assert "host val01: " in message and f"{variable}" in message, message
    assert option in message, message
    assert todo in message.split("; ", 1)[1], message


def test_refusal_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("[mainnet]\nval01\n[mainnet:vars]\nansible_ssh_common_args='-L 1:a:2'\n")
    with pytest.raises(InputError, match=r"inv\.ini:4: host val01: ansible_ssh_common_args: -L 1:a:2 "):
        Inventory([tmp_path / "inv.ini"], settings=AnsibleSettings()).record("val01")
    with pytest.raises(InputError, match=r"^/srv/validators/ansible\.cfg: host val01: ssh_args in \[ssh_connection\]: "):
        record(CFG)


def test_become_checks_apply_only_when_becoming() -> None:
    assert record(ansible_become_method="su", ansible_become_user="postgres").become is False
    assert record(ansible_become=True, ansible_become_user="root", ansible_become_method="sudo").become is True
    assert record(ansible_become=True, ansible_become_method="ansible.builtin.sudo").become is True
    assert record(ansible_ssh_executable="/usr/bin/ssh").port is None


def test_local_hosts_ignore_ssh_options() -> None:
    rec = record(ansible_connection="local", ansible_ssh_common_args="-L 1:a:2")
    assert rec.is_local


def test_the_command_line_refuses_before_touching_any_host(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        "val01": {"ansible_host": "127.0.0.250", "ansible_port": 9},
        "val02": {"ansible_host": "127.0.0.250", "ansible_port": 9,
                  "ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p bastion' -o StrictHostKeyChecking=no"},
    }}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    for command in (["hosts"], ["check"], ["run", "all", "--out", str(tmp_path / "out")]):
        done = subprocess.run([sys.executable, "-m", "fleetflame", *command, "-i", str(inventory)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if not line.startswith("inventory: ")]  # `hosts` names it
        (line,) = lines
        assert line.startswith("error: ") and "host val02: ansible_ssh_common_args: -o StrictHostKeyChecking=no" in line
        assert "connect" not in done.stdout
    listed = subprocess.run([sys.executable, "-m", "fleetflame", "hosts", "--json", "-i", str(inventory), "-l", "val01"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert json.loads(listed.stdout)[0]["connect_timeout"] is None


# ---- the lab: a real ProxyCommand through another host -------------------------------------


@pytest.mark.root
@pytest.mark.lab
def test_ssh_options_on_real_sshd(make_lab: Callable[..., LabFleet], tmp_path: Path) -> None:
    """lab03 through a ProxyCommand via lab01; lab02 through a ProxyCommand that fails; lab01 with
    options of its own; lab04 with `ProxyJump none` against a dead ProxyJump in ~/.ssh/config."""
    lab = make_lab(4, load=1, log_level="DEBUG1")
    bastion, target = lab.host("lab01"), lab.host("lab03")
    via = f"ssh -F {lab.ssh_config} -p {bastion.port} -W %h:%p root@{bastion.addr}"
    new_known = tmp_path / "new_known_hosts"
    lab.ssh_config.write_text(f"Host {lab.host('lab04').addr}\n    ProxyJump root@127.0.0.250:9\n"
                              + lab.ssh_config.read_text())
    inventory = lab.write_inventory(tmp_path / "inv.yml", host_vars={
        "lab01": {"ansible_ssh_common_args": f"-C -o ServerAliveInterval=5 -o IdentitiesOnly=yes "
                                             f"-o UserKnownHostsFile={new_known} -o StrictHostKeyChecking=accept-new"},
        "lab02": {"ansible_ssh_extra_args": f"-o 'ProxyCommand ssh -F {lab.ssh_config} -p 9 -W %h:%p root@127.0.0.250'"},
        "lab03": {"ansible_ssh_common_args": f"-o ProxyCommand=\"{via}\""},
        "lab04": {"ansible_ssh_common_args": "-o ProxyJump=none"},
    })
    forwarded = re.compile(rf"server_request_direct_tcpip: originator \S+ port \d+, target {re.escape(target.addr)} "
                           rf"port {target.port}\b")
    assert not forwarded.search(bastion.sshd_log())
    done = subprocess.run([sys.executable, "-m", "fleetflame", "tiles", "net", "-i", str(inventory), "--json"],
                          capture_output=True, text=True, timeout=120, env=lab.env())
    rows = {row["host"]: row for row in json.loads(done.stdout)}
    assert {h for h, row in rows.items() if row["status"] == "ok"} == {"lab01", "lab03", "lab04"}, done.stdout + done.stderr
    # lab03's session went through lab01, and the ProxyCommand ended with fleetflame
    assert forwarded.search(bastion.sshd_log()), bastion.sshd_log()[-3000:]
    leftover = subprocess.run(["pgrep", "-f", f"-W {target.addr}:{target.port}"], capture_output=True, text=True)
    assert not leftover.stdout.strip(), "the ProxyCommand outlived fleetflame"
    # a failing ProxyCommand: what it said ends the host's error
    error = rows["lab02"]["error"]
    assert error.startswith(f"cannot connect to lab02 ({lab.host('lab02').addr}:{lab.port}) through its ProxyCommand: "), error
    assert error.endswith("the ProxyCommand exited with status 255 and said: "
                          "ssh: connect to host 127.0.0.250 port 9: Connection refused"), error
    # lab01: compression, its own known_hosts file (new, so accept-new recorded the key there)
    assert "compression: zlib@openssh.com" in bastion.sshd_log()
    assert f"[{bastion.addr}]:{bastion.port} ssh-ed25519 " in new_known.read_text()
    assert lab.known_hosts.read_text().count(f"[{bastion.addr}]:{bastion.port} ") == 1  # the lab's own line only


def test_jump_hosts_are_opened_where_ssh_would() -> None:
    from fleetflame.connection.bastions import BastionPool

    opened: list[tuple[str, int | None, str | None, object]] = []

    async def fake_open_ssh(label: str, host: str, port: int | None, settings: SshSettings, *, user: str | None = None,
                            tunnel: object = None) -> str:
        opened.append((host, port, user, tunnel))
        return f"conn:{host}"

    import fleetflame.connection.ssh as ssh_module

    original = ssh_module.open_ssh
    ssh_module.open_ssh = fake_open_ssh  # type: ignore[assignment]
    try:
        asyncio.run(BastionPool(SshSettings()).get("ssh://ops@b1:2222,[2001:db8::1]:22"))
    finally:
        ssh_module.open_ssh = original
    assert opened == [("b1", 2222, "ops", None), ("2001:db8::1", 22, None, "conn:b1")]


@pytest.mark.parametrize(
    ("args", "jump", "command"),
    [  # what `ssh -G` says for each (OpenSSH 9)
        ("-J x -o ProxyCommand=none", "x", None),
        ("-o ProxyJump=x -o ProxyCommand=none", "x", None),
        ("-o ProxyCommand=none -o ProxyJump=x", None, "none"),
        ("-o ProxyJump=none -o 'ProxyCommand=nc %h %p'", "none", "nc %h %p"),
        ("-J none -o 'ProxyCommand=nc %h %p'", "none", "nc %h %p"),
        ("-o 'ProxyCommand=nc %h %p' -o ProxyJump=none", "none", "nc %h %p"),
        ("-J y -o ProxyJump=x", "y", None),
        ("-o ProxyJump=x -o ProxyJump=y", "x", None),
    ],
)
def test_proxy_combinations_as_ssh(args: str, jump: str | None, command: str | None) -> None:
    rec = common(args)
    assert (rec.proxy_jump, rec.proxy_command) == (jump, command)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("-o ProxyCommand=none -J x", "is a -J after a ProxyCommand"),
        ("-o 'ProxyCommand=nc %h %p' -J none", "is a -J after a ProxyCommand"),
        ("-o ProxyJump=none -J x", "is a second -J"),
        ("-o ProxyJump=x -J y", "is a second -J"),
        ("-o ProxyJump=x -o 'ProxyCommand=nc %h %p'", "are both set"),
    ],
)
def test_proxy_combinations_ssh_refuses(args: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        common(args)


def test_identities_only_without_identity_files_offers_no_agent_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_*: no default identity either
    options = _host_options(common("-o IdentitiesOnly=yes"), SshSettings())
    assert options["agent_path"] is None and "agent_identities" not in options
    assert _host_options(common("-o IdentitiesOnly=no"), SshSettings())["agent_identities"] is None


def test_host_key_checking_off_in_ansible_cfg_says_how_to_override_it(tmp_path: Path) -> None:
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\nhost_key_checking = False\n")
    with pytest.raises(InputError) as caught:
        record(AnsibleSettings.load(environ={}, config_file=str(config)))
    assert str(caught.value).startswith(f"{config}: host val01: host_key_checking in [defaults]: false (Ansible passes "
                                        "-o StrictHostKeyChecking=no) turns host key checking off")
    assert "run fleetflame with ANSIBLE_HOST_KEY_CHECKING=true" in str(caught.value)
    fixed = AnsibleSettings.load(environ={"ANSIBLE_HOST_KEY_CHECKING": "true"}, config_file=str(config))
    assert record(fixed).strict_host_key_checking is None
