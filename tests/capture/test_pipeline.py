"""The capture pipeline end to end on scripted hosts (FakeConnection): no root, no sshd, no perf.

Every stage's failure fails that host only, with a message saying what happened and what to do;
detach, fetch, resume and interrupt keep and complete what the hosts recorded.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import time
from pathlib import Path

import pytest

from fleetflame import folded
from fleetflame.capture.events import Event, Stage
from fleetflame.capture.manifest import read_manifest
from fleetflame.capture.recover import plan_fetch
from fleetflame.api import CaptureOptions, RunOutcome, fetch_capture, run_capture
from fleetflame.connection.settings import SshSettings
from fleetflame.inventory.model import HostRecord
from fleetflame.host.targets import parse_target

from .fakehost import FakeHost, fake_connector, perf_script_text

TILES = [(100, 101, "net:0"), (100, 102, "verify:0"), (100, 103, "verify:1"), (100, 104, "bank:0")]


def healthy(name: str, **kwargs: object) -> FakeHost:
    stacks = {
        101: [("net_rx;net_loop;main", 5)],
        102: [("fd_ed25519_verify;verify_loop;main", 7), ("memcpy;verify_loop;main", 3)],
        103: [("fd_ed25519_verify;verify_loop;main", 6)],
        104: [("bank_exec;bank_loop;main", 4)],
    }
    return FakeHost(name, threads=list(TILES) + [(100, 100, "fdctl")], perf_script=perf_script_text(stacks), **kwargs)  # type: ignore[arg-type]


def run(
    tmp_path: Path, fakes: dict[str, FakeHost], target: str = "all", duration: float = 0.2, events: list[Event] | None = None, **options: object
) -> RunOutcome:
    hosts = [HostRecord(name, f"10.0.0.{i + 1}") for i, name in enumerate(fakes)]
    opts = CaptureOptions(target=parse_target(target), duration=duration, out=tmp_path / "out", formats=("folded",), **options)  # type: ignore[arg-type]
    return run_capture(hosts, opts, (events.append if events is not None else None), fake_connector(fakes))


def fleet_sums(folder: Path) -> dict[str, int]:
    sums: dict[str, int] = {}
    for stack, count in folded.read_folded(folder / "fleet.folded").items():
        host = stack.split(";", 1)[0]
        sums[host] = sums.get(host, 0) + count
    return sums


def test_a_healthy_fleet_is_captured_and_the_hosts_are_left_clean(tmp_path: Path) -> None:
    fakes = {name: healthy(name) for name in ("a", "b", "c")}
    outcome = run(tmp_path, fakes)
    manifest = outcome.manifest
    assert outcome.exit_code == 0
    assert {h.status for h in manifest.hosts.values()} == {"ok"}
    assert fleet_sums(outcome.folder) == {name: 25 for name in fakes}
    for name, row in manifest.hosts.items():
        local = outcome.folder / "hosts" / name
        assert (local / "perf.data").read_bytes() == fakes[name].perf_data
        assert row.perf_data_bytes == len(fakes[name].perf_data) and row.cleaned
        assert {t["name"] for t in row.tiles} == {"net:0", "verify:0", "verify:1", "bank:0"}
        assert row.tile_source == "proc" and row.start_signal_at is not None and row.recorded_s is not None
        assert not fakes[name].folders, "the host's folder is removed once its results are safe"
        assert fakes[name].channels("exec session") == 1 and fakes[name].channels("exec run") == 0
        assert not list(local.glob("*.part"))
    assert oct(outcome.folder.stat().st_mode & 0o777) == "0o700"
    assert oct((outcome.folder / "hosts" / "a" / "perf.data").stat().st_mode & 0o777) == "0o600"
    assert manifest.requested_duration_s == 0.2 and not manifest.stopped_early


def test_metrics_gauges_are_preferred_to_thread_names(tmp_path: Path) -> None:
    fake = healthy("a")
    fake.metrics = b'tile_pid{kind="verify",kind_id="0"} 100\ntile_tid{kind="verify",kind_id="0"} 102\n'
    outcome = run(tmp_path, {"a": fake}, target="verify")
    row = outcome.manifest.hosts["a"]
    assert row.tile_source == "metrics" and [t["name"] for t in row.tiles] == ["verify:0"]
    assert [s.split(";")[1] for s in folded.read_folded(outcome.folder / "fleet.folded")] == ["verify:0", "verify:0"]


@pytest.mark.parametrize(
    ("point", "detail", "message"),
    [
        ("connect", None, "cannot connect to bad (10.0.0.2:22): connection refused"),
        ("hello", "link", "lost the connection to bad"),
        ("threads", "link", "lost the connection to bad"),
        ("nospace", None, "no space left in /tmp"),
        ("symbolize", 9, "injected failure at symbolize"),
        ("corrupt", None, "perf.script.gz from bad arrived damaged"),
    ],
)
def test_a_failure_at_any_stage_fails_that_host_only(tmp_path: Path, point: str, detail: object, message: str) -> None:
    fakes = {"good": healthy("good"), "bad": healthy("bad", fail={point: detail})}
    outcome = run(tmp_path, fakes)
    rows = outcome.manifest.hosts
    assert outcome.exit_code == 1
    assert rows["good"].status == "ok" and fleet_sums(outcome.folder) == {"good": 25}
    assert rows["bad"].status == "failed" and message in (rows["bad"].error or ""), rows["bad"].error
    assert not fakes["good"].folders


def test_a_tile_the_host_lacks_fails_it_and_its_folder_is_removed(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b")}
    fakes["b"].threads = [t for t in fakes["b"].threads if t[2] != "verify:1"]
    outcome = run(tmp_path, fakes, target="verify:1")
    assert outcome.manifest.hosts["b"].error == "tile verify:1 not found on b"
    assert outcome.manifest.hosts["a"].status == "ok"
    assert not fakes["b"].folders and fakes["b"].channels("go") == 0


def test_perf_failing_is_reported_with_its_message_and_leaves_nothing(tmp_path: Path) -> None:
    fakes = {
        "full": healthy("full", perf_status=255, perf_stderr=b"failed to write perf data, error: No space left on device\n"),
        "denied": healthy("denied", perf_status=255, perf_stderr=b"Error:\nAccess to performance monitoring and observability operations is limited.\n"),
        "good": healthy("good"),
    }
    outcome = run(tmp_path, fakes)
    rows = outcome.manifest.hosts
    assert "/tmp on full ran out of space while perf recorded" in (rows["full"].error or "")
    assert "perf is not permitted to record on denied" in (rows["denied"].error or "")
    assert rows["good"].status == "ok" and rows["full"].cleaned and not fakes["full"].folders


def test_a_lost_link_while_recording_says_fetch_recovers_it_and_fetch_does(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b", fail={"recording": "link"})}
    outcome = run(tmp_path, fakes, duration=0.3)
    row = outcome.manifest.hosts["b"]
    assert row.status == "failed" and "lost the connection to b while recording" in (row.error or "")
    assert f"`fleetflame fetch {outcome.manifest.id}` recovers them" in (row.error or "")
    assert row.fetchable and len(fakes["b"].folders) == 1, "the host keeps its results"
    fakes["b"].fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), [HostRecord("b", "10.0.0.2")], SshSettings(), connector=fake_connector(fakes))
    assert fetched.manifest.hosts["b"].status == "ok" and fetched.exit_code == 0
    assert fleet_sums(outcome.folder) == {"a": 25, "b": 25} and not fakes["b"].folders


def test_an_interrupted_transfer_resumes_without_pulling_anything_twice(tmp_path: Path) -> None:
    text = perf_script_text({102: [(f"f{os.urandom(8).hex()};verify_loop;main", 1) for i in range(3000)]})
    fake = FakeHost("a", threads=list(TILES), perf_script=text, perf_data=os.urandom(300_000), chunk_bytes=4096, fail={"transfer": 20_000})
    assert len(gzip.compress(text, compresslevel=1)) > 40_000
    outcome = run(tmp_path, {"a": fake})
    row = outcome.manifest.hosts["a"]
    assert row.status == "failed" and "lost the connection to a" in (row.error or "")
    part = outcome.folder / "hosts" / "a" / "perf.script.gz.part"
    have = part.stat().st_size
    assert have >= 20_000
    fake.fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), [HostRecord("a", "10.0.0.1")], SshSettings(), connector=fake_connector({"a": fake}))
    row = fetched.manifest.hosts["a"]
    assert row.status == "ok", row.error
    sizes = {"perf.script.gz": row.script_bytes, "perf.data": row.perf_data_bytes}
    pulled: dict[str, int] = {}
    for t in row.transfers:
        pulled[t["file"]] = pulled.get(t["file"], 0) + t["bytes"]
    assert pulled == sizes, row.transfers
    assert [(t["offset"], t["bytes"]) for t in row.transfers if t["file"] == "perf.script.gz"] == [(0, have), (have, sizes["perf.script.gz"] - have)]
    assert row.samples == 3000


def test_detach_leaves_perf_running_and_fetch_finishes_it(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b")}
    outcome = run(tmp_path, fakes, duration=0.3, detach=True)
    assert outcome.exit_code == 0 and outcome.detached
    assert {h.status for h in outcome.manifest.hosts.values()} == {"pending"}
    assert not (outcome.folder / "fleet.folded").exists()
    assert all(len(f.folders) == 1 for f in fakes.values())
    hosts = [HostRecord("a", "10.0.0.1"), HostRecord("b", "10.0.0.2")]
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes))
    assert fetched.exit_code == 0 and fleet_sums(outcome.folder) == {"a": 25, "b": 25}
    again = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes))
    assert again.exit_code == 0 and all(f.sessions == 2 for f in fakes.values()), "a second fetch has nothing to do"


def test_ctrl_c_while_recording_stops_every_host_and_reports_what_was_recorded(tmp_path: Path) -> None:
    fakes = {"a": healthy("a"), "b": healthy("b")}
    seen: list[Event] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        if event.stage == Stage.RECORDING and sum(e.stage == Stage.RECORDING for e in seen) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    begin = time.monotonic()
    hosts = [HostRecord("a", "10.0.0.1"), HostRecord("b", "10.0.0.2")]
    outcome = run_capture(hosts, CaptureOptions(target=parse_target("all"), duration=30, out=tmp_path / "out", formats=("folded",)), on_event, fake_connector(fakes))
    assert time.monotonic() - begin < 10
    manifest = outcome.manifest
    assert outcome.exit_code == 0 and manifest.stopped_early
    assert manifest.requested_duration_s == 30 and manifest.duration_s < 5
    assert {e.host for e in seen if e.stage == Stage.STOPPING} == {"a", "b"}
    assert all(row.perf_exit_status == 130 for row in manifest.hosts.values())


def test_ctrl_c_before_the_start_starts_nobody(tmp_path: Path) -> None:
    slow = healthy("slow", latency=0.3)
    fakes = {"fast": healthy("fast"), "slow": slow}

    def on_event(event: Event) -> None:
        if event.host == "fast" and event.stage == Stage.READY:
            os.kill(os.getpid(), signal.SIGINT)

    hosts = [HostRecord("fast", "10.0.0.1"), HostRecord("slow", "10.0.0.2")]
    outcome = run_capture(hosts, CaptureOptions(target=parse_target("all"), duration=5, out=tmp_path / "out", formats=("folded",)), on_event, fake_connector(fakes))
    assert {h.error for h in outcome.manifest.hosts.values()} == {"stopped before recording started"}
    assert all(f.channels("go") == 0 for f in fakes.values())
    time.sleep(0.7)
    assert not fakes["fast"].folders


def test_an_unexpected_exception_fails_only_that_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetflame.capture import host as host_module

    real = host_module.collapse_results

    async def flaky(collapser, local_dir, roots, unknown):  # type: ignore[no-untyped-def]
        if local_dir.name == "b":
            raise RuntimeError("boom")
        return await real(collapser, local_dir, roots, unknown)

    monkeypatch.setattr(host_module, "collapse_results", flaky)
    fakes = {"a": healthy("a"), "b": healthy("b")}
    outcome = run(tmp_path, fakes)
    row = outcome.manifest.hosts["b"]
    assert outcome.manifest.hosts["a"].status == "ok" and row.status == "failed"
    assert "a fleetflame bug" in (row.error or "") and "RuntimeError: boom" in (row.error or "")
    assert "Traceback" in (row.error_detail or "")
    assert len(fakes["b"].folders) == 1, "results are deleted on the host only once they are safe here"


def test_a_folder_the_clean_up_of_which_is_not_confirmed_is_a_warning(tmp_path: Path) -> None:
    outcome = run(tmp_path, {"a": healthy("a", fail={"clean": None})})
    row = outcome.manifest.hosts["a"]
    assert row.status == "ok" and row.warnings and "could not confirm" in row.warnings[0]


def test_round_trips_before_recording_and_after_perf_ends(tmp_path: Path) -> None:
    """With one-way latency L (RTT 2L): from connected to perf running, the session's open (2 RTT:
    channel, exec), its first lines (0.5), the start signal (0.5); from perf's end to results
    here, half a round trip plus the data. Over SSH the connection itself costs a few more."""
    latency = 0.05
    fakes = {name: healthy(name, latency=latency) for name in ("a", "b")}
    seen: list[tuple[float, Event]] = []
    hosts = [HostRecord("a", "10.0.0.1"), HostRecord("b", "10.0.0.2")]
    outcome = run_capture(
        hosts,
        CaptureOptions(target=parse_target("all"), duration=0.5, out=tmp_path / "out", formats=("folded",)),
        lambda e: seen.append((time.monotonic(), e)),
        fake_connector(fakes),
    )
    assert outcome.exit_code == 0
    rtt = 2 * latency
    for name, fake in fakes.items():
        connected = [t for t, e in seen if e.host == name and e.stage == Stage.RESOLVING][0]
        go = [t for t, what in fake.log if what.startswith("go ")][0]
        assert go - connected < 3.0 * rtt + 0.05, (go - connected) / rtt
        assert fake.channels("exec") == 1 and fake.channels("forward") == 1
        recording = [t for t, e in seen if e.host == name and e.stage == Stage.RECORDING][0]
        collapsing = [t for t, e in seen if e.host == name and e.stage == Stage.COLLAPSING][0]
        assert collapsing - recording < 0.5 + 1.0 * rtt + 0.1, (collapsing - recording - 0.5) / rtt


def test_fetch_from_the_hosts_ignores_folders_whose_meta_does_not_check_out(tmp_path: Path) -> None:
    fakes = {"a": healthy("a")}
    outcome = run(tmp_path, fakes, duration=0.3, detach=True)
    (folder,) = fakes["a"].folders.values()
    good_meta = folder.meta
    meta = json.loads(good_meta)
    evil = dict(meta, id="20261125T221500Z-x/../../../../tmp/evil")
    fakes["a"].folders["/tmp/fleetflame-20261125T221500Z-x.AAAAAAAAAA"] = type(folder)("/tmp/fleetflame-20261125T221500Z-x.AAAAAAAAAA", meta=json.dumps(evil))
    other = dict(meta, host="someone-else")
    fakes["a"].folders["/tmp/fleetflame-20261125T221501Z-y.BBBBBBBBBB"] = type(folder)("/tmp/fleetflame-20261125T221501Z-y.BBBBBBBBBB", meta=json.dumps(other))
    out = tmp_path / "elsewhere"
    hosts = [HostRecord("a", "10.0.0.1")]

    from fleetflame.capture import recover

    real_visit = recover.visit_hosts

    def visit(hosts_, ssh, forks, visit_one):  # type: ignore[no-untyped-def]
        import asyncio

        async def all_() -> list[object]:
            conns = [fake_connector(fakes)(h, ssh, None) for h in hosts_]
            return [await visit_one(c, asyncio.Semaphore(1)) for c in conns]

        return asyncio.run(all_())

    recover.visit_hosts = visit  # type: ignore[assignment]
    try:
        plan = plan_fetch(out, None, True, [], None, lambda: hosts, SshSettings())
    finally:
        recover.visit_hosts = real_visit
    (job,) = plan.jobs
    assert job.manifest.id == outcome.manifest.id and job.rebuilt
    assert sorted(p.name for p in out.iterdir()) == [outcome.manifest.id]
    assert not (Path("/tmp") / "evil").exists()


def test_reports_are_drawn_while_the_hosts_confirm_their_cleanup(tmp_path: Path) -> None:
    """Once every host's results are safe, the reports are drawn during the round trip in which
    the hosts remove their folders, not after it; the manifest still records each `cleaned`."""
    fakes = {name: healthy(name, latency=0.05) for name in ("a", "b")}
    drawn_before_done: list[bool] = []

    def watch(event: Event) -> None:
        if event.stage == Stage.DONE:
            drawn_before_done.append(any((tmp_path / "out").glob("*/fleet.folded")))

    outcome = run_capture(
        [HostRecord(name, f"10.0.0.{i + 1}") for i, name in enumerate(fakes)],
        CaptureOptions(target=parse_target("all"), duration=0.2, out=tmp_path / "out", formats=("folded",)),
        watch,
        fake_connector(fakes),
    )
    assert outcome.exit_code == 0 and drawn_before_done == [True, True]
    assert all(row.cleaned for row in read_manifest(outcome.folder).hosts.values())
    assert not any(fake.folders for fake in fakes.values())
