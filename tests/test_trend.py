"""The trend of a tile's top functions across synthetic capture folders, checked to the sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from fleetflame import folded
from fleetflame.capture import FLEET_FOLDED, HostResult, Manifest
from fleetflame.errors import InputError
from fleetflame.trend import trend, trend_json, trend_table

VERIFY, SHA, POLL = "fd_ed25519_verify", "fd_sha512_update", "fd_stem_poll"
HEALTHY = {f"verify:0;fd_stem_run;{VERIFY}": 50, f"verify:0;fd_stem_run;{SHA}": 30, f"verify:0;{POLL}": 20}
DRIFTED = {f"verify:0;fd_stem_run;{VERIFY}": 20, f"verify:0;fd_stem_run;{SHA}": 30, f"verify:0;{POLL}": 50}
QUIC = {"quic:0;fd_quic_service;fd_aio_send": 1000}


def capture(
    out: Path, capture_id: str, hosts: dict[str, dict[str, int]], pending: tuple[str, ...] = (), fleet: bool = True
) -> Path:
    """A capture folder: manifest.json (samples = the host's counts) and fleet.folded."""
    folder = out / capture_id
    folder.mkdir(parents=True)
    stamp = capture_id[:16]
    started = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}.000000Z"
    results = {name: HostResult(status="ok", samples=folded.total(stacks)) for name, stacks in hosts.items()}
    results.update({name: HostResult() for name in pending})
    Manifest(id=capture_id, target="all", started_at=started, hosts=results).write(folder)
    if fleet:
        folded.write_folded(folded.merge(folded.with_prefix(s, h) for h, s in hosts.items()), folder / FLEET_FOLDED)
    return folder


def history(out: Path) -> None:
    """Three hosts alike, then host c drifts: its verify share falls from 50 % to 20 %."""
    capture(out, "20261125T001500Z-all", {"a": {**HEALTHY, **QUIC}, "b": HEALTHY, "c": HEALTHY})
    capture(out, "20261125T011500Z-all", {"a": HEALTHY, "b": {**HEALTHY, **QUIC}, "c": DRIFTED})


def test_top_functions_and_shares_are_exact(tmp_path: Path) -> None:
    history(tmp_path)
    result = trend(tmp_path, "verify:0", top=2)
    # self samples over the history: verify 3*50 + 2*50 + 20, sha 6*30, poll 5*20 + 50
    assert result.functions == [VERIFY, SHA]
    assert result.function_samples == {VERIFY: 270, SHA: 180}
    assert result.tiles == ["verify:0"]
    assert [p.capture for p in result.points] == ["20261125T001500Z-all", "20261125T011500Z-all"]
    first, second = result.points
    assert [h.host for h in first.hosts] == ["a", "b", "c"]
    assert all(h.samples == 100 and h.shares == {VERIFY: 50.0, SHA: 30.0} for h in first.hosts)
    assert first.median == {VERIFY: 50.0, SHA: 30.0}
    c = second.hosts[2]
    assert (c.host, c.samples, c.self_samples) == ("c", 100, {VERIFY: 20, SHA: 30})
    assert c.shares == {VERIFY: 20.0, SHA: 30.0} and c.other == 50.0
    assert c.deviation == {VERIFY: -30.0, SHA: 0.0}
    assert result.skipped == []


def test_the_drifting_host_is_flagged(tmp_path: Path) -> None:
    history(tmp_path)
    result = trend(tmp_path, "verify:0", top=3)
    assert result.functions == [VERIFY, SHA, POLL]
    assert result.drifting() == [
        ("20261125T011500Z-all", "c", VERIFY, -30.0),
        ("20261125T011500Z-all", "c", POLL, 30.0),
    ]
    # a wider threshold keeps quiet
    assert trend(tmp_path, "verify:0", top=3, threshold=30.0).drifting() == []

    console = Console(width=200, record=True)
    console.print(trend_table(result))
    text = console.export_text()
    rows = [line for line in text.splitlines() if line.startswith("│")]
    marked = [row for row in rows if "▲" in row or "▼" in row]
    assert len(marked) == 1 and "│ c " in marked[0]
    assert "20.0% ▼" in marked[0] and "50.0% ▲" in marked[0]
    assert any("median" in row and "50.0%" in row for row in rows)

    data = json.loads(trend_json(result))
    assert data["drifting"] == [
        {"capture": "20261125T011500Z-all", "host": "c", "function": VERIFY, "deviation": -30.0},
        {"capture": "20261125T011500Z-all", "host": "c", "function": POLL, "deviation": 30.0},
    ]
    host_c = data["captures"][1]["hosts"][2]
    assert host_c == {
        "host": "c",
        "samples": 100,
        "self_samples": {VERIFY: 20, SHA: 30, POLL: 50},
        "share": {VERIFY: 20.0, SHA: 30.0, POLL: 50.0},
        "other": 0.0,
        "deviation": {VERIFY: -30.0, SHA: 0.0, POLL: 30.0},
        "drifting": [VERIFY, POLL],
    }
    assert data["functions"] == [
        {"name": VERIFY, "self_samples": 270},
        {"name": SHA, "self_samples": 180},
        {"name": POLL, "self_samples": 150},
    ]


