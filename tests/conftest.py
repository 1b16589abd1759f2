"""Shared fixtures: the stand-in validator binary, skips for what a test needs, and a check that
the test session leaves no capture folder in this machine's /tmp."""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TMP = Path("/tmp")
# `report`: only warn about capture folders the session left in /tmp, never fail it.
LEFTOVERS_ENV = "FLEETFLAME_TEST_TMP_LEFTOVERS"
CAPTURE_FOLDER = re.compile(r"^fleetflame-(?P<id>.+)\.[A-Za-z0-9]{10}$")  # `mktemp -d` in SESSION (not the stand-in's)


def _capture_folders() -> set[str]:
    try:
        return {e.name for e in os.scandir(TMP) if CAPTURE_FOLDER.match(e.name) and e.is_dir(follow_symlinks=False)}
    except OSError:
        return set()


def _in_use(names: set[str]) -> set[str]:
    """Those of `names` that a live process works in (a capture of a run still going on)."""
    used = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        for name in names:
            if cwd == str(TMP / name) or cwd.startswith(f"{TMP / name}/"):
                used.add(name)
    return used


def _ours(names: set[str], basetemp: Path) -> set[str]:
    """Those of `names` whose capture this session made: a test's --out (below its tmp_path) holds
    a capture folder of that id. The others come from another test run on this machine."""
    ids = {CAPTURE_FOLDER.match(name)["id"]: name for name in names}  # type: ignore[index]
    found = set()
    for _, folders, _ in os.walk(basetemp):
        found |= {ids[f] for f in folders if f in ids}
    return found


@pytest.fixture(scope="session", autouse=True)
def no_capture_folder_left_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Local captures (`ansible_connection: local`) make their folders in this machine's /tmp:
    whatever the tests do, and however a host fails, none may be left once the session ends."""
    before = _capture_folders()
    yield
    deadline = time.monotonic() + 10  # a session told `abort` or `done` may still be removing its folder
    while True:
        left = _capture_folders() - before
        left -= _in_use(left)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if not left:
        return
    ours = _ours(left, tmp_path_factory.getbasetemp())
    if left - ours:
        warnings.warn(f"capture folders another test run on this machine left in {TMP}: {', '.join(sorted(left - ours))}", stacklevel=1)
    if ours:
        message = f"the tests left capture folders in {TMP}: {', '.join(sorted(ours))}"
        if os.environ.get(LEFTOVERS_ENV) == "report":
            warnings.warn(message, stacklevel=1)
        else:
            pytest.fail(f"{message} ({LEFTOVERS_ENV}=report only warns)", pytrace=False)


def need_root_and_perf() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: perf must read other processes' threads (CI runs as root)")
    if shutil.which("perf") is None:
        pytest.skip("needs perf (apt-get install linux-perf; `make test` installs it as root)")


@pytest.fixture(scope="session")
def standin_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fleetflame.standin import build_standin

    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the stand-in validator")
    return build_standin(tmp_path_factory.mktemp("standin-build"))


from .lab.plugin import lab, make_lab  # noqa: E402,F401  (the sshd lab fleet, for integration tests)
