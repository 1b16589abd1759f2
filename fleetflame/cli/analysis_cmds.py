"""`report` and `diff`: redraw and compare captures offline.

Both name captures the same way (`resolve_capture`): an id looked up in --out, or a folder path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import app
from .common import CaptureArg, FromOpt, OutOpt, UntilOpt, emit, open_capture, operator_errors, out, resolve_capture, warn, window_option
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
    host_svgs: Annotated[
        bool | None,
        typer.Option(
            "--host-svgs/--no-host-svgs",
            help="Write hosts/HOST/flamegraph.svg for every host (or for none). Default: only up to 16 hosts; flamegraph.html shows any host.",
            show_default=False,
        ),
    ] = None,
    from_: FromOpt = None,
    until: UntilOpt = None,
) -> None:
    """Redraw a capture's graphs from its folder alone (offline, no host needed).

    Rebuilds fleet.folded from hosts/HOST/stacks.folded (a host without one, as in a copy of the
    capture without hosts/, keeps its stacks from fleet.folded) and writes the --format outputs
    into the capture folder, each file whole and private (0600); one SVG per host up to 16 hosts
    (--host-svgs: every host). Prints one line: how many files, their sizes, and the folder (to
    a pipe, the path of each file first, one a line). Replacing fleet.folded with fewer samples
    is a warning; it is never replaced by nothing.

    With --from and --until, only the samples of that window (from hosts/HOST/timeline.json.gz)
    go into CAPTURE/windows/FROM-UNTIL/ (fleet.folded and the graphs), whose path is printed;
    the capture's own files are left as they are.
    """
    from ..capture import FLEET_FOLDED, STACKS_FOLDED
    from ..report import GROUPINGS, build_reports, parse_formats, written_summary
    from ..terminal import print_line

    if group_by not in GROUPINGS:
        raise InputError(f"--group-by {group_by!r}: choose auto, host, kind, tile or none")
    fmts = parse_formats(formats)
    window_bounds = window_option(from_, until)
    folder, manifest = open_capture(capture, out_dir)
    if window_bounds is not None:
        from ..report import build_window

        window, _ = build_window(folder, manifest, *window_bounds, fmts, group_by)
        print_line(out, str(window))
        return
    if not (folder / FLEET_FOLDED).is_file() and not any((folder / "hosts").glob(f"*/{STACKS_FOLDED}")):
        raise InputError(
            f"{folder} has neither {FLEET_FOLDED} nor any hosts/*/{STACKS_FOLDED}: nothing to draw from; "
            "restore them from a copy of the capture, or `fleetflame fetch` it if hosts are pending"
        )
    written = build_reports(folder, manifest, fmts, group_by, host_svgs)
    if not out.is_terminal:  # scripts: every path, as before
        for path in written:
            print_line(out, str(path))
    print_line(out, written_summary(folder, written, len(manifest.ok_hosts), host_svgs))
    print_skew_summary(folder)


@app.command()
@operator_errors
def diff(
    before: Annotated[str, typer.Argument(metavar="BEFORE", help="The baseline: a capture (id in --out, or folder) or a folded file.", show_default=False)],
    after: Annotated[str, typer.Argument(metavar="AFTER", help="The one to compare, named the same ways.", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE", help="SVG to write (default: stdout).", show_default=False)] = None,
    # Not OutOpt: -o is the SVG here, as in `flamegraph`.
    out_dir: Annotated[Path, typer.Option("--out", help="Folder holding capture folders OUT/CAPTURE_ID/.")] = Path("captures"),
    from_: FromOpt = None,
    until: UntilOpt = None,
) -> None:
    """Differential flamegraph of two captures or folded files: widths from AFTER, red where it
    grew, blue where it shrank.

    A capture is compared by its fleet.folded (host;tile;frame;...). BEFORE's counts are scaled to
    AFTER's total first, so captures of different lengths compare. Either side without stacks is
    an error.

    With --from and --until (captures only), each capture is compared over that window of its own
    recording: `--from 5 --until 10` is the sixth to tenth second of each; a UTC time of day is
    taken on each capture's own day.
    """
    from ..diff import diff_stacks, read_side, render_diff_svg

    bounds = window_option(from_, until)
    if out_dir.suffix.lower() == ".svg" or out_dir.is_file():
        raise InputError(f"--out {out_dir} is the folder of captures; write the SVG with -o/--output {out_dir}")
    paths = [_side(name, out_dir) for name in (before, after)]
    if bounds is not None and not all(path.is_dir() for path in paths):
        raise InputError("--from/--until compare windows of captures; a folded file has no sample times")
    sides = [read_side(path) if bounds is None else _window_side(path, bounds, out_dir) for path in paths]
    sides = _common_tiles(paths, sides, out_dir)
    rows = diff_stacks(sides[0], sides[1])
    window = "" if bounds is None else f" ({bounds[0]} to {bounds[1]})"
    svg = render_diff_svg(rows, title=f"{paths[0].name} → {paths[1].name}{window}")
    emit(svg, output)


def _window_side(path: Path, bounds: tuple[str, str], out_dir: Path) -> dict[str, int]:
    from ..timeline.window import capture_window

    folder, manifest = open_capture(str(path), out_dir)
    return dict(capture_window(folder, manifest, *bounds).stacks)


def _common_tiles(paths: list[Path], sides: list[dict[str, int]], out_dir: Path) -> list[dict[str, int]]:
    """Two captures of different targets (`verify:*` against `all`) compare only the tiles both
    recorded, with a warning naming both targets: else every tile of the wider one would draw as
    new. Folded files carry no target and are compared whole."""
    from ..capture.manifest import read_manifest
    from ..host.targets import parse_target

    if not all(path.is_dir() for path in paths):
        return sides
    targets = [read_manifest(path).target for path in paths]
    try:
        same = parse_target(targets[0]).key == parse_target(targets[1]).key
    except InputError:
        same = targets[0] == targets[1]
    if same:
        return sides
    tiles = [{stack.split(";", 2)[1] for stack in side if stack.count(";") >= 1} for side in sides]
    common = tiles[0] & tiles[1]
    if not common:
        raise InputError(f"{paths[0]} ({targets[0]}) and {paths[1]} ({targets[1]}) have no tile in common: nothing to compare")
    tiles_word = "tile" if len(common) == 1 else "tiles"
    warn(f"different targets: {targets[0]} and {targets[1]}; comparing only the {len(common)} {tiles_word} both recorded")
    return [{k: v for k, v in side.items() if k.count(";") >= 1 and k.split(";", 2)[1] in common} for side in sides]


def _side(name: str, out_dir: Path) -> Path:
    """A folded file as it is; anything else is a capture name."""
    path = Path(name)
    return path if path.is_file() else resolve_capture(name, out_dir)