def test_a_kind_means_every_tile_of_that_kind(tmp_path: Path) -> None:
    capture(
        tmp_path,
        "20261125T001500Z-all",
        {
            "a": {f"verify:0;{VERIFY}": 10, f"verify:1;x;{VERIFY}": 30, f"verify:1;{SHA}": 40, "verifyx:0;nope": 99},
            "b": {f"verify:3;{VERIFY}": 1, f"verify:3;{SHA}": 7},
        },
    )
    for tile in ("verify", "verify:*"):
        result = trend(tmp_path, tile, top=5)
        assert result.tiles == ["verify:0", "verify:1", "verify:3"]
        assert result.functions == [SHA, VERIFY]
        a, b = result.points[0].hosts
        assert (a.samples, a.shares) == (80, {SHA: 50.0, VERIFY: 50.0})
        assert (b.samples, b.shares) == (8, {SHA: 87.5, VERIFY: 12.5})
        assert result.points[0].median == {SHA: 68.75, VERIFY: 31.25}
    only_one = trend(tmp_path, "verify:1")
    assert only_one.points[0].hosts[0].shares == {SHA: 100 * 40 / 70, VERIFY: 100 * 30 / 70}
    assert [h.host for h in only_one.points[0].hosts] == ["a"]


def test_agave_process(tmp_path: Path) -> None:
    capture(tmp_path, "20261125T001500Z-agave", {"a": {"agave;solBanknStgTx;execute": 3, "agave;solGossip;recv": 1}})
    result = trend(tmp_path, "agave", top=1)
    assert result.functions == ["execute"] and result.points[0].hosts[0].shares == {"execute": 75.0}


def test_captures_without_the_tile_pending_or_unreported_are_left_out(tmp_path: Path) -> None:
    history(tmp_path)
    capture(tmp_path, "20261125T021500Z-quic", {"a": QUIC, "b": QUIC})
    capture(tmp_path, "20261125T031500Z-all", {"a": HEALTHY}, pending=("b",))
    capture(tmp_path, "20261125T041500Z-all", {"a": HEALTHY}, fleet=False)
    (tmp_path / "20261125T051500Z-all").mkdir()  # half written
    result = trend(tmp_path, "verify:0")
    assert [p.capture for p in result.points] == ["20261125T001500Z-all", "20261125T011500Z-all"]
    reasons = dict(result.skipped)
    assert reasons["20261125T021500Z-quic"] == "no samples of verify:0"
    assert "fleetflame fetch 20261125T031500Z-all" in reasons["20261125T031500Z-all"]
    assert "fleetflame report" in reasons["20261125T041500Z-all"]
    assert len(result.warnings) == 1 and "20261125T051500Z-all" in result.warnings[0]
    console = Console(width=200, record=True)
    console.print(trend_table(result))
    assert "3 captures left out" in console.export_text()
    assert len(json.loads(trend_json(result))["skipped"]) == 3


def test_last_reads_only_the_newest_captures(tmp_path: Path) -> None:
    history(tmp_path)
    result = trend(tmp_path, "verify:0", top=3, last=1)
    assert [p.capture for p in result.points] == ["20261125T011500Z-all"]
    # functions are ranked on what was read: verify 120, sha 90, poll 90 (tie broken by name)
    assert result.function_samples == {VERIFY: 120, POLL: 90, SHA: 90}
    assert result.functions == [VERIFY, SHA, POLL]


def test_empty_history_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        trend(tmp_path, "verify:0")
    assert "no captures in" in str(info.value) and "fleetflame run" in str(info.value)
    assert info.value.exit_code == 2


def test_only_pending_captures(tmp_path: Path) -> None:
    capture(tmp_path, "20261125T001500Z-all", {}, pending=("a",), fleet=False)
    with pytest.raises(InputError) as info:
        trend(tmp_path, "verify:0")
    assert "pending" in str(info.value) and "fleetflame fetch" in str(info.value)


def test_a_tile_in_no_capture_names_the_tiles_there(tmp_path: Path) -> None:
    history(tmp_path)
    with pytest.raises(InputError) as info:
        trend(tmp_path, "verify:7")
    message = str(info.value)
    assert "'verify:7'" in message and "quic:0, verify:0" in message and "fleetflame run verify:7" in message


@pytest.mark.parametrize("tile", ["Verify", "verify:x", "verify;0", ""])
def test_bad_tile_words(tmp_path: Path, tile: str) -> None:
    history(tmp_path)
    with pytest.raises(InputError) as info:
        trend(tmp_path, tile)
    assert repr(tile) in str(info.value)


def test_bad_top_and_last(tmp_path: Path) -> None:
    history(tmp_path)
    with pytest.raises(InputError, match="--top 0"):
        trend(tmp_path, "verify:0", top=0)
    with pytest.raises(InputError, match="--last 0"):
        trend(tmp_path, "verify:0", last=0)
