"""Finding the inventory without -i, rule by rule: ANSIBLE_INVENTORY, the ansible.cfg Ansible picks, the default.

Every test runs in its own folders: HOME, the current folder and the "system" /etc/ansible are
under tmp_path, so neither this machine's ~/.ansible.cfg nor its /etc/ansible is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame.cli import app
from fleetflame.errors import InputError
from fleetflame.inventory import discover_inventory
from fleetflame.inventory.discovery import MAX_CONFIG_BYTES, Resolution, resolve


@dataclass
class Place:
    """A controlled world: HOME, a current folder, and a stand-in for /etc/ansible."""

    root: Path
    home: Path
    cwd: Path
    etc: Path

    @property
    def system_config(self) -> Path:
        return self.etc / "ansible.cfg"

    @property
    def system_inventory(self) -> Path:
        return self.etc / "hosts"

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def inventory(self, path: Path, *hosts: str) -> Path:
        return self.write(path, "[fleet]\n" + "".join(f"{h}\n" for h in hosts))

    def cfg(self, path: Path, inventory: str) -> Path:
        return self.write(path, f"[defaults]\ninventory = {inventory}\n")

    def resolve(self) -> Resolution:
        return resolve([], system_config=str(self.system_config), system_inventory=str(self.system_inventory))

    def discover(self, given: list[str] | None = None) -> Resolution:
        return discover_inventory(given or [], system_config=str(self.system_config),
                                  system_inventory=str(self.system_inventory))

    def error(self) -> str:
        with pytest.raises(InputError) as caught:
            self.discover()
        message = str(caught.value)
        assert caught.value.exit_code == 2
        assert "\n" not in message
        return message


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Place:
    world = Place(tmp_path, tmp_path / "home", tmp_path / "work", tmp_path / "etc" / "ansible")
    for folder in (world.home, world.cwd, world.etc):
        folder.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(world.home))
    monkeypatch.delenv("ANSIBLE_INVENTORY", raising=False)
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.chdir(world.cwd)
    return world


# ---- ANSIBLE_INVENTORY ---------------------------------------------------------------------


def test_env_relative_path_is_taken_from_the_current_folder(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "inv.ini", "a")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "inv.ini")
    found = place.discover()
    assert found.paths == (str(place.cwd / "inv.ini"),)
    assert found.origin == "ANSIBLE_INVENTORY" and found.discovered
    assert found.describe() == f"inventory: {place.cwd / 'inv.ini'} (from ANSIBLE_INVENTORY)"


def test_env_is_a_comma_list_with_spaces_stripped_in_order(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "b.ini", "b")
    place.inventory(place.root / "other" / "a.yml", "a")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "  b.ini ,../other/a.yml  ")
    assert place.discover().paths == (str(place.cwd / "b.ini"), str(place.root / "other" / "a.yml"))


def test_env_empty_entry_is_the_current_folder_with_a_warning(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "inv.ini", "a")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "inv.ini,")
    found = place.discover()
    assert found.paths == (str(place.cwd / "inv.ini"), str(place.cwd))
    (warning,) = found.warnings
    assert "ANSIBLE_INVENTORY has an empty entry" in warning and str(place.cwd) in warning


def test_env_set_but_empty_is_the_current_folder(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.cfg(place.cwd / "ansible.cfg", "never.yml")  # set-but-empty still beats ansible.cfg
    monkeypatch.setenv("ANSIBLE_INVENTORY", "")
    found = place.discover()
    assert found.paths == (str(place.cwd),) and found.origin == "ANSIBLE_INVENTORY"


def test_env_expands_tilde_variables_and_cwd_marker(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_DIR", str(place.root / "fleet"))
    monkeypatch.setenv("ANSIBLE_INVENTORY", "~/h.ini,$FLEET_DIR/v.yml,{{CWD}}/c.ini,sub/../d.ini")
    assert place.resolve().paths == (
        str(place.home / "h.ini"), str(place.root / "fleet" / "v.yml"), str(place.cwd / "c.ini"), str(place.cwd / "d.ini"),
    )


def test_env_beats_ansible_cfg(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "env.ini", "e")
    place.cfg(place.cwd / "ansible.cfg", "cfg.ini")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "env.ini")
    assert place.discover().paths == (str(place.cwd / "env.ini"),)


def test_dash_i_wins_over_env_and_says_so(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_INVENTORY", "/nonexistent/env.ini")
    place.cfg(place.cwd / "ansible.cfg", "/nonexistent/cfg.ini")
    found = place.discover(["given.yml", "other.ini"])
    assert found.paths == ("given.yml", "other.ini") and not found.discovered
    assert found.describe() == "inventory: given.yml, other.ini (from -i; ANSIBLE_INVENTORY is ignored, as Ansible does)"


def test_dash_i_alone_is_not_checked_here(place: Place) -> None:
    # A missing -i path is the loader's to report ("check the path given to -i").
    assert place.discover(["missing.yml"]).describe() == "inventory: missing.yml (from -i)"


# ---- which ansible.cfg ----------------------------------------------------------------------


def test_cwd_cfg_relative_inventory_is_taken_from_the_cfg_folder(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    project = place.root / "project"
    place.inventory(project / "inventories" / "main.yml", "a")
    cfg = place.cfg(project / "ansible.cfg", "inventories/main.yml")
    monkeypatch.chdir(project)
    found = place.discover()
    assert found.paths == (str(project / "inventories" / "main.yml"),)
    assert found.origin == "ansible.cfg" and found.config_file == str(cfg)
    assert found.describe().endswith(f"(from inventory = in {cfg})")


def test_ansible_config_file_elsewhere_resolves_against_its_own_folder(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = place.root / "elsewhere"
    place.inventory(elsewhere / "inv.ini", "a")
    cfg = place.cfg(elsewhere / "site.cfg", "inv.ini")
    place.cfg(place.cwd / "ansible.cfg", "cwd.ini")  # ANSIBLE_CONFIG comes first
    monkeypatch.setenv("ANSIBLE_CONFIG", "../elsewhere/site.cfg")  # relative to the current folder
    found = place.discover()
    assert found.config_file == str(cfg) and found.paths == (str(elsewhere / "inv.ini"),)


def test_ansible_config_folder_means_its_ansible_cfg(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = place.root / "conf"
    cfg = place.cfg(folder / "ansible.cfg", "x.ini")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(folder))
    assert place.resolve().config_file == str(cfg)


def test_missing_ansible_config_falls_through_with_a_warning(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = place.cfg(place.cwd / "ansible.cfg", "x.ini")
    monkeypatch.setenv("ANSIBLE_CONFIG", "/nonexistent/ansible.cfg")
    found = place.resolve()
    assert found.config_file == str(cfg)
    assert any("ANSIBLE_CONFIG names /nonexistent/ansible.cfg, which does not exist" in w for w in found.warnings)


def test_cwd_beats_home_beats_system(place: Place) -> None:
    system = place.cfg(place.system_config, "/sys.ini")
    assert place.resolve().config_file == str(system)
    home = place.cfg(place.home / ".ansible.cfg", "home.ini")
    assert place.resolve().config_file == str(home)
    assert place.resolve().paths == (str(place.home / "home.ini"),)
    cwd = place.cfg(place.cwd / "ansible.cfg", "cwd.ini")
    assert place.resolve().config_file == str(cwd)


def test_home_is_found_through_tilde(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    other_home = place.root / "other-home"
    cfg = place.cfg(other_home / ".ansible.cfg", "~/inv.yml")
    monkeypatch.setenv("HOME", str(other_home))
    found = place.resolve()
    assert found.config_file == str(cfg) and found.paths == (str(other_home / "inv.yml"),)


def test_world_writable_cwd_cfg_is_ignored_with_a_warning(place: Place) -> None:
    place.cfg(place.cwd / "ansible.cfg", "planted.ini")
    home = place.cfg(place.home / ".ansible.cfg", "home.ini")
    os.chmod(place.cwd, 0o1777)  # like /tmp: anyone could have put that ansible.cfg there
    found = place.resolve()
    assert found.config_file == str(home)
    assert any("is world-writable, so its ansible.cfg is ignored" in w for w in found.warnings)


def test_world_writable_cwd_cfg_named_by_ansible_config_is_used(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = place.cfg(place.cwd / "ansible.cfg", "mine.ini")
    os.chmod(place.cwd, 0o777)
    monkeypatch.setenv("ANSIBLE_CONFIG", "ansible.cfg")
    found = place.resolve()
    assert found.config_file == str(cfg) and found.warnings == ()


def test_world_writable_cwd_with_nothing_else_says_why_in_the_error(place: Place) -> None:
    place.cfg(place.cwd / "ansible.cfg", "planted.ini")
    os.chmod(place.cwd, 0o777)
    assert "./ansible.cfg (ignored: this folder is world-writable)" in place.error()


# ---- reading the ansible.cfg ----------------------------------------------------------------


def test_cfg_comments_quotes_case_and_default_section(place: Place) -> None:
    cfg = place.write(place.cwd / "ansible.cfg", "[defaults]\nINVENTORY = a.ini, 'b c.ini' ; the fleet\n# inventory = no.ini\n")
    assert place.resolve().paths == (str(place.cwd / "a.ini"), str(place.cwd / "'b c.ini'"))  # quotes kept, as Ansible
    cfg.write_text("[DEFAULT]\ninventory = inherited.yml\n[defaults]\nforks = 5\n")
    assert place.resolve().paths == (str(place.cwd / "inherited.yml"),)


def test_cfg_without_inventory_uses_etc_ansible_hosts_when_it_exists(place: Place) -> None:
    cfg = place.write(place.cwd / "ansible.cfg", "[defaults]\nforks = 5\n")
    place.inventory(place.system_inventory, "sys01")
    found = place.discover()
    assert found.paths == (str(place.system_inventory),) and found.origin == "default"
    assert found.config_file == str(cfg)
    assert found.describe() == f"inventory: {place.system_inventory} (Ansible's default)"


def test_old_hostfile_key_is_pointed_out(place: Place) -> None:
    place.write(place.cwd / "ansible.cfg", "[defaults]\nhostfile = old.ini\n")
    (warning,) = place.resolve().warnings
    assert "hostfile =, which Ansible no longer reads" in warning and "rename it to inventory =" in warning


def test_empty_inventory_value_is_the_cfg_folder(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = place.root / "conf"
    place.write(folder / "ansible.cfg", "[defaults]\ninventory =\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(folder))
    found = place.resolve()
    assert found.paths == (str(folder),)
    assert "has an empty entry" in found.warnings[0]


# ---- errors ---------------------------------------------------------------------------------


def test_nothing_anywhere_says_where_it_looked(place: Place) -> None:
    message = place.error()
    assert message.startswith("no inventory given: pass -i INVENTORY, set ANSIBLE_INVENTORY")
    for looked in ("ANSIBLE_CONFIG (unset)", "./ansible.cfg", str(place.home / ".ansible.cfg"),
                   str(place.system_config), f"{place.system_inventory} does not exist"):
        assert looked in message


def test_cfg_without_inventory_and_no_default_names_the_cfg(place: Place) -> None:
    cfg = place.write(place.cwd / "ansible.cfg", "[defaults]\nforks = 5\n")
    assert f"; {cfg} sets no inventory; " in place.error()


def test_missing_file_from_env_names_file_and_variable(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "ok.ini", "a")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "ok.ini,gone.yml")
    message = place.error()
    assert message == (f"inventory {place.cwd / 'gone.yml'} not found (set by ANSIBLE_INVENTORY); "
                       "fix the path in ANSIBLE_INVENTORY, unset it, or pass -i INVENTORY")


def test_missing_file_from_cfg_names_file_and_cfg(place: Place) -> None:
    cfg = place.cfg(place.cwd / "ansible.cfg", "../gone.yml")
    message = place.error()
    assert message == f"inventory {place.root / 'gone.yml'} not found (set by inventory = in {cfg}); fix that line, or pass -i INVENTORY"


def test_control_characters_in_a_path_stay_escaped_on_one_line(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_INVENTORY", "evil\n\x1b[2Jname.yml")
    message = place.error()
    assert "evil\\n\\x1b[2Jname.yml not found" in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("ansible.cfg", b"[defaults]\ninventory = a\n[defaults]\n", "section 'defaults' already exists"),
        ("ansible.cfg", b"inventory = a\n", "File contains no section headers"),
        ("ansible.cfg", b"[defaults]\ninventory = caf\xe9\n", "is not UTF-8 text"),
        ("site.conf", b"[defaults]\ninventory = a\n", "Ansible reads only .cfg or .ini config files"),
        ("site.yml", b"defaults:\n  inventory: a\n", "Ansible reads only .cfg or .ini config files"),
    ],
)
def test_broken_config_is_one_clear_line(place: Place, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes, problem: str) -> None:
    path = place.root / name
    path.write_bytes(content)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(path))
    message = place.error()
    assert message.startswith(str(path)) and problem in message


def test_huge_config_is_refused_without_reading_it_all(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    big = place.root / "big.cfg"
    with big.open("wb") as fh:
        fh.write(b"[defaults]\n")
        fh.truncate(MAX_CONFIG_BYTES + 10)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(big))
    assert "larger than 4 MiB" in place.error()


def test_ansible_cfg_that_is_a_folder_is_a_clear_error(place: Place) -> None:
    (place.cwd / "ansible.cfg").mkdir()
    assert "cannot read it (Is a directory)" in place.error()


# ---- through the CLI: every command selects hosts with it; `hosts` says which ---------------

runner = CliRunner()


def test_hosts_names_the_source_on_stderr_and_keeps_stdout_the_list(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "inventories" / "main.ini", "val01", "val02")
    cfg = place.cfg(place.cwd / "ansible.cfg", "inventories/main.ini")
    result = runner.invoke(app, ["hosts", "--limit", "val02"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "  hosts (1):\n    val02\n"
    assert result.stderr == f"inventory: {place.cwd / 'inventories' / 'main.ini'} (from inventory = in {cfg})\n"
    result = runner.invoke(app, ["hosts", "--json"])
    assert [h["name"] for h in json.loads(result.stdout)] == ["val01", "val02"]


def test_hosts_with_dash_i_says_env_is_ignored(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    place.inventory(place.cwd / "a.ini", "a1")
    place.inventory(place.cwd / "b.ini", "b1")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "b.ini")
    result = runner.invoke(app, ["hosts", "-i", "a.ini"])
    assert result.stdout == "  hosts (1):\n    a1\n"
    assert "(from -i; ANSIBLE_INVENTORY is ignored, as Ansible does)" in result.stderr


@pytest.mark.parametrize("command", [["hosts"], ["tiles", "all"], ["check"], ["run", "all"], ["fetch", "--latest"]])
def test_every_command_reports_a_missing_configured_inventory(place: Place, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setenv("ANSIBLE_INVENTORY", "gone.yml")
    result = runner.invoke(app, [*command, "--out", str(place.root / "out")] if command[0] in ("run", "fetch") else command)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line == (f"error: inventory {place.cwd / 'gone.yml'} not found (set by ANSIBLE_INVENTORY); "
                    "fix the path in ANSIBLE_INVENTORY, unset it, or pass -i INVENTORY")


def test_tiles_without_a_terminal_prints_no_note(place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the pattern error is printed: cron jobs and pipes get no "inventory: ..." line.
    place.inventory(place.cwd / "inv.ini", "a1")
    monkeypatch.setenv("ANSIBLE_INVENTORY", "inv.ini")
    result = runner.invoke(app, ["tiles", "all", "--limit", "nosuch"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: host pattern 'nosuch' selects no host")
