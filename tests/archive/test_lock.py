"""The schedule lock, with real processes overlapping as cron would start them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetflame.errors import InputError
from fleetflame.host.targets import parse_target
from fleetflame.archive.lock import EXIT_BUSY, ScheduleBusy, ScheduleLock, lock_path, read_holder, schedule_key

# A stand-in for `fleetflame run` under cron: take the lock, say so, hold it until stdin closes,
# and turn an operator error into its message and exit code as the CLI does.
RUN = """
import sys
from pathlib import Path
from fleetflame.errors import FleetflameError
from fleetflame.archive.lock import ScheduleLock
out, key, hold = sys.argv[1], sys.argv[2], sys.argv[3] == "hold"
try:
    with ScheduleLock(Path(out), key):
        print("locked", flush=True)
        if hold:
            sys.stdin.read()
except FleetflameError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""

KEY = schedule_key(parse_target("all"), ["inv.yml"], None)


def start_holder(out: Path, key: str = KEY) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(out), key, "hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked", proc.stderr.read() if proc.stderr else ""
    return proc


def run_once(out: Path, key: str = KEY) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(out), key, "once"], capture_output=True, text=True, timeout=30
    )
    return done, time.monotonic() - started


def finish(proc: subprocess.Popen[str]) -> int:
    assert proc.stdin is not None
    proc.stdin.close()
    return proc.wait(timeout=10)


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_overlapping_run_of_the_same_schedule_exits_at_once(tmp_path: Path, holders: list) -> None:
    holder = start_holder(tmp_path)
    holders.append(holder)
    done, elapsed = run_once(tmp_path)
    assert done.returncode == EXIT_BUSY == 75
    assert elapsed < 10  # the holder never lets go: waiting would have hit the timeout
    message = done.stderr
    assert "another run of this schedule is still running" in message
    assert f"pid {holder.pid}" in message and f"kill {holder.pid}" in message
    assert str(lock_path(tmp_path, KEY)) in message and "--duration" in message
    assert "-c" in message  # the holder's command line
    assert done.stdout == "" and "Traceback" not in message
    assert finish(holder) == 0


def test_different_schedules_do_not_block_each_other(tmp_path: Path, holders: list) -> None:
    holders.append(start_holder(tmp_path))
    other = schedule_key(parse_target("verify:*"), ["inv.yml"], None)
    done, _ = run_once(tmp_path, other)
    assert done.returncode == 0, done.stderr


def test_next_run_gets_the_lock_after_the_holder_exits(tmp_path: Path, holders: list) -> None:
    holder = start_holder(tmp_path)
    holders.append(holder)
    assert finish(holder) == 0
    done, _ = run_once(tmp_path)
    assert done.returncode == 0, done.stderr
    assert lock_path(tmp_path, KEY).exists()  # kept on purpose, and harmless


def test_killed_holder_does_not_leave_the_schedule_stuck(tmp_path: Path, holders: list) -> None:
    holder = start_holder(tmp_path)
    holders.append(holder)
    path = lock_path(tmp_path, KEY)
    assert read_holder(path) is not None and read_holder(path).pid == holder.pid  # type: ignore[union-attr]
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    assert read_holder(path) is not None  # its details are stale, but the kernel dropped the lock
    done, _ = run_once(tmp_path)
    assert done.returncode == 0, done.stderr


def test_in_process_busy_error_names_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    with ScheduleLock(out, KEY) as lock:
        assert lock.path.parent == out and lock.path.name.startswith(".fleetflame-")
        with pytest.raises(ScheduleBusy) as info:
            ScheduleLock(out, KEY).acquire()
        assert info.value.exit_code == 75
        assert info.value.holder is not None and info.value.holder.pid == os.getpid()
        assert "\n" not in str(info.value)
    assert read_holder(lock.path) is None  # released: details cleared
    with ScheduleLock(out, KEY):
        pass


def test_busy_before_details_are_written(tmp_path: Path) -> None:
    import fcntl

    path = lock_path(tmp_path, KEY)
    with open(path, "w") as fp:
        fcntl.flock(fp.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ScheduleBusy) as info:
            ScheduleLock(tmp_path, KEY).acquire()
    assert info.value.holder is None and "not written its details" in str(info.value)


def test_schedule_key_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = schedule_key(parse_target("verify:*,quic"), ["inv.yml", "more.ini"], None)
    assert len(base) == 16
    assert schedule_key(parse_target("quic:0,verify:*"), [str(tmp_path / "more.ini"), "./inv.yml"], "all") == base
    assert schedule_key(parse_target("verify:*,quic"), ["inv.yml", "more.ini"], "  ") == base
    assert schedule_key(parse_target("verify"), ["i"], None) == schedule_key(parse_target("verify:0"), ["i"], None)
    assert schedule_key(parse_target("verify:*,quic"), ["inv.yml"], None) != base
    assert schedule_key(parse_target("verify:*,quic"), ["inv.yml", "more.ini"], "mainnet") != base
    assert schedule_key(parse_target("verify:*"), ["inv.yml", "more.ini"], None) != base
    assert schedule_key(parse_target("all"), ["i"], None) != schedule_key(parse_target("agave"), ["i"], None)


def test_schedule_key_refuses_a_bad_target() -> None:
    with pytest.raises(InputError):
        schedule_key(parse_target("verfy:*"), ["inv.yml"], None)


def test_a_symlink_planted_as_the_lock_file_is_refused_not_followed(tmp_path: Path) -> None:
    from fleetflame.errors import FleetflameError

    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    lock_path(out, KEY).symlink_to(victim)
    with pytest.raises(FleetflameError, match="is it a symlink"):
        ScheduleLock(out, KEY).acquire()
    assert victim.read_text() == "precious\n"


def test_the_lock_file_is_private(tmp_path: Path) -> None:
    with ScheduleLock(tmp_path, KEY):
        assert oct(lock_path(tmp_path, KEY).stat().st_mode & 0o777) == "0o600"
