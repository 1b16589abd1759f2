"""Tile resolution against what a real Frankendancer / Firedancer host shows: its metrics page
format, tile_status, tiles that shut down or still boot, today's tile names, tiles fleetflame does
not know, and a validator in another PID namespace."""

from __future__ import annotations

import pytest

from fleetflame.host.metrics import read_metrics_page
from fleetflame.host.resolve import Metrics, resolve
from fleetflame.host.targets import parse_target
from fleetflame.host.tiles import HostThread, Tile, TileError, select_tiles

from .realpage import PageTile, real_page

AGAVE = 5000
# Production Frankendancer: every non-Agave tile a process (pid == tid); resolh, bank, pohh and
# store threads of the Agave process; snapld:0 shut down (stale pid), plugin:0 still booting.
PRODUCTION = [
    PageTile("netlnk", 0, 1001, 1001), PageTile("net", 0, 1002, 1002), PageTile("quic", 0, 1003, 1003),
    *(PageTile("verify", i, 1010 + i, 1010 + i) for i in range(4)),
    PageTile("dedup", 0, 1020, 1020), PageTile("pack", 0, 1021, 1021), PageTile("shred", 0, 1022, 1022),
    PageTile("sign", 0, 1023, 1023), PageTile("metric", 0, 1024, 1024), PageTile("diag", 0, 1025, 1025),
    PageTile("guih", 0, 1026, 1026), PageTile("plugin", 0, 0, 0, status=0),
    PageTile("snapld", 0, 1030, 1030, status=2),
    PageTile("resolh", 0, AGAVE, AGAVE + 1), PageTile("bank", 0, AGAVE, AGAVE + 2),
    PageTile("bank", 1, AGAVE, AGAVE + 3), PageTile("pohh", 0, AGAVE, AGAVE + 4), PageTile("store", 0, AGAVE, AGAVE + 5),
]
THREADS = [HostThread(1, 1, "systemd"), HostThread(900, 900, "fdctl")]
THREADS += [HostThread(t.pid, t.tid, f"{t.kind}:{t.kind_id}") for t in PRODUCTION if t.status == 1 and t.pid != AGAVE]
THREADS += [HostThread(AGAVE, AGAVE, "agave"), HostThread(AGAVE, AGAVE + 9, "solRpcSvc")]
THREADS += [HostThread(t.pid, t.tid, f"{t.kind}:{t.kind_id}") for t in PRODUCTION if t.pid == AGAVE]


def page(**kwargs: int) -> str:
    return real_page(PRODUCTION, filler_metrics=kwargs.get("filler", 80))


def test_the_parser_reads_a_real_page_of_two_thousand_lines() -> None:
    text = page()
    assert len(text.splitlines()) >= 2000
    parsed = read_metrics_page(text)
    assert parsed.warnings == []
    by_name = {t.name: t for t in parsed.tiles}
    assert len(by_name) == len(PRODUCTION)
    assert by_name["verify:3"] == Tile("verify", 3, 1013, 1013, 1)
    assert by_name["bank:1"] == Tile("bank", 1, AGAVE, AGAVE + 3, 1)
    assert by_name["snapld:0"].status == 2 and by_name["snapld:0"].pid == 1030
    assert by_name["plugin:0"] == Tile("plugin", 0, 0, 0, 0)


def test_all_skips_tiles_that_shut_down_or_boot_and_names_them() -> None:
    selection = select_tiles(parse_target("all"), read_metrics_page(page()).tiles, THREADS, "val01")
    names = [t.name for t in selection.tiles]
    assert "snapld:0" not in names and "plugin:0" not in names and "guih:0" in names and "pohh:0" in names
    assert [s.to_json() for s in selection.skipped] == [
        {"tile": "plugin:0", "reason": "booting"}, {"tile": "snapld:0", "reason": "shut down"},
    ]
    assert "1030" not in selection.perf_target_args()[1].split(",")


def test_a_tile_named_explicitly_that_shut_down_fails_the_host() -> None:
    with pytest.raises(TileError, match=r"^tile snapld:0 has shut down on val01"):
        select_tiles(parse_target("snapld:0"), read_metrics_page(page()).tiles, THREADS, "val01")
    with pytest.raises(TileError, match=r"^tile plugin:0 is still booting on val01"):
        select_tiles(parse_target("verify:*,plugin"), read_metrics_page(page()).tiles, THREADS, "val01")


def test_todays_names_resolve_and_an_old_name_gets_a_hint_from_the_host() -> None:
    tiles = read_metrics_page(page()).tiles
    selection = select_tiles(parse_target("guih,pohh,resolh"), tiles, THREADS, "val01")
    assert [t.name for t in selection.tiles] == ["guih:0", "pohh:0", "resolh:0"]
    with pytest.raises(TileError) as info:
        select_tiles(parse_target("poh"), tiles, THREADS, "val01")
    message = str(info.value)
    assert message.startswith("tile poh:0 not found on val01: it has no poh tiles; did you mean pohh?")
    assert "guih" in message and "resolh" in message


