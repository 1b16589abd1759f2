"""Folded stacks → folded text (the identity writer: sorted `stack COUNT` lines)."""

from __future__ import annotations

from collections.abc import Mapping

from fleetflame.folded import format_folded
from fleetflame.render.options import FlameGraphOptions

EXTENSION = ".folded"


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    return format_folded(stacks)
