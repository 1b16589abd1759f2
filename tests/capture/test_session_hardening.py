"""The real SESSION script (scripts.py) against a local user who controls, or could swap, what is
around root's capture folder: the tmpdir and the folders above it, a symbolic link on the way,
the capture folder itself between its check and its use, names planted in it, the folder moved
away while perf records. Also: a session that fails before perf started keeps nothing.

Races are made deterministic by a hook at the right moment, as root: a `stat` or `setsid` on PATH
that does the swap once the script has checked what it swaps, or the stand-in perf. The other
user is `nobody` (uid 65534): only root can hand it files, so these tests need root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetflame.capture.scripts import SESSION, Exit

from .test_session_script import FAKE_PERF, WATCHDOG_S, Script

pytestmark = pytest.mark.root

OTHER = 65534  # nobody: the local user who is not root and not us
CAPTURE_ID = "20261125T221500Z-all"
# The stand-in perf: FAKE_PERF, except that with FF_MOVE_AWAY set it first moves the capture folder
# it records in away and puts a folder of `nobody` holding a file in its place (as a user who
# could rename entries of the tmpdir would, while perf records).
MOVING_PERF = FAKE_PERF.replace(
    "record)\n",
    "record)\n"
    '  if [ -n "${FF_MOVE_AWAY:-}" ]; then\n'
    '    here=$(pwd -P); mv -- "$here" "$here.moved"; mkdir -- "$here"; echo theirs > "$here/keep"\n'
    f'    chown -R {OTHER}:{OTHER} "$here"\n'
    "  fi\n",
)
# A `stat` that, once, right after it has answered about the capture folder (an argument naming
# it, or `.` inside it), moves that folder away and puts in its place a folder of `nobody`, mode
# 0777, holding links to the victim file under the names the recorder and perf write.
SWAPPING_STAT = r"""#!/bin/sh
"$REAL_STAT" "$@"; rc=$?
if [ ! -e "$FF_SWAPPED" ]; then
  target=
  for a in "$@"; do case $a in */fleetflame-*) target=$a ;; esac; done
  if [ -z "$target" ]; then case $(pwd -P) in */fleetflame-*) target=$(pwd -P) ;; esac; fi
  if [ -n "$target" ] && [ -d "$target" ] && [ ! -h "$target" ]; then
    : > "$FF_SWAPPED"
    mv -- "$target" "$target.moved" && mkdir -m 0777 -- "$target"
    for f in perf.stderr perf.data timeout.pid rc.tmp rc record.args; do
      ln -s "$FF_VICTIM" "$target/$f"
    done
    chown -hR 65534:65534 "$target"
  fi
fi
exit $rc
"""
# A `mktemp` that makes the folder, then replaces it with a link to another folder of root's,
# mode 0700 (which a check of the link's target alone would take for ours).
LINKING_MKTEMP = r"""#!/bin/sh
made=$("$REAL_MKTEMP" "$@") || exit 1
rmdir -- "$made" && ln -s "$FF_ELSEWHERE" "$made"
printf '%s\n' "$made"
"""
# A `setsid` that plants links to the victim file, in the folder it is started in, under the
# names the recorder and perf create, then starts the recorder.
PLANTING_SETSID = r"""#!/bin/sh
for f in perf.stderr perf.data timeout.pid rc.tmp rc; do ln -s "$FF_VICTIM" "$f"; done
exec "$REAL_SETSID" "$@"
"""


def _default_signals() -> None:
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)


class Session(Script):
    """Script, in a process group of its own that the watchdog kills whole: a session that goes
    wrong (the code before these fixes) must fail the test, not hang it on a child holding stdout."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", SESSION, "fleetflame-session", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
            # as sshd starts it: HUP and TERM not ignored (a shell cannot trap a signal ignored on
            # entry, so under `nohup make test` the HUP test would hang until the watchdog)
            preexec_fn=_default_signals,
        )  # fmt: skip
        self.watchdog = threading.Timer(WATCHDOG_S, self.kill_group)
        self.watchdog.start()

    def kill_group(self) -> None:
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def end(self) -> int:
        try:
            return super().end()
        finally:
            self.kill_group()


