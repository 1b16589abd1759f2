"""The control machine's files: another local user cannot redirect what fleetflame (root) writes or
reads there, every file is private whatever the umask, and no command destroys a capture's data.

The other user is real: folders are chowned to nobody (uid 65534), as root can. Links are planted
before a command runs, or by a hook between a check and the use it guards (the race, made
deterministic).
"""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleetflame import folded
from fleetflame.capture import HostResult, Manifest, files, read_manifest, transfer
from fleetflame.capture.stacks import collapse_results
from fleetflame.api import CaptureOptions, RunOutcome, fetch_capture, run_capture
from fleetflame.cli import app
from fleetflame.collapse.hosts import HostCollapser
from fleetflame.connection.settings import SshSettings
from fleetflame.errors import InputError
from fleetflame.host.targets import parse_target
from fleetflame.inventory.model import HostRecord

from .capture.fakehost import FakeHost, fake_connector, perf_script_text

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: another user's folders are made with chown")

NOBODY = 65534
PRECIOUS = b"root's file: must never change\n"
TILES = [(100, 101, "net:0"), (100, 102, "verify:0")]
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A root file a planted link points at."""
    path = tmp_path / "root-file"
    path.write_bytes(PRECIOUS)
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual interactive umask: what a file gets if fleetflame does not set its mode."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def foreign_dir(path: Path, mode_: int = 0o777) -> Path:
    path.mkdir(parents=True)
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, mode_)
    return path


def healthy(name: str, **kwargs: Any) -> FakeHost:
    stacks = {101: [("net_rx;net_loop;main", 5)], 102: [("verify;verify_loop;main", 7)]}
    return FakeHost(name, threads=[*TILES, (100, 100, "fdctl")], perf_script=perf_script_text(stacks), **kwargs)


def run(out: Path, fakes: dict[str, FakeHost], **options: Any) -> RunOutcome:
    hosts = [HostRecord(name, f"10.0.0.{i + 1}") for i, name in enumerate(fakes)]
    opts = CaptureOptions(**{"target": parse_target("all"), "duration": 0.2, "out": out, "formats": ("folded",), **options})
    return run_capture(hosts, opts, None, fake_connector(fakes))


def make_capture(out: Path, hosts: dict[str, int] | None = None) -> Path:
    """A capture folder as `run` leaves it: hosts/H/stacks.folded, manifest.json, fleet.folded."""
    hosts = hosts or {"lab01": 5, "lab02": 7}
    folder = out / "20261125T221500Z-all"
    rows = {}
    for host, count in hosts.items():
        (folder / "hosts" / host).mkdir(parents=True)
        folded.write_folded({"verify:0;main;work": count, "net:0;main;poll": 1}, folder / "hosts" / host / "stacks.folded")
        rows[host] = HostResult(status="ok", samples=count + 1, tiles=[{"name": "verify:0"}, {"name": "net:0"}])
    Manifest(id=folder.name, target="all", started_at="2026-11-25T22:15:00Z", hosts=rows).write(folder)
    code, out_text, err = invoke("report", str(folder), "--format", "svg")
    assert code == 0, out_text + err
    return folder


# ---- 1. an --out someone else owns, and links planted in a capture folder --------------------


def test_an_out_owned_by_another_user_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    """`mkdir -m 0777 /tmp/caps` by a user, then root's `run -o /tmp/caps`: refused, exit 2,
    with the folder, its owner and mode and the fix; nothing is created in it."""
    caps = foreign_dir(tmp_path / "caps")
    with pytest.raises(InputError) as refused:
        files.check_out_dir(caps)
    text = str(refused.value)
    assert refused.value.exit_code == 2
    assert str(caps) in text and "nobody (uid 65534)" in text and "0777" in text and "mkdir -m 700" in text
    assert os.listdir(caps) == []
    foreign_dir(tmp_path / "private-but-theirs", 0o700)
    with pytest.raises(InputError, match="owned by nobody"):
        files.check_out_dir(tmp_path / "private-but-theirs")


def test_an_out_writable_by_others_or_behind_a_link_is_refused_even_if_ours(tmp_path: Path) -> None:
    for bits in (0o777, 0o770, 0o1777):
        out = tmp_path / f"out-{bits:o}"
        out.mkdir(mode=0o700)
        os.chmod(out, bits)
        with pytest.raises(InputError, match=f"mode {bits:04o}.*chmod 700"):
            files.check_out_dir(out)
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match="symbolic link"):
        files.check_out_dir(tmp_path / "link")
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    assert files.check_out_dir(mine) == mine  # ours, not writable by others: fine (made 0700 when used)
    assert files.check_out_dir(tmp_path / "new" / "captures") == tmp_path / "new" / "captures"
    assert not (tmp_path / "new").exists(), "checking creates nothing"
    assert files.check_out_dir(tmp_path / "link" / "captures")  # a link above --out to a safe folder is fine


def test_an_out_below_a_folder_another_user_can_swap_is_refused(tmp_path: Path) -> None:
    """Like OpenSSH's StrictModes: every folder above --out must be root's or ours, and not
    writable by others unless sticky (as /tmp is)."""
    theirs = foreign_dir(tmp_path / "theirs", 0o755)
    with pytest.raises(InputError, match=r"the folder above it, .*theirs, is owned by nobody \(uid 65534\), mode 0755"):
        files.check_out_dir(theirs / "captures")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(InputError, match=r"shared, is owned by root \(uid 0\), mode 0777: every user can write to it.*chmod o-w .*shared.*chmod \+t"):
        files.check_out_dir(shared / "captures")
    (tmp_path / "via").symlink_to(shared)  # a link whose target is below a folder others can write to
    with pytest.raises(InputError, match="shared"):
        files.check_out_dir(tmp_path / "via" / "captures")
    os.chmod(shared, 0o1777)  # sticky: like /tmp, nobody can rename root's folder in it
    assert files.check_out_dir(shared / "captures")
    assert os.listdir(shared) == [] and os.listdir(theirs) == []


def test_run_refuses_an_out_owned_by_another_user_and_creates_nothing_in_it(tmp_path: Path) -> None:
    caps = foreign_dir(tmp_path / "caps")
    fakes = {"a": healthy("a")}
    with pytest.raises(InputError, match="owned by nobody"):
        run(caps, fakes)
    assert os.listdir(caps) == [] and fakes["a"].sessions == 0


def test_the_run_command_refuses_a_foreign_out_before_taking_its_lock(tmp_path: Path) -> None:
    """Through the CLI: exit 2 and not even the schedule lock file is created in --out."""
    caps = foreign_dir(tmp_path / "caps")
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all:\n  hosts:\n    lab01:\n      ansible_host: 127.0.0.1\n      ansible_port: 9\n")
    code, _, err = invoke("run", "all", "-i", str(inventory), "--out", str(caps), "--duration", "1", "--quiet")
    assert code == 2 and "owned by nobody" in err
    assert os.listdir(caps) == []


def test_private_dir_never_chmods_or_adopts_a_folder_someone_else_owns(tmp_path: Path) -> None:
    theirs = foreign_dir(tmp_path / "theirs", 0o755)
    with pytest.raises(InputError, match="owned by nobody"):
        files.private_dir(theirs)
    assert mode(theirs) == 0o755 and os.lstat(theirs).st_uid == NOBODY
    (tmp_path / "link").symlink_to(theirs)
    with pytest.raises(InputError, match="symbolic link"):
        files.private_dir(tmp_path / "link")
    assert mode(theirs) == 0o755
    target = tmp_path / "root-folder"
    target.mkdir(mode=0o755)
    (tmp_path / "link2").symlink_to(target)
    with pytest.raises(InputError, match="symbolic link"):
        files.private_dir(tmp_path / "link2")
    assert mode(target) == 0o755, "a link's target is never chmodded"
    with pytest.raises(InputError, match="owned by nobody"):
        files.private_dir(theirs / "hosts" / "a")  # nothing created below someone else's folder
    assert os.listdir(theirs) == []
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    assert files.private_dir(mine) == mine and mode(mine) == 0o700


def test_a_part_file_planted_as_a_link_is_replaced_never_written_through(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of the issue: between the host folder's check and the transfer, `.part` files
    appear as links to a root file. The transfer starts them afresh; the root file is intact."""
    real_receive = transfer.receive

    async def plant_then_receive(session: Any, local_dir: Path, *args: Any, **kwargs: Any) -> Any:
        for name in ("perf.script.gz.part", "perf.data.part"):
            (local_dir / name).symlink_to(victim)
        return await real_receive(session, local_dir, *args, **kwargs)

    monkeypatch.setattr(transfer, "receive", plant_then_receive)
    fakes = {"a": healthy("a")}
    outcome = run(tmp_path / "out", fakes)
    assert outcome.manifest.hosts["a"].status == "ok", outcome.manifest.hosts["a"].error
    assert victim.read_bytes() == PRECIOUS
    local = outcome.folder / "hosts" / "a"
    for name in ("perf.script.gz", "perf.data"):
        assert stat.S_ISREG(os.lstat(local / name).st_mode) and mode(local / name) == 0o600
    assert (local / "perf.data").read_bytes() == fakes["a"].perf_data