def test_agave_records_the_agave_process_with_its_sol_threads() -> None:
    tiles = read_metrics_page(page()).tiles
    assert select_tiles(parse_target("agave"), tiles, THREADS, "val01").perf_target_args() == ["-p", str(AGAVE)]
    mixed = select_tiles(parse_target("agave,verify:0"), tiles, THREADS, "val01")
    assert mixed.roots_by_tid()[AGAVE + 9] == "agave;solRpcSvc"


def test_nothing_left_to_record_is_a_clear_host_error() -> None:
    tiles = [Tile("snapld", 0, 40, 40, 2), Tile("snapct", 0, 41, 41, 2), Tile("verify", 0, 42, 42, 1)]
    with pytest.raises(TileError, match=r"^nothing to record on val01: no selected tile is running: snapct:0 \(shut down\), snapld:0 \(shut down\)$"):
        select_tiles(parse_target("snapld:*,snapct:*"), tiles, [HostThread(42, 42, "verify:0")], "val01")


def test_pids_from_another_pid_namespace_are_named_as_such() -> None:
    foreign = [HostThread(1, 1, "systemd"), HostThread(77, 77, "sshd")]
    with pytest.raises(TileError, match="none of the pids val01's metrics report exist in its /proc .*another PID namespace"):
        select_tiles(parse_target("all"), read_metrics_page(page()).tiles, foreign, "val01")


def test_a_kind_the_host_reports_that_fleetflame_does_not_know_is_recorded_with_a_warning() -> None:
    tiles = [PageTile("verify", 0, 10, 10), PageTile("newtile", 0, 11, 11)]
    parsed = read_metrics_page(real_page(tiles, filler_metrics=2))
    assert [t.name for t in parsed.tiles] == ["newtile:0", "verify:0"]
    assert parsed.warnings == ["tile kind newtile unknown to fleetflame: recorded all the same (the validator knows its own tiles)"]
    threads = [HostThread(10, 10, "verify:0"), HostThread(11, 11, "newtile:0")]
    resolved = resolve(parse_target("all"), Metrics(parsed.tiles, None, tuple(parsed.warnings)), threads, "val01")
    assert [t.name for t in resolved.selection.tiles] == ["newtile:0", "verify:0"] and resolved.notes == tuple(parsed.warnings)


@pytest.mark.parametrize("value", ["inf", "+Inf", "1e999", "NaN", "-5", "12.5", "99999999999"])
def test_a_pid_that_is_not_a_thread_id_is_ignored_with_a_warning(value: str) -> None:
    parsed = read_metrics_page(f'tile_pid{{kind="verify",kind_id="0"}} {value}\ntile_pid{{kind="net",kind_id="0"}} 7\n')
    assert [t.name for t in parsed.tiles] == ["net:0"]
    assert len(parsed.warnings) == 1 and "verify:0" in parsed.warnings[0] and "not a thread id" in parsed.warnings[0]


def test_labels_that_would_inject_frames_or_lines_are_refused() -> None:
    hostile = 'tile_pid{kind="lab02;injected\\nframe",kind_id="0"} 5\ntile_pid{kind="verify",kind_id="1x"} 6\n'
    parsed = read_metrics_page(hostile + 'tile_pid{kind="verify",kind_id="0"} 7\n')
    assert [t.name for t in parsed.tiles] == ["verify:0"]
    assert len(parsed.warnings) == 2 and all("labels that are not a tile's" in w for w in parsed.warnings)


def test_metrics_that_point_at_another_process_are_not_trusted() -> None:
    """A page saying verify:0 is pid 1 would make root record init (or sshd) as verify:0."""
    lying = [PageTile("verify", 0, 1, 1), PageTile("net", 0, 1002, 1002)]
    parsed = read_metrics_page(real_page(lying, filler_metrics=1))
    resolved = resolve(parse_target("all"), Metrics(parsed.tiles), THREADS, "val01")
    assert resolved.source == "proc"
    assert "verify:0" in [t.name for t in resolved.selection.tiles]
    assert all(t.tid != 1 for t in resolved.selection.tiles)
    assert resolved.notes == ("the metrics are not to be trusted (verify:0 is pid 1, tid 1, a thread named 'systemd'): "
                              "used thread names in /proc instead",)


def test_agave_side_tiles_may_be_any_thread_of_the_agave_process() -> None:
    renamed = [HostThread(t.pid, t.tid, "solBankStg" if t.tid == AGAVE + 2 else t.comm) for t in THREADS]
    resolved = resolve(parse_target("bank:0"), Metrics(read_metrics_page(page()).tiles), renamed, "val01")
    assert resolved.source == "metrics" and [t.tid for t in resolved.selection.tiles] == [AGAVE + 2]
