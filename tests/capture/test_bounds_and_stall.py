"""What a host may send is bounded, and a host whose results stall does not hold the fleet.

A host sends at most --max-perf-data of perf.data (+ 10 % + 16 MB: perf's --max-size is
approximate) and twice --max-perf-data of compressed perf script output; past either (announced
or streamed) it fails, what arrived from it is deleted here and its session is closed. A host
that sends nothing for --stall-timeout seconds once perf ended fails and keeps its results for
`fetch`; the others' reports are drawn meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame.capture import session as session_module
from fleetflame.capture.manifest import read_manifest
from fleetflame.api import CaptureOptions, fetch_capture
from fleetflame.capture.session import ProtocolError, Session, Stalled
from fleetflame.capture.transfer import MB, Bounds, TooMuch, receive
from fleetflame.cli import app
from fleetflame.connection.ratelimit import RateLimit
from fleetflame.connection.settings import SshSettings
from fleetflame.host.targets import parse_target
from fleetflame.inventory.model import HostRecord

from ..lab import LabFleet
from .fakehost import FakeHost, FakeProcess, fake_connector
from .test_pipeline import fleet_sums, healthy, run

TOO_MUCH = "more than --max-perf-data 1 MB allows"
ADVICE = "refused and deleted here, kept on the host; if the host is right, `fleetflame fetch` it with a higher --max-perf-data"


def local_files(folder: Path, host: str) -> list[str]:
    where = folder / "hosts" / host
    return sorted(p.name for p in where.iterdir()) if where.is_dir() else []


# ---- bounds --------------------------------------------------------------------------------------


def test_the_bounds_follow_max_perf_data() -> None:
    bounds = Bounds(1)
    assert bounds.perf_data == int(1.1 * MB) + 16 * MB and bounds.script == 2 * MB
    assert Bounds(2048).perf_data == int(2048 * 1.1 * MB) + 16 * MB and Bounds(2048).script == 4096 * MB
    bounds.check("perf.data", bounds.perf_data, "h")  # at the bound: accepted
    with pytest.raises(TooMuch, match=r"h sent 17\.1 MB of perf.data, more than --max-perf-data 1 MB allows \(\+ margin\)"):
        bounds.check("perf.data", bounds.perf_data + 1, "h")


def test_a_perf_data_over_the_bound_is_refused_before_it_is_read_and_the_others_are_kept(tmp_path: Path) -> None:
    big = healthy("big", perf_data=b"PERFILE2" + bytes(18 * MB))
    fakes = {"good": healthy("good"), "big": big}
    outcome = run(tmp_path, fakes, max_perf_data_mb=1)
    rows = outcome.manifest.hosts
    assert outcome.exit_code == 1
    assert rows["good"].status == "ok" and fleet_sums(outcome.folder) == {"good": 25}
    assert rows["big"].status == "failed"
    assert rows["big"].error == f"big announced 18.0 MB of perf.data, {TOO_MUCH} (+ margin): {ADVICE}"
    assert local_files(outcome.folder, "big") == [], "neither perf.data nor the verified perf.script.gz is kept"
    assert not rows["big"].perf_data_bytes and rows["big"].bytes_pulled < MB


def test_a_host_announcing_a_terabyte_is_stopped_at_once(tmp_path: Path) -> None:
    fakes = {"good": healthy("good"), "liar": healthy("liar", fail={"flood": "perf.data"})}
    begin = time.monotonic()
    outcome = run(tmp_path, fakes)
    assert time.monotonic() - begin < 10
    row = outcome.manifest.hosts["liar"]
    assert row.status == "failed"
    assert row.error == f"liar announced 953674 MB of perf.data, more than --max-perf-data 2048 MB allows (+ margin): {ADVICE}"
    assert fakes["liar"].flooded < 16 * MB, "the link is closed: the host cannot go on sending"
    assert local_files(outcome.folder, "liar") == []
    assert outcome.manifest.hosts["good"].status == "ok" and fleet_sums(outcome.folder) == {"good": 25}


def test_an_endless_script_stream_is_cut_at_twice_max_perf_data(tmp_path: Path) -> None:
    fakes = {"good": healthy("good"), "flood": healthy("flood", fail={"flood": "perf.script.gz"})}
    outcome = run(tmp_path, fakes, max_perf_data_mb=1)
    row = outcome.manifest.hosts["flood"]
    assert row.status == "failed"
    assert row.error == f"flood sent 3.0 MB of perf.script.gz, {TOO_MUCH} (twice that for perf script's output): {ADVICE}"
    assert row.bytes_pulled == 2 * MB, "the chunk past the bound is not read"
    assert fakes["flood"].flooded < 10 * MB
    assert local_files(outcome.folder, "flood") == []
    assert outcome.manifest.hosts["good"].status == "ok" and fleet_sums(outcome.folder) == {"good": 25}


def test_an_oversize_file_after_a_resume_is_refused_and_the_part_deleted(tmp_path: Path) -> None:
    """A run loses the link part-way through perf.script.gz; the fetch that resumes it is told the
    whole file is more than the capture's --max-perf-data allows: the .part goes too."""
    fake = healthy("a", chunk_bytes=4096, fail={"transfer": 20_000})
    fake.perf_script = os.urandom(3 * MB)  # gzip cannot shrink it: about 3 MB of perf.script.gz
    outcome = run(tmp_path, {"a": fake}, max_perf_data_mb=1)
    row = outcome.manifest.hosts["a"]
    assert row.status == "failed" and "lost the connection to a" in (row.error or "")
    part = outcome.folder / "hosts" / "a" / "perf.script.gz.part"
    have = part.stat().st_size
    assert 20_000 <= have < 2 * MB
    fake.fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), [HostRecord("a", "10.0.0.1")], SshSettings(), connector=fake_connector({"a": fake}))
    row = fetched.manifest.hosts["a"]
    assert row.status == "failed"
    assert row.error == f"a announced 3.0 MB of perf.script.gz, {TOO_MUCH} (twice that for perf script's output): {ADVICE}"
    assert local_files(outcome.folder, "a") == []
    assert sum(t["bytes"] for t in row.transfers) == have, "nothing of the refused file was read"


