"""pytest fixtures for lab tests.  Register from the root conftest with
`pytest_plugins = ["lab.plugin"]` (tests/ has no __init__.py, so `lab` is top-level)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from fleetflame.standin import StandinError, build_standin

from .fleet import LabFleet, require_lab


@pytest.fixture(scope="session")
def standin_binary() -> Path:
    try:
        return build_standin()
    except StandinError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def make_lab(tmp_path: Path, standin_binary: Path) -> Iterator[Callable[..., LabFleet]]:
    """Factory: `make_lab(4, layout="threads", ...)` starts a lab, stopped after the test."""
    require_lab()
    labs: list[LabFleet] = []

    def make(n_hosts: int = 4, **kwargs: Any) -> LabFleet:
        kwargs.setdefault("standin_binary", standin_binary)
        lab = LabFleet(n_hosts, tmp_path / f"lab{len(labs)}", **kwargs)
        labs.append(lab)
        return lab.start()

    yield make
    leftovers = {lab.root: lab.stop() for lab in labs}
    assert not any(leftovers.values()), f"lab processes left behind: {leftovers}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, standin_binary: Path) -> Iterator[LabFleet]:
    """A 4-host lab shared by a module's tests; call `lab.reset()` after breaking things."""
    require_lab()
    fleet = LabFleet(4, tmp_path_factory.mktemp("lab"), standin_binary=standin_binary)
    fleet.start()
    try:
        yield fleet
    finally:
        leftovers = fleet.stop()
    assert not leftovers, f"lab processes left behind: {leftovers}"
