"""`flamegraph`, `collapse` and `demo`: FlameGraph-style tools, and the local demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import app
from .common import (
    emit,
    err,
    operator_errors,
    out,
)


@app.command()
@operator_errors
def flamegraph(
    files: Annotated[list[Path] | None, typer.Argument(help="Folded stack files (gzip ok); none or '-' reads stdin.", show_default=False)] = None,
    title: Annotated[str, typer.Option(help="Title at the top of the graph.")] = "Flame Graph",
    fmt: Annotated[str, typer.Option("--format", help="svg (interactive, like flamegraph.pl) or html (self-contained viewer).")] = "svg",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")] = None,
) -> None:
    """Render folded stacks (`frame;frame;leaf COUNT`) as an interactive flamegraph."""
    from .. import folded
    from ..render import RENDERERS, FlameGraphOptions

    if fmt not in ("svg", "html"):
        raise InputError(f"--format {fmt!r}: choose svg or html")
    sources = [str(f) for f in files] if files else ["-"]
    maps = []
    for source in sources:
        if source == "-":
            maps.append(folded.read_folded(sys.stdin))
        elif not Path(source).is_file():
            raise InputError(f"{source}: no such file")
        else:
            maps.append(folded.read_folded(source))
    stacks = folded.merge(maps)
    if not stacks:
        raise InputError("no stacks in the input: expected lines like 'main;work;leaf 42'")
    data = RENDERERS[fmt].render(stacks, FlameGraphOptions(title=title))
    emit(data, output)


@app.command()
@operator_errors
def collapse(
    file: Annotated[Path | None, typer.Argument(help="`perf script` output (gzip ok); stdin when absent or '-'.", show_default=False)] = None,
    pid: Annotated[bool, typer.Option("--pid", help="Include the PID with process names.")] = False,
    tid: Annotated[bool, typer.Option("--tid", help="Include the PID and TID with process names.")] = False,
    kernel: Annotated[bool, typer.Option("--kernel", help="Annotate kernel functions with _[k].")] = False,
    jit: Annotated[bool, typer.Option("--jit", help="Annotate JIT functions with _[j].")] = False,
    all_annotations: Annotated[bool, typer.Option("--all", help="All annotations (--kernel --jit).")] = False,
    addrs: Annotated[bool, typer.Option("--addrs", help="Include raw addresses where symbols can't be found.")] = False,
    event_filter: Annotated[str | None, typer.Option("--event-filter", help="Only this event type (default: the first one seen).")] = None,
    inline: Annotated[bool, typer.Option("--inline", help="Un-inline frames with addr2line, as the perl script does.")] = False,
    context: Annotated[bool, typer.Option("--context", help="With --inline: add source context (file:line).")] = False,
    srcline: Annotated[bool, typer.Option("--srcline", help="The input has `perf script -F+srcline` lines.")] = False,
) -> None:
    """Fold `perf script` output into `frame;frame;leaf COUNT` lines: a drop-in for stackcollapse-perf.pl.

    Same flags and same output (sorted, weighted by the sample period) as FlameGraph's script.
    """
    from ..collapse import PerfOptions, collapse_perf_file, format_collapsed

    options = PerfOptions(
        include_pid=pid,
        include_tid=tid,
        annotate_kernel=kernel or all_annotations,
        annotate_jit=jit or all_annotations,
        include_addrs=addrs,
        event_filter=event_filter,
        srcline=srcline,
        inline=inline,
        context=context,
    )
    source = "-" if file is None or str(file) == "-" else file
    if source != "-" and not Path(source).is_file():
        raise InputError(f"{source}: no such file")
    result = collapse_perf_file(source, options)
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    sys.stdout.buffer.write(format_collapsed(result.stacks))
    sys.stdout.flush()


@app.command()
@operator_errors
def demo(
    duration: Annotated[float, typer.Option(help="Seconds to record.", min=0.5)] = 3.0,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the capture folder goes.")] = Path("captures"),
) -> None:
    """Build and start the stand-in validator, profile all of it through a local inventory, print the flamegraph path."""
    from ..demo import run_demo

    raise typer.Exit(run_demo(duration, out_dir, out, err))
