"""The `fleetflame` command: a thin Typer layer that turns flags into library calls."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import FleetflameError, InputError

app = typer.Typer(
    name="fleetflame",
    help=(
        "Profile Firedancer / Frankendancer validators across a whole fleet with perf, and merge "
        "the results into flamegraphs of the fleet, of each host and of each tile.\n\n"
        "Typical use:  fleetflame run 'verify:*' -i inventories/mainnet.yml --duration 30"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def operator_errors(func: F) -> F:
    """Print a FleetflameError as one line and exit with its code; tracebacks are for bugs only."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FleetflameError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


InventoryOpt = Annotated[
    list[Path],
    typer.Option(
        "-i",
        "--inventory",
        help="Ansible inventory (YAML or INI file, or a folder); repeat to merge several, as with ansible -i.",
        show_default=False,
    ),
]
LimitOpt = Annotated[
    Optional[str],
    typer.Option(
        "--limit",
        "-l",
        help="Ansible host pattern: 'mainnet', 'a:b', 'a,b', 'a:&b', 'a:!b', 'val0*', '~val0[1-3]', 'group[0:2]'.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
TargetArg = Annotated[
    str,
    typer.Argument(
        help=(
            "What to record, as for `fdctl flame`: 'all' (every tile), 'agave' (the whole Agave process, "
            "perf -p), 'KIND' (= KIND:0), 'KIND:IDX', 'KIND:*', or a comma list: 'verify:*,quic,net:1'."
        ),
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        out.print(f"fleetflame {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """fleetflame: fleet-wide perf flamegraphs."""


def _select_hosts(inventories: list[Path], limit: str | None) -> list[Any]:
    from .inventory import load_inventories, select

    if not inventories:
        raise InputError("no inventory given: pass -i INVENTORY (e.g. -i inventories/local.yml)")
    loaded = load_inventories(inventories)
    selection = select(loaded, limit or "all")
    for warning in [*loaded.warnings, *selection.warnings]:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    return list(selection.hosts)


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder holding capture folders OUT/CAPTURE_ID/.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no table (for cron); errors still go to stderr.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Fleet outputs, comma separated: svg,html,folded,speedscope,pprof.")]
HostKeysOpt = Annotated[bool, typer.Option(help="Trust and remember keys of hosts not yet in known_hosts (never changed keys).")]
NoPerfDataOpt = Annotated[bool, typer.Option("--no-perf-data", help="Do not pull perf.data back (stacks only).")]
RateOpt = Annotated[Optional[float], typer.Option("--rate-limit", metavar="MB/S", help="Cap each host's transfer at this many MB/s, to spare the validator's network.", min=0.01)]
ForksOpt = Annotated[int, typer.Option(help="At most this many hosts connect, symbolize and transfer at once; recording starts everywhere together.", min=1)]
LogOpt = Annotated[Optional[Path], typer.Option("--log-file", help="Append a timestamped line per host event and the recap here (for cron).")]


@app.command()
@operator_errors
def run(
    target: TargetArg,
    inventory: InventoryOpt = [],  # noqa: B006 - Typer needs a literal default
    limit: LimitOpt = None,
    duration: Annotated[float, typer.Option(help="Seconds to record; Ctrl-C or SIGTERM ends it early on every host.", min=0.1)] = 30.0,
    frequency: Annotated[int, typer.Option("--frequency", "-F", help="Samples per second per thread (perf -F).", min=1, max=100000)] = 99,
    call_graph: Annotated[str, typer.Option(help="Stack unwinding: fp (frame pointers, as fdctl), dwarf or lbr.")] = "fp",
    forks: ForksOpt = 50,
    out_dir: OutOpt = Path("captures"),
    formats: FormatOpt = "svg,html",
    no_perf_data: NoPerfDataOpt = False,
    detach: Annotated[bool, typer.Option("--detach", help="Start perf everywhere, print the capture id and return; `fleetflame fetch` finishes it later.")] = False,
    keep: Annotated[Optional[int], typer.Option("--keep", min=1, help="After the run, delete all but the N newest completed captures of this TARGET in OUT (pending ones are kept).")] = None,
    rate_limit: RateOpt = None,
    accept_new_host_keys: HostKeysOpt = False,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for each SSH connection.", min=0.1)] = 10.0,
    log_file: LogOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Record TARGET on every selected host at once, then fetch, merge and render.

    Writes OUT/CAPTURE_ID/ with manifest.json, fleet.folded, flamegraph.svg, flamegraph.html and
    hosts/HOST/{perf.data,stacks.folded,flamegraph.svg}. Exit code 0 when every host was captured,
    1 when at least one failed (the others' data is kept), 2 for bad input, 75 when another run of
    the same schedule (target, inventories, limit, OUT) still holds its lock, 130 if abandoned by a
    second Ctrl-C.
    """
    from .connection.settings import SshSettings
    from .fleet import CaptureOptions
    from .history import prune
    from .report import parse_formats
    from .runner import run_capture
    from .schedule_lock import ScheduleLock, schedule_key
    from .targets import parse_target

    if call_graph not in ("fp", "dwarf", "lbr"):
        raise InputError(f"--call-graph {call_graph!r}: choose fp, dwarf or lbr")
    options = CaptureOptions(
        target=parse_target(target),
        duration=duration,
        frequency=frequency,
        call_graph=call_graph,
        forks=forks,
        out=out_dir,
        formats=parse_formats(formats),
        keep_perf_data=not no_perf_data,
        detach=detach,
        rate_limit_mb_s=rate_limit,
        ssh=SshSettings(connect_timeout=connect_timeout, accept_new_host_keys=accept_new_host_keys),
        inventories=[str(p) for p in inventory],
        limit=limit,
    )
    hosts = _select_hosts(inventory, limit)
    with ScheduleLock(out_dir, schedule_key(target, options.inventories, limit)):
        with _reporting([h.name for h in hosts], quiet or json_out, log_file) as reporter:
            outcome = run_capture(hosts, options, reporter)
        pruned = prune(out_dir, keep, target=outcome.manifest.target) if keep and not outcome.abandoned else []
    _show_outcome(outcome, json_out, quiet, log_file, [p.name for p in pruned])
    raise typer.Exit(outcome.exit_code)


@app.command()
@operator_errors
def fetch(
    capture_id: Annotated[Optional[str], typer.Argument(help="The capture to finish (as `run --detach` printed it).", show_default=False)] = None,
    latest: Annotated[bool, typer.Option("--latest", help="The newest unfinished capture in OUT, or, if none, the newest left on the hosts.")] = False,
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    out_dir: OutOpt = Path("captures"),
    formats: FormatOpt = "svg,html",
    no_perf_data: NoPerfDataOpt = False,
    forks: ForksOpt = 50,
    rate_limit: RateOpt = None,
    accept_new_host_keys: HostKeysOpt = False,
    log_file: LogOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Finish a capture started earlier: wait for perf to end, symbolize, pull, verify, report, clean up.

    Idempotent and resumable: run it again after an interruption and it completes what is missing
    without pulling twice what already arrived. Works from the local record in OUT, or from the
    capture folders the hosts keep (after `run --detach` elsewhere, or a run whose link dropped).
    """
    from .capture import read_manifest
    from .connection.settings import SshSettings
    from .recover import check_capture_id, local_pending, open_or_rebuild, remote_captures
    from .report import parse_formats
    from .runner import fetch_capture

    if bool(capture_id) == latest:
        raise InputError("give a CAPTURE_ID or --latest (see `fleetflame captures` for ids)")
    if capture_id:
        check_capture_id(capture_id)
    fmts = parse_formats(formats)
    hosts = _select_hosts(inventory, limit)
    ssh = SshSettings(accept_new_host_keys=accept_new_host_keys)
    pending = local_pending(out_dir)
    folder = out_dir / capture_id if capture_id else (pending[-1] if pending else None)
    if folder is not None and (folder / "manifest.json").is_file():
        manifest = read_manifest(folder)
    else:
        found, errors = remote_captures(hosts, ssh, forks)
        for error in errors:
            err.print(f"[yellow]warning:[/] {error}", highlight=False)
        wanted = capture_id or max(found, default=None)
        if wanted is None or wanted not in found:
            where = f"capture {capture_id}" if capture_id else "an unfinished capture"
            raise InputError(f"no {where} in {out_dir} or on the selected hosts: check --out, -i and --limit")
        folder, manifest = open_or_rebuild(out_dir, wanted, found[wanted], hosts)
    selected = [h for h in hosts if h.name in manifest.hosts]
    with _reporting([h.name for h in selected if manifest.hosts[h.name].fetchable], quiet or json_out, log_file) as reporter:
        outcome = fetch_capture(folder, manifest, selected, ssh, forks, fmts, reporter, not no_perf_data, rate_limit)
    _show_outcome(outcome, json_out, quiet, log_file)
    raise typer.Exit(outcome.exit_code)


def _reporting(hosts: list[str], silent: bool, log_file: Path | None) -> Any:
    from .progress import reporting

    return reporting(hosts, err if not silent and err.is_terminal else None, log_file)


def _show_outcome(outcome: Any, json_out: bool, quiet: bool, log_file: Path | None, pruned: list[str] | None = None) -> None:
    from .progress import log_line, recap_json, recap_table

    manifest = outcome.manifest
    if log_file:
        log_line(log_file, f"capture {manifest.id} exit {outcome.exit_code}: {manifest.total_samples} samples, failed: {', '.join(manifest.failed_hosts) or 'none'}")
    if json_out:
        print(recap_json(manifest, str(outcome.folder), outcome.exit_code, pruned or []))
    elif outcome.detached:
        if not quiet:
            out.print(recap_table(manifest))
        print(manifest.id)
        err.print(f"perf is recording on the hosts; finish with: fleetflame fetch {manifest.id} -i ... --out {outcome.folder.parent}", highlight=False)
    elif not quiet:
        out.print(recap_table(manifest))
        out.print(f"capture folder: {outcome.folder}", highlight=False)
        out.print(f"flamegraph:     {outcome.folder / 'flamegraph.html'}", highlight=False)
        for name in pruned or []:
            out.print(f"pruned:         {name}", highlight=False)
    if quiet:
        for name in manifest.failed_hosts:
            err.print(f"{name}: {manifest.hosts[name].error}", highlight=False)
    if outcome.abandoned:
        err.print(f"abandoned by a second interrupt; what had arrived is kept in {outcome.folder}", highlight=False)


@app.command()
@operator_errors
def captures(
    out_dir: OutOpt = Path("captures"),
    do_prune: Annotated[bool, typer.Option("--prune", help="Delete all but the --keep newest completed captures; pending ones are kept.")] = False,
    keep: Annotated[Optional[int], typer.Option("--keep", help="With --prune: how many completed captures to keep (at least 1).")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="With --prune: count and delete only captures of this TARGET.")] = None,
    include_pending: Annotated[bool, typer.Option("--include-pending", help="With --prune: unfinished captures count and may be deleted too.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --prune: show what would be deleted, delete nothing.")] = False,
    trend_tile: Annotated[Optional[str], typer.Option("--trend", metavar="TILE", help="Per capture and host, the share of TILE's samples in its top functions (self time): verify:3, verify (every verify tile) or agave. Hosts far from the capture's median are marked.")] = None,
    top: Annotated[int, typer.Option("--top", help="With --trend: how many functions.", min=1)] = 5,
    threshold: Annotated[float, typer.Option("--threshold", help="With --trend: percentage points from the capture's median that mark a host.", min=0)] = 5.0,
    last: Annotated[Optional[int], typer.Option("--last", help="With --trend: only the N newest completed captures.", min=1)] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the captures in OUT (id, target, hosts ok/failed/pending, samples, size), prune them, or show a tile's trend."""
    from .history import captures_json, captures_table, prune, prune_json, read_history

    if trend_tile:
        from .trend import trend, trend_json, trend_table

        result = trend(out_dir, trend_tile, top, threshold, last)
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        if json_out:
            print(trend_json(result))
        else:
            out.print(trend_table(result))
        return
    if do_prune:
        from .targets import parse_target

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


@app.command()
@operator_errors
def tiles(
    target: TargetArg,
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    json_out: JsonOpt = False,
    accept_new_host_keys: Annotated[bool, typer.Option(help="Trust keys of hosts not yet in known_hosts.")] = False,
) -> None:
    """Show which threads TARGET resolves to on each host (host x tile x pid x tid), without recording."""
    from .connection.settings import SshSettings
    from .probe import resolve_fleet, tiles_json, tiles_table
    from .targets import parse_target

    parsed = parse_target(target)
    hosts = _select_hosts(inventory, limit)
    results = resolve_fleet(hosts, parsed, SshSettings(accept_new_host_keys=accept_new_host_keys))
    if json_out:
        print(tiles_json(results))
    else:
        out.print(tiles_table(results))
    raise typer.Exit(1 if any(r.error for r in results) else 0)


@app.command()
@operator_errors
def check(
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    accept_new_host_keys: Annotated[bool, typer.Option(help="Trust keys of hosts not yet in known_hosts.")] = False,
) -> None:
    """Preflight every host: SSH, perf and its version, root or sudo -n, perf_event_paranoid,
    the metrics endpoint, tiles found, free space in fleetflame_tmpdir. One line per problem,
    with what to do; exit code 1 if any host has a problem."""
    from .check import check_fleet
    from .connection.settings import SshSettings

    results = check_fleet(_select_hosts(inventory, limit), SshSettings(accept_new_host_keys=accept_new_host_keys))
    for result in results:
        if result.ok:
            facts = result.facts
            who = "root" if facts.get("uid") == "0" else "sudo -n"
            summary = f"{facts.get('perf', '?')}, {who}, {facts.get('tiles', '0')} tiles via {facts.get('tile_source', '?')}"
            out.print(f"[green]ok[/]      {result.host}: {summary}", highlight=False)
        for problem in result.problems:
            out.print(f"[red]problem[/] {problem}", highlight=False, soft_wrap=True)
        for note in result.notes:
            out.print(f"[yellow]note[/]    {result.host}: {note}", highlight=False, soft_wrap=True)
    bad = sum(1 for r in results if not r.ok)
    out.print(f"{len(results) - bad} of {len(results)} hosts ready")
    raise typer.Exit(1 if bad else 0)


@app.command()
@operator_errors
def hosts(
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print each host with its connection settings as JSON.")] = False,
) -> None:
    """List the hosts an inventory and --limit select (the same as `ansible -i INV PATTERN --list-hosts`)."""
    import json

    from .inventory import host_record_to_json

    selected = _select_hosts(inventory, limit)
    if json_out:
        print(json.dumps([host_record_to_json(h) for h in selected], indent=2))
        return
    out.print(f"  hosts ({len(selected)}):", highlight=False)
    for host in selected:
        out.print(f"    {host.name}", highlight=False)


@app.command()
@operator_errors
def report(
    capture_dir: Annotated[Path, typer.Argument(help="A capture folder written by run or fetch.", show_default=False)],
    group_by: Annotated[str, typer.Option(help="Root frames of the fleet graph: host (host;tile;...), tile (tile;host;...) or none.")] = "host",
    formats: Annotated[str, typer.Option("--format", help="Outputs, comma separated: svg,html,folded,speedscope,pprof.")] = "svg,html",
) -> None:
    """Redraw a capture's graphs from its folder alone (offline, no host needed)."""
    from .capture import MANIFEST, read_manifest
    from .report import GROUPINGS, build_reports, parse_formats

    if group_by not in GROUPINGS:
        raise InputError(f"--group-by {group_by!r}: choose host, tile or none")
    if not (capture_dir / MANIFEST).is_file():
        raise InputError(f"{capture_dir} is not a capture folder (no {MANIFEST}); give OUT/CAPTURE_ID")
    written = build_reports(capture_dir, read_manifest(capture_dir), parse_formats(formats), group_by)
    for path in written:
        out.print(str(path), highlight=False)


@app.command()
@operator_errors
def flamegraph(
    files: Annotated[Optional[list[Path]], typer.Argument(help="Folded stack files (gzip ok); none or '-' reads stdin.", show_default=False)] = None,
    title: Annotated[str, typer.Option(help="Title at the top of the graph.")] = "Flame Graph",
    fmt: Annotated[str, typer.Option("--format", help="svg (interactive, like flamegraph.pl) or html (self-contained viewer).")] = "svg",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write here instead of stdout.")] = None,
) -> None:
    """Render folded stacks (`frame;frame;leaf COUNT`) as an interactive flamegraph."""
    from . import folded
    from .render import RENDERERS, FlameGraphOptions

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
    _emit(data, output)


def _emit(data: str | bytes, output: Path | None) -> None:
    if output is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    if isinstance(data, bytes):
        output.write_bytes(data)
    else:
        output.write_text(data, encoding="utf-8")


@app.command()
@operator_errors
def collapse(
    file: Annotated[Optional[Path], typer.Argument(help="`perf script` output (gzip ok); stdin when absent or '-'.", show_default=False)] = None,
    pid: Annotated[bool, typer.Option("--pid", help="Include the PID with process names.")] = False,
    tid: Annotated[bool, typer.Option("--tid", help="Include the PID and TID with process names.")] = False,
    kernel: Annotated[bool, typer.Option("--kernel", help="Annotate kernel functions with _[k].")] = False,
    jit: Annotated[bool, typer.Option("--jit", help="Annotate JIT functions with _[j].")] = False,
    all_annotations: Annotated[bool, typer.Option("--all", help="All annotations (--kernel --jit).")] = False,
    addrs: Annotated[bool, typer.Option("--addrs", help="Include raw addresses where symbols can't be found.")] = False,
    event_filter: Annotated[Optional[str], typer.Option("--event-filter", help="Only this event type (default: the first one seen).")] = None,
    inline: Annotated[bool, typer.Option("--inline", help="Un-inline frames with addr2line, as the perl script does.")] = False,
    context: Annotated[bool, typer.Option("--context", help="With --inline: add source context (file:line).")] = False,
    srcline: Annotated[bool, typer.Option("--srcline", help="The input has `perf script -F+srcline` lines.")] = False,
) -> None:
    """Fold `perf script` output into `frame;frame;leaf COUNT` lines: a drop-in for stackcollapse-perf.pl.

    Same flags and same output (sorted, weighted by the sample period) as FlameGraph's script.
    """
    from .collapse import PerfOptions, collapse_perf_file, format_collapsed

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
def diff(
    before: Annotated[Path, typer.Argument(help="Capture folder or folded file: the baseline.", show_default=False)],
    after: Annotated[Path, typer.Argument(help="Capture folder or folded file: the one to compare.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--out", "-o", help="SVG to write (default: stdout).")] = None,
) -> None:
    """Differential flamegraph: widths from AFTER, red where it grew, blue where it shrank.

    BEFORE's counts are scaled to AFTER's total first, so captures of different lengths compare.
    """
    from .diff import diff_stacks, read_side, render_diff_svg

    svg = render_diff_svg(diff_stacks(read_side(before), read_side(after)), title=f"{before.name} → {after.name}")
    _emit(svg, output)


@app.command()
@operator_errors
def demo(
    duration: Annotated[float, typer.Option(help="Seconds to record.", min=0.5)] = 3.0,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the capture folder goes.")] = Path("captures"),
) -> None:
    """Build and start the stand-in validator, profile all of it through a local inventory, print the flamegraph path."""
    from .demo import run_demo

    raise typer.Exit(run_demo(duration, out_dir, out, err))


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


if __name__ == "__main__":
    main()
