"""Connection settings: inventory variables resolved into HostRecord (CONTRACT.md table)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from fleetflame.errors import InputError
from fleetflame.inventory import host_record_to_json
from fleetflame.inventory.model import DEFAULT_METRICS_URL, HostRecord
from fleetflame.inventory.records import proxy_jump, resolve


def record(**variables: Any) -> HostRecord:
    return resolve("val01", variables, {})


@pytest.mark.parametrize(
    ("args", "jump"),
    [
        ("-o ProxyJump=ops@bastion:2222", "ops@bastion:2222"),
        ("-oProxyJump=bastion", "bastion"),
        ("-o 'ProxyJump bastion'", "bastion"),
        ('-o "ProxyJump = a,b"', "a,b"),
        ("-J bastion", "bastion"),
        ("-Jops@bastion", "ops@bastion"),
        ("-o proxyjump=bastion", "bastion"),
        ("-o StrictHostKeyChecking=accept-new -o ProxyJump=b1 -o ProxyJump=b2", "b1"),
        ("-o ProxyCommand='ssh -W %h:%p bastion'", None),
        ("-o ProxyJump=none", "none"),
        ("-o ProxyJump=None -o ProxyJump=b", "none"),
        ("-C -o ServerAliveInterval=10", None),
    ],
)
def test_proxy_jump_forms(args: str, jump: str | None) -> None:
    assert proxy_jump(args) == jump
    assert record(ansible_ssh_common_args=args).proxy_jump == jump


def test_defaults() -> None:
    assert record() == HostRecord(name="val01", address="val01")
    rec = record()
    assert (rec.connection, rec.become, rec.metrics_url, rec.perf, rec.tmpdir) == (
        "ssh", False, DEFAULT_METRICS_URL, "perf", "/tmp",
    )


def test_every_contract_variable() -> None:
    rec = record(
        ansible_host="198.51.100.7", ansible_port=2222, ansible_user="sol",
        ansible_ssh_private_key_file="~/.ssh/id", ansible_connection="smart", ansible_become="yes",
        ansible_ssh_common_args="-J ops@b", fleetflame_metrics_url="http://127.0.0.1:7998/metrics",
        fleetflame_perf="/opt/perf", fleetflame_tmpdir="/var/tmp", custom={"kept": True},
    )
    assert host_record_to_json(rec) == {
        "name": "val01", "address": "198.51.100.7", "port": 2222, "user": "sol",
        "identity_file": "~/.ssh/id", "identity_files": [os.path.expanduser("~/.ssh/id")],
        "connection": "ssh", "become": True, "ssh_common_args": "-J ops@b", "proxy_jump": "ops@b",
        "proxy_command": None, "connect_timeout": None, "keepalive_interval": None,
        "keepalive_count_max": None, "tcp_keepalive": None, "compression": None, "identities_only": None,
        "strict_host_key_checking": None, "known_hosts_files": None,
        "metrics_url": "http://127.0.0.1:7998/metrics", "perf": "/opt/perf", "tmpdir": "/var/tmp",
    }
    assert rec.variables["custom"] == {"kept": True}
    json.dumps(host_record_to_json(rec))


def test_older_spellings_win_when_both_are_set() -> None:
    rec = record(ansible_host="new", ansible_ssh_host="old", ansible_port=1, ansible_ssh_port=2,
                 ansible_user="new", ansible_ssh_user="old")
    assert (rec.address, rec.port, rec.user) == ("old", 2, "old")
    assert record(ansible_ssh_host="10.0.0.1").address == "10.0.0.1"
    assert record(ansible_private_key_file="k").identity_file == "k"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("yes", True), ("no", False), ("True", True), ("false", False),
     ("1", True), ("0", False), (1, True), (0, False), ("on", True), (" Off ", False), (None, False)],
)
def test_become_booleans(value: Any, expected: bool) -> None:
    assert record(ansible_become=value).become is expected


@pytest.mark.parametrize("value", ["maybe", 2, "", [True]])
def test_become_rejects_non_booleans(value: Any) -> None:
    with pytest.raises(InputError, match="host val01: ansible_become .* is not a boolean"):
        record(ansible_become=value)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("ssh", "ssh"), ("smart", "ssh"), ("paramiko", "ssh"), ("ansible.builtin.ssh", "ssh"),
     ("local", "local"), ("ansible.builtin.local", "local")],
)
def test_connections(value: str, kind: str) -> None:
    assert record(ansible_connection=value).connection == kind


@pytest.mark.parametrize("value", ["docker", "winrm", "community.docker.docker"])
def test_unsupported_connection(value: str) -> None:
    with pytest.raises(InputError, match=f"host val01: ansible_connection '{value}' is not supported"):
        record(ansible_connection=value)


@pytest.mark.parametrize(("value", "port"), [(22, 22), ("2222", 2222), (65535, 65535)])
def test_ports(value: Any, port: int) -> None:
    assert record(ansible_port=value).port == port


@pytest.mark.parametrize("value", [0, 65536, -1, "abc", "22a", True, 22.5, [22]])
def test_bad_ports(value: Any) -> None:
    with pytest.raises(InputError, match="host val01: ansible_port .* is not a port number; use an integer"):
        record(ansible_port=value)
