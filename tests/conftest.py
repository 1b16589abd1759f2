"""Shared fixtures: the stand-in validator binary, and skips for what a test needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