def test_a_host_folder_swapped_for_a_link_after_its_check_fails_that_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's folder is renamed away and replaced by a link to another user's folder after
    private_dir checked it: nothing is written through the link, and only that host fails."""
    elsewhere = foreign_dir(tmp_path / "elsewhere")
    real_receive = transfer.receive

    async def swap_then_receive(session: Any, local_dir: Path, *args: Any, **kwargs: Any) -> Any:
        if local_dir.name == "a":
            local_dir.rename(local_dir.with_name("a-moved"))
            local_dir.symlink_to(elsewhere)
        return await real_receive(session, local_dir, *args, **kwargs)

    monkeypatch.setattr(transfer, "receive", swap_then_receive)
    outcome = run(tmp_path / "out", {"a": healthy("a"), "b": healthy("b")})
    rows = outcome.manifest.hosts
    assert rows["a"].status == "failed" and "symbolic link" in (rows["a"].error or "")
    assert rows["b"].status == "ok" and os.listdir(elsewhere) == []


def test_fetch_never_resumes_a_part_that_is_a_link_or_has_another_name(tmp_path: Path, victim: Path) -> None:
    """A detached capture's host folder holds `.part` files planted as a symbolic link and as a
    hard link to root files: fetch removes them and pulls afresh; the root files are intact."""
    fakes = {"a": healthy("a")}
    outcome = run(tmp_path / "out", fakes, duration=0.3, detach=True)
    local = outcome.folder / "hosts" / "a"
    files.private_dir(local)
    (local / "perf.script.gz.part").symlink_to(victim)
    other = tmp_path / "root-file-2"
    other.write_bytes(PRECIOUS)
    os.link(other, local / "perf.data.part")
    hosts = [HostRecord("a", "10.0.0.1")]
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), hosts, SshSettings(), connector=fake_connector(fakes))
    assert fetched.manifest.hosts["a"].status == "ok", fetched.manifest.hosts["a"].error
    assert victim.read_bytes() == PRECIOUS and other.read_bytes() == PRECIOUS
    assert (local / "perf.data").read_bytes() == fakes["a"].perf_data and os.lstat(local / "perf.data").st_nlink == 1


def test_a_part_swapped_for_a_link_while_it_is_resumed_is_not_written_through(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupted transfer leaves a `.part`; between fetch's look at it and its resume, the
    `.part` becomes a link to a root file. The host fails with a message; the file is intact."""
    text = perf_script_text({102: [(f"f{os.urandom(8).hex()};verify_loop;main", 1) for _ in range(3000)]})
    fake = FakeHost("a", threads=list(TILES), perf_script=text, perf_data=os.urandom(100_000), chunk_bytes=4096, fail={"transfer": 20_000})
    outcome = run(tmp_path / "out", {"a": fake})
    part = outcome.folder / "hosts" / "a" / "perf.script.gz.part"
    assert outcome.manifest.hosts["a"].status == "failed" and part.stat().st_size >= 20_000
    victim.write_bytes(part.read_bytes())  # same bytes: only following the link could tell
    precious = victim.read_bytes()
    real_offsets = transfer.resume_offsets

    def offsets_then_swap(local_dir: Path) -> dict[str, int]:
        offsets = real_offsets(local_dir)
        part.unlink()
        part.symlink_to(victim)
        return offsets

    monkeypatch.setattr(transfer, "resume_offsets", offsets_then_swap)
    fake.fail.clear()
    fetched = fetch_capture(outcome.folder, read_manifest(outcome.folder), [HostRecord("a", "10.0.0.1")], SshSettings(), connector=fake_connector({"a": fake}))
    row = fetched.manifest.hosts["a"]
    assert row.status == "failed" and "changed while fleetflame resumed it" in (row.error or "") and "fleetflame fetch" in (row.error or "")
    assert victim.read_bytes() == precious


