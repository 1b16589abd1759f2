"""`run` and `fetch`: record on the fleet, and finish what was recorded earlier."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import InputError
from .app import app
from .common import (
    ForksOpt,
    FormatOpt,
    HostKeysOpt,
    InventoryOpt,
    JsonOpt,
    LimitOpt,
    LogOpt,
    NoPerfDataOpt,
    OutOpt,
    QuietOpt,
    RateOpt,
    TargetArg,
    err,
    operator_errors,
    out,
    select_hosts,
)


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
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="After the run, delete all but the N newest completed captures of this TARGET in OUT (pending ones are kept).")] = None,
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
    from ..connection.settings import SshSettings
    from ..fleet import CaptureOptions
    from ..history import prune
    from ..report import parse_formats
    from ..runner import run_capture
    from ..schedule_lock import ScheduleLock, schedule_key
    from ..targets import parse_target

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
    hosts = select_hosts(inventory, limit)
    with ScheduleLock(out_dir, schedule_key(target, options.inventories, limit)):
        with _reporting([h.name for h in hosts], quiet or json_out, log_file) as reporter:
            outcome = run_capture(hosts, options, reporter)
        pruned = prune(out_dir, keep, target=outcome.manifest.target) if keep and not outcome.abandoned else []
    _show_outcome(outcome, json_out, quiet, log_file, [p.name for p in pruned])
    raise typer.Exit(outcome.exit_code)


@app.command()
@operator_errors
def fetch(
    capture_id: Annotated[str | None, typer.Argument(help="The capture to finish (as `run --detach` printed it).", show_default=False)] = None,
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
    from ..capture import read_manifest
    from ..connection.settings import SshSettings
    from ..recover import (
        check_capture_id,
        local_pending,
        open_or_rebuild,
        remote_captures,
    )
    from ..report import parse_formats
    from ..runner import fetch_capture

    if bool(capture_id) == latest:
        raise InputError("give a CAPTURE_ID or --latest (see `fleetflame captures` for ids)")
    if capture_id:
        check_capture_id(capture_id)
    fmts = parse_formats(formats)
    hosts = select_hosts(inventory, limit)
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
    from ..progress import reporting

    return reporting(hosts, err if not silent and err.is_terminal else None, log_file)


def _show_outcome(outcome: Any, json_out: bool, quiet: bool, log_file: Path | None, pruned: list[str] | None = None) -> None:
    from ..progress import log_line, recap_json, recap_table

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