@pytest.fixture(autouse=True)
def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the other user's folders and links are made by chown")


@pytest.fixture
def perf(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "perf"
    path.parent.mkdir()
    path.write_text(MOVING_PERF)
    path.chmod(0o755)
    return path


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Path]:
    """A file of root's that nothing may write to."""
    path = tmp_path / "victim"
    path.write_text("precious\n")
    path.chmod(0o644)
    yield path
    assert path.read_text() == "precious\n", "root wrote through a link someone else planted"


def private_folder(path: Path, mode: int = 0o700, owner: int = 0) -> Path:
    path.mkdir(parents=True)
    path.chmod(mode)
    os.chown(path, owner, owner)
    return path


def hooks(tmp_path: Path, victim: Path, **scripts: str) -> dict[str, str]:
    """An environment whose PATH first finds the given hook scripts (name: text)."""
    folder = tmp_path / "hooks"
    folder.mkdir()
    env = {**os.environ, "FF_VICTIM": str(victim), "FF_SWAPPED": str(tmp_path / "swapped")}
    for name, text in scripts.items():
        env[f"REAL_{name.upper()}"] = shutil.which(name) or name
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    env["PATH"] = f"{folder}:{os.environ['PATH']}"
    return env


def new(tmpdir: Path | str, perf: Path, env: dict[str, str] | None = None) -> Session:
    return Session("new", str(tmpdir), CAPTURE_ID, str(perf), "99", "fp", "1024", "5", "", env=env)


def until_sent(script: Script) -> Path:
    """A whole `new` session up to `sent`; the capture folder's path as the script said it."""
    folder = Path(" ".join(script.until("dir")))
    script.until("threads-end")
    script.send('meta {"stand-in": true}')
    script.until("ready")
    script.send(f"go t {os.getpid()} run")
    script.until("sent")
    return folder


def refusal(script: Script) -> str:
    assert script.message() == ("hello", ["1"])
    verb, args = script.message()
    assert (verb, args[0]) == ("error", str(int(Exit.TMPDIR))), (verb, args)
    assert script.end() == Exit.TMPDIR
    return " ".join(args[1:])


def captures(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("fleetflame-"))


# ---- the tmpdir and the folders above it -------------------------------------------------------


def test_a_tmpdir_another_user_owns_is_refused_naming_it_its_owner_mode_and_the_fix(tmp_path: Path, perf: Path) -> None:
    theirs = private_folder(tmp_path / "theirs", 0o755, OTHER)
    text = refusal(new(theirs, perf))
    assert f"fleetflame_tmpdir {theirs} is refused: {theirs} is owned by nobody (uid {OTHER}), mode 0755" in text, text
    assert "its owner can rename what is in it" in text and f"`chown root {theirs}`" in text, text
    assert not list(theirs.iterdir()), "a folder was made in a tmpdir someone else owns"


@pytest.mark.parametrize(
    ("mode", "owner", "why"),
    [
        (0o755, OTHER, "its owner can rename what is in it"),
        (0o777, 0, "every user can write to it and it has no sticky bit"),
        (0o775, 0, "its group (gid 0) can write to it and it has no sticky bit"),
    ],
)
def test_a_folder_above_the_tmpdir_that_someone_else_could_rename_it_from_is_refused(
    tmp_path: Path, perf: Path, mode: int, owner: int, why: str
) -> None:
    above = private_folder(tmp_path / "above", mode, owner)
    tmpdir = private_folder(above / "tmpdir")
    text = refusal(new(tmpdir, perf))
    assert f"{above}, on its path, is owned by" in text and f"mode {mode:04o}: {why}" in text, text
    assert not list(tmpdir.iterdir())


@pytest.mark.parametrize(("mode", "why"), [(0o777, "every user can write to it"), (0o770, "its group (gid 0) can write to it")])
def test_a_tmpdir_others_can_write_to_without_the_sticky_bit_is_refused(tmp_path: Path, perf: Path, mode: int, why: str) -> None:
    tmpdir = private_folder(tmp_path / "shared", mode)
    text = refusal(new(tmpdir, perf))
    assert f"{tmpdir} is owned by root (uid 0), mode {mode:04o}: {why}" in text, text
    assert not list(tmpdir.iterdir())


