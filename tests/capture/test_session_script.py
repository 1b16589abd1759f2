"""The real SESSION script (scripts.py) with a stand-in perf: how it passes the event to perf record,
and that perf script runs without CAP_SYS_ADMIN (or the session fails with NO_CAPDROP first).

The stand-in perf notes its arguments and, for `perf script`, its own capabilities, in the capture
folder; the test reads them before it lets the session remove that folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from fleetflame.capture.scripts import SESSION, Exit

CAP_SYS_ADMIN = 21
FAKE_PERF = r"""#!/bin/sh
case $1 in
record)
  for a in "$@"; do printf '<%s>\n' "$a"; done > record.args
  echo '[ perf record: Woken up 1 times to write data ]' >&2
  echo '[ perf record: Captured and wrote 0.001 MB perf.data (1 samples) ]' >&2
  echo data > perf.data ;;
script)
  cat /proc/self/status > script.status
  printf 'fake 1/1 [000] 1.000000: 1 cpu-clock:\n\t1 main+0x1 (/bin/fake)\n\n' ;;
esac
"""
# What the script needs before it checks for setpriv and capsh (and nothing after it).
TOOLS = ("timeout", "setsid", "gzip", "sha256sum", "stat", "mktemp", "dd", "tail", "nice", "df", "cat", "awk", "rm")


WATCHDOG_S = 120  # a session stuck this long is killed (the test fails saying so)


class Script:
    """SESSION as a subprocess, read message by message (data after `chunk`, `file`, `perf-stderr`)."""

    killed = False  # the watchdog ended it

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", SESSION, "fleetflame-session", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.watchdog = threading.Timer(WATCHDOG_S, self._kill)
        self.watchdog.start()

    def _kill(self) -> None:
        self.killed = True  # (said in the assertion: a loaded machine, not the script, ended it)
        self.proc.kill()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def message(self) -> tuple[str, list[str]]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the session ended: {self.stderr()}" + (f" (killed by the test's {WATCHDOG_S} s watchdog)" if self.killed else "")
        verb, *args = line.decode().rstrip("\n").split(" ")
        if verb in ("chunk", "perf-stderr"):
            self.proc.stdout.read(int(args[0]))
        elif verb == "file":
            self.proc.stdout.read(int(args[1]) - int(args[3]))
        return verb, args

    def until(self, verb: str) -> list[str]:
        while True:
            got, args = self.message()
            if got == verb:
                return args
            assert got != "error", " ".join(args)

    def end(self) -> int:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            return self.proc.wait(30)
        finally:
            self.watchdog.cancel()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def stderr(self) -> str:
        return self.proc.stderr.read().decode() if self.proc.stderr is not None and self.proc.poll() is not None else ""


@pytest.fixture
def fake_perf(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "perf"
    path.parent.mkdir()
    path.write_text(FAKE_PERF)
    path.chmod(0o755)
    return path


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: only a privileged session has CAP_SYS_ADMIN to drop")


def has_sys_admin(status: str, field: str) -> bool:
    (value,) = [line.split()[1] for line in status.splitlines() if line.startswith(field + ":")]
    return bool(int(value, 16) >> CAP_SYS_ADMIN & 1)


def new_session(tmpdir: Path, perf: Path, event: str, env: dict[str, str] | None = None) -> Script:
    return Script("new", str(tmpdir), "20261125T221500Z-all", str(perf), "99", "fp", "1024", "5", event, env=env)


def record_once(tmpdir: Path, perf: Path, event: str) -> tuple[list[str], str]:
    """A whole `new` session with the stand-in perf: what perf record was given, and the status of
    perf script's process."""
    script = new_session(tmpdir, perf, event)
    try:
        folder = Path(" ".join(script.until("dir")))
        script.until("threads-end")
        script.send('meta {"stand-in": true}')
        script.until("ready")
        script.send(f"go t {os.getpid()} run")
        script.until("sent")
        args = (folder / "record.args").read_text().splitlines()
        status = (folder / "script.status").read_text()
        script.send("done")
        script.until("cleaned")
    finally:
        status_code = script.end()
    assert status_code == 0 and not folder.exists()
    return [a[1:-1] for a in args], status


@pytest.mark.parametrize("event", ["task-clock", "sched:sched_switch"])
def test_the_event_is_one_argument_of_perf_record(tmp_path: Path, fake_perf: Path, event: str) -> None:
    args, _ = record_once(tmp_path, fake_perf, event)
    assert args[:5] == ["record", "-k", "realtime", "-e", event]
    assert args[5:7] == ["-F", "99"] and args[-2:] == ["-o", "perf.data"]