async def _collapse(local: Path) -> None:
    collapser = HostCollapser(max_workers=1)
    try:
        await collapse_results(collapser, local, {"101": "net:0", "102": "verify:0"}, None)
    finally:
        collapser.close()


def test_collapse_writes_stacks_whole_never_through_a_link_and_never_reads_a_linked_script(tmp_path: Path, victim: Path) -> None:
    import asyncio

    local = tmp_path / "hosts" / "a"
    files.private_dir(local)
    script = gzip.compress(perf_script_text({101: [("net_rx;main", 3)], 102: [("verify;main", 4)]}))
    (local / "perf.script.gz").write_bytes(script)
    (local / "stacks.folded").symlink_to(victim)
    other = tmp_path / "root-file-2"
    other.write_bytes(PRECIOUS)
    (local / "stacks.folded.tmp").symlink_to(other)  # the temporary name writers used to use
    asyncio.run(_collapse(local))
    assert victim.read_bytes() == PRECIOUS and other.read_bytes() == PRECIOUS
    assert folded.read_folded(local / "stacks.folded") == {"net:0;main;net_rx": 3, "verify:0;main;verify": 4}
    assert not (local / "stacks.folded").is_symlink() and mode(local / "stacks.folded") == 0o600
    elsewhere = tmp_path / "elsewhere.gz"
    elsewhere.write_bytes(script)
    (local / "perf.script.gz").unlink()
    (local / "perf.script.gz").symlink_to(elsewhere)
    with pytest.raises(OSError, match="symbolic link"):
        asyncio.run(_collapse(local))


