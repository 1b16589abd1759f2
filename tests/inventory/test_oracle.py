"""fleetflame against ansible-core on hard inventory/pattern pairs: same hosts, same order, same vars."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from fleetflame.errors import InputError
from fleetflame.inventory import Inventory, load_inventories, select
from fleetflame.inventory.hostnames import RangeError, expand
from fleetflame.inventory.patterns import split_pattern
from inventory_oracle import IMPORT_ERROR

pytestmark = pytest.mark.skipif(IMPORT_ERROR is not None, reason=IMPORT_ERROR or "")

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parents[2] / "inventories"

SOURCES: dict[str, list[Path]] = {
    "nested": [FIXTURES / "nested" / "hosts.yml"],
    "flat": [FIXTURES / "flat.ini"],
    "multi": [FIXTURES / "multi" / "one" / "hosts.yml", FIXTURES / "multi" / "two" / "hosts.ini"],
    "multi_reversed": [FIXTURES / "multi" / "two" / "hosts.ini", FIXTURES / "multi" / "one" / "hosts.yml"],
    "dir": [FIXTURES / "dirinv"],
    "names": [FIXTURES / "names.yml"],
    "mainnet_yml": [EXAMPLES / "mainnet.yml"],
    "mainnet_ini": [EXAMPLES / "mainnet.ini"],
    "local": [EXAMPLES / "local.yml"],
}

PATTERNS: dict[str, list[str]] = {
    "nested": [
        "all", "mainnet", "testnet", "ams", "mainnet:testnet", "mainnet,testnet",
        "mainnet:&testnet", "mainnet:!canary", "ams:fra:&canary", "all:!mainnet", "*", "val*",
        "val0?", "~val0[1-5]", "~^rpc", "ams[0]", "ams[-1]", "ams[1:3]", "mainnet[2:]",
        "canary:lab[0]", "!canary", "&lab", "nosuch:ams", "val03", "lab:val0[1]",
        "jump01:ungrouped", "localhost", "mainnet:!~val0[2-5]:&ams", "fr*", "fra[1-2]", "extra",
        "ams[3:0]", "a*", "ungrouped", "*:!*a*", "mainnet:&ams:&canary", "canary,lab:!val03",
        "val02 val03", "ams[9]", "nosuch",
    ],
    "flat": [
        "all", "web:db", "web:&db", "prod:!db", "web[0]:db[-1]", "ungrouped",
        r"~.*\.example\.com", "*:!web*", "10.0.0.*", "prod", "late", "web-?", "solo2", "db[0:1]",
    ],
    "multi": ["all", "validators", "edge", "rpc:&edge", "validators:!shared"],
    "multi_reversed": ["all", "validators"],
    "dir": ["all", "core", "side", "side:!core", "ungrouped"],
    "names": [
        "all", "dup", "!dup", "du*", "dup:&dupe", "*.example.com", "192.0.2.1[12]",
        "2001:db8::1", "grp.x", "gr*", "localhost", "127.0.0.1", "~2001",
    ],
    "mainnet_yml": ["all", "mainnet:!canary", "mainnet_fra[-1]", "test-?.lab.example.net"],
    "mainnet_ini": ["all", "mainnet:!canary", "mainnet_fra[-1]", "test-?.lab.example.net"],
    "local": ["all", "localhost"],
}

PAIRS = [(case, pattern) for case, patterns in PATTERNS.items() for pattern in patterns]


@lru_cache(maxsize=None)
def ours(case: str) -> Inventory:
    return load_inventories(SOURCES[case])


@lru_cache(maxsize=None)
def oracle(case: str):  # type: ignore[no-untyped-def]
    from inventory_oracle import Oracle

    return Oracle([str(p) for p in SOURCES[case]])


def test_enough_hard_pairs() -> None:
    assert len(PAIRS) >= 30


@pytest.mark.parametrize(("case", "pattern"), PAIRS, ids=[f"{c}-{p}" for c, p in PAIRS])
def test_same_hosts_and_vars_as_ansible(case: str, pattern: str) -> None:
    try:
        expected: list[str] | None = oracle(case).hosts(pattern)
    except Exception:  # ansible refuses, e.g. an out-of-range subscript
        expected = None
    if not expected:
        with pytest.raises(InputError):
            select(ours(case), pattern)
        return
    selection = select(ours(case), pattern)
    assert selection.names == expected
    for name in expected:
        assert ours(case).host_vars(name) == oracle(case).host_vars(name), name


ENTRIES = [
    "val[01:20]", "db-[a:f]", "x[1:10:2]", "x[01:10:3]y[a:b]", "w[x:B]", "a[ab:cd]", "n[5:1]",
    "web[01:03].example.com:2222", "10.0.0.[1:3]", "10.0.0.[1:3]:22", "[2001:db8::1]:22",
    "2001:db8::[a:c]", "fe80::1", "host:22", "host_:22", "h-:22", "[host]:22", "x[:3]",
    "_x.y", "web[1:3]-[a:b]", "plain",
    "x[1:]", "x[01:2]", "x[1:3:a]", "x[1:3:0]", "x[a:3]", "x[1:2:3:4]", "x[1:3", "[::1]",
]


@pytest.mark.parametrize("entry", ENTRIES)
def test_host_entry_expansion_matches_ansible(entry: str) -> None:
    from inventory_oracle import ansible_expand

    try:
        expected = ansible_expand(entry)
    except Exception:
        with pytest.raises(RangeError):
            expand(entry)
        return
    assert expand(entry) == expected


SPLITS = [
    "a:b", "a,b", "a:&b:!c", "web[1:3]:db", "web[1:3]", "fe80::1", "a:22", "~web.*:db",
    "a, b ,,c", "a b", "a,b:c", "g[0]:h[-1]", "all", "!x", "~(a|b)[0-9]+:c",
]


@pytest.mark.parametrize("pattern", SPLITS)
def test_pattern_split_matches_ansible(pattern: str) -> None:
    from inventory_oracle import ansible_split

    assert split_pattern(pattern) == ansible_split(pattern)


def _run(args: list[str], cwd: Path) -> str:
    from inventory_oracle import cli_env

    done = subprocess.run(args, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


CLI_CASES = [("flat", "prod:!db"), ("multi", "all"), ("names", "du*"), ("mainnet_yml", "all")]


@pytest.mark.skipif(shutil.which("ansible") is None and not (Path(__file__).parents[2] / ".venv/bin/ansible").exists(),
                    reason="the ansible CLI is not installed")
@pytest.mark.parametrize(("case", "pattern"), CLI_CASES)
def test_same_hosts_as_ansible_cli(case: str, pattern: str, tmp_path: Path) -> None:
    ansible = shutil.which("ansible") or str(Path(__file__).parents[2] / ".venv/bin/ansible")
    args = [ansible, *(a for p in SOURCES[case] for a in ("-i", str(p))), pattern, "--list-hosts"]
    listed = _run(args, tmp_path).splitlines()
    assert listed[0].strip().startswith("hosts (")
    assert [line.strip() for line in listed[1:]] == select(ours(case), pattern).names


@pytest.mark.parametrize("case", ["nested", "flat", "multi"])
def test_same_vars_as_ansible_inventory_cli(case: str, tmp_path: Path) -> None:
    tool = shutil.which("ansible-inventory") or str(Path(__file__).parents[2] / ".venv/bin/ansible-inventory")
    if not Path(tool).exists():
        pytest.skip("the ansible-inventory CLI is not installed")
    args = [tool, *(a for p in SOURCES[case] for a in ("-i", str(p))), "--list"]
    hostvars = json.loads(_run(args, tmp_path))["_meta"]["hostvars"]
    inventory = ours(case)
    assert sorted(hostvars) == sorted(inventory.host_names)
    for name in inventory.host_names:
        assert hostvars.get(name, {}) == json.loads(json.dumps(inventory.host_vars(name))), name
