"""`check`'s judgement of a host's facts: what sandboxed tiles need (root, a way to drop
CAP_SYS_ADMIN for perf script) and what a real validator's tiles can look like."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from fleetflame.connection.base import CommandResult
from fleetflame.host.check import HostCheck, clock_note, judge, judge_tiles, parse_facts, read_clock
from fleetflame.host.resolve import Discovery
from fleetflame.host.scripts import CHECK
from fleetflame.host.tiles import HostThread, Tile
from fleetflame.inventory.model import HostRecord

GOOD = "uid=0\nperf=perf version 6.1\nparanoid=2\ntmpdir_writable=1\nfree_kb=9999999\ncapsysadmin=1\ncapdrop=setpriv\n"


def test_root_with_setpriv_is_ready() -> None:
    assert judge(HostRecord("val01", "10.0.0.1"), parse_facts(GOOD), None) == []


def test_root_without_setpriv_or_capsh_is_told_what_to_install() -> None:
    facts = parse_facts(GOOD.replace("capdrop=setpriv", "capdrop="))
    assert judge(HostRecord("val01", "10.0.0.1"), facts, None) == [
        "val01: neither setpriv nor capsh can drop CAP_SYS_ADMIN here, so perf script would lose the "
        "symbols of sandboxed tiles: install util-linux (setpriv) or libcap2-bin (capsh)"
    ]


def test_a_user_without_root_is_told_to_become_root_for_sandboxed_tiles() -> None:
    facts = parse_facts(GOOD.replace("uid=0", "uid=1000").replace("paranoid=2", "paranoid=1").replace("capsysadmin=1\n", ""))
    (problem,) = judge(HostRecord("val01", "10.0.0.1"), facts, None)
    assert problem.startswith("val01: not root, so perf cannot record Firedancer's sandboxed tiles")
    assert "ansible_become: true" in problem


def test_tiles_that_are_not_running_are_noted_and_foreign_pids_are_a_problem() -> None:
    host = HostRecord("val01", "10.0.0.1")
    tiles = [Tile("verify", 0, 10, 10, 1), Tile("snapld", 0, 11, 11, 2)]
    seen = HostCheck("val01")
    judge_tiles(seen, host, Discovery(tiles, [HostThread(10, 10, "verify:0")], "metrics", None, ("a warning",)))
    assert seen.problems == [] and seen.notes == ["a warning", "not running, `all` skips: snapld:0 (shut down)"]
    foreign = HostCheck("val01")
    judge_tiles(foreign, host, Discovery(tiles, [HostThread(1, 1, "init")], "metrics"))
    assert len(foreign.problems) == 1 and "another PID namespace" in foreign.problems[0]


class DateHost:
    """Just enough of a Connection for read_clock: `date +%s.%N` answers with a clock `ahead` s off."""

    def __init__(self, ahead: float, answer: bytes | None = None) -> None:
        self.ahead, self.answer = ahead, answer

    async def run(self, argv: list[str], timeout: float) -> CommandResult:
        assert argv == ["date", "+%s.%N"]
        out = self.answer if self.answer is not None else f"{time.time() + self.ahead:.9f}\n".encode()
        return CommandResult(argv, 0, out, b"")


def test_check_measures_the_clock_and_notes_one_that_is_off() -> None:
    reading = asyncio.run(read_clock(DateHost(-2.5)))  # type: ignore[arg-type]
    assert reading is not None and abs(reading.offset + 2.5) < 0.05
    note = clock_note(reading)
    assert note is not None and note.startswith("clock 2.5") and "behind this machine's" in note and "chrony/NTP" in note
    synced = asyncio.run(read_clock(DateHost(0.0)))  # type: ignore[arg-type]
    assert synced is not None and clock_note(synced) is None
    for garbage in (b"", b"soon\n", b"1e308\n", b"12345678901234567890.1\n"):
        assert asyncio.run(read_clock(DateHost(0.0, garbage))) is None  # type: ignore[arg-type]


def run_check_script(tmpdir: Path) -> dict[str, str]:
    """host/scripts.CHECK as `check` runs it, here (as root: the tests' user)."""
    done = subprocess.run(["sh", "-c", CHECK, "check", "perf", str(tmpdir)], capture_output=True, timeout=60)
    return parse_facts(done.stdout.decode(errors="replace"))


def test_check_refuses_a_tmpdir_the_capture_would_refuse(tmp_path: Path) -> None:
    """The capture session's own tmpdir checks, run by `check` before any capture: a folder
    others can rename things in is a problem that names the folder and the fix."""
    if os.geteuid() != 0:
        pytest.skip("the tmpdir rules are root's here (a folder of another user)")
    base = tmp_path / "open"
    base.mkdir()
    base.chmod(0o777)  # world-writable, no sticky bit
    (base / "ff").mkdir(mode=0o700)
    facts = run_check_script(base / "ff")
    assert "is refused" in facts["tmpdir_refused"] and str(base) in facts["tmpdir_refused"] and "chmod" in facts["tmpdir_refused"]
    problems = judge(HostRecord("val01", "10.0.0.1", tmpdir=str(base / "ff")), facts, None)
    assert any(p.startswith("val01: fleetflame_tmpdir") and "is refused" in p for p in problems), problems
    base.chmod(0o755)
    ok = run_check_script(base / "ff")
    assert "tmpdir_refused" not in ok and ok.get("tmpdir_writable") == "1"
