"""`skew`: which host's tile differs from the rest of the fleet, in which function, and whether
that is real or sampling noise (fleetflame/analysis/skew.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .common import CaptureArg, FromOpt, JsonOpt, OutOpt, UntilOpt, open_capture, operator_errors, out, window_option

# analysis.skew.DEFAULT_MIN_SAMPLES and DEFAULT_MIN_DIFFERENCE, repeated so that every command does
# not import the analysis at start-up; tests/test_skew.py checks they agree.
DEFAULT_MIN_SAMPLES = 100
DEFAULT_MIN_DIFFERENCE = 5.0


@app.command()
@operator_errors
def skew(
    capture: CaptureArg,
    out_dir: OutOpt = Path("captures"),
    json_out: JsonOpt = False,
    tile: Annotated[
        str | None,
        typer.Option("--tile", metavar="TILE", help="Only this tile (verify:2), every tile of a kind (verify or verify:*), or agave.", show_default=False),
    ] = None,
    min_samples: Annotated[
        int, typer.Option("--min-samples", metavar="N", min=1, help="A host's tile needs this many samples to be compared; fewer are listed as not enough.")
    ] = DEFAULT_MIN_SAMPLES,
    min_difference: Annotated[
        float,
        typer.Option("--min-difference", metavar="POINTS", min=0, max=100, help="Report only differences of at least this many percentage points."),
    ] = DEFAULT_MIN_DIFFERENCE,
    top: Annotated[int | None, typer.Option("--top", metavar="N", min=1, help="Show only the N largest findings (the JSON has them all).", show_default=False)] = None,
    links: Annotated[bool, typer.Option("--links", help="Add each finding's viewer link (flamegraph.html#view=host-vs-rest&...), however wide the table gets.")] = False,
    from_: FromOpt = None,
    until: UntilOpt = None,
) -> None:
    """Compare every host's tiles with the rest of the fleet, function by function (self and
    inclusive share of the tile's samples), and list the differences that are both large (at
    least --min-difference points) and not sampling noise (Fisher's exact test,
    Benjamini–Hochberg corrected, false discovery rate 1 %). Largest first, each with the viewer
    step that shows it.

    With --from and --until, only the samples of that time window are compared (from
    hosts/HOST/timeline.json.gz; captures made before fleetflame kept sample times have none)."""
    import json

    from ..analysis.skew import analyse_capture
    from ..analysis.skew_table import skew_table
    from ..errors import InputError
    from ..host.targets import parse_tile_filter
    from ..terminal import print_table, safe_line

    tiles = parse_tile_filter(tile, "--tile") if tile is not None else None
    bounds = window_option(from_, until)
    folder, manifest = open_capture(capture, out_dir)
    if bounds is None:
        report = analyse_capture(folder, tiles=tiles, min_samples=min_samples, min_difference=min_difference / 100)
    else:
        from ..analysis.skew import analyse
        from ..timeline.window import capture_window

        window = capture_window(folder, manifest, *bounds)
        report = analyse(window.stacks, tiles=tiles, min_samples=min_samples, min_difference=min_difference / 100, resolved=manifest.recorded_tiles())
    if tiles is not None and not report.tiles:
        recorded = ", ".join(safe_line(t) for t in report.seen_tiles[:12]) or "none"
        raise InputError(f"--tile {safe_line(tile or '')}: no such tile in {folder}; tiles recorded there: {recorded}")
    if json_out:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print_table(out, skew_table(report, folder, top, width=out.width, links=links))


SUMMARY_ROWS = 5


def print_skew_summary(folder: Path) -> None:
    """The largest findings of the skew.json a run, fetch or report just wrote (the whole list:
    `fleetflame skew`); analyses the capture only if there is no skew.json."""
    from ..analysis.skew import analyse_capture, read_skew_json
    from ..analysis.skew_table import skew_table
    from ..errors import FleetflameError
    from ..terminal import print_table

    report = read_skew_json(folder)
    if report is None:
        if not (folder / "fleet.folded").is_file():
            return
        try:
            report = analyse_capture(folder)
        except FleetflameError:
            return
    if report.findings:
        print_table(out, skew_table(report, folder, SUMMARY_ROWS, width=out.width))