def test_collapsing_into_fewer_samples_than_stacks_folded_held_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    local = tmp_path / "hosts" / "a"
    files.private_dir(local)
    (local / "perf.script.gz").write_bytes(gzip.compress(perf_script_text({102: [("verify;main", 4)]})))
    folded.write_folded({"verify:0;main;verify": 40}, local / "stacks.folded")
    asyncio.run(_collapse(local))
    said = " ".join(capsys.readouterr().err.split())
    assert f"warning: {local / 'stacks.folded'}: replaced by a new collapse of perf.script.gz with 4 samples; it held 40" in said
    assert folded.read_folded(local / "stacks.folded") == {"verify:0;main;verify": 4}


def test_every_capture_writer_replaces_a_planted_link_and_never_follows_it(tmp_path: Path, victim: Path, umask_022: None) -> None:
    """folded.write_folded, render.write_output, skew.json and manifest.json: a link at the file's
    name (or at the fixed temporary name writers used) is replaced; the file is 0600."""
    from fleetflame.analysis.skew import analyse, write_skew_json
    from fleetflame.render import write_output

    folder = tmp_path / "20261125T221500Z-all"
    folder.mkdir()
    for name in ("fleet.folded", "flamegraph.svg", "skew.json", "manifest.json", "skew.json.tmp", "manifest.json.tmp"):
        (folder / name).symlink_to(victim)
    stacks = {"lab01;verify:0;main": 3}
    folded.write_folded(stacks, folder / "fleet.folded")
    write_output("svg", stacks, folder / "flamegraph.svg")
    write_skew_json(folder, analyse(stacks))
    Manifest(id=folder.name, target="all", started_at="2026-11-25T22:15:00Z").write(folder)
    assert victim.read_bytes() == PRECIOUS
    for name in ("fleet.folded", "flamegraph.svg", "skew.json", "manifest.json"):
        assert stat.S_ISREG(os.lstat(folder / name).st_mode) and mode(folder / name) == 0o600, name


