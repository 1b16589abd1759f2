"""Capture history: listing OUT, retention (prune), the table and JSON forms."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from fleetflame import folded
from fleetflame.capture import FLEET_FOLDED, HostResult, Manifest, host_dir
from fleetflame.errors import FleetflameError, InputError
from fleetflame.archive.history import captures_json, captures_table, human_size, list_captures, prune, read_history
from fleetflame.host.targets import parse_target
from fleetflame.terminal import print_table


def make_capture(
    out: Path,
    capture_id: str,
    statuses: dict[str, str],
    samples: int = 10,
    started_at: str | None = None,
    target: str | None = None,
) -> Path:
    """A capture folder as `run` leaves it: manifest, fleet.folded, hosts/HOST/stacks.folded."""
    folder = out / capture_id
    folder.mkdir(parents=True)
    stamp = capture_id.split("-")[0]
    started = started_at or f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}.000000Z"
    hosts = {}
    fleet: dict[str, int] = {}
    for name, status in statuses.items():
        count = samples if status == "ok" else 0
        hosts[name] = HostResult(status=status, samples=count, error="boom" if status == "failed" else None)
        if count:
            host_dir(folder, name).mkdir(parents=True)
            folded.write_folded({"verify:0;main;work": count}, host_dir(folder, name) / "stacks.folded")
            fleet[f"{name};verify:0;main;work"] = count
    target = target or capture_id.split("-", 1)[1]
    Manifest(id=capture_id, target=target, started_at=started, hosts=hosts).write(folder)
    folded.write_folded(fleet, folder / FLEET_FOLDED)
    return folder


def hourly(out: Path, n: int, status: str = "ok", target: str = "all", start_hour: int = 0) -> list[Path]:
    return [make_capture(out, f"20261125T{start_hour + h:02d}1500Z-{target}", {"a": status, "b": "ok"}) for h in range(n)]


def test_lists_captures_in_time_order_with_counts_and_size(tmp_path: Path) -> None:
    make_capture(tmp_path, "20261125T231500Z-all", {"a": "ok", "b": "failed", "c": "pending"}, samples=7)
    make_capture(tmp_path, "20261125T221500Z-verify-all", {"a": "ok", "b": "ok"}, samples=5)
    captures = list_captures(tmp_path)
    assert [c.id for c in captures] == ["20261125T221500Z-verify-all", "20261125T231500Z-all"]
    first, second = captures
    assert (first.hosts_ok, first.hosts_failed, first.hosts_pending, first.samples) == (2, 0, 0, 10)
    assert (second.hosts_ok, second.hosts_failed, second.hosts_pending, second.samples) == (1, 1, 1, 7)
    assert first.status == "ok" and second.status == "pending"
    expected = sum(p.stat().st_size for p in first.path.rglob("*") if p.is_file())
    assert first.size_bytes == expected > 0
    assert first.target == "verify-all" and first.path == tmp_path / first.id


def test_same_second_captures_sort_by_started_at(tmp_path: Path) -> None:
    make_capture(tmp_path, "20261125T221500Z-quic", {"a": "ok"}, started_at="2026-11-25T22:15:00.900000Z")
    make_capture(tmp_path, "20261125T221500Z-verify", {"a": "ok"}, started_at="2026-11-25T22:15:00.100000Z")
    assert [c.id for c in list_captures(tmp_path)] == ["20261125T221500Z-verify", "20261125T221500Z-quic"]


def test_half_written_and_foreign_folders_are_warnings_not_crashes(tmp_path: Path) -> None:
    make_capture(tmp_path, "20261125T221500Z-all", {"a": "ok"})
    (tmp_path / "20261125T231500Z-all").mkdir()  # manifest not written yet
    broken = tmp_path / "20261126T001500Z-all"
    broken.mkdir()
    (broken / "manifest.json").write_text('{"id": "20261126T0015', encoding="utf-8")  # cut short
    odd = tmp_path / "20261126T011500Z-all"
    odd.mkdir()
    (odd / "manifest.json").write_text('["not", "a", "manifest"]', encoding="utf-8")
    renamed = tmp_path / "my-favourite"
    make_capture(tmp_path, "20261126T021500Z-all", {"a": "ok"}).rename(renamed)
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.txt").write_text("hi", encoding="utf-8")
    (tmp_path / ".fleetflame-0123.lock").write_text("", encoding="utf-8")

    history = read_history(tmp_path)
    assert [c.id for c in history.captures] == ["20261125T221500Z-all"]
    text = "\n".join(history.warnings)
    assert len(history.warnings) == 4
    assert "20261125T231500Z-all: no manifest.json" in text
    assert "20261126T001500Z-all: unreadable manifest.json" in text
    assert "20261126T011500Z-all: unreadable manifest.json" in text
    assert "my-favourite" in text and "not a capture id" in text


def test_missing_out_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        list_captures(tmp_path / "nope")
    assert "--out" in str(info.value) and info.value.exit_code == 2


def test_prune_keeps_exactly_n_newest_completed(tmp_path: Path) -> None:
    folders = hourly(tmp_path, 6)
    deleted = prune(tmp_path, keep=2)
    assert deleted == folders[:4]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f.name for f in folders[4:]]
    assert prune(tmp_path, keep=2) == []


def test_prune_counts_captures_with_failed_hosts(tmp_path: Path) -> None:
    folders = hourly(tmp_path, 3, status="failed")
    assert prune(tmp_path, keep=1) == folders[:2]


def test_dry_run_deletes_nothing(tmp_path: Path) -> None:
    folders = hourly(tmp_path, 4)
    assert prune(tmp_path, keep=1, dry_run=True) == folders[:3]
    assert all(f.is_dir() for f in folders)


def test_pending_captures_are_kept_and_not_counted(tmp_path: Path) -> None:
    old_pending = make_capture(tmp_path, "20261125T001500Z-all", {"a": "pending", "b": "ok"})
    done = hourly(tmp_path, 3, start_hour=1)
    new_pending = make_capture(tmp_path, "20261125T051500Z-all", {"a": "pending"})
    assert prune(tmp_path, keep=2) == done[:1]
    assert old_pending.is_dir() and new_pending.is_dir() and done[1].is_dir() and done[2].is_dir()
    # asked explicitly: pending ones count and go like the others
    assert prune(tmp_path, keep=1, include_pending=True) == [old_pending, done[1], done[2]]
    assert [c.id for c in list_captures(tmp_path)] == [new_pending.name]


def test_prune_by_target_leaves_other_schedules_alone(tmp_path: Path) -> None:
    alls = hourly(tmp_path, 3, target="all")
    verifies = hourly(tmp_path, 2, target="verify")
    assert prune(tmp_path, keep=1, target=parse_target("all")) == alls[:2]
    assert all(v.is_dir() for v in verifies)


def test_prune_compares_targets_by_meaning(tmp_path: Path) -> None:
    """`verify` is `verify:0`, and `quic,verify` is `verify:0,quic`: the same schedule."""
    verify = [
        make_capture(tmp_path, "20261125T001500Z-verify", {"a": "ok"}, target="verify"),
        make_capture(tmp_path, "20261125T011500Z-verify-0", {"a": "ok"}, target="verify:0"),
        make_capture(tmp_path, "20261125T021500Z-verify", {"a": "ok"}, target="verify"),
    ]
    pair = [
        make_capture(tmp_path, "20261125T031500Z-quic+verify", {"a": "ok"}, target="quic,verify"),
        make_capture(tmp_path, "20261125T041500Z-verify-0+quic", {"a": "ok"}, target="verify:0,quic"),
    ]
    others = [
        make_capture(tmp_path, "20261125T051500Z-verify-1", {"a": "ok"}, target="verify:1"),
        make_capture(tmp_path, "20261125T061500Z-odd", {"a": "ok"}, target="not a target"),  # hand-edited
    ]
    assert prune(tmp_path, keep=1, target=parse_target("verify:0"), dry_run=True) == verify[:2]
    assert prune(tmp_path, keep=1, target=parse_target("verify")) == verify[:2]
    assert prune(tmp_path, keep=1, target=parse_target("verify:0,quic")) == pair[:1]
    assert [c.path for c in list_captures(tmp_path)] == [verify[2], pair[1], *others]


def test_prune_deletes_only_capture_folders(tmp_path: Path) -> None:
    hourly(tmp_path, 3)
    keep_me = [tmp_path / "notes", tmp_path / "20261125T201500Z-all"]  # no manifest: not a capture
    for folder in keep_me:
        folder.mkdir()
        (folder / "precious").write_text("x", encoding="utf-8")
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    make_capture(outside, "20261124T001500Z-all", {"a": "ok"})
    (tmp_path / "20261124T001500Z-all").symlink_to(outside / "20261124T001500Z-all")
    prune(tmp_path, keep=1)
    assert all((f / "precious").is_file() for f in keep_me)
    assert (tmp_path / "file.txt").is_file()
    assert (outside / "20261124T001500Z-all" / "manifest.json").is_file()
    assert len(list_captures(tmp_path)) == 1


@pytest.mark.parametrize("keep", [0, -3])
def test_keep_below_one_is_refused(tmp_path: Path, keep: int) -> None:
    folders = hourly(tmp_path, 2)
    with pytest.raises(InputError) as info:
        prune(tmp_path, keep=keep)
    assert f"--keep {keep}" in str(info.value) and info.value.exit_code == 2
    assert all(f.is_dir() for f in folders)


def test_failed_deletion_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = hourly(tmp_path, 3)

    def refuse(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("fleetflame.archive.history.shutil.rmtree", refuse)
    with pytest.raises(FleetflameError) as info:
        prune(tmp_path, keep=1)
    assert "pruned 0 of 2" in str(info.value) and folders[0].name in str(info.value)
    assert info.value.exit_code == 1


def test_table_and_json(tmp_path: Path) -> None:
    make_capture(tmp_path, "20261125T221500Z-all", {"a": "ok", "b": "failed"}, samples=1234)
    make_capture(tmp_path, "20261125T231500Z-all", {"a": "pending"})
    (tmp_path / "20261126T001500Z-all").mkdir()
    history = read_history(tmp_path)

    console = Console(width=160, record=True)
    console.print(captures_table(history))
    text = console.export_text()
    assert "20261125T221500Z-all" in text and "1 ok · 1 failed" in text and "1,234" in text
    assert "0 ok · 1 pending" in text and "2025" not in text

    data = json.loads(captures_json(history))
    assert data["captures"][0] == {
        "id": "20261125T221500Z-all",
        "target": "all",
        "started_at": "2026-11-25T22:15:00.000000Z",
        "ended_at": None,
        "status": "failed",
        "hosts": {"ok": 1, "failed": 1, "pending": 0},
        "samples": 1234,
        "size_bytes": history.captures[0].size_bytes,
        "path": str(tmp_path / "20261125T221500Z-all"),
    }
    assert data["captures"][1]["status"] == "pending"
    assert len(data["warnings"]) == 1


def test_table_prints_manifest_text_literally_and_ids_whole(tmp_path: Path) -> None:
    hostile = "[bold]x[/] [/sys/x] \x1b[2J:fire:"
    long_id = "20261125T221500Z-" + "+".join(f"verify-{i}" for i in range(12))
    make_capture(tmp_path, long_id, {"a": "ok"}, target=hostile)
    size = human_size(read_history(tmp_path).captures[0].size_bytes)
    for terminal in (True, False):  # an 80-column terminal, and a pipe
        buffer = io.StringIO()
        # (wide enough for the target column, which this test is about)
        print_table(Console(file=buffer, width=80, force_terminal=terminal, color_system=None), captures_table(read_history(tmp_path), width=300))
        text = buffer.getvalue()
        assert long_id in text, text
        assert "[bold]x[/] [/sys/x] \\x1b[2J:fire:" in text and "\x1b" not in text
        assert "…" not in text and text.splitlines()[-1].endswith(f" {size}")


def test_table_fits_80_columns_in_a_pipe(tmp_path: Path) -> None:
    """Issue 16: `captures list` in a pipe was 87 columns wide with trailing spaces."""
    make_capture(tmp_path, "20261125T221500Z-verify-all+quic", {"a": "ok", "b": "failed", "c": "pending"}, samples=1234567)
    make_capture(tmp_path, "20261125T231500Z-all", {"a": "failed"})
    buffer = io.StringIO()
    print_table(Console(file=buffer, width=80, color_system=None), captures_table(read_history(tmp_path), width=80))
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80 and all(line == line.rstrip() for line in lines)
    assert any("20261125T231500Z-all" in line and "0 ok · 1 failed" in line for line in lines)
    wide = io.StringIO()
    print_table(Console(file=wide, width=160, color_system=None), captures_table(read_history(tmp_path), width=160))
    assert "2026-11-25 22:15:00" in wide.getvalue() and "started (UTC)" in wide.getvalue()