def test_fetch_bounds_what_arrives_by_the_captures_own_max_perf_data(tmp_path: Path) -> None:
    fakes = {"a": healthy("a", perf_data=b"PERFILE2" + bytes(18 * MB))}
    outcome = run(tmp_path, fakes, duration=0.2, detach=True, max_perf_data_mb=1)
    hosts = [HostRecord("a", "10.0.0.1")]
    refused = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes))
    assert refused.manifest.hosts["a"].status == "failed"
    assert refused.manifest.hosts["a"].error == f"a announced 18.0 MB of perf.data, {TOO_MUCH} (+ margin): {ADVICE}"
    assert local_files(outcome.folder, "a") == [] and len(fakes["a"].folders) == 1
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes),
                            max_perf_data_mb=8)  # (fetch --max-perf-data 8)
    assert fetched.manifest.hosts["a"].status == "ok", fetched.manifest.hosts["a"].error
    assert fetched.manifest.hosts["a"].perf_data_bytes == 8 + 18 * MB
    assert fetched.manifest.max_perf_data_mb == 1  # what perf recorded with stays the capture's record
    assert not fakes["a"].folders  # pulled, then cleaned up on the host


# ---- the protocol itself, one session ------------------------------------------------------------


def scripted(*pieces: bytes) -> Session:
    """A session whose host says exactly `pieces`, then ends."""
    proc = FakeProcess(FakeHost("h"))
    for piece in pieces:
        proc.out.put_nowait(piece)
    proc.out.put_nowait(None)
    proc.status = 0
    proc.done.set()
    return Session(proc, "h")


def file_line(name: str, data: bytes, start: int = 0) -> bytes:
    return f"file {name} {len(data)} {hashlib.sha256(data).hexdigest()} {start}\n".encode() + data[start:]


def receive_all(session: Session, where: Path, max_mb: int = 1) -> object:
    where.mkdir(mode=0o700, exist_ok=True)
    return asyncio.run(receive(session, where, RateLimit(), lambda *a: None, max_perf_data_mb=max_mb))


def test_a_file_sent_twice_is_a_protocol_error(tmp_path: Path) -> None:
    data = b"PERFILE2" + bytes(100)
    session = scripted(file_line("perf.script.gz", b""), file_line("perf.data", data), file_line("perf.data", data), b"sent\n")
    with pytest.raises(ProtocolError, match="h sent perf.data twice"):
        receive_all(session, tmp_path / "h")


def test_a_restart_after_the_stream_began_is_a_protocol_error(tmp_path: Path) -> None:
    session = scripted(b"chunk 3\nabc", b"restart perf.script.gz\n", b"chunk 3\nabc", b"sent\n")
    with pytest.raises(ProtocolError, match="restarted perf.script.gz after sending it"):
        receive_all(session, tmp_path / "h")


