"""Every bad input is an InputError (exit code 2) naming the file, the line and what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleetflame.errors import InputError
from fleetflame.inventory import load_inventories, select


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _error(root: Path, files: dict[str, str], sources: list[str], pattern: str = "all") -> str:
    _write(root, files)
    with pytest.raises(InputError) as caught:
        select(load_inventories([str(root / s) for s in sources]), pattern)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "\n" not in message
    return message


LOAD_ERRORS = [
    ("yaml syntax", {"inv.yml": "all:\n  hosts:\n    a: [1,\n"}, "inv.yml:4", "fix the syntax"),
    ("yaml hosts list", {"inv.yml": "all:\n  hosts:\n    - a\n"}, "inv.yml:2", "write it as a mapping"),
    ("yaml bad range", {"inv.yml": "all:\n  hosts:\n    val[01:5]:\n"}, "inv.yml:3", "write ranges like"),
    ("yaml range end", {"inv.yml": "all:\n  hosts:\n    val[1:]:\n"}, "inv.yml:3", "end value"),
    ("yaml number host", {"inv.yml": "all:\n  hosts:\n    1.5:\n"}, "inv.yml:3", "enclose numbers in quotation"),
    ("yaml host vars list", {"inv.yml": "all:\n  hosts:\n    a: [1]\n"}, "inv.yml:3", "write them as a mapping"),
    ("yaml group loop", {"inv.yml": "a:\n  children:\n    b:\n      children:\n        a:\n"}, "inv.yml:3", "remove one of the two children"),
    ("not a mapping", {"inv.yml": "- a\n- b\n"}, "inv.yml", "start it with `all:`"),
    ("plugin config", {"aws.yml": "plugin: amazon.aws.aws_ec2\n"}, "aws.yml", "ansible-inventory -i"),
    ("toml", {"inv.toml": "[all]\n"}, "inv.toml", "ansible-inventory -i"),
    ("ini bad range", {"inv.ini": "[web]\na\nweb[1:3:x]\n"}, "inv.ini:3", "write ranges like"),
    ("ini section spaces", {"inv.ini": "[web]\na\n[web servers]\n"}, "inv.ini:3", "without spaces"),
    ("ini section unclosed", {"inv.ini": "[web]\na\n[mainnet\nval01\n"}, "inv.ini:3: section header '[mainnet' has no closing ']'", "write [mainnet]"),
    ("ini children unclosed", {"inv.ini": "[mainnet:children  # eu\nweb\n"}, "inv.ini:1: section header", "write [mainnet:children]"),
    ("ini section kind", {"inv.ini": "[web:hostz]\na\n"}, "inv.ini:1", "use :children or :vars"),
    ("ini undefined child", {"inv.ini": "[p:children]\nweb\nghost\n[web]\na\n"}, "inv.ini:3", "add a [ghost] section"),
    ("ini vars undefined", {"inv.ini": "[a]\nh\n[ghost:vars]\nx=1\n"}, "inv.ini:3", "add a [ghost] or [ghost:children]"),
    ("ini no equals", {"inv.ini": "[a]\nh ansible_port 22\n"}, "inv.ini:2", "write name=value"),
    ("ini vars no equals", {"inv.ini": "[a]\nh\n[a:vars]\njust text\n"}, "inv.ini:4", "write name=value"),
    ("ini quotes", {"inv.ini": "[a]\nh x='open\n"}, "inv.ini:2", "balance the quotes"),
    ("ini trailing colon", {"inv.ini": "[a]\nh:\n"}, "inv.ini:2", "follow ':' with a port"),
    ("ini child line", {"inv.ini": "[a:children]\nb c\n"}, "inv.ini:2", "one group per line"),
    ("group priority", {"inv.yml": "g:\n  vars:\n    ansible_group_priority: high\n  hosts: {a: }\n"}, "inv.yml:3", "use an integer"),
    ("vars not mapping", {"inv.yml": "all:\n  hosts: {a: }\n", "group_vars/all.yml": "- x\n"}, "group_vars/all.yml", "mapping"),
    ("vars bad yaml", {"inv.yml": "all:\n  hosts: {a: }\n", "host_vars/a.yml": "x: 1\ny: [\n"}, "host_vars/a.yml:3", "fix the syntax"),
    ("neither", {"hosts": "all:\n  hosts:\n    a: [\n"}, "hosts", "YAML inventory"),
]


@pytest.mark.parametrize(("files", "where", "todo"), [c[1:] for c in LOAD_ERRORS], ids=[c[0] for c in LOAD_ERRORS])
def test_bad_inventory(tmp_path: Path, files: dict[str, str], where: str, todo: str) -> None:
    message = _error(tmp_path, files, [next(iter(files))])
    assert where in message
    assert todo in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nosuch\.yml not found; check the path given to -i"):
        load_inventories([tmp_path / "nosuch.yml"])


def test_no_inventory() -> None:
    with pytest.raises(InputError, match="pass -i FILE"):
        load_inventories([])


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_bytes(b"# caf\xe9 comment is fine\n[a]\nh\xe9\n")
    with pytest.raises(InputError, match=r"inv\.ini:3: not UTF-8 text; save the file as UTF-8"):
        load_inventories([tmp_path / "inv.ini"])


def test_dynamic_inventory_script(tmp_path: Path) -> None:
    script = tmp_path / "ec2.py"
    script.write_text("#!/usr/bin/env python3\nprint('{}')\n")
    os.chmod(script, 0o755)
    with pytest.raises(InputError, match="dynamic inventory script.*ansible-inventory -i"):
        load_inventories([script])


PATTERN_ERRORS = [
    ("nosuch", "selects no host", "inv.ini`"),  # `fleetflame hosts -i …/inv.ini`: the real path
    ("web:&db", "selects no host", "inv.ini`"),
    ("~web(", "not a valid regex", "fix the pattern"),
    ("web[7]", "out of range", "use an index from 0 to 1"),
    ("web:!", "empty '&' or '!' part", "put a group or host after it"),
]


def test_a_pattern_that_selects_nothing_names_a_near_group_and_the_inventory(tmp_path: Path) -> None:
    """Issue 16: `--limit mainet` said "ignored it" (the run stopped all the same), offered no
    near name, and printed a literal INVENTORY where the path was known."""
    message = _error(tmp_path, {"inv.ini": "[mainnet]\nval01\nval02\n[testnet]\nt1\n"}, ["inv.ini"], "mainet")
    assert "no group or host matches 'mainet' (did you mean 'mainnet'?)" in message
    assert "ignored" not in message and "INVENTORY" not in message
    assert f"`fleetflame hosts -i {tmp_path / 'inv.ini'}`" in message


@pytest.mark.parametrize(("pattern", "problem", "todo"), PATTERN_ERRORS)
def test_bad_pattern(tmp_path: Path, pattern: str, problem: str, todo: str) -> None:
    message = _error(tmp_path, {"inv.ini": "[web]\nw1\nw2\n[db]\nd1\n"}, ["inv.ini"], pattern)
    assert problem in message and todo in message


VAR_ERRORS = [
    ({"group_vars/all.yml": "x: 1\nansible_port: abc\n"}, "group_vars/all.yml:2: host a: ansible_port 'abc'", "1 to 65535"),
    ({"host_vars/a.yml": "ansible_port: 70000\n"}, "host_vars/a.yml:1: host a: ansible_port 70000", "1 to 65535"),
    ({"host_vars/a.yml": "ansible_connection: docker\n"}, "host a: ansible_connection 'docker' is not supported", "use ssh"),
    ({"host_vars/a.yml": "ansible_become: maybe\n"}, "host_vars/a.yml:1: host a: ansible_become 'maybe'", "use true or false"),
    ({"host_vars/a.yml": "ansible_host: '{{ lookup(\"env\", \"X\") }}'\n"}, "Jinja template", "write the resulting value"),
    ({"host_vars/a.yml": "ansible_ssh_common_args: \"-o 'ProxyJump x\"\n"}, "ansible_ssh_common_args cannot be split", "balance its quotes"),
    ({"host_vars/a.yml": "ansible_user: [a]\n"}, "ansible_user is ['a'], not a string", "plain string"),
]


@pytest.mark.parametrize(("files", "where", "todo"), VAR_ERRORS)
def test_bad_connection_variable(tmp_path: Path, files: dict[str, str], where: str, todo: str) -> None:
    message = _error(tmp_path, {"inv.yml": "all:\n  hosts:\n    a:\n", **files}, ["inv.yml"])
    assert where in message and todo in message


def test_bad_port_in_ini_names_the_line(tmp_path: Path) -> None:
    message = _error(tmp_path, {"inv.ini": "[web]\nw1\nw2 ansible_port=0\n"}, ["inv.ini"], "w2")
    assert "inv.ini:3: host w2: ansible_port 0 is not a port number" in message


def test_bad_variable_of_unselected_host_is_not_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"inv.ini": "[web]\nw1\nw2 ansible_port=0\n"})
    assert select(load_inventories([tmp_path / "inv.ini"]), "w1").names == ["w1"]
