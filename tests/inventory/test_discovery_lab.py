"""Without -i, on the sshd lab: ANSIBLE_INVENTORY and an ansible.cfg each bring `fleetflame tiles`
to the hosts `ansible --list-hosts` selects with the same settings, over real SSH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lab import LabFleet

pytestmark = [pytest.mark.root, pytest.mark.lab]

ANSIBLE = Path(sys.executable).parent / "ansible"
LIMIT = "lab:!lab02"


def _env(lab: LabFleet, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in lab.env(COLUMNS="200").items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", **settings)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


def ansible_lists(cwd: Path, env: dict[str, str], *args: str) -> list[str]:
    ansible = str(ANSIBLE) if ANSIBLE.exists() else shutil.which("ansible")
    if ansible is None:
        pytest.skip("the ansible CLI is not installed")
    done = _run([ansible, *args, LIMIT, "--list-hosts"], cwd, env)
    assert done.returncode == 0, done.stderr
    return [line.strip() for line in done.stdout.splitlines()[1:]]


def fleetflame_tiles(cwd: Path, env: dict[str, str], *args: str) -> list[str]:
    """The hosts `fleetflame tiles all` reached, each of which must have answered with its tiles."""
    done = _run([sys.executable, "-m", "fleetflame", "tiles", "all", *args, "--limit", LIMIT, "--json"], cwd, env)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert all(r["status"] == "ok" and r["tiles"] for r in results), results
    return [r["host"] for r in results]


def test_ansible_inventory_and_ansible_cfg_reach_the_hosts_ansible_selects(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    lab = make_lab(3)
    site = tmp_path / "site"
    (site / "inventories").mkdir(parents=True, mode=0o700)
    inventory = lab.write_inventory(site / "inventories" / "lab.yml")
    elsewhere = tmp_path / "elsewhere"  # an empty folder to run from
    elsewhere.mkdir(mode=0o700)
    decoy = tmp_path / "decoy.yml"  # a fleet that must not be used: one host nothing answers for
    decoy.write_text("all:\n  children:\n    lab:\n      hosts:\n        lab99:\n"
                     + "".join(f"          {k}: {json.dumps(v)}\n" for k, v in lab.unreachable_vars().items()))

    from_env = _env(lab, ANSIBLE_INVENTORY=f" {os.path.relpath(inventory, elsewhere)} ,")  # spaces and a stray comma
    expected = ansible_lists(elsewhere, from_env)
    assert expected == ["lab01", "lab03"]
    assert fleetflame_tiles(elsewhere, from_env) == expected

    (site / "ansible.cfg").write_text("[defaults]\ninventory = inventories/lab.yml ; the lab\n")
    from_cfg = _env(lab)
    assert ansible_lists(site, from_cfg) == fleetflame_tiles(site, from_cfg) == expected

    via_config = _env(lab, ANSIBLE_CONFIG=str(site / "ansible.cfg"))
    assert ansible_lists(elsewhere, via_config) == fleetflame_tiles(elsewhere, via_config) == expected

    dash_i_wins = _env(lab, ANSIBLE_INVENTORY=str(decoy))
    given = ("-i", str(inventory))
    assert ansible_lists(elsewhere, dash_i_wins, *given) == fleetflame_tiles(elsewhere, dash_i_wins, *given) == expected