def test_a_sticky_tmpdir_and_a_missing_one_are_fine(tmp_path: Path, perf: Path) -> None:
    sticky = private_folder(tmp_path / "sticky", 0o1777)
    missing = tmp_path / "made" / "deeper"
    for tmpdir in (sticky, missing):
        script = new(tmpdir, perf)
        try:
            until_sent(script)
            script.send("done")
            script.until("cleaned")
        finally:
            assert script.end() == 0
        assert not list(tmpdir.iterdir())
    assert oct(missing.stat().st_mode & 0o7777) == "0o700" and oct(missing.parent.stat().st_mode & 0o7777) == "0o700"


# ---- a symbolic link on the way ------------------------------------------------------------------


def test_a_link_to_a_folder_another_user_owns_is_refused(tmp_path: Path, perf: Path) -> None:
    theirs = private_folder(tmp_path / "theirs", 0o755, OTHER)
    link = tmp_path / "link"
    link.symlink_to(theirs)
    text = refusal(new(link, perf))
    assert f"{theirs} is owned by nobody (uid {OTHER}), mode 0755" in text, text
    assert not list(theirs.iterdir())


def test_a_link_another_user_owns_is_refused_even_to_a_folder_of_roots(tmp_path: Path, perf: Path) -> None:
    ours = private_folder(tmp_path / "ours")
    sticky = private_folder(tmp_path / "sticky", 0o1777)
    link = sticky / "link"
    link.symlink_to(ours)
    os.lchown(link, OTHER, OTHER)  # in a sticky folder its owner may still replace it
    text = refusal(new(link, perf))
    assert f"{link} is refused: {link} is a symbolic link owned by nobody (uid {OTHER}): its owner can point it anywhere" in text, text
    assert f"`chown -h root {link}`" in text
    assert not list(ours.iterdir())


def test_a_linked_tmpdir_is_resolved_once_and_what_its_new_target_holds_is_never_removed(tmp_path: Path, perf: Path) -> None:
    """The link is repointed while perf records, at a folder holding someone else's folder of the
    capture folder's very name: the session goes on in the folder it made, removes that one, and
    leaves the other alone."""
    first = private_folder(tmp_path / "first")
    second = private_folder(tmp_path / "second")
    link = tmp_path / "link"
    link.symlink_to(first)
    script = new(link, perf)
    try:
        folder = Path(" ".join(script.until("dir")))
        assert folder.parent == link, "the folder's path is given as the inventory gives the tmpdir"
        (name,) = captures(first)
        link.unlink()
        link.symlink_to(second)
        decoy = private_folder(second / name, 0o700, OTHER)
        (decoy / "keep").write_text("theirs\n")
        script.until("threads-end")
        script.send('meta {"stand-in": true}')
        script.until("ready")
        script.send(f"go t {os.getpid()} run")
        script.until("sent")
        script.send("done")
        script.until("cleaned")
    finally:
        assert script.end() == 0
    assert captures(first) == [], "the folder the session made is removed"
    assert (decoy / "keep").read_text() == "theirs\n", "a folder that is not ours was removed"


# ---- the capture folder: checked and used as one -----------------------------------------------


def test_a_capture_folder_swapped_after_its_check_is_never_entered_or_written_through(tmp_path: Path, perf: Path, victim: Path) -> None:
    """A hook swaps the folder for another user's, full of links to a root file, right after the
    script examined it: the session goes on in the folder it made and entered, writes nothing
    through the links, and, as its folder was moved away, does not say it removed it."""
    tmpdir = private_folder(tmp_path / "tmpdir", 0o755)
    script = new(tmpdir, perf, env=hooks(tmp_path, victim, stat=SWAPPING_STAT))
    try:
        folder = until_sent(script)
        script.send("done")
        verb, args = script.message()
    finally:
        status = script.end()
    assert (tmp_path / "swapped").exists(), "the hook did not run"
    assert (verb, args[0]) == ("error", str(int(Exit.NOT_OURS))), (verb, args)
    assert "was moved or replaced while fleetflame used it" in " ".join(args) and status == Exit.NOT_OURS
    planted = sorted(p.name for p in folder.iterdir())
    assert "record.args" in planted and all(p.is_symlink() for p in folder.iterdir()), "the swapped-in folder was written to or emptied"
    moved = folder.with_name(folder.name + ".moved")
    assert list(moved.iterdir()) == [], "our own folder, moved away, is emptied"
    moved.rmdir()