def test_the_log_file_is_never_appended_through_a_link(tmp_path: Path, victim: Path, umask_022: None) -> None:
    from fleetflame.progress import log_line

    planted = tmp_path / "fleetflame.log"
    planted.symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        log_line(planted, "capture 20261125T221500Z-all exit 0")
    assert victim.read_bytes() == PRECIOUS
    log = tmp_path / "new.log"
    log_line(log, "hello")
    log_line(log, "again")
    assert mode(log) == 0o600 and log.read_text().count("\n") == 2


def test_report_never_reads_a_capture_file_through_a_link(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    secret = tmp_path / "secret.folded"
    secret.write_text("root-secret;stack 99\n")
    stacks = folder / "hosts" / "lab01" / "stacks.folded"
    stacks.unlink()
    stacks.symlink_to(secret)
    code, _, err = invoke("report", str(folder), "--format", "svg,html")
    assert code == 1 and "stacks.folded: is a symbolic link" in err
    assert not any("root-secret" in p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    (folder / "fleet.folded").unlink()
    (folder / "fleet.folded").symlink_to(secret)
    code, _, err = invoke("diff", str(folder), str(folder))
    assert code == 1 and "fleet.folded: is a symbolic link" in err


# ---- 2. `report` writes 0600 whatever the umask, and our folder 0700 ------------------------


def test_report_writes_every_file_0600_whatever_the_umask_and_makes_our_folder_0700_again(tmp_path: Path, umask_022: None) -> None:
    folder = make_capture(tmp_path)
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # opened up by hand
    code, out, err = invoke("report", str(folder), "--format", "svg,html,folded,speedscope,pprof")
    assert code == 0, out + err
    written = [Path(line) for line in out.splitlines() if line.startswith(str(folder))]
    names = {p.relative_to(folder).as_posix() for p in written}
    assert {"fleet.folded", "skew.json", "flamegraph.svg", "flamegraph.html", "flamegraph.pb.gz", "flamegraph.speedscope.json", "hosts/lab01/flamegraph.svg"} <= names
    assert {p: oct(mode(p)) for p in written} == {p: oct(0o600) for p in written}
    for path in (folder, folder / "hosts", folder / "hosts" / "lab01"):
        assert mode(path) == 0o700, path


def test_report_leaves_the_mode_of_a_capture_folder_someone_else_owns(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    os.chown(folder, NOBODY, NOBODY)
    os.chmod(folder, 0o755)
    code, out, err = invoke("report", str(folder), "--format", "svg")
    assert code == 0, out + err
    assert mode(folder) == 0o755 and os.lstat(folder).st_uid == NOBODY
    assert mode(folder / "flamegraph.svg") == 0o600


# ---- 3. `report` never destroys data ---------------------------------------------------------


def test_report_of_a_copy_without_hosts_draws_from_fleet_folded_and_keeps_it(tmp_path: Path) -> None:
    """A copy of a capture holding manifest.json and fleet.folded only ("from its folder alone"):
    fleet.folded keeps every byte and the graphs show its stacks."""
    folder = make_capture(tmp_path)
    before = (folder / "fleet.folded").read_bytes()
    assert before.count(b"\n") == 4
    for path in sorted(folder.rglob("*"), reverse=True):
        if "hosts" in path.relative_to(folder).parts:
            path.rmdir() if path.is_dir() else path.unlink()
    code, out, err = invoke("report", str(folder), "--format", "svg,html,speedscope")
    assert code == 0, out + err
    assert (folder / "fleet.folded").read_bytes() == before
    svg = (folder / "flamegraph.svg").read_text()
    assert "lab01" in svg and "lab02" in svg and "verify:0" in svg
    assert "lab02" in (folder / "flamegraph.speedscope.json").read_text()
    assert not (folder / "hosts").exists() and "warning" not in err


def test_report_keeps_a_fleet_folded_it_could_only_replace_with_nothing(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    before = (folder / "fleet.folded").read_bytes()
    manifest = read_manifest(folder)
    for row in manifest.hosts.values():
        row.status = "ok"
    manifest.hosts = {f"other{name}": row for name, row in manifest.hosts.items()}  # hosts fleet.folded does not hold
    manifest.write(folder)
    code, out, err = invoke("report", str(folder), "--format", "svg")
    assert code == 0, out + err
    assert (folder / "fleet.folded").read_bytes() == before
    assert f"{folder / 'fleet.folded'}: kept as it is (14 samples)" in " ".join(err.split())
    assert "lab01" in (folder / "flamegraph.svg").read_text(), "drawn from the fleet.folded kept"


def test_report_says_when_it_replaces_fleet_folded_with_fewer_samples(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    folded.write_folded({"verify:0;main;work": 2}, folder / "hosts" / "lab01" / "stacks.folded")
    code, out, err = invoke("report", str(folder), "--format", "svg")
    assert code == 0, out + err
    said = " ".join(err.split())
    assert f"warning: {folder / 'fleet.folded'}: replaced with 10 samples; it held 14 (fewer now for lab01" in said
    assert sum(folded.read_folded(folder / "fleet.folded").values()) == 10


def test_report_replaces_outputs_never_truncating_or_writing_through_them(tmp_path: Path, victim: Path) -> None:
    """Every output is written to a new name and renamed: a hard link to the old flamegraph.svg
    still holds the old graph, a link planted at an output's name (or at the temporary name
    writers used) is replaced, not followed."""
    folder = make_capture(tmp_path)
    old_svg = (folder / "flamegraph.svg").read_bytes()
    os.link(folder / "flamegraph.svg", tmp_path / "kept.svg")
    old_fleet = (folder / "fleet.folded").read_bytes()
    os.link(folder / "fleet.folded", tmp_path / "kept.folded")
    for name in ("flamegraph.html", "skew.json.tmp", "flamegraph.pb.gz"):
        (folder / name).symlink_to(victim)
    folded.write_folded({"verify:0;main;work": 50}, folder / "hosts" / "lab01" / "stacks.folded")
    code, out, err = invoke("report", str(folder), "--format", "svg,html,pprof")
    assert code == 0, out + err
    assert (tmp_path / "kept.svg").read_bytes() == old_svg and (folder / "flamegraph.svg").read_bytes() != old_svg
    assert (tmp_path / "kept.folded").read_bytes() == old_fleet
    assert victim.read_bytes() == PRECIOUS
    assert not (folder / "flamegraph.html").is_symlink() and not (folder / "flamegraph.pb.gz").is_symlink()
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()], "no temporary file left"


# ---- reads in files other engineers own: each passes once the lead makes the one-line change ----


def _link_in_place(path: Path) -> None:
    """Move a capture file elsewhere and leave a symbolic link to it in its place."""
    moved = path.with_name("moved-" + path.name)
    os.replace(path, moved)
    path.symlink_to(moved)


def test_a_manifest_planted_as_a_link_is_not_read(tmp_path: Path) -> None:
    folder = make_capture(tmp_path)
    _link_in_place(folder / "manifest.json")
    with pytest.raises(OSError, match="symbolic link"):
        read_manifest(folder)


def test_skew_never_reads_a_capture_file_through_a_link(tmp_path: Path) -> None:
    from fleetflame.analysis.skew import analyse_capture, read_skew_json

    folder = make_capture(tmp_path)
    assert read_skew_json(folder) is not None
    _link_in_place(folder / "skew.json")
    assert read_skew_json(folder) is None, "a skew.json that is a link is not shown"
    _link_in_place(folder / "fleet.folded")
    with pytest.raises(OSError, match="symbolic link"):
        analyse_capture(folder)
