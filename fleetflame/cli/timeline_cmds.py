"""`timeline`: each host's activity over the recording, in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .common import CaptureArg, OutOpt, open_capture, operator_errors, out


@app.command()
@operator_errors
def timeline(
    capture: CaptureArg,
    out_dir: OutOpt = Path("captures"),
    tile: Annotated[str | None, typer.Option("--tile", metavar="KIND", help="Only this tile kind (verify) or tile (verify:3).", show_default=False)] = None,
    host: Annotated[str | None, typer.Option("--host", metavar="H", help="Only this host (its inventory name).", show_default=False)] = None,
    fn: Annotated[
        str | None,
        typer.Option("--fn", metavar="REGEX", help="Show each column's share of samples whose stack matches REGEX (Python syntax) instead of the sample count.", show_default=False),
    ] = None,
    width: Annotated[int, typer.Option(help="Columns of the output.", min=40, max=1000)] = 80,
) -> None:
    """Each host's activity over the recording: one row per host, time from left to right, one
    block character per column, taller for more samples (with --fn: for a larger share of
    samples whose stack matches REGEX).

    Every row is on this machine's clock: a host whose clock was off is moved by the offset
    measured when recording started, and named under the rows.

    Reads hosts/HOST/timeline.json.gz (captures made since fleetflame keeps sample times); a
    capture without it is an error, exit 2. `report --from A --until B` draws the graphs of a window.
    """
    from ..capture.folder import CaptureFolder
    from ..terminal import print_line
    from ..timeline.view import activity_rows, clock_notes
    from ..timeline.window import capture_start, load_timelines

    folder, manifest = open_capture(capture, out_dir)
    opened = CaptureFolder(folder)
    try:
        timelines = load_timelines(opened, manifest)
    finally:
        opened.close()
    for line in activity_rows(timelines, capture_start(manifest), width=width, tile=tile, host=host, fn=fn):
        print_line(out, line)
    clocks = {name: (manifest.hosts[name].clock_offset_s, manifest.hosts[name].clock_uncertainty_s) for name in timelines}
    for line in clock_notes(clocks, width):
        print_line(out, line)
