"""`report` and `diff`: redraw and compare captures offline.

Both name captures the same way (`resolve_capture`): an id looked up in --out, or a folder path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import app
from .common import CaptureArg, OutOpt, emit, operator_errors, out, resolve_capture
from .skew_cmds import print_skew_summary


@app.command()
@operator_errors
def report(
    capture: CaptureArg,
    out_dir: OutOpt = Path("captures"),
    group_by: Annotated[
        str,
        typer.Option(
            help="Root frames of the fleet graph: auto (by host up to 3 hosts, else by tile kind), host (host;tile;...), kind (tile kind, hosts merged), tile (tile;host;...) or none."
        ),
    ] = "auto",
    formats: Annotated[str, typer.Option("--format", help="Outputs, comma separated: svg,html,folded,speedscope,pprof.")] = "svg,html",
) -> None:
    """Redraw a capture's graphs from its folder alone (offline, no host needed).

    Rebuilds fleet.folded from hosts/HOST/stacks.folded (a host without one, as in a copy of the
    capture without hosts/, keeps its stacks from fleet.folded) and writes the --format outputs
    into the capture folder, each file whole and private (0600); prints the path of each file
    written. Replacing fleet.folded with fewer samples is a warning; it is never replaced by nothing.
    """
    from ..capture import read_manifest
    from ..report import GROUPINGS, build_reports, parse_formats
    from ..terminal import print_line

    if group_by not in GROUPINGS:
        raise InputError(f"--group-by {group_by!r}: choose auto, host, kind, tile or none")
    fmts = parse_formats(formats)
    folder = resolve_capture(capture, out_dir)
    for path in build_reports(folder, read_manifest(folder), fmts, group_by):
        print_line(out, str(path))
    print_skew_summary(folder)


@app.command()
@operator_errors
def diff(
    before: Annotated[str, typer.Argument(metavar="BEFORE", help="The baseline: a capture (id in --out, or folder) or a folded file.", show_default=False)],
    after: Annotated[str, typer.Argument(metavar="AFTER", help="The one to compare, named the same ways.", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="SVG to write (default: stdout).", show_default=False)] = None,
    # Not OutOpt: -o is the SVG here, as in `flamegraph`.
    out_dir: Annotated[Path, typer.Option("--out", help="Folder holding capture folders OUT/CAPTURE_ID/.")] = Path("captures"),
) -> None:
    """Differential flamegraph of two captures or folded files: widths from AFTER, red where it
    grew, blue where it shrank.

    A capture is compared by its fleet.folded (host;tile;frame;...). BEFORE's counts are scaled to
    AFTER's total first, so captures of different lengths compare. Either side without stacks is
    an error.
    """
    from ..diff import diff_stacks, read_side, render_diff_svg

    if out_dir.suffix.lower() == ".svg" or out_dir.is_file():
        raise InputError(f"--out {out_dir} is the folder of captures; write the SVG with -o/--output {out_dir}")
    paths = [_side(name, out_dir) for name in (before, after)]
    rows = diff_stacks(read_side(paths[0]), read_side(paths[1]))
    svg = render_diff_svg(rows, title=f"{paths[0].name} → {paths[1].name}")
    emit(svg, output)


def _side(name: str, out_dir: Path) -> Path:
    """A folded file as it is; anything else is a capture name."""
    path = Path(name)
    return path if path.is_file() else resolve_capture(name, out_dir)
