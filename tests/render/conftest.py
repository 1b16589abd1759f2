from __future__ import annotations

from pathlib import Path

import pytest

from fleetflame.folded import read_folded

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def basic() -> dict[str, int]:
    return read_folded(GOLDEN / "basic.folded")


@pytest.fixture
def nasty() -> dict[str, int]:
    return read_folded(GOLDEN / "nasty.folded")