def test_all_of_a_sessions_lines_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "MAX_LINES_TOTAL", 1000)
    session = scripted(b"thread 1 1 x\n" * 200)

    async def read_all() -> int:
        n = 0
        while True:
            await session.message()
            n += 1

    with pytest.raises(ProtocolError, match="h sent more than 0 MB of protocol lines"):
        asyncio.run(read_all())


# ---- stalls ----------------------------------------------------------------------------------------


def test_a_stalling_host_does_not_hold_the_others_and_stays_fetchable(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b"), "stuck": healthy("stuck", fail={"stall": None})}
    begin = time.monotonic()
    outcome = run(tmp_path, fakes, stall_timeout_s=0.5)
    assert time.monotonic() - begin < 5
    manifest = outcome.manifest
    row = manifest.hosts["stuck"]
    assert outcome.exit_code == 1
    assert row.status == "failed"
    assert row.error == (
        f"stuck sent nothing for 0.5 s after perf ended (--stall-timeout): its results stay on the host; finish with `fleetflame fetch {manifest.id}`"
    )
    assert row.fetchable and row.remote_dir and not row.cleaned and manifest.pending_hosts == ["stuck"]
    assert len(fakes["stuck"].folders) == 1, "no `done`: the host keeps its results"
    assert {manifest.hosts[h].status for h in ("a", "b")} == {"ok"}
    assert fleet_sums(outcome.folder) == {"a": 25, "b": 25}
    assert (outcome.folder / "hosts" / "a" / "perf.data").is_file()

    fakes["stuck"].fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), [HostRecord("stuck", "10.0.0.3")], SshSettings(), connector=fake_connector(fakes))
    assert fetched.exit_code == 0 and fetched.manifest.hosts["stuck"].status == "ok"
    assert fleet_sums(outcome.folder) == {"a": 25, "b": 25, "stuck": 25} and not fakes["stuck"].folders


def test_a_stream_that_stalls_half_way_keeps_what_arrived_for_fetch(tmp_path: Path) -> None:
    fake = healthy("a", chunk_bytes=4096, fail={"stall": 8192})
    fake.perf_script = os.urandom(64 * 1024)
    outcome = run(tmp_path, {"a": fake}, stall_timeout_s=0.3)
    row = outcome.manifest.hosts["a"]
    assert row.status == "failed" and "a sent nothing for 0.3 s after perf ended" in (row.error or "")
    assert row.fetchable and (outcome.folder / "hosts" / "a" / "perf.script.gz.part").stat().st_size == 8192
    fake.fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), [HostRecord("a", "10.0.0.1")], SshSettings(), connector=fake_connector({"a": fake}))
    row = fetched.manifest.hosts["a"]
    assert row.status == "ok" and row.perf_data_bytes == len(fake.perf_data), row.error


def test_fetch_takes_a_stall_timeout_too(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b")}
    outcome = run(tmp_path, fakes, duration=0.2, detach=True)
    fakes["b"].fail["stall"] = None
    hosts = [HostRecord("a", "10.0.0.1"), HostRecord("b", "10.0.0.2")]
    begin = time.monotonic()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes), stall_timeout_s=0.4)
    assert time.monotonic() - begin < 5
    rows = fetched.manifest.hosts
    assert rows["a"].status == "ok" and fleet_sums(outcome.folder) == {"a": 25}
    assert rows["b"].status == "failed" and rows["b"].fetchable
    assert (rows["b"].error or "").startswith("b sent nothing for 0.4 s after perf ended (--stall-timeout): its results stay on the host")


def test_the_stall_timeout_counts_only_once_perf_has_ended(tmp_path: Path) -> None:
    """Recording longer than the stall timeout, and waiting for --forks, are not stalls."""
    fakes = {name: healthy(name, symbolize_s=0.25) for name in ("a", "b", "c")}
    outcome = run(tmp_path, fakes, duration=1.0, stall_timeout_s=0.4, forks=1)
    assert {row.status for row in outcome.manifest.hosts.values()} == {"ok"}, [r.error for r in outcome.manifest.hosts.values()]