def test_no_event_is_no_e(tmp_path: Path, fake_perf: Path) -> None:
    args, _ = record_once(tmp_path, fake_perf, "")
    assert "-e" not in args and "" not in args
    assert args[:5] == ["record", "-k", "realtime", "-F", "99"]


@pytest.mark.parametrize("event", ["cycles;touch${IFS}owned", "cycles instructions", "-e", "Cycles", "$(touch owned)", "a" * 65, "cycles,instructions", "*"])
def test_the_script_refuses_a_bad_event_itself(tmp_path: Path, fake_perf: Path, event: str) -> None:
    script = new_session(tmp_path, fake_perf, event)
    assert script.message() == ("hello", ["1"])
    assert script.message() == ("error", [str(int(Exit.USAGE)), "bad", "event"])
    assert script.end() == Exit.USAGE
    assert not list(tmp_path.glob("fleetflame-*")) and not (tmp_path / "owned").exists()


def test_the_script_takes_64_characters_of_event(tmp_path: Path, fake_perf: Path) -> None:
    args, _ = record_once(tmp_path, fake_perf, "a" * 64)
    assert args[3:5] == ["-e", "a" * 64]


@pytest.mark.root
def test_perf_script_runs_without_cap_sys_admin(tmp_path: Path, fake_perf: Path) -> None:
    need_root()
    if not has_sys_admin(Path("/proc/self/status").read_text(), "CapBnd"):
        pytest.skip("CAP_SYS_ADMIN is not in this process's bounding set: nothing to drop")
    if not (shutil.which("setpriv") or shutil.which("capsh")):
        pytest.skip("needs setpriv (util-linux) or capsh (libcap2-bin)")
    _, status = record_once(tmp_path, fake_perf, "")
    assert not has_sys_admin(status, "CapBnd") and not has_sys_admin(status, "CapEff")
    euid = [line.split()[2] for line in status.splitlines() if line.startswith("Uid:")]
    assert euid == ["0"], "perf script still runs as root (it reads root's files), only without CAP_SYS_ADMIN"


def _path_without_capdrop(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has what SESSION needs but neither setpriv nor capsh."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in TOOLS:
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed")
        (tools / name).symlink_to(found)
    return {"PATH": str(tools), "LC_ALL": "C"}


@pytest.mark.root
def test_root_without_setpriv_or_capsh_fails_before_recording(tmp_path: Path, fake_perf: Path) -> None:
    need_root()
    if not has_sys_admin(Path("/proc/self/status").read_text(), "CapBnd"):
        pytest.skip("CAP_SYS_ADMIN is not in this process's bounding set: nothing to drop")
    script = new_session(tmp_path, fake_perf, "", env=_path_without_capdrop(tmp_path))
    assert script.message() == ("hello", ["1"])
    verb, args = script.message()
    assert (verb, args[0]) == ("error", str(int(Exit.NO_CAPDROP)))
    text = " ".join(args[1:])
    assert "lose the symbols of sandboxed Firedancer tiles" in text
    assert "install setpriv (Debian/Ubuntu package util-linux) or capsh (libcap2-bin)" in text
    assert script.end() == Exit.NO_CAPDROP
    assert not list(tmp_path.glob("fleetflame-*")), "nothing was made, nothing recorded"


@pytest.mark.root
def test_fetch_without_setpriv_or_capsh_fails_and_keeps_what_perf_recorded(tmp_path: Path, fake_perf: Path) -> None:
    need_root()
    if not has_sys_admin(Path("/proc/self/status").read_text(), "CapBnd"):
        pytest.skip("CAP_SYS_ADMIN is not in this process's bounding set: nothing to drop")
    folder = tmp_path / "fleetflame-20261125T221500Z-all.AbCdEfGhIj"
    folder.mkdir(mode=0o700)
    (folder / "perf.data").write_text("data")
    (folder / "perf.stderr").write_text("[ perf record: Captured and wrote 0.001 MB perf.data (1 samples) ]\n")
    (folder / "rc").write_text("0 1796237000.5\n")
    script = Script("attach", str(folder), str(fake_perf), "1", "0", "0", "5", env=_path_without_capdrop(tmp_path))
    assert script.message() == ("hello", ["1"])
    verb, args = script.message()
    assert (verb, args[0]) == ("error", str(int(Exit.NO_CAPDROP)))
    assert script.end() == Exit.NO_CAPDROP
    assert sorted(p.name for p in folder.iterdir()) == ["perf.data", "perf.stderr", "rc"], "the folder is left for a later fetch"
