"""`captures`: the capture history in OUT, its retention and trends."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import app
from .common import (
    JsonOpt,
    OutOpt,
    err,
    operator_errors,
    out,
)


@app.command()
@operator_errors
def captures(
    out_dir: OutOpt = Path("captures"),
    do_prune: Annotated[bool, typer.Option("--prune", help="Delete all but the --keep newest completed captures; pending ones are kept.")] = False,
    keep: Annotated[int | None, typer.Option("--keep", help="With --prune: how many completed captures to keep (at least 1).")] = None,
    target: Annotated[str | None, typer.Option("--target", help="With --prune: count and delete only captures of this TARGET.")] = None,
    include_pending: Annotated[bool, typer.Option("--include-pending", help="With --prune: unfinished captures count and may be deleted too.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --prune: show what would be deleted, delete nothing.")] = False,
    trend_tile: Annotated[str | None, typer.Option("--trend", metavar="TILE", help="Per capture and host, the share of TILE's samples in its top functions (self time): verify:3, verify (every verify tile) or agave. Hosts far from the capture's median are marked.")] = None,
    top: Annotated[int, typer.Option("--top", help="With --trend: how many functions.", min=1)] = 5,
    threshold: Annotated[float, typer.Option("--threshold", help="With --trend: percentage points from the capture's median that mark a host.", min=0)] = 5.0,
    last: Annotated[int | None, typer.Option("--last", help="With --trend: only the N newest completed captures.", min=1)] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the captures in OUT (id, target, hosts ok/failed/pending, samples, size), prune them, or show a tile's trend."""
    from ..history import captures_json, captures_table, prune, prune_json, read_history

    if trend_tile:
        from ..trend import trend, trend_json, trend_table

        result = trend(out_dir, trend_tile, top, threshold, last)
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        if json_out:
            print(trend_json(result))
        else:
            out.print(trend_table(result))
        return
    if do_prune:
        from ..targets import parse_target

        if keep is None:
            raise InputError("--prune needs --keep N: how many completed captures to keep")
        deleted = prune(out_dir, keep, dry_run, target=parse_target(target).text if target else None, include_pending=include_pending)
        if json_out:
            print(prune_json(out_dir, keep, deleted, dry_run))
            return
        verb = "would delete" if dry_run else "deleted"
        for path in deleted:
            out.print(f"{verb} {path}", highlight=False)
        out.print(f"{len(deleted)} captures {verb}", highlight=False)
        return
    history = read_history(out_dir)
    for warning in history.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if json_out:
        print(captures_json(history))
    else:
        out.print(captures_table(history))
