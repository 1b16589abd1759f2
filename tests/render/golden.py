"""Golden-file checks: expected outputs live in tests/render/golden/ beside their inputs.

After a deliberate change to the output, re-bless them and review the diff in git:
    FLEETFLAME_BLESS=1 .venv/bin/python -m pytest tests/render
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
BLESS = os.environ.get("FLEETFLAME_BLESS") == "1"


def check_golden(name: str, actual: str | bytes) -> None:
    path = GOLDEN / name
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    if BLESS:
        path.write_bytes(data)
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; create it with FLEETFLAME_BLESS=1 and check it by hand")
    expected = path.read_bytes()
    if data != expected:
        diff = difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(),
            data.decode("utf-8", "replace").splitlines(),
            f"golden/{name}", "actual", lineterm="", n=1,
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(f"output differs from golden/{name} (re-bless with FLEETFLAME_BLESS=1 if intended):\n{shown}")