def test_a_capture_folder_replaced_by_a_link_before_it_is_entered_is_refused(tmp_path: Path, perf: Path, victim: Path) -> None:
    tmpdir = private_folder(tmp_path / "tmpdir", 0o755)
    elsewhere = private_folder(tmp_path / "elsewhere")
    env = hooks(tmp_path, victim, mktemp=LINKING_MKTEMP)
    script = new(tmpdir, perf, env={**env, "FF_ELSEWHERE": str(elsewhere)})
    assert script.message() == ("hello", ["1"])
    verb, args = script.message()
    assert (verb, args[0]) == ("error", str(int(Exit.NOT_OURS))) and "is not a private folder of ours" in " ".join(args), (verb, args)
    assert script.end() == Exit.NOT_OURS
    assert list(elsewhere.iterdir()) == [], "the session used the folder a link led to"
    (link,) = tmpdir.iterdir()
    assert link.is_symlink(), "what was planted is left alone (it is not ours to remove)"


def test_files_planted_in_the_capture_folder_are_never_written_through(tmp_path: Path, perf: Path, victim: Path) -> None:
    """Names the recorder and perf write, planted as links just before the recorder starts: perf is
    not started, nothing is written through them, and the folder is removed."""
    tmpdir = private_folder(tmp_path / "tmpdir", 0o755)
    script = new(tmpdir, perf, env=hooks(tmp_path, victim, setsid=PLANTING_SETSID))
    try:
        script.until("threads-end")
        script.send('meta {"stand-in": true}')
        script.until("ready")
        script.send(f"go t {os.getpid()} run")
        clock, _ = script.message()  # the host's clock, said as it reads `go`
        verb, args = script.message()
    finally:
        status = script.end()
    assert clock == "clock"
    assert (verb, args[0]) == ("error", str(int(Exit.WRITE))) and "perf did not start" in " ".join(args), (verb, args)
    assert status == Exit.WRITE
    assert captures(tmpdir) == [], "a host whose perf did not start keeps nothing"


def test_a_folder_moved_away_while_perf_records_is_not_reported_removed(tmp_path: Path, perf: Path) -> None:
    tmpdir = private_folder(tmp_path / "tmpdir", 0o755)
    script = new(tmpdir, perf, env={**os.environ, "FF_MOVE_AWAY": "1"})
    try:
        folder = until_sent(script)
        script.send("done")
        verb, args = script.message()
    finally:
        status = script.end()
    assert (verb, args[0]) == ("error", str(int(Exit.NOT_OURS))) and status == Exit.NOT_OURS, (verb, args)
    text = " ".join(args)
    assert f"{folder} was not removed: it was moved or replaced" in text and f"it is now {folder}.moved" in text, text
    assert (folder / "keep").read_text() == "theirs\n", "the folder that took its place was removed"
    moved = folder.with_name(folder.name + ".moved")
    assert list(moved.iterdir()) == []
    moved.rmdir()


# ---- attach (fetch) -------------------------------------------------------------------------------


def left_folder(tmpdir: Path) -> Path:
    """A capture folder as a run leaves it once perf has ended (for `attach`)."""
    folder = private_folder(tmpdir / f"fleetflame-{CAPTURE_ID}.AbCdEfGhIj")
    (folder / "perf.data").write_text("data")
    (folder / "perf.stderr").write_text("[ perf record: Captured and wrote 0.001 MB perf.data (1 samples) ]\n")
    (folder / "rc").write_text("0 1796237000.5\n")
    return folder


def attach(folder: Path | str, perf: Path) -> Session:
    return Session("attach", str(folder), str(perf), "1", "0", "0", "5")


