"""`report` and `diff`: redraw and compare captures offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import app
from .common import emit, operator_errors, out


@app.command()
@operator_errors
def report(
    capture_dir: Annotated[Path, typer.Argument(help="A capture folder written by run or fetch.", show_default=False)],
    group_by: Annotated[str, typer.Option(help="Root frames of the fleet graph: host (host;tile;...), tile (tile;host;...) or none.")] = "host",
    formats: Annotated[str, typer.Option("--format", help="Outputs, comma separated: svg,html,folded,speedscope,pprof.")] = "svg,html",
) -> None:
    """Redraw a capture's graphs from its folder alone (offline, no host needed)."""
    from ..capture import MANIFEST, read_manifest
    from ..report import GROUPINGS, build_reports, parse_formats

    if group_by not in GROUPINGS:
        raise InputError(f"--group-by {group_by!r}: choose host, tile or none")
    if not (capture_dir / MANIFEST).is_file():
        raise InputError(f"{capture_dir} is not a capture folder (no {MANIFEST}); give OUT/CAPTURE_ID")
    written = build_reports(capture_dir, read_manifest(capture_dir), parse_formats(formats), group_by)
    for path in written:
        out.print(str(path), highlight=False)


@app.command()
@operator_errors
def diff(
    before: Annotated[Path, typer.Argument(help="Capture folder or folded file: the baseline.", show_default=False)],
    after: Annotated[Path, typer.Argument(help="Capture folder or folded file: the one to compare.", show_default=False)],
    output: Annotated[Path | None, typer.Option("--out", "-o", help="SVG to write (default: stdout).")] = None,
) -> None:
    """Differential flamegraph: widths from AFTER, red where it grew, blue where it shrank.

    BEFORE's counts are scaled to AFTER's total first, so captures of different lengths compare.
    """
    from ..diff import diff_stacks, read_side, render_diff_svg

    svg = render_diff_svg(diff_stacks(read_side(before), read_side(after)), title=f"{before.name} → {after.name}")
    emit(svg, output)
