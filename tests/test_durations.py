"""`--duration 30s` / `2m` (issue 16): what cron lines and people write."""

from __future__ import annotations

import pytest
import typer

from fleetflame.cli.common import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 30.0), ("1.5", 1.5), ("30s", 30.0), ("2m", 120.0), ("2min", 120.0), ("500ms", 0.5), ("1h", 3600.0),
    (" 45 s ", 45.0), (".5", 0.5),
])
def test_durations_with_and_without_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "30x", "-5", "1e3", "30 seconds", "inf", "nan", "2m30s"])
def test_other_durations_are_refused_with_examples(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="30s, 2m"):
        parse_duration(text)
