import pytest

from fleetflame.host.targets import parse_target
from fleetflame.host.metrics import parse_metrics
from fleetflame.host.threads import parse_threads, tiles_from_threads
from fleetflame.host.tiles import HostThread, Tile, TileError, select_tiles

METRICS = """\
# HELP tile_pid The process ID of the tile.
# TYPE tile_pid gauge
tile_pid{kind="net",kind_id="0"} 100
tile_pid{kind="verify",kind_id="0"} 100
tile_pid{kind="verify",kind_id="1"} 100
tile_pid{kind="bank",kind_id="0"} 200
tile_pid{kind="bank",kind_id="1"} 200
# HELP tile_tid The thread ID of the tile.
# TYPE tile_tid gauge
tile_tid{kind="net",kind_id="0"} 101
tile_tid{kind="verify",kind_id="0"} 102
tile_tid{kind="verify",kind_id="1"} 103
tile_tid{kind="bank",kind_id="0"} 201
tile_tid{kind="bank",kind_id="1"} 202
# TYPE link_published_count counter
link_published_count{kind="verify",kind_id="0",link_kind="verify_dedup",link_kind_id="0"} 42
"""

THREADS = [
    HostThread(100, 100, "fdctl"),
    HostThread(100, 101, "net:0"),
    HostThread(100, 102, "verify:0"),
    HostThread(100, 103, "verify:1"),
    HostThread(200, 200, "agave"),
    HostThread(200, 201, "bank:0"),
    HostThread(200, 202, "bank:1"),
    HostThread(200, 203, "solRpcSvc"),
]


def test_parse_metrics_pairs_pid_and_tid() -> None:
    tiles = parse_metrics(METRICS)
    assert Tile("verify", 1, 100, 103) in tiles
    assert [t.name for t in tiles] == ["bank:0", "bank:1", "net:0", "verify:0", "verify:1"]


def test_parse_threads_keeps_spaces_in_names() -> None:
    assert parse_threads("1 1 init\n5 7 V8 Worker 1\nbad line\n") == [
        HostThread(1, 1, "init"),
        HostThread(5, 7, "V8 Worker 1"),
    ]


def test_tiles_from_thread_names_keep_every_kind_idx_thread() -> None:
    """The /proc fallback keeps tiles of kinds fleetflame does not know (a newer validator's):
    issue 14 changed this from "known kinds only"."""
    threads = THREADS + [HostThread(9, 9, "guih:0"), HostThread(9, 10, "verify:x"), HostThread(9, 11, "newkind:2")]
    names = [t.name for t in tiles_from_threads(threads)]
    assert names == ["bank:0", "bank:1", "guih:0", "net:0", "newkind:2", "verify:0", "verify:1"]


def test_select_kind_glob_uses_thread_ids() -> None:
    selection = select_tiles(parse_target("verify:*"), parse_metrics(METRICS), THREADS, "lab01")
    assert selection.perf_target_args() == ["-t", "102,103"]
    assert selection.roots_by_tid() == {102: "verify:0", 103: "verify:1"}


def test_agave_alone_records_the_process() -> None:
    selection = select_tiles(parse_target("agave"), parse_metrics(METRICS), THREADS, "lab01")
    assert selection.perf_target_args() == ["-p", "200"]


def test_agave_with_tiles_records_agave_threads_too() -> None:
    selection = select_tiles(parse_target("agave,net"), parse_metrics(METRICS), THREADS, "lab01")
    assert selection.perf_target_args() == ["-t", "101,200,201,202,203"]
    assert selection.roots_by_tid()[203] == "agave;solRpcSvc"


def test_missing_tile_is_named_with_host() -> None:
    with pytest.raises(TileError, match=r"^tile verify:7 not found on lab03$"):
        select_tiles(parse_target("net,verify:7"), parse_metrics(METRICS), THREADS, "lab03")


def test_dead_tile_named_explicitly_fails_the_host() -> None:
    threads = [t for t in THREADS if t.tid != 103]
    with pytest.raises(TileError, match="tile verify:1 .* is not running on lab02"):
        select_tiles(parse_target("verify:1"), parse_metrics(METRICS), threads, "lab02")


def test_dead_tile_is_skipped_and_named_by_a_glob() -> None:
    """`verify:*` and `all` skip a tile whose thread is gone (issue 14: before, the host failed)."""
    threads = [t for t in THREADS if t.tid != 103]
    selection = select_tiles(parse_target("verify:*"), parse_metrics(METRICS), threads, "lab02")
    assert [t.name for t in selection.tiles] == ["verify:0"]
    assert [s.to_json() for s in selection.skipped] == [{"tile": "verify:1", "reason": "not running"}]


def test_all_on_a_host_without_tiles() -> None:
    with pytest.raises(TileError, match="no tiles found on lab05"):
        select_tiles(parse_target("all"), [], [], "lab05")


def test_parse_metrics_handles_escapes_label_order_timestamps_and_floats() -> None:
    text = (
        'tile_pid{kind_id="2",kind="verify"} 1.2e+03 1700000000000\n'
        'tile_tid{kind="verify",kind_id="2",note="a \\"quoted\\", b"} 1201\n'
        'tile_pid{kind="net",kind_id="0",} 7\n'
        'tile_pid{kind="bad",kind_id="x"} 5\n'
        'tile_pid{kind="broken",kind_id="1" 5\n'
        "tile_pid_total 9\n"
    )
    assert parse_metrics(text) == [Tile("net", 0, 7, 7), Tile("verify", 2, 1200, 1201)]


def test_parse_metrics_of_something_else_finds_nothing() -> None:
    assert parse_metrics("<html>not metrics</html>\n") == []
