"""Inventory discovery against ansible-core itself, in controlled folders.

Each scenario builds HOME, a current folder and the files it needs under tmp_path. Every scenario
is resolved by ansible-core's ConfigManager in this process (the code behind `ansible-config
dump`; fast); a representative few also run the real CLIs as subprocesses: `ansible-config dump
--only-changed --format json` for the ansible.cfg and inventory sources (DEFAULT_HOST_LIST)
Ansible resolves, and `ansible all --list-hosts` against `fleetflame hosts` for the hosts, with
the same environment and folder. Ansible reads /etc/ansible/ansible.cfg last: scenarios that reach
it are skipped where one exists, since the test cannot control it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fleetflame.inventory.discovery import SYSTEM_CONFIG, SYSTEM_INVENTORY, resolve
from inventory_oracle import IMPORT_ERROR

VENV_BIN = Path(sys.executable).parent


def _tool(name: str) -> str | None:
    local = VENV_BIN / name
    return str(local) if local.exists() else shutil.which(name)


ANSIBLE_CONFIG_CLI = _tool("ansible-config")
ANSIBLE_CLI = _tool("ansible")
pytestmark = [
    pytest.mark.skipif(IMPORT_ERROR is not None, reason=IMPORT_ERROR or ""),
    pytest.mark.skipif(ANSIBLE_CONFIG_CLI is None or ANSIBLE_CLI is None, reason="the ansible CLIs are not installed"),
]


@dataclass
class Scene:
    """A world to resolve in: folders, files, and the environment variables that matter."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = Path()
    reaches_system: bool = False  # nothing before /etc/ansible/ansible.cfg answers

    @property
    def home(self) -> Path:
        return self.root / "home"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(HOME=str(self.home), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0", COLUMNS="500")
        env.update(self.env)
        return env


def _hosts_files(s: Scene) -> None:
    s.write("work/inv.ini", "[web]\nw1\nw2\n[db]\nd1\n")
    s.write("work/more/b.yml", "all:\n  children:\n    edge:\n      hosts:\n        e1:\n        e2:\n")
    s.write("home/mine.ini", "[solo]\nh1\n")
    s.write("project/inventories/main.yml", "mainnet:\n  hosts:\n    val01:\n    val02:\n")


def env_single(s: Scene) -> None:
    s.env["ANSIBLE_INVENTORY"] = "inv.ini"


def env_list_with_spaces_and_tilde(s: Scene) -> None:
    s.env["ANSIBLE_INVENTORY"] = " inv.ini ,  more/b.yml,~/mine.ini "


def env_trailing_comma(s: Scene) -> None:
    s.env["ANSIBLE_INVENTORY"] = "inv.ini,"


def env_empty(s: Scene) -> None:
    s.env["ANSIBLE_INVENTORY"] = ""


def env_variables_and_cwd_marker(s: Scene) -> None:
    s.env.update(FLEET_DIR=str(s.root / "project"), ANSIBLE_INVENTORY="$FLEET_DIR/inventories/main.yml,{{CWD}}/inv.ini")


def env_beats_cfg(s: Scene) -> None:
    s.write("work/ansible.cfg", "[defaults]\ninventory = more/b.yml\n")
    s.env["ANSIBLE_INVENTORY"] = "inv.ini"


def cwd_cfg_relative(s: Scene) -> None:
    s.write("project/ansible.cfg", "[defaults]\ninventory = inventories/main.yml ; the fleet\n")
    s.cwd = s.root / "project"


def cwd_cfg_parent_and_list(s: Scene) -> None:
    s.write("work/ansible.cfg", "[defaults]\nforks = 3\nInventory = ../project/inventories/main.yml, more/b.yml\n")


def ansible_config_file_elsewhere(s: Scene) -> None:
    s.write("conf/site.cfg", "[defaults]\ninventory = ../project/inventories/main.yml\n")
    s.write("work/ansible.cfg", "[defaults]\ninventory = inv.ini\n")
    s.env["ANSIBLE_CONFIG"] = "../conf/site.cfg"


def ansible_config_folder(s: Scene) -> None:
    s.write("conf/ansible.cfg", "[defaults]\ninventory = ~/mine.ini\n")
    s.env["ANSIBLE_CONFIG"] = str(s.root / "conf")


def ansible_config_missing(s: Scene) -> None:
    s.write("work/ansible.cfg", "[defaults]\ninventory = inv.ini\n")
    s.env["ANSIBLE_CONFIG"] = str(s.root / "nonexistent.cfg")


def home_cfg(s: Scene) -> None:
    s.write("home/.ansible.cfg", "[defaults]\ninventory = ~/mine.ini,mine.ini\n")


def world_writable_cwd(s: Scene) -> None:
    s.write("work/ansible.cfg", "[defaults]\ninventory = more/b.yml\n")
    s.write("home/.ansible.cfg", "[defaults]\ninventory = mine.ini\n")
    os.chmod(s.root / "work", 0o1777)


def world_writable_cwd_named_by_ansible_config(s: Scene) -> None:
    world_writable_cwd(s)
    s.env["ANSIBLE_CONFIG"] = "ansible.cfg"


def default_section(s: Scene) -> None:
    s.write("work/ansible.cfg", "[DEFAULT]\ninventory = inv.ini\n[defaults]\nforks = 3\n")


def cfg_without_inventory(s: Scene) -> None:
    s.write("work/ansible.cfg", "[defaults]\nforks = 3\nhostfile = inv.ini\n")


def nothing(s: Scene) -> None:
    s.reaches_system = True


SCENES: dict[str, Callable[[Scene], None]] = {f.__name__: f for f in (
    env_single, env_list_with_spaces_and_tilde, env_trailing_comma, env_empty, env_variables_and_cwd_marker,
    env_beats_cfg, cwd_cfg_relative, cwd_cfg_parent_and_list, ansible_config_file_elsewhere, ansible_config_folder,
    ansible_config_missing, home_cfg, world_writable_cwd, world_writable_cwd_named_by_ansible_config,
    default_section, cfg_without_inventory, nothing,
)}
# Scenes run through the real CLIs too (each CLI run costs a second or more on this machine).
CLI_SCENES = ["env_list_with_spaces_and_tilde", "cwd_cfg_relative", "ansible_config_file_elsewhere", "world_writable_cwd"]


def build(name: str, tmp_path: Path) -> Scene:
    scene = Scene(tmp_path / "w")
    for folder in ("home", "work"):
        (scene.root / folder).mkdir(parents=True, mode=0o700)
    scene.cwd = scene.root / "work"
    _hosts_files(scene)
    SCENES[name](scene)
    if scene.reaches_system and (os.path.exists(SYSTEM_CONFIG) or os.path.exists(SYSTEM_INVENTORY)):
        pytest.skip(f"{SYSTEM_CONFIG} or {SYSTEM_INVENTORY} exists on this machine; Ansible would read it")
    return scene


def run(argv: list[str], scene: Scene) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=scene.cwd, env=scene.process_env(), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def ansible_resolution(scene: Scene) -> tuple[list[str], str | None]:
    """DEFAULT_HOST_LIST and CONFIG_FILE as `ansible-config dump` shows them."""
    assert ANSIBLE_CONFIG_CLI is not None
    done = run([ANSIBLE_CONFIG_CLI, "dump", "--only-changed", "--format", "json"], scene)
    assert done.returncode == 0, done.stderr
    settings = {entry["name"]: entry for entry in json.loads(done.stdout) if "name" in entry}
    host_list = settings.get("DEFAULT_HOST_LIST", {"value": [SYSTEM_INVENTORY]})["value"]
    return host_list, settings["CONFIG_FILE"]["value"]


def ansible_hosts(scene: Scene, *args: str) -> list[str]:
    assert ANSIBLE_CLI is not None
    done = run([ANSIBLE_CLI, *args, "--list-hosts"], scene)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].strip().startswith("hosts (")
    return [line.strip() for line in lines[1:]]


