"""The command line as operators and scripts use it: outputs, help, and bad input refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

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
        (["report", "/nonexistent"], "is not a capture folder"),
        (["report", "."], "is not a capture folder"),
        (["diff", "/nonexistent/a", "/nonexistent/b"], "not found"),
        (["flamegraph", "/nonexistent.folded"], "no such file"),
        (["collapse", "/nonexistent.txt"], "no such file"),
        (["fetch", "-i", "inventories/local.yml"], "give a CAPTURE_ID or --latest"),
        (["fetch", "not-an-id", "-i", "inventories/local.yml"], "is not a capture id"),
        (["captures", "--out", "/nonexistent/out"], "/nonexistent/out"),
        (["captures", "--out", ".", "--prune"], "--prune needs --keep N"),
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
    for phrase in ("KIND:IDX", "agave", "--limit", "--duration", "--detach", "--keep", "Exit code"):
        assert phrase in out, phrase
    code, out, _ = invoke("--help")
    for command in ("run", "fetch", "tiles", "hosts", "check", "report", "diff", "collapse", "flamegraph", "captures", "demo"):
        assert command in out
