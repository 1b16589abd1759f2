"""What `fetch` decides before touching any host: which captures, which hosts, which inventory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame.capture.manifest import HostResult, Manifest
from fleetflame.capture.recover import plan_fetch
from fleetflame.cli import app
from fleetflame.connection.settings import SshSettings
from fleetflame.errors import InputError
from fleetflame.inventory.model import HostRecord

INVENTORY = """\
all:
  children:
    mainnet:
      hosts:
        val01: {ansible_host: 10.0.0.1}
        val02: {ansible_host: 10.0.0.2}
        val03: {ansible_host: 10.9.9.9}
"""


def pending_capture(out: Path, capture_id: str, inventory: Path | None, limit: str | None = None) -> Path:
    folder = out / capture_id
    folder.mkdir(parents=True)
    rows = {
        "val01": HostResult(status="ok", address="10.0.0.1"),
        "val02": HostResult(status="pending", address="10.0.0.2", remote_dir="/tmp/fleetflame-x.AAAAAAAAAA"),
        "val03": HostResult(status="failed", address="10.0.0.3", remote_dir="/tmp/fleetflame-x.BBBBBBBBBB", perf_started_at=1.0),
    }
    Manifest(
        id=capture_id, target="all", started_at="2026-11-25T22:15:00Z",
        inventories=[str(inventory.resolve())] if inventory else [], limit=limit, hosts=rows,
    ).write(folder)
    return folder


def no_hosts() -> list[HostRecord]:
    raise AssertionError("the hosts must not be asked")


def test_a_bare_fetch_finishes_every_unfinished_capture_oldest_first_with_its_recorded_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(INVENTORY)
    out = tmp_path / "out"
    pending_capture(out, "20261125T221500Z-all", inventory)
    pending_capture(out, "20261124T221500Z-all", inventory, limit="val02")
    plan = plan_fetch(out, None, False, [], None, no_hosts, SshSettings())
    assert [job.folder.name for job in plan.jobs] == ["20261124T221500Z-all", "20261125T221500Z-all"]
    assert [h.name for h in plan.jobs[0].hosts] == ["val02"], "the recorded --limit applies"
    hosts = {h.name: h.address for h in plan.jobs[1].hosts}
    assert hosts == {"val02": "10.0.0.2", "val03": "10.0.0.3"}, "recorded addresses win"
    assert any("val03 was captured at 10.0.0.3; the inventory now says 10.9.9.9" in w for w in plan.warnings)
    latest = plan_fetch(out, None, True, [], None, no_hosts, SshSettings())
    assert [job.folder.name for job in latest.jobs] == ["20261125T221500Z-all"]


def test_i_overrides_the_recorded_inventory(tmp_path: Path) -> None:
    inventory, other = tmp_path / "inv.yml", tmp_path / "other.yml"
    inventory.write_text(INVENTORY)
    other.write_text("all:\n  hosts:\n    val02: {ansible_host: 10.0.0.2}\n")
    pending_capture(tmp_path / "out", "20261125T221500Z-all", inventory)
    plan = plan_fetch(tmp_path / "out", "20261125T221500Z-all", False, [other], None, no_hosts, SshSettings())
    assert [h.name for h in plan.jobs[0].hosts] == ["val02"]
    assert any("pending hosts not in the inventory" in w and "val03" in w for w in plan.warnings)


def test_a_recorded_inventory_that_was_deleted_asks_for_i(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(INVENTORY)
    pending_capture(tmp_path / "out", "20261125T221500Z-all", inventory)
    inventory.unlink()
    with pytest.raises(InputError, match=r"was started with \(.*inv.yml\) no longer exists: give -i INVENTORY"):
        plan_fetch(tmp_path / "out", None, False, [], None, no_hosts, SshSettings())
    result = CliRunner().invoke(app, ["fetch", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no longer exists: give -i INVENTORY" in result.stderr


def test_nothing_to_fetch_is_said_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ANSIBLE_INVENTORY", raising=False)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "none.cfg"))
    for args in (["fetch"], ["fetch", "--latest"]):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
        assert "nothing to fetch" in result.stdout
    result = CliRunner().invoke(app, ["fetch", "--latest", "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0 and result.stdout == ""  # one JSON document per capture finished: none


def test_a_capture_named_by_its_folder_or_its_id(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yml"
    inventory.write_text(INVENTORY)
    folder = pending_capture(tmp_path / "out", "20261125T221500Z-all", inventory)
    by_path = plan_fetch(tmp_path / "elsewhere", str(folder), False, [], None, no_hosts, SshSettings())
    by_id = plan_fetch(tmp_path / "out", "20261125T221500Z-all", False, [], None, no_hosts, SshSettings())
    assert by_path.jobs[0].folder.resolve() == by_id.jobs[0].folder.resolve() == folder.resolve()
    with pytest.raises(InputError, match="is not a capture id"):
        plan_fetch(tmp_path / "out", "../../etc", False, [], None, no_hosts, SshSettings())


def test_a_named_capture_found_nowhere_is_exit_2_or_1_when_hosts_could_not_be_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: `fetch 20261207T999999Z-all` said "nothing to fetch" and exited 0, even when the
    only host was unreachable."""
    from fleetflame.capture import recover
    from fleetflame.errors import FleetflameError

    hosts = [HostRecord("val01", "10.0.0.1"), HostRecord("val02", "10.0.0.2")]
    monkeypatch.setattr(recover, "remote_captures", lambda hosts, ssh, forks: ({}, []))
    with pytest.raises(InputError) as nowhere:
        plan_fetch(tmp_path / "out", "20261207T235959Z-all", False, [], None, lambda: hosts, SshSettings())
    assert str(nowhere.value) == (
        f"capture 20261207T235959Z-all is not in {tmp_path / 'out'} (--out) nor on any of the 2 hosts that answered: "
        f"check the id (`fleetflame captures --out {tmp_path / 'out'}` lists this machine's captures)"
    )
    monkeypatch.setattr(recover, "remote_captures", lambda hosts, ssh, forks: ({}, ["val02: connection refused"]))
    with pytest.raises(FleetflameError) as unreachable:
        plan_fetch(tmp_path / "out", "20261207T235959Z-all", False, [], None, lambda: hosts, SshSettings())
    assert unreachable.value.exit_code == 1 and not isinstance(unreachable.value, InputError)
    assert "on any of the 1 hosts that answered; 1 could not be asked (val02: connection refused)" in str(unreachable.value)
