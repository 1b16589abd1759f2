"""The `fleetflame` command: a thin Typer layer that turns flags into library calls.

One module per group of commands registers with the one `app` (app.py); `common.py` holds the
consoles, shared options and the operator-error wrapper.
"""

from __future__ import annotations

import os
import sys

from . import analysis_cmds, capture_cmds, fleet_cmds, history_cmds, skew_cmds, timeline_cmds, tool_cmds  # noqa: F401  (register commands)
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point. Exits without tearing the interpreter down: once output is flushed and files
    are closed there is nothing left to do, and teardown costs a cron run 0.3 s of CPU."""
    code: int | str | None = 0
    try:
        app()
    except SystemExit as done:
        code = done.code
    sys.stdout.flush()
    sys.stderr.flush()
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    os._exit(code or 0)
