"""The command line as operators and scripts use it: outputs, help, and bad input refused with exit 2."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleetflame import folded
from fleetflame.capture import HostResult, Manifest
from fleetflame.cli import app

REPO = Path(__file__).resolve().parent.parent
INPUTS = REPO / "tests" / "collapse" / "inputs"
EXPECTED = REPO / "tests" / "collapse" / "expected"

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_collapse_file_matches_the_golden_output() -> None:
    code, out, _ = invoke("collapse", "--kernel", str(INPUTS / "threads.txt"))
    assert code == 0
    assert out == (EXPECTED / "threads--kernel.folded").read_text()


def test_collapse_reads_stdin() -> None:
    text = (INPUTS / "threads.txt").read_text()
    code, out, _ = invoke("collapse", input=text)
    assert code == 0 and out == (EXPECTED / "threads.folded").read_text()


def test_flamegraph_svg_and_html(tmp_path: Path) -> None:
    stacks = tmp_path / "in.folded"
    stacks.write_text("main;work;leaf 3\nmain;idle 1\n")
    code, out, _ = invoke("flamegraph", str(stacks), "--title", "mine")
    assert code == 0 and out.startswith("<?xml") and "mine" in out
    page = tmp_path / "g.html"
    code, _, _ = invoke("flamegraph", str(stacks), "--format", "html", "-o", str(page))
    assert code == 0 and "fleetflame-profile" in page.read_text()


def test_diff_of_two_folded_files(tmp_path: Path) -> None:
    before, after = tmp_path / "a.folded", tmp_path / "b.folded"
    before.write_text("main;work 10\nmain;idle 10\n")
    after.write_text("main;work 30\nmain;idle 10\n")
    code, out, _ = invoke("diff", str(before), str(after))
    assert code == 0 and out.lstrip().startswith("<?xml") and "work" in out


def make_capture(out: Path) -> Path:
    folder = out / "20261125T221500Z-all"
    for host, count in (("lab01", 5), ("lab02", 7)):
        host_dir = folder / "hosts" / host
        host_dir.mkdir(parents=True)
        folded.write_folded({"verify:0;main;work": count, "net:0;main;poll": 1}, host_dir / "stacks.folded")
    manifest = Manifest(
        id=folder.name,
        target="all",
        started_at="2026-11-25T22:15:00Z",
        hosts={"lab01": HostResult(status="ok", samples=6), "lab02": HostResult(status="ok", samples=8)},
    )
    manifest.write(folder)
    return folder


def test_report_redraws_a_capture_offline(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    code, out, _ = invoke("report", str(folder), "--format", "svg,html,speedscope,pprof", "--group-by", "tile")
    assert code == 0, out
    fleet = folded.read_folded(folder / "fleet.folded")
    assert fleet == {"lab01;verify:0;main;work": 5, "lab01;net:0;main;poll": 1, "lab02;verify:0;main;work": 7, "lab02;net:0;main;poll": 1}
    for name in ("flamegraph.svg", "flamegraph.html", "flamegraph.speedscope.json", "flamegraph.pb.gz", "hosts/lab01/flamegraph.svg"):
        assert (folder / name).is_file(), name
    assert "verify:0" in (folder / "flamegraph.svg").read_text()


def test_captures_lists_history(tmp_path: Path) -> None:
    make_capture(tmp_path)
    code, out, _ = invoke("captures", "--out", str(tmp_path), "--json")
    assert code == 0
    (capture,) = json.loads(out)["captures"]
    assert capture["id"] == "20261125T221500Z-all" and capture["samples"] == 14


def test_hosts_lists_the_inventory(tmp_path: Path) -> None:
    code, out, _ = invoke("hosts", "-i", str(REPO / "inventories" / "local.yml"), "--json")
    assert code == 0
    (host,) = json.loads(out)
    assert host["name"] == "localhost" and host["connection"] == "local"


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "verify:*", "-i", "/nonexistent/inv.yml"], "/nonexistent/inv.yml"),
        (["run", "verify:nope", "-i", "inventories/local.yml"], "bad target word 'verify:nope'"),
        (["run", "all"], "no inventory given"),
        (["run", "all", "-i", "inventories/local.yml", "--format", "svg,png"], "unknown output format png"),
        (["run", "all", "-i", "inventories/local.yml", "--call-graph", "magic"], "--call-graph 'magic'"),
        (["run", "all", "-i", "inventories/local.yml", "--limit", "nosuch"], "nosuch"),
        (["tiles", "bogus:1", "-i", "inventories/local.yml"], "unknown tile kind 'bogus'"),
        (["report", "/nonexistent"], "/nonexistent is not a capture folder (no such folder), nor a capture id"),
        (["report", "."], ". is not a capture folder (it has no manifest.json)"),
        (["report", "20261125T221500Z-all", "--out", "/nonexistent/out"], "there is no capture 20261125T221500Z-all in /nonexistent/out"),
        (["diff", "/nonexistent/a", "/nonexistent/b"], "/nonexistent/a is not a capture folder"),
        (["diff", "a.folded", "b.folded", "--out", "x.svg"], "write the SVG with -o/--output x.svg"),
        (["flamegraph", "/nonexistent.folded"], "no such file"),
        (["collapse", "/nonexistent.txt"], "no such file"),
        (["fetch", "not-an-id", "-i", "inventories/local.yml"], "is not a capture id"),
        (["captures", "--out", "/nonexistent/out"], "/nonexistent/out"),
        (["captures", "--out", ".", "--prune"], "prune needs --keep N"),
        (["captures", "prune", "--out", "."], "prune needs --keep N"),
        (["captures", "--out", ".", "list"], "--out before `list`: put options after the subcommand"),
        (["captures", "trend", "Verify", "--out", "."], "--trend 'Verify'"),
        (["run", "--bogus", "all"], "No such option: --bogus"),
        (["run"], "Missing argument 'TARGET'; see fleetflame run --help"),
        (["run", "all", "--duration", "soon"], "Invalid value for '--duration'"),
        (["captures", "prune", "--keep"], "Option '--keep' requires an argument"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_one_line(args: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, out, err = invoke(*args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]


def test_empty_flamegraph_input_says_what_is_expected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.folded"
    empty.write_text("")
    code, _, err = invoke("flamegraph", str(empty))
    assert code == 2 and "expected lines like" in err


def test_help_teaches_targets_and_exit_codes() -> None:
    code, out, _ = invoke("run", "--help")
    assert code == 0
    out = " ".join(out.split())  # phrases may be wrapped over two lines
    for phrase in ("KIND:IDX", "agave", "--limit", "--duration", "--detach", "--keep", "Exit code"):
        assert phrase in out, phrase
    code, out, _ = invoke("--help")
    for command in ("run", "fetch", "tiles", "hosts", "check", "report", "diff", "collapse", "flamegraph", "captures", "demo"):
        assert command in out


# --- What the operator reads: literal, whole, one line -------------------------------------------

HOSTILE = "[kernel.kallsyms] [/sys/x] [bold red]x[/] :fire: \x1b[2J\x1b]0;owned\x07"
HOSTILE_SHOWN = "[kernel.kallsyms] [/sys/x] [bold red]x[/] :fire: \\x1b[2J\\x1b]0;owned\\x07"


def test_error_text_is_printed_literally(tmp_path: Path) -> None:
    out_dir = tmp_path / f"out {HOSTILE}"
    code, _, err = invoke("captures", "--out", str(out_dir))
    assert code == 2
    assert err == f"error: {tmp_path}/out {HOSTILE_SHOWN}: no such folder; give --out DIR, the folder `fleetflame run --out` wrote captures to\n"


@pytest.mark.parametrize("command", [["hosts"], ["tiles", "all"], ["check"]])
def test_limit_pattern_keeps_its_brackets(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, _, err = invoke(*command, "-i", "inventories/mainnet.yml", "--limit", "mainnet[a:b]")
    assert code == 2
    assert "host pattern 'mainnet[a:b]' selects no host" in err and err.count("\n") <= 2, err


def test_warnings_from_files_are_printed_literally(tmp_path: Path) -> None:
    broken = tmp_path / "20261125T221500Z-all"
    broken.mkdir()
    (broken / "manifest.json").write_text('{"id": "[/sys/x]\x1b[2J"')  # cut short: not JSON
    code, _, err = invoke("captures", "--out", str(tmp_path))
    assert code == 0
    (line,) = err.splitlines()
    assert line.startswith(f"warning: {broken}: unreadable manifest.json (JSONDecodeError") and "\x1b" not in err


def test_tiles_table_prints_host_text_literally() -> None:
    from rich.console import Console

    from fleetflame.host.probe import HostTiles, failures, tiles_table
    from fleetflame.terminal import print_table
    from fleetflame.host.tiles import Selection, Tile

    results = [
        HostTiles("lab01", error=f"perf: {HOSTILE}"),
        HostTiles("lab02[/x]", selection=Selection(tiles=(Tile("verify", 0, 10, 11),)), source="metrics"),
    ]
    buffer = io.StringIO()
    print_table(Console(file=buffer, width=80, color_system=None), tiles_table(results))
    table = buffer.getvalue()
    assert "lab02[/x]" in table and "verify:0" in table and "FAILED" in table and "\x1b" not in table
    assert failures(results) == [("lab01", f"perf: {HOSTILE}")]


def test_check_says_no_tiles_without_claiming_some_were_found() -> None:
    from fleetflame.host.check import HostCheck, judge_tiles
    from fleetflame.inventory.model import HostRecord
    from fleetflame.host.resolve import Discovery
    from fleetflame.host.tiles import HostThread, Tile

    host = HostRecord("lab02", "127.0.0.3")
    down = "metrics endpoint http://127.0.0.1:7999/metrics did not answer: connection refused"

    nothing = HostCheck("lab02")
    judge_tiles(nothing, host, Discovery([], [HostThread(1, 1, "init")], "proc", down))
    assert nothing.notes == [] and "tiles" not in nothing.facts
    assert nothing.problems == [
        f"lab02: no tiles found ({down}; and no thread is named KIND:IDX): is the validator running? "
        "If it is, set fleetflame_metrics_url to where its metrics listen"
    ]

    by_name = HostCheck("lab02")
    judge_tiles(by_name, host, Discovery([Tile("verify", 0, 5, 6)], [HostThread(5, 6, "verify:0")], "proc", down))
    assert by_name.problems == [] and by_name.notes == [f"{down} (tiles were found by thread name instead)"]
    assert by_name.facts == {"tiles": "1", "tile_source": "proc"}

    by_metrics = HostCheck("lab02")
    judge_tiles(by_metrics, host, Discovery([Tile("verify", 0, 5, 6)], [], "metrics"))
    assert by_metrics.problems == [] and by_metrics.notes == [] and by_metrics.facts["tile_source"] == "metrics"


def test_a_host_without_tiles_is_asked_whether_the_validator_runs() -> None:
    from fleetflame.host.targets import parse_target
    from fleetflame.host.tiles import HostThread, Tile, TileError, select_tiles

    for target, wanted in (("verify:9", " (looking for verify:9)"), ("all", ""), ("agave", " (looking for agave)")):
        with pytest.raises(TileError) as info:
            select_tiles(parse_target(target), [], [], "lab03")
        assert str(info.value) == f"no tiles found on lab03{wanted}: is the validator running?"
    tiles = [Tile("verify", 0, 5, 6)]
    with pytest.raises(TileError, match=r"^tile verify:9 not found on lab03$"):
        select_tiles(parse_target("verify:9"), tiles, [HostThread(5, 6, "verify:0")], "lab03")


@pytest.mark.root
def test_tiles_with_no_validator_running(tmp_path: Path) -> None:
    """A real local host with no validator: fleetflame runs in a PID namespace of its own, so that
    no stand-in started by another test on this machine shows up in its /proc."""
    from fleetflame.standin import free_port

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (util-linux) for a PID namespace without a validator")
    inventory = tmp_path / "local.yml"
    inventory.write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      fleetflame_metrics_url: http://127.0.0.1:{free_port()}/metrics\n"
    )
    argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", sys.executable, "-m", "fleetflame"]
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([*argv, "tiles", "verify:9", "-i", str(inventory)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1, done.stderr
    assert "FAILED localhost: no tiles found on localhost (looking for verify:9): is the validator running?\n" in done.stdout
    assert "did not answer" in done.stderr  # the note says why the metrics gave no tiles


# --- Help: whole flag names at 80 columns and in a pipe -------------------------------------------


def all_commands() -> list[list[str]]:
    from typer.main import get_command

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in getattr(command, "commands", {}).items():
            found += walk(sub, [*path, name])
        return found

    return walk(get_command(app), [])


def option_names(path: list[str]) -> list[str]:
    from typer.main import get_command

    command: Any = get_command(app)
    for name in path:
        command = command.commands[name]
    return [opt for p in command.params if not p.hidden for opt in [*p.opts, *p.secondary_opts] if opt.startswith("-")]


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "fleetflame")
def test_help_at_80_columns_names_every_option_whole(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    text = result.stdout
    names = option_names(path)
    assert "-h, --help" in text
    for name in names:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{name} cut or missing in:\n{text}"
    for noise in ("[default: None]", "<bool>", "<str>", "<list[", "\\[", "…"):
        assert noise not in text, noise
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert not re.search(r"--\w[\w-]*-\n", text), "a flag split at a hyphen"


def test_help_in_a_pipe_is_plain_text() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fleetflame", "run", "--help"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0
    assert "  --accept-new-host-keys  " in done.stdout and "--no-accept-new-host-keys" not in done.stdout
    assert "-i, --inventory PATH" in done.stdout and "\x1b" not in done.stdout and "│" not in done.stdout


def test_commands_are_listed_in_working_order() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    listed = re.findall(r"^  (\w+)  ", out.split("Commands:")[1], re.M)
    assert listed[:6] == ["hosts", "check", "tiles", "run", "fetch", "captures"]


# --- captures: the sub-app and the older flags ----------------------------------------------------


def test_captures_subcommands_and_old_flags_agree(tmp_path: Path) -> None:
    from fleetflame.cli.history_cmds import DEFAULT_THRESHOLD, DEFAULT_TOP
    from fleetflame.archive.trend import DEFAULT_THRESHOLD as TREND_THRESHOLD
    from fleetflame.archive.trend import DEFAULT_TOP as TREND_TOP

    from .archive.test_trend import history

    assert (DEFAULT_TOP, DEFAULT_THRESHOLD) == (TREND_TOP, TREND_THRESHOLD)
    history(tmp_path)
    out = str(tmp_path)
    assert invoke("captures", "--out", out) == invoke("captures", "list", "--out", out)
    assert invoke("captures", "--out", out, "--json") == invoke("captures", "list", "--json", "--out", out)
    new_trend = invoke("captures", "trend", "verify:0", "--top", "2", "--out", out)
    assert new_trend == invoke("captures", "--trend", "verify:0", "--top", "2", "--out", out)
    assert new_trend[0] == 0 and "fd_ed25519_verify" in new_trend[1]
    trend_json = invoke("captures", "trend", "verify", "--json", "--threshold", "10", "--last", "1", "--out", out)
    assert trend_json == invoke("captures", "--trend", "verify", "--json", "--threshold", "10", "--last", "1", "--out", out)
    assert [c["id"] for c in json.loads(trend_json[1])["captures"]] == ["20261125T011500Z-all"]


def test_captures_prune_old_and_new_forms(tmp_path: Path) -> None:
    from .archive.test_history import make_capture as history_capture

    for out in (tmp_path / "old", tmp_path / "new"):
        for hour, target in enumerate(["verify", "verify:0", "quic,verify", "verify:0,quic", "verify"]):
            history_capture(out, f"20261125T{hour:02d}1500Z-t{hour}", {"a": "ok"}, target=target)
    old = invoke("captures", "--out", str(tmp_path / "old"), "--prune", "--keep", "1", "--target", "verify:0", "--dry-run")
    new = invoke("captures", "prune", "--keep", "1", "--target", "verify:0", "--dry-run", "--out", str(tmp_path / "new"))
    assert old[0] == new[0] == 0
    assert old[1].replace("/old/", "/new/") == new[1]
    assert new[1].splitlines() == [
        f"would delete {tmp_path / 'new' / '20261125T001500Z-t0'}",
        f"would delete {tmp_path / 'new' / '20261125T011500Z-t1'}",
        "would delete 2 captures",
    ]
    code, out, _ = invoke("captures", "prune", "--keep", "1", "--target", "quic,verify:0", "--json", "--out", str(tmp_path / "new"))
    assert code == 0 and json.loads(out)["deleted"] == ["20261125T021500Z-t2"]
    assert not (tmp_path / "new" / "20261125T021500Z-t2").exists() and (tmp_path / "new" / "20261125T031500Z-t3").is_dir()


def test_capture_ids_are_whole_in_a_pipe_at_80_columns(tmp_path: Path) -> None:
    from .archive.test_history import make_capture as history_capture

    long_id = "20261125T221500Z-" + "+".join(f"verify-{i}" for i in range(10))
    history_capture(tmp_path, long_id, {"a": "ok", "b": "failed"}, target=",".join(f"verify:{i}" for i in range(10)))
    history_capture(tmp_path, "20261125T231500Z-all", {"a": "ok"})
    done = subprocess.run(
        [sys.executable, "-m", "fleetflame", "captures", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if "20261125T" in line]
    assert len(rows) == 2 and long_id in rows[0] and "20261125T231500Z-all" in rows[1]
    assert "…" not in done.stdout


# --- Capture names: an id in --out, or a folder ---------------------------------------------------


def test_report_takes_an_id_or_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_capture(tmp_path / "out")
    code, out, err = invoke("report", folder.name, "--out", str(tmp_path / "out"), "--format", "folded")
    assert code == 0, err
    assert str(folder / "fleet.folded") in out.splitlines()
    monkeypatch.chdir(tmp_path / "out")
    code, out, err = invoke("report", folder.name, "--format", "folded")  # not in ./captures, but here
    assert code == 0, err
    assert folded.read_folded(folder / "fleet.folded")["lab02;verify:0;main;work"] == 7


def test_diff_takes_ids_folders_and_folded_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = make_capture(out)
    after = out / "20261126T001500Z-all"
    shutil.copytree(before, after)
    for folder, work in ((before, 5), (after, 50)):
        (folder / "fleet.folded").write_text(f"lab01;verify:0;main;work {work}\nlab01;net:0;main;poll 10\n")
    by_id = invoke("diff", before.name, after.name, "--out", str(out))
    assert by_id[0] == 0 and "<svg" in by_id[1] and "20261125T221500Z-all → 20261126T001500Z-all" in by_id[1]
    assert invoke("diff", str(before), str(after)) == by_id
    code, svg, _ = invoke("diff", str(before / "fleet.folded"), after.name, "--out", str(out))
    assert code == 0 and "fleet.folded → 20261126T001500Z-all" in svg


@pytest.mark.parametrize("empty", ["", "\n\n", "not a folded line\n"])
def test_diff_of_an_empty_side_is_an_error(tmp_path: Path, empty: str) -> None:
    good, bad = tmp_path / "good.folded", tmp_path / "bad.folded"
    good.write_text("main;work 3\n")
    bad.write_text(empty)
    for args in ([str(good), str(bad)], [str(bad), str(good)]):
        code, out, err = invoke("diff", *args)
        assert code == 2 and out == ""
        assert err.startswith(f"error: {bad}: no stacks in it") and "expected folded lines like" in err
    capture = make_capture(tmp_path / "out")
    (capture / "fleet.folded").write_text(empty)
    code, _, err = invoke("diff", capture.name, str(good), "--out", str(tmp_path / "out"))
    assert code == 2 and "fleet.folded: no stacks in it" in err


@pytest.mark.parametrize("quiet", [False, True])
def test_detach_prints_the_id_and_the_fetch_hint_only_when_not_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str], quiet: bool) -> None:
    from fleetflame.capture.runner import RunOutcome
    from fleetflame.cli.capture_cmds import _show_outcome

    manifest = Manifest(id="20261205T060000Z-all", target="all", started_at="2026-12-05T06:00:00Z", duration_s=5, frequency_hz=99,
                        call_graph="fp", hosts={"val01": HostResult(address="10.0.0.1", remote_dir="/tmp/fleetflame-x.abcdefghij")})
    _show_outcome(RunOutcome(tmp_path, manifest, detached=True), False, quiet, None, fetch_hint="fleetflame fetch 20261205T060000Z-all")
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == "20261205T060000Z-all"
    assert ("finish with: fleetflame fetch 20261205T060000Z-all" in captured.err) is not quiet
    if quiet:
        assert captured.out.strip() == "20261205T060000Z-all" and captured.err == ""


def test_collapse_reads_a_pipe_and_refuses_a_folder(tmp_path: Path) -> None:
    """`fleetflame collapse <(perf script)` hands over /dev/fd/N, a pipe: that is a file to read."""
    script = "fdctl 12 1.0: 1 cpu-clock:\n\t1 f (/x)\n\t2 main (/x)\n\n"
    piped = subprocess.run(["bash", "-c", f"{sys.executable} -m fleetflame collapse <(printf '%s' \"$S\")"],
                           env={**os.environ, "S": script}, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "fdctl;main;f 1\n"
    folder = CliRunner().invoke(app, ["collapse", str(tmp_path)])
    assert folder.exit_code == 2 and "a folder, not a perf script file" in folder.output
