"""Inventory behaviour that needs no oracle: examples, precedence, sources, warnings, speed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleetflame.inventory import load_inventories, select
from fleetflame.inventory.model import HostRecord

EXAMPLES = Path(__file__).parents[2] / "inventories"
BASTION = "ops@bastion.example.net:2222"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_mainnet_yaml_and_ini_are_the_same_fleet() -> None:
    from_yaml = select(load_inventories([EXAMPLES / "mainnet.yml"])).hosts
    from_ini = select(load_inventories([EXAMPLES / "mainnet.ini"])).hosts
    assert len(from_yaml) == 11
    assert from_yaml == from_ini


def test_mainnet_example_settings() -> None:
    inv = load_inventories([EXAMPLES / "mainnet.yml"])
    records = {h.name: h for h in select(inv).hosts}
    ams = records["val05.ams.example.net"]
    assert (ams.address, ams.user, ams.become, ams.proxy_jump) == ("198.51.100.7", "sol", True, BASTION)
    assert ams.identity_file == "~/.ssh/fleet_ed25519"
    assert records["val02.fra.example.net"].metrics_url == "http://127.0.0.1:7998/metrics"
    lab = records["test-b.lab.example.net"]
    assert (lab.user, lab.port, lab.become, lab.proxy_jump) == ("fd", 2222, False, None)
    assert {r.perf for r in records.values()} == {"/usr/local/bin/perf"}
    assert select(inv, "canary").names == ["val01.ams.example.net"]


def test_local_example() -> None:
    hosts = select(load_inventories([EXAMPLES / "local.yml"])).hosts
    assert hosts == [HostRecord(name="localhost", address="localhost", connection="local")]
    assert hosts[0].is_local and hosts[0].metrics_url == "http://127.0.0.1:7999/metrics"


def test_precedence(tmp_path: Path) -> None:
    _write(tmp_path, {
        "inv.yml": """
all:
  vars: {a: all, b: all, c: all, d: all, e: all}
  children:
    parent:
      vars: {a: parent, b: parent, c: parent}
      children:
        child:
          vars: {a: child, b: child}
          hosts:
            h1: {a: host}
    zeta:
      vars: {c: zeta}
      hosts: {h1: }
    alpha:
      vars: {c: alpha, d: alpha}
      hosts: {h1: }
""",
        "group_vars/all.yml": "e: all_file\nd: all_file\n",
        "group_vars/alpha.yml": "d: alpha_file\n",
    })
    inv = load_inventories([tmp_path / "inv.yml"])
    assert inv.host_vars("h1") == {"a": "host", "b": "child", "c": "zeta", "d": "alpha_file", "e": "all_file"}
    assert str(inv.host_origins("h1")["d"]).endswith("group_vars/alpha.yml:1")


def test_later_source_wins(tmp_path: Path) -> None:
    _write(tmp_path, {
        "one/inv.ini": "[g]\nh x=1 y=1\n",
        "two/inv.ini": "[g]\nh x=2\n",
        "two/host_vars/h.yml": "z: 2\n",
        "one/host_vars/h.yml": "z: 1\n",
    })
    inv = load_inventories([tmp_path / "one/inv.ini", tmp_path / "two/inv.ini"])
    assert inv.host_vars("h") == {"x": 2, "y": 1, "z": 2}


def test_host_list_source() -> None:
    inv = load_inventories(["lab01,lab02:2222,"])
    assert [(h.name, h.port) for h in select(inv).hosts] == [("lab01", None), ("lab02", 2222)]


def test_warnings_are_returned_not_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {
        "inv.yml": "web:\n  hosts: {w1: }\n  hostz: {w2: }\n",
        "group_vars/web.yml": "$ANSIBLE_VAULT;1.1;AES256\n6162\n",
    })
    inv = load_inventories([tmp_path / "inv.yml"])
    selection = select(inv, "web:nosuch")
    assert selection.names == ["w1"]
    assert selection.warnings == ["no group or host matches 'nosuch'; went on without it"]
    assert any("skipped key 'hostz'" in w for w in inv.warnings)
    assert any("vault-encrypted" in w for w in inv.warnings)
    assert capsys.readouterr() == ("", "")


def test_two_thousand_hosts_load_fast(tmp_path: Path) -> None:
    groups = "\n".join(
        f"    dc{d:02}:\n      vars: {{ansible_user: u{d}}}\n      hosts:\n"
        f"        val-{d:02}-[0001:0100].example.net:\n          ansible_port: 22"
        for d in range(20)
    )
    _write(tmp_path, {"fleet.yml": f"all:\n  vars: {{ansible_become: true}}\n  children:\n{groups}\n",
                      "group_vars/all.yml": "fleetflame_tmpdir: /var/tmp\n"})
    start = time.perf_counter()
    inv = load_inventories([tmp_path / "fleet.yml"])
    hosts = select(inv, "all:!dc03").hosts
    elapsed = time.perf_counter() - start
    assert len(inv.host_names) == 2000 and len(hosts) == 1900
    assert hosts[0].tmpdir == "/var/tmp" and hosts[-1].user == "u19"
    assert elapsed < 1.0, f"2,000 hosts took {elapsed:.2f}s"