def fleetflame_hosts(scene: Scene, *args: str) -> tuple[list[str], str]:
    done = run([sys.executable, "-m", "fleetflame", "hosts", *args], scene)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].strip() == f"hosts ({len(lines) - 1}):"
    return [line.strip() for line in lines[1:]], done.stderr


@pytest.mark.parametrize("name", list(SCENES))
def test_same_sources_and_config_file_as_ansible_core(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inventory_oracle import ansible_inventory_setting

    scene = build(name, tmp_path)
    for key in [k for k in os.environ if k.startswith("ANSIBLE_")]:
        monkeypatch.delenv(key)
    for key, value in scene.process_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(scene.cwd)
    expected_paths, expected_config = ansible_inventory_setting()
    ours = resolve([])
    assert list(ours.paths) == expected_paths
    if ours.origin != "ANSIBLE_INVENTORY":  # with it set, fleetflame does not look for an ansible.cfg
        assert ours.config_file == expected_config


@pytest.mark.parametrize("name", CLI_SCENES)
def test_same_sources_and_hosts_as_the_ansible_clis(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scene = build(name, tmp_path)
    expected_paths, expected_config = ansible_resolution(scene)
    expected_hosts = ansible_hosts(scene, "all")
    assert expected_hosts, "the scene should select hosts"
    listed, note = fleetflame_hosts(scene)
    assert listed == expected_hosts
    where = "ANSIBLE_INVENTORY" if "ANSIBLE_INVENTORY" in scene.env else f"inventory = in {expected_config}"
    assert note.splitlines()[0] == f"inventory: {', '.join(expected_paths)} (from {where})"


def test_dash_i_wins_over_ansible_inventory_in_both(tmp_path: Path) -> None:
    scene = build("env_beats_cfg", tmp_path)
    given = ("-i", "more/b.yml", "-i", str(scene.root / "project" / "inventories" / "main.yml"))
    expected = ansible_hosts(scene, *given, "all")
    listed, note = fleetflame_hosts(scene, *given)
    assert listed == expected == ["e1", "e2", "val01", "val02"]
    assert "(from -i; ANSIBLE_INVENTORY is ignored, as Ansible does)" in note


def test_limit_applies_to_a_discovered_inventory_as_in_ansible(tmp_path: Path) -> None:
    scene = build("env_list_with_spaces_and_tilde", tmp_path)
    expected = ansible_hosts(scene, "all:!web", "--limit", "~[de][12]")
    listed, _ = fleetflame_hosts(scene, "--limit", "all:!web:&~[de][12]")
    assert listed == expected and sorted(expected) == ["d1", "e1", "e2"]