def test_fetch_checks_the_tmpdir_as_a_run_does(tmp_path: Path, perf: Path) -> None:
    theirs = private_folder(tmp_path / "theirs", 0o755)
    folder = left_folder(theirs)
    os.chown(theirs, OTHER, OTHER)  # handed to another user after the run
    text = refusal(attach(folder, perf))
    assert f"{theirs} is owned by nobody (uid {OTHER}), mode 0755" in text, text
    assert sorted(p.name for p in folder.iterdir()) == ["perf.data", "perf.stderr", "rc"], "the folder is left as it was"


def test_fetch_through_a_link_that_leads_elsewhere_now_is_not_gone(tmp_path: Path, perf: Path) -> None:
    first = private_folder(tmp_path / "first")
    folder = left_folder(first)
    link = tmp_path / "link"
    link.symlink_to(private_folder(tmp_path / "second"))
    script = attach(link / folder.name, perf)
    assert script.message() == ("hello", ["1"])
    verb, args = script.message()
    assert (verb, args[0]) == ("error", str(int(Exit.ELSEWHERE))), (verb, args)
    assert "goes through a symbolic link" in " ".join(args)
    assert script.end() == Exit.ELSEWHERE
    assert folder.is_dir()
    # without a link on the way, a folder that is not there is gone
    script = attach(tmp_path / "second" / folder.name, perf)
    assert script.message() == ("hello", ["1"])
    assert script.message()[1][0] == str(int(Exit.GONE))
    assert script.end() == Exit.GONE


def test_fetch_through_a_link_resolves_it_once_and_removes_the_folder(tmp_path: Path, perf: Path) -> None:
    first = private_folder(tmp_path / "first")
    folder = left_folder(first)
    link = tmp_path / "link"
    link.symlink_to(first)
    script = attach(link / folder.name, perf)
    try:
        script.until("sent")
        script.send("done")
        script.until("cleaned")
    finally:
        assert script.end() == 0
    assert not folder.exists()


# ---- a session that fails before perf started keeps nothing -------------------------------------


@pytest.mark.parametrize("how", ["abort at meta", "abort at go", "input ends at meta", "input ends at go", "TERM at go", "HUP at go"])
def test_a_session_that_fails_before_perf_started_keeps_nothing(tmp_path: Path, perf: Path, how: str) -> None:
    tmpdir = private_folder(tmp_path / "tmpdir", 0o755)
    script = new(tmpdir, perf)
    try:
        script.until("threads-end")
        if how.endswith("at go"):
            script.send('meta {"stand-in": true}')
            script.until("ready")
        if how.startswith("abort"):
            script.send("abort")
        elif how.startswith("input ends"):
            assert script.proc.stdin is not None
            script.proc.stdin.close()
            script.proc.stdin = None
        else:
            script.proc.send_signal(signal.SIGTERM if how.startswith("TERM") else signal.SIGHUP)
        verb, args = script.message()
        assert verb == "error", (verb, args)
        assert captures(tmpdir) == [], "the folder is removed before the script says why it gives up"
    finally:
        status = script.end()
    assert status in (Exit.ABORTED, Exit.PROTOCOL)
    assert captures(tmpdir) == []


def test_the_session_never_takes_its_state_from_the_environment(tmp_path: Path, perf: Path) -> None:
    """`made` (remove on failure) and friends are the script's own: set in its environment, they
    must not make a refused session remove anything (here: the folder it runs in)."""
    keep = private_folder(tmp_path / "cwd")
    (keep / "file").write_text("x")
    theirs = private_folder(tmp_path / "theirs", 0o755, OTHER)
    env = {**os.environ, "made": str(keep), "dir": str(keep), "realdir": str(keep), "real": str(keep)}
    proc = subprocess.run(
        ["/bin/sh", "-c", SESSION, "fleetflame-session", "new", str(theirs), CAPTURE_ID, str(perf), "99", "fp", "1024", "5", ""],
        cwd=keep, env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == Exit.TMPDIR, proc.stderr
    assert (keep / "file").read_text() == "x"
