"""The trend of a tile's top functions across synthetic capture folders, checked to the sample."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from fleetflame import folded
from fleetflame.capture import FLEET_FOLDED, HostResult, Manifest
from fleetflame.errors import InputError
from fleetflame.terminal import print_table
from fleetflame.archive.trend import trend, trend_json, trend_table

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
    host_c_drifts = data["captures"][1]["hosts"][2]["drifts"]
    assert set(host_c_drifts) == {VERIFY, POLL}
    p_verify, p_poll = host_c_drifts[VERIFY]["p_adjusted"], host_c_drifts[POLL]["p_adjusted"]
    assert 0 < p_verify <= 0.01 and 0 < p_poll <= 0.01
    assert data["drifting"] == [
        {"capture": "20261125T011500Z-all", "host": "c", "function": VERIFY, "deviation": -30.0, "difference": -30.0, "p_adjusted": p_verify},
        {"capture": "20261125T011500Z-all", "host": "c", "function": POLL, "deviation": 30.0, "difference": 30.0, "p_adjusted": p_poll},
    ]
    host_c = data["captures"][1]["hosts"][2]
    del host_c["drifts"]
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


# ---- the statistics of skew, whole names, and the run suggestion ------------------------------


def test_a_change_that_is_noise_gets_no_arrow(tmp_path: Path) -> None:
    """The issue's case: cells of 7 samples, 71 % against 86 %, are 15 points apart and noise."""
    few = {f"verify:0;{VERIFY}": 6, f"verify:0;{POLL}": 1}
    fewer = {f"verify:0;{VERIFY}": 5, f"verify:0;{POLL}": 2}
    capture(tmp_path, "20261125T001500Z-all", {"a": few, "b": few, "c": fewer})
    result = trend(tmp_path, "verify:0", top=2)
    c = result.points[0].hosts[2]
    assert round(c.shares[VERIFY]) == 71 and round(result.points[0].median[VERIFY]) == 86
    assert abs(c.deviation[VERIFY]) > result.threshold
    assert result.drifting() == []
    # the same shares over 1000 samples a host are real
    many = {f"verify:0;{VERIFY}": 857, f"verify:0;{POLL}": 143}
    fewer_many = {f"verify:0;{VERIFY}": 714, f"verify:0;{POLL}": 286}
    capture(tmp_path, "20261125T011500Z-all", {"a": many, "b": many, "c": fewer_many})
    assert [(c, h, f) for c, h, f, _ in trend(tmp_path, "verify:0", top=2).drifting()] == [
        ("20261125T011500Z-all", "c", VERIFY),
        ("20261125T011500Z-all", "c", POLL),
    ]


def test_one_drifting_host_does_not_mark_the_healthy_ones(tmp_path: Path) -> None:
    bad = {f"verify:0;fd_stem_run;{VERIFY}": 100, f"verify:0;{POLL}": 900}
    capture(tmp_path, "20261125T001500Z-all", {"a": scale(HEALTHY, 10), "b": scale(HEALTHY, 10), "c": bad})
    marked = {(h, f) for _, h, f, _ in trend(tmp_path, "verify:0", top=3).drifting()}
    assert marked and {h for h, _ in marked} == {"c"}


def scale(stacks: dict[str, int], factor: int) -> dict[str, int]:
    return {s: n * factor for s, n in stacks.items()}


def test_function_names_are_whole_when_piped_and_at_80_columns(tmp_path: Path) -> None:
    long_names = [
        "solana_runtime::bank::Bank::load_and_execute_transactions::h0123456789abcdef",
        "fd_ed25519_verify_batch_single_msg_with_precomputed_tables",
        "<alloc::vec::Vec<T,A> as core::ops::drop::Drop>::drop",
    ]
    stacks = {f"verify:0;fd_stem_run;{name}": 100 * (i + 1) for i, name in enumerate(long_names)}
    capture(tmp_path, "20261125T001500Z-all", {"a": stacks, "b": stacks, "c": stacks})
    result = trend(tmp_path, "verify:0")
    for terminal in (False, True):  # a pipe (COLUMNS does not matter), then an 80-column terminal
        console = Console(file=io.StringIO(), width=80, force_terminal=terminal, color_system=None)
        print_table(console, trend_table(result))
        text = console.file.getvalue()  # type: ignore[attr-defined]
        for name in long_names:
            assert name in text, (terminal, name)
        assert "…" not in text


def test_a_typo_is_refused_and_never_suggested_as_a_target(tmp_path: Path) -> None:
    history(tmp_path)
    with pytest.raises(InputError) as info:
        trend(tmp_path, "verfy")
    message = str(info.value)
    assert "did you mean 'verify'?" in message and "fleetflame run" not in message
    assert info.value.exit_code == 2


def test_a_kind_not_recorded_suggests_the_target_that_records_it(tmp_path: Path) -> None:
    history(tmp_path)
    with pytest.raises(InputError) as info:
        trend(tmp_path, "dedup")
    assert "`fleetflame run dedup:* " in str(info.value)  # `run dedup` would record dedup:0 only
    with pytest.raises(InputError) as info:
        trend(tmp_path, "dedup:2")
    assert "`fleetflame run dedup:2 " in str(info.value)


def test_host_names_and_functions_are_printed_inert(tmp_path: Path) -> None:
    evil = "fd_\x1b]0:owned\x07[red]x[/]"  # no ";": that would split the frame
    stacks = {f"verify:0;{evil}": 10}
    capture(tmp_path, "20261125T001500Z-all", {"a": stacks, "b": stacks, "c": stacks})
    console = Console(file=io.StringIO(), width=200, force_terminal=True)
    print_table(console, trend_table(trend(tmp_path, "verify:0")))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b]0" not in text and "\x07" not in text and "\\x1b]0:owned\\x07[red]x[/]" in text
