"""`flamegraph`, `collapse` and `demo`: FlameGraph-style tools, and the local demo."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from ..terminal import labelled
from .app import app
from .common import (
    duration_option,
    emit,
    err,
    operator_errors,
    out,
)


@app.command()
@operator_errors
def flamegraph(
    files: Annotated[list[Path] | None, typer.Argument(help="Folded stack files (gzip ok); none or '-' reads stdin.", show_default=False)] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title at the top of the graph [default: Flame Graph, or Icicle Graph with --inverted].", show_default=False)] = None,
    subtitle: Annotated[str | None, typer.Option("--subtitle", help="Second line under the title.", show_default=False)] = None,
    width: Annotated[int, typer.Option("--width", metavar="PX", help="Width of the SVG image in pixels.")] = 1200,
    min_width: Annotated[float, typer.Option("--min-width", metavar="PX", help="Leave out frames narrower than this many pixels (and their callees), as flamegraph.pl.")] = 0.1,
    inverted: Annotated[bool, typer.Option("--inverted", help="Icicle graph: roots at the top, stacks growing down.")] = False,
    reverse: Annotated[bool, typer.Option("--reverse", help="Reverse every stack (leaf first), as flamegraph.pl --reverse: who calls each function.")] = False,
    colors: Annotated[str, typer.Option("--colors", help="Palette of the frames: hot, red, mem or io (kernel, JIT and inlined frames keep their own).")] = "hot",
    fmt: Annotated[str, typer.Option("--format", help="svg (interactive, like flamegraph.pl), html (self-contained viewer), speedscope, pprof or folded.")] = "svg",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.", show_default=False)] = None,
) -> None:
    """Render folded stacks (`frame;frame;leaf COUNT`) as an interactive flamegraph, like flamegraph.pl.

    Lines that are not folded stacks are skipped, and a warning on stderr says how many and shows
    the first (flamegraph.pl's "Ignored N lines").
    """
    from .. import folded
    from ..render import RENDERERS, FlameGraphOptions, svg

    if fmt not in RENDERERS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(RENDERERS)}")
    options = FlameGraphOptions(
        title=title if title is not None else ("Icicle Graph" if inverted else "Flame Graph"),
        subtitle=subtitle or None,
        width=width,
        min_width=min_width,
        inverted=inverted,
        colors=colors,
    )
    svg.check_options(options)  # before reading: a bad option fails at once, whatever the format
    read = folded.FoldedInput({})
    for source in [str(f) for f in files] if files else ["-"]:
        if source == "-":
            folded.load_folded(sys.stdin.buffer, read, name="stdin")
        elif not Path(source).exists():
            raise InputError(f"{source}: no such file")
        elif not Path(source).is_file():
            raise InputError(f"{source}: not a file (give folded stack files, or '-' for stdin)")
        else:
            try:
                folded.load_folded(source, read)
            except OSError as exc:
                raise InputError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    stacks = folded.reverse_stacks(read.stacks) if reverse else read.stacks
    if not any(count > 0 for count in stacks.values()):
        ignored = f" ({read.ignored_message()})" if read.ignored else ""
        raise InputError(f"no stacks in the input{ignored}: expected lines like 'main;work;leaf 42'")
    if read.ignored:
        err.print(labelled("warning:", "yellow", read.ignored_message()), highlight=False, soft_wrap=True)
    if fmt == "pprof" and output is None and sys.stdout.isatty():
        raise InputError("--format pprof writes gzip data: give -o FILE.pb.gz or redirect stdout")
    data = RENDERERS[fmt].render(stacks, options)
    try:
        emit(data, output)
    except OSError as exc:
        raise InputError(f"{output or 'stdout'}: cannot write: {exc.strerror or exc}") from None


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
    if source != "-":  # a pipe (`<(perf script)`) or /dev/stdin is fine; a folder is not
        if not Path(source).exists():
            raise InputError(f"{source}: no such file")
        if Path(source).is_dir():
            raise InputError(f"{source}: a folder, not a perf script file (give a file, or '-' for stdin)")
    result = collapse_perf_file(source, options)
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    sys.stdout.buffer.write(format_collapsed(result.stacks))
    sys.stdout.flush()


@app.command()
@operator_errors
def demo(
    duration: Annotated[float, duration_option("How long to record: seconds (3), or with a unit (3s, 1m).", 0.5)] = 3.0,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the capture folder goes.")] = Path("captures"),
) -> None:
    """Build and start the stand-in validator, profile all of it through a local inventory, print the flamegraph path."""
    from ..demo import run_demo

    raise typer.Exit(run_demo(duration, out_dir, out, err))