def test_the_stall_timeout_counts_from_ended_to_sent() -> None:
    async def go() -> None:
        proc = FakeProcess(FakeHost("h"))
        session = Session(proc, "h")
        session.stall_timeout = 0.05
        reading = asyncio.ensure_future(session.message())
        await asyncio.sleep(0.2)
        assert not reading.done(), "before `ended` the host may be silent (perf records)"
        proc.out.put_nowait(b"hello 1\nended 0 1.5\n")
        assert (await reading).verb == "hello"
        assert (await session.message()).verb == "ended"
        with pytest.raises(Stalled, match="h sent nothing for 0.05 s after perf ended"):
            await session.message()
        proc.out.put_nowait(b"sent\n")
        assert (await session.message()).verb == "sent"
        with pytest.raises(asyncio.TimeoutError):  # the answer to `done` has a limit of its own
            await session.message(timeout=0.2)

    asyncio.run(go())


# ---- the option ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf])
def test_a_stall_timeout_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="--stall-timeout"):
        CaptureOptions(target=parse_target("all"), stall_timeout_s=bad)
    with pytest.raises(ValueError, match="--stall-timeout"):
        fetch_capture(Path("/nonexistent"), None, [], SshSettings(), stall_timeout_s=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["run all", "fetch"])
@pytest.mark.parametrize("bad", ["0", "-5", "nan", "inf"])
def test_the_stall_timeout_option_is_checked(command: str, bad: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [*command.split(), "--stall-timeout", bad, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "--stall-timeout" in result.stderr and "greater than 0" in result.stderr


@pytest.mark.parametrize("command", ["run", "fetch"])
def test_the_stall_timeout_option_is_documented(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    assert "--stall-timeout" in text and "default: 120" in text.lower().replace("[", "").replace("]", "")


# ---- on real hosts -------------------------------------------------------------------------------

HANGING_PERF = """#!/bin/sh
# perf, except that `perf script` hangs until /tmp/hangperf-release exists on this host
if [ "${1:-}" = script ]; then
  while [ ! -e /tmp/hangperf-release ]; do sleep 0.2; done
fi
exec perf "$@"
"""


@pytest.mark.root
@pytest.mark.lab
def test_a_host_whose_perf_script_hangs_fails_after_the_stall_timeout_and_fetch_finishes_it(
    make_lab: Callable[..., LabFleet], tmp_path: Path
) -> None:
    lab = make_lab(2, load=1)
    hanging = lab.fakeperf.with_name("hangperf")  # where every lab user can run it
    hanging.write_text(HANGING_PERF)
    hanging.chmod(0o755)
    inventory = lab.write_inventory(tmp_path / "inv.yml", host_vars={"lab02": {"fleetflame_perf": str(hanging)}})
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "fleetflame", "run", "net", "-i", str(inventory), "--duration", "1", "--stall-timeout", "3", "--out", str(out), "--json"]
    begin = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=lab.env(COLUMNS="200"))
    assert time.monotonic() - begin < 60
    assert done.returncode == 1, done.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    manifest = json.loads((folder / "manifest.json").read_text())
    rows = manifest["hosts"]
    assert rows["lab01"]["status"] == "ok" and (folder / "fleet.folded").is_file()
    assert rows["lab02"]["error"] == (
        f"lab02 sent nothing for 3 s after perf ended (--stall-timeout): its results stay on the host; finish with `fleetflame fetch {manifest['id']}`"
    )
    assert rows["lab02"]["remote_dir"] and not rows["lab02"]["cleaned"]
    assert [e for e in lab.tmp_entries("lab02") if e.startswith("fleetflame-")], "lab02 keeps its results"

    lab.host_path("lab02", "/tmp/hangperf-release").touch()
    fetched = subprocess.run(
        [sys.executable, "-m", "fleetflame", "fetch", manifest["id"], "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=120, env=lab.env(COLUMNS="200"),
    )
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert json.loads((folder / "manifest.json").read_text())["hosts"]["lab02"]["status"] == "ok"
    assert not [e for e in lab.tmp_entries("lab02") if e.startswith("fleetflame-")]


@pytest.mark.parametrize("bad", ["0", "-5", "2.5", "lots"])
def test_the_fetch_max_perf_data_option_is_checked(bad: str, tmp_path: Path) -> None:
    """A bad bound is refused (exit 2, naming the option) before any capture or host is looked at."""
    result = CliRunner().invoke(app, ["fetch", "--max-perf-data", bad, "--out", str(tmp_path / "none")])
    assert result.exit_code == 2, result.output
    assert "--max-perf-data" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "none").exists()
    with pytest.raises(ValueError, match="max_perf_data_mb must be at least 1"):
        fetch_capture(Path("/nonexistent"), None, [], SshSettings(), max_perf_data_mb=0)  # type: ignore[arg-type]
