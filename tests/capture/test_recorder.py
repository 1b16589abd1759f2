"""The capture's record: the one writer of manifest.json, writing only when something changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetflame.capture.manifest import HostResult, Manifest, read_manifest
from fleetflame.capture.record import PerfEnd
from fleetflame.capture.recorder import CaptureRecord

CAPTURE_ID = "20261125T101500Z-all"


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    seen: list[Path] = []
    real = Manifest.write

    def counting(self: Manifest, folder: Path) -> None:
        seen.append(folder)
        real(self, folder)

    monkeypatch.setattr(Manifest, "write", counting)
    return seen


def _record(tmp_path: Path, hosts: tuple[str, ...] = ("a", "b")) -> CaptureRecord:
    manifest = Manifest(id=CAPTURE_ID, target="all", started_at="2026-11-25T10:15:00Z",
                        hosts={h: HostResult(address=f"10.0.0.{i}") for i, h in enumerate(hosts)})
    return CaptureRecord.create(tmp_path, manifest)


def test_written_once_on_create_and_never_again_with_nothing_changed(tmp_path: Path, writes: list[Path]) -> None:
    record = _record(tmp_path)
    record.save()
    record.save()
    assert len(writes) == 1
    assert read_manifest(tmp_path).hosts["a"].status == "pending"


def test_the_checkpoint_is_written_once_every_host_told_to_go_has_started_or_failed(tmp_path: Path, writes: list[Path]) -> None:
    record = _record(tmp_path, ("a", "b", "c"))
    record.start_signal_sent("a", 1.0)
    record.awaiting_start(["a", "b"])  # c was not ready: not waited for
    record.perf_started("a", 100.0, 130.0)
    assert len(writes) == 1, "b has not started yet"
    record.failed("b", "b: lost")
    assert len(writes) == 2
    on_disk = read_manifest(tmp_path)
    assert on_disk.hosts["a"].perf_started_at == 100.0 and on_disk.hosts["b"].status == "failed"
    record.perf_ended("a", PerfEnd(0, 131.0, "", 10), 30.0, stopped=False)
    assert len(writes) == 2, "facts after the checkpoint wait for the next write"


def test_nobody_told_to_go_writes_the_checkpoint_at_once(tmp_path: Path, writes: list[Path]) -> None:
    record = _record(tmp_path)
    record.failed("a", "a: no perf")
    record.awaiting_start([])
    assert len(writes) == 2 and read_manifest(tmp_path).hosts["a"].error == "a: no perf"


def test_finish_settles_the_duration_and_writes_once(tmp_path: Path, writes: list[Path]) -> None:
    record = _record(tmp_path, ("a",))
    record.perf_started("a", 100.0, 130.0)
    record.perf_ended("a", PerfEnd(130, 112.0, "", 5), 30.0, stopped=True)
    record.finish(stopped=True)
    assert len(writes) == 2
    on_disk = read_manifest(tmp_path)
    assert on_disk.duration_s == 12.0 and on_disk.stopped_early and on_disk.ended_at is not None


def test_rows_found_on_the_hosts_fill_only_what_the_record_lacks(tmp_path: Path, writes: list[Path]) -> None:
    record = _record(tmp_path, ("a",))
    record.found({"a": HostResult(remote_dir="/tmp/fleetflame-x.abcdefghij")})
    assert len(writes) == 2 and record.row("a").remote_dir == "/tmp/fleetflame-x.abcdefghij"
    record.found({"a": HostResult(remote_dir="/tmp/other")})
    assert len(writes) == 2, "nothing gained, nothing written"
    assert read_manifest(tmp_path).hosts["a"].remote_dir == "/tmp/fleetflame-x.abcdefghij"


def test_an_opened_record_is_not_written_until_it_changes(tmp_path: Path, writes: list[Path]) -> None:
    _record(tmp_path, ("a",))
    opened = CaptureRecord(tmp_path, read_manifest(tmp_path))
    opened.found({"a": HostResult()})  # a has no remote folder either way: replaced, so written
    assert len(writes) == 2
    again = CaptureRecord(tmp_path, read_manifest(tmp_path))
    again.save()
    assert len(writes) == 2
