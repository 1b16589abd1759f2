"""`captures list|prune|trend`: the capture history in OUT, its retention and a tile's trend.

`fleetflame captures` alone lists, as it always did, and the older flag forms `captures --prune
--keep N` and `captures --trend TILE` still work: they run the same code as the subcommands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import HelpfulGroup, app
from .common import JsonOpt, OutOpt, operator_errors, out, warn

captures_app = typer.Typer(
    name="captures",
    cls=HelpfulGroup,
    help=(
        "The capture history in OUT: list it, prune it, or follow a tile's top functions across it.\n\n"
        "Without a subcommand, lists (the same as `captures list`). The older forms "
        "`captures --prune --keep N` and `captures --trend TILE` still work."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)
app.add_typer(captures_app)

# archive.trend.DEFAULT_TOP and DEFAULT_THRESHOLD, repeated so that every command does not import it
# (and its readers) at start-up; tests/test_cli.py checks they agree.
DEFAULT_TOP = 5
DEFAULT_THRESHOLD = 5.0

# Options of `prune` and `trend`, shared by the subcommands and the older flag forms.
KeepOpt = Annotated[int | None, typer.Option("--keep", metavar="N", help="How many completed captures to keep (at least 1).", show_default=False)]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        metavar="TARGET",
        help="Count and delete only captures of this TARGET; compared by meaning, so verify = verify:0 and a,b = b,a.",
        show_default=False,
    ),
]
PendingOpt = Annotated[bool, typer.Option("--include-pending", help="Unfinished captures count and may be deleted too (fetch can no longer finish them).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")]
TileArg = Annotated[
    str,
    typer.Argument(
        metavar="TILE",
        help="A tile (verify:3), every tile of a kind (verify or verify:*), or agave.",
        show_default=False,
    ),
]
TopOpt = Annotated[int, typer.Option("--top", metavar="N", help="How many functions (those with the most self samples over the history).", min=1)]
ThresholdOpt = Annotated[
    float,
    typer.Option("--threshold", metavar="POINTS", help="Mark a host whose share differs from the other hosts' by at least this many percentage points, and by more than sampling noise.", min=0),
]
LastOpt = Annotated[int | None, typer.Option("--last", metavar="N", help="Only the N newest completed captures.", min=1, show_default=False)]


@captures_app.callback()
@operator_errors
def captures(
    ctx: typer.Context,
    out_dir: OutOpt = Path("captures"),
    json_out: JsonOpt = False,
    # The older flag forms, kept working but no longer taught by --help.
    do_prune: Annotated[bool, typer.Option("--prune", hidden=True)] = False,
    keep: Annotated[int | None, typer.Option("--keep", hidden=True)] = None,
    target: Annotated[str | None, typer.Option("--target", hidden=True)] = None,
    include_pending: Annotated[bool, typer.Option("--include-pending", hidden=True)] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", hidden=True)] = False,
    trend_tile: Annotated[str | None, typer.Option("--trend", hidden=True)] = None,
    top: Annotated[int, typer.Option("--top", hidden=True, min=1)] = DEFAULT_TOP,
    threshold: Annotated[float, typer.Option("--threshold", hidden=True, min=0)] = DEFAULT_THRESHOLD,
    last: Annotated[int | None, typer.Option("--last", hidden=True, min=1)] = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        given = [name for name in ctx.params if _given(ctx, name)]
        if given:
            flags = " ".join(_flag(ctx, name) for name in given)
            raise InputError(
                f"{flags} before `{ctx.invoked_subcommand}`: put options after the subcommand, "
                f"e.g. fleetflame captures {ctx.invoked_subcommand} {flags} ..."
            )
        return
    if trend_tile:
        show_trend(out_dir, trend_tile, top, threshold, last, json_out)
    elif do_prune:
        run_prune(out_dir, keep, target, include_pending, dry_run, json_out)
    else:
        show_list(out_dir, json_out)


@captures_app.command("list")
@operator_errors
def list_(out_dir: OutOpt = Path("captures"), json_out: JsonOpt = False) -> None:
    """List the captures in OUT, oldest first: id, target, start, hosts ok/failed/pending, samples, size."""
    show_list(out_dir, json_out)


@captures_app.command("prune")
@operator_errors
def prune_(
    keep: KeepOpt = None,
    target: TargetOpt = None,
    dry_run: DryRunOpt = False,
    include_pending: PendingOpt = False,
    out_dir: OutOpt = Path("captures"),
    json_out: JsonOpt = False,
) -> None:
    """Delete all but the N newest completed captures in OUT (--keep N).

    A capture with hosts still pending (detached, or interrupted) is neither counted nor deleted,
    since `fleetflame fetch` can still finish it; a capture where every host failed counts like
    any other. Only capture folders are ever deleted, never other files in OUT.
    """
    run_prune(out_dir, keep, target, include_pending, dry_run, json_out)


@captures_app.command("trend")
@operator_errors
def trend_(
    tile: TileArg,
    top: TopOpt = DEFAULT_TOP,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    last: LastOpt = None,
    out_dir: OutOpt = Path("captures"),
    json_out: JsonOpt = False,
) -> None:
    """A tile's top functions across the history: per capture and host, the share of the tile's
    samples spent in each (self time). Hosts far from the capture's median are marked."""
    show_trend(out_dir, tile, top, threshold, last, json_out)


def show_list(out_dir: Path, json_out: bool) -> None:
    from ..archive.history import captures_json, captures_table, read_history
    from ..terminal import print_table

    history = read_history(out_dir)
    for warning in history.warnings:
        warn(warning)
    if json_out:
        print(captures_json(history))
    else:
        print_table(out, captures_table(history, width=out.width))


def run_prune(out_dir: Path, keep: int | None, target: str | None, include_pending: bool, dry_run: bool, json_out: bool) -> None:
    from ..archive.history import prune, prune_json
    from ..host.targets import parse_target
    from ..terminal import print_line

    if keep is None:
        raise InputError("prune needs --keep N: how many completed captures to keep")
    deleted = prune(out_dir, keep, dry_run, target=parse_target(target) if target else None, include_pending=include_pending)
    if json_out:
        print(prune_json(out_dir, keep, deleted, dry_run))
        return
    verb = "would delete" if dry_run else "deleted"
    for path in deleted:
        print_line(out, f"{verb} {path}")
    print_line(out, f"{verb} {len(deleted)} capture{'' if len(deleted) == 1 else 's'}")


def show_trend(out_dir: Path, tile: str, top: int, threshold: float, last: int | None, json_out: bool) -> None:
    from ..terminal import print_table
    from ..archive.trend import trend, trend_json, trend_table

    result = trend(out_dir, tile, top, threshold, last)
    for warning in result.warnings:
        warn(warning)
    if json_out:
        print(trend_json(result))
    else:
        print_table(out, trend_table(result))


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def _flag(ctx: typer.Context, name: str) -> str:
    option = next(p for p in ctx.command.params if p.name == name)
    return max(option.opts, key=len)

