"""`run --event` end to end on the control side, and how a host that cannot drop CAP_SYS_ADMIN
for perf script (Exit.NO_CAPDROP) is reported, on scripted hosts (no root, no perf).

The event is checked on the control side (here) and again by SESSION on the host
(test_session_script.py); manifests and meta.json files written before `--event` existed load
with perf's default event.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame.capture.host import CaptureSettings
from fleetflame.capture.manifest import HostMeta, HostResult, Manifest, read_manifest
from fleetflame.capture.record import RecordSpec
from fleetflame.capture.recover import manifest_from_hosts, parse_listing
from fleetflame.api import fetch_capture
from fleetflame.capture.scripts import MAX_EVENT, Exit, check_event
from fleetflame.cli import app
from fleetflame.host.targets import parse_target
from fleetflame.connection.settings import SshSettings
from fleetflame.inventory.model import HostRecord

from .fakehost import fake_connector
from .test_pipeline import fleet_sums, healthy, run
from .test_records import GOOD_META

REPO = Path(__file__).resolve().parents[2]
GOOD_EVENTS = ["cycles", "task-clock", "cpu-clock", "sched:sched_switch", "cycles:u", "mem-loads", "r003c", "l1d.replacement", "a" * MAX_EVENT]
BAD_EVENTS = [
    "Cycles",  # perf's names are lowercase
    "-e",  # an option, not an event
    "1cycles",
    ":cycles",
    "cycles,instructions",  # a list: one event only
    "cycles instructions",
    "cycles;reboot",
    "$(reboot)",
    "`reboot`",
    "cpu/event=0x3c/",
    "cycles\n",
    "cycles\x00",
    "cyclés",
    "task-clock ",
    "a" * (MAX_EVENT + 1),
]


@pytest.mark.parametrize("event", GOOD_EVENTS)
def test_plain_event_names_are_accepted(event: str) -> None:
    assert check_event(event) == event
    assert RecordSpec(1.0, 99, "fp", 10, event).event == event


@pytest.mark.parametrize("event", BAD_EVENTS)
def test_anything_but_a_plain_event_name_is_refused(event: str) -> None:
    with pytest.raises(ValueError, match="bad perf event"):
        check_event(event)
    with pytest.raises(ValueError):
        RecordSpec(1.0, 99, "fp", 10, event)


def test_no_event_is_perfs_default() -> None:
    assert check_event(None) is None and check_event("") is None
    assert RecordSpec(1.0, 99, "fp", 10).event is None
    assert RecordSpec(1.0, 99, "fp", 10, "").event is None


@pytest.mark.parametrize("event", ["cycles;reboot", "Task-Clock", "a" * (MAX_EVENT + 1)])
def test_run_refuses_a_bad_event_before_any_host(event: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["run", "all", "-i", "inventories/local.yml", "--event", event, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines()[-1].startswith("error: --event: bad perf event")
    assert not (tmp_path / "out").exists()


def test_run_help_says_what_event_does_and_when_to_use_task_clock() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--event" in text and "perf record -e" in text and "task-clock" in text
    assert "without hardware performance counters" in text


# ---- manifest.json and meta.json ------------------------------------------------------------------


def _manifest(**extra: object) -> Manifest:
    return Manifest(id="20261125T221500Z-all", target="all", started_at="2026-11-25T22:15:00Z", hosts={"val01": HostResult(address="10.0.0.1")}, **extra)  # type: ignore[arg-type]


def _write(folder: Path, data: dict[str, object]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(data))


def test_the_event_round_trips_through_the_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "20261125T221500Z-all"
    folder.mkdir()
    _manifest(event="task-clock").write(folder)
    assert json.loads((folder / "manifest.json").read_text())["event"] == "task-clock"
    manifest = read_manifest(folder)
    assert manifest.event == "task-clock"
    assert _spec(folder, manifest).event == "task-clock", "fetch rebuilds the capture's spec from the manifest"


def test_a_manifest_written_before_event_existed_loads_with_perfs_default(tmp_path: Path) -> None:
    folder = tmp_path / "20261125T221500Z-all"
    data = _manifest().to_json()
    del data["event"]
    _write(folder, data)
    manifest = read_manifest(folder)
    assert manifest.event is None
    assert _spec(folder, manifest).event is None


@pytest.mark.parametrize("event", ["cycles;reboot", 7, True, ["cycles"], "Cycles", "a" * (MAX_EVENT + 1)])
def test_a_manifest_with_a_bad_event_is_refused(event: object, tmp_path: Path) -> None:
    folder = tmp_path / "20261125T221500Z-all"
    _write(folder, dict(_manifest().to_json(), event=event))
    with pytest.raises(ValueError):
        read_manifest(folder)


def test_the_event_round_trips_through_meta_json_and_rebuilds_the_manifest() -> None:
    meta = HostMeta.parse(json.dumps(dict(GOOD_META, event="task-clock")))
    assert meta.event == "task-clock" and HostMeta.parse(meta.to_line()) == meta
    host = HostRecord("val01", "10.0.0.1")
    (found,) = parse_listing(f"/tmp/fleetflame-{meta.id}.AbCdEfGhIj\t{meta.to_line()}\n", host)
    rebuilt = manifest_from_hosts(meta.id, {"val01": found}, [host])
    assert rebuilt.event == "task-clock"


def test_meta_json_written_before_event_existed_loads_with_perfs_default() -> None:
    assert "event" not in GOOD_META
    assert HostMeta.parse(json.dumps(GOOD_META)).event is None


@pytest.mark.parametrize("event", ["cycles;reboot", 1, "-e"])
def test_meta_json_with_a_bad_event_is_refused(event: object) -> None:
    with pytest.raises(ValueError):
        HostMeta.parse(json.dumps(dict(GOOD_META, event=event)))


def _spec(folder: Path, manifest: Manifest) -> RecordSpec:
    return CaptureSettings.of_manifest(manifest, parse_target(manifest.target)).spec


# ---- through the pipeline ------------------------------------------------------------------------


def test_the_event_reaches_each_host_as_its_own_argument_and_is_recorded(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b")}
    outcome = run(tmp_path, fakes, event="task-clock")
    assert outcome.exit_code == 0
    assert [f.events for f in fakes.values()] == [["task-clock"], ["task-clock"]]
    assert outcome.manifest.event == "task-clock" and read_manifest(outcome.folder).event == "task-clock"


def test_without_event_perf_records_its_default_event(tmp_path: Path) -> None:
    fakes = {"a": healthy("a")}
    outcome = run(tmp_path, fakes)
    assert fakes["a"].events == [""], "an empty EVENT argument: no -e"
    assert outcome.manifest.event is None and read_manifest(outcome.folder).event is None


def test_a_detached_capture_keeps_its_event_in_each_hosts_meta(tmp_path: Path) -> None:
    fakes = {"a": healthy("a")}
    outcome = run(tmp_path, fakes, duration=0.2, detach=True, event="cpu-clock")
    (folder,) = fakes["a"].folders.values()
    assert HostMeta.parse(folder.meta).event == "cpu-clock"
    assert outcome.manifest.event == "cpu-clock"


def test_a_host_that_cannot_drop_cap_sys_admin_fails_before_recording(tmp_path: Path) -> None:
    fakes = {"good": healthy("good"), "bad": healthy("bad", fail={"nocapdrop": None})}
    outcome = run(tmp_path, fakes)
    row = outcome.manifest.hosts["bad"]
    assert outcome.exit_code == 1 and row.status == "failed"
    assert row.error == (
        "perf script on bad would run with CAP_SYS_ADMIN and lose the symbols of Firedancer's sandboxed tiles "
        "(every frame [unknown]), and neither setpriv nor capsh can drop it there: install setpriv "
        "(Debian/Ubuntu package util-linux) or capsh (libcap2-bin) on the host; nothing was recorded"
    )
    assert not row.fetchable and not fakes["bad"].folders and fakes["bad"].channels("go") == 0
    assert outcome.manifest.hosts["good"].status == "ok" and fleet_sums(outcome.folder) == {"good": 25}


def test_fetch_on_a_host_that_cannot_drop_cap_sys_admin_keeps_the_results_there(tmp_path: Path) -> None:
    fakes = {"a": healthy("a")}
    outcome = run(tmp_path, fakes, duration=0.2, detach=True)
    hosts = [HostRecord("a", "10.0.0.1")]
    fakes["a"].fail["nocapdrop"] = None
    failed = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes))
    row = failed.manifest.hosts["a"]
    (remote_dir,) = fakes["a"].folders
    assert failed.exit_code == 1 and row.status == "failed"
    assert "lose the symbols of Firedancer's sandboxed tiles" in (row.error or "")
    assert (row.error or "").endswith(f"on the host, then `fleetflame fetch {outcome.manifest.id}`: perf's results stay in {remote_dir} until then")
    assert row.fetchable, "installing setpriv and fetching again finishes it"
    fakes["a"].fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes))
    assert fetched.exit_code == 0 and fleet_sums(outcome.folder) == {"a": 25} and not fakes["a"].folders


def test_the_exit_code_is_new() -> None:
    assert Exit.NO_CAPDROP == 15 and len({int(e) for e in Exit}) == len(Exit)
