"""What the pipeline tells whoever watches it: one Stage enum, one Event, one Reporter protocol.

The per-host driver reports every stage change and progress tick as an Event; the live display,
the log file and tests are Reporters. Nothing parses the detail text: what a sink needs to act
on (the stage, an end time, a byte count) is a field.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Stage(str, enum.Enum):
    CONNECTING = "connecting"
    RESOLVING = "resolving"
    READY = "ready"
    RECORDING = "recording"
    STOPPING = "stopping"
    WAITING = "waiting"
    SYMBOLIZING = "symbolizing"
    TRANSFERRING = "transferring"
    COLLAPSING = "collapsing"
    CLEANING = "cleaning"
    DETACHED = "detached"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Event:
    host: str
    stage: Stage
    detail: str = ""
    until: float | None = None  # RECORDING / DETACHED: when perf's duration runs out (this machine's clock)
    done_bytes: int | None = None  # SYMBOLIZING / TRANSFERRING: bytes so far
    total_bytes: int | None = None  # TRANSFERRING: bytes expected, when known


class Reporter(Protocol):
    def __call__(self, event: Event) -> None: ...


def quiet(event: Event) -> None:
    """A Reporter that ignores everything."""
    return None
