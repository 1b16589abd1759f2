"""`run` and `fetch`: record on the fleet, and finish what was recorded earlier."""

from __future__ import annotations

import shlex
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer

import fleetflame.capture.defaults as defaults
from ..capture.events import Reporter
from ..errors import InputError
from ..inventory.model import HostRecord
from ..terminal import print_line, print_table
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
    duration_option,
    err,
    operator_errors,
    out,
    select_hosts,
    warn,
)
from .skew_cmds import print_skew_summary

StallOpt = Annotated[
    float,
    typer.Option(
        "--stall-timeout",
        metavar="S",
        help=(
            "Seconds a host may send nothing once its perf has ended (while it symbolizes and sends its results); "
            "past that it fails, its results stay on it for `fleetflame fetch`, and the other hosts' reports are drawn."
        ),
    ),
]


def _stall_timeout(value: float) -> float:
    from ..capture.runner import check_stall_timeout

    try:
        return check_stall_timeout(value)
    except ValueError as exc:
        raise InputError(str(exc)) from None


@app.command()
@operator_errors
def run(
    target: TargetArg,
    inventory: InventoryOpt = [],  # noqa: B006 - Typer needs a literal default
    limit: LimitOpt = None,
    duration: Annotated[float, duration_option("How long to record: seconds (30) or with a unit (30s, 2m); Ctrl-C or SIGTERM ends it early on every host.", 0.1)] = defaults.DURATION_S,
    frequency: Annotated[int, typer.Option("--frequency", "-F", help="Samples per second per thread (perf -F).", min=1, max=100000)] = defaults.FREQUENCY_HZ,
    call_graph: Annotated[str, typer.Option(help="Stack unwinding: fp (frame pointers, as fdctl), dwarf or lbr.")] = defaults.CALL_GRAPH,
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            metavar="EVENT",
            help=(
                "The perf event to sample on (perf record -e), e.g. task-clock, cpu-clock, cycles or sched:sched_switch. "
                "Default: perf's own default (cycles, or cpu-clock where the CPU's counters are not available). "
                "task-clock samples on-CPU time with a software timer, as `fdctl flame` does: use it on VMs and clouds "
                "without hardware performance counters, or to compare with fdctl flame's graphs."
            ),
            show_default=False,
        ),
    ] = None,
    max_perf_data: Annotated[
        int,
        typer.Option(
            "--max-perf-data",
            metavar="MB",
            min=1,
            help=(
                "Stop perf on a host once its perf.data reaches this size (perf record --max-size), so a long capture cannot fill "
                "the host's disk. Also bounds what a host may send back: a host sending more perf.data than this (+ 10 % + 16 MB), "
                "or more than twice this of compressed perf script output, fails and what it sent is deleted."
            ),
        ),
    ] = defaults.MAX_PERF_DATA_MB,
    forks: ForksOpt = defaults.FORKS,
    out_dir: OutOpt = Path("captures"),
    formats: FormatOpt = "svg,html",
    no_perf_data: NoPerfDataOpt = False,
    detach: Annotated[bool, typer.Option("--detach", help="Start perf everywhere, print the capture id and return; `fleetflame fetch` finishes it later.")] = False,
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="After the run, delete all but the N newest completed captures of this TARGET in OUT (pending ones are kept).")] = None,
    rate_limit: RateOpt = None,
    stall_timeout: StallOpt = 120.0,
    accept_new_host_keys: HostKeysOpt = False,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for each SSH connection.", min=0.1)] = 10.0,
    log_file: LogOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Record TARGET on every selected host at once, then fetch, merge and render.

    Writes OUT/CAPTURE_ID/ with manifest.json, fleet.folded, flamegraph.svg, flamegraph.html,
    skew.json and hosts/HOST/{perf.data,stacks.folded,flamegraph.svg}.

    Exit code 0 when every host was captured, 1 when at least one failed (the others' data is
    kept), 2 for bad input, 75 when another run of the same schedule (target, inventories,
    limit, OUT) still holds its lock, 130 if abandoned by a second Ctrl-C.
    """
    from ..capture.files import check_out_dir
    from ..api import CaptureOptions, run_capture
    from ..capture.scripts import check_event
    from ..connection.settings import SshSettings
    from ..archive.history import prune
    from ..inventory import discover_inventory
    from ..report import parse_formats
    from ..archive.lock import ScheduleLock, schedule_key
    from ..host.targets import parse_target

    stall_timeout = _stall_timeout(stall_timeout)
    if call_graph not in ("fp", "dwarf", "lbr"):
        raise InputError(f"--call-graph {call_graph!r}: choose fp, dwarf or lbr")
    try:
        event = check_event(event)
    except ValueError as exc:
        raise InputError(f"--event: {exc}") from None
    parsed = parse_target(target)
    fmts = parse_formats(formats)
    hosts = select_hosts(inventory, limit, announce=False if quiet or json_out else None)
    _warn_shared_addresses(hosts)
    sources = [str(Path(p).expanduser().resolve()) for p in discover_inventory(inventory).paths]
    options = CaptureOptions(
        target=parsed,
        duration=duration,
        frequency=frequency,
        call_graph=call_graph,
        event=event,
        max_perf_data_mb=max_perf_data,
        forks=forks,
        out=out_dir,
        formats=fmts,
        keep_perf_data=not no_perf_data,
        detach=detach,
        rate_limit_mb_s=rate_limit,
        stall_timeout_s=stall_timeout,
        ssh=SshSettings(connect_timeout=connect_timeout, accept_new_host_keys=accept_new_host_keys),
        inventories=sources,
        limit=limit,
    )
    check_out_dir(out_dir)  # before the lock file: nothing is created in a folder someone else can swap
    with ScheduleLock(out_dir, schedule_key(parsed, sources, limit)):
        with _reporting([h.name for h in hosts], quiet or json_out, log_file) as reporter:
            outcome = run_capture(hosts, options, reporter)
        pruned = prune(out_dir, keep, target=parsed) if keep and not outcome.abandoned else []
    _show_outcome(outcome, json_out, quiet, log_file, [p.name for p in pruned], fetch_hint=_fetch_hint(outcome.manifest.id, out_dir, outcome.manifest.inventories))
    raise typer.Exit(outcome.exit_code)


def _warn_shared_addresses(hosts: list[HostRecord]) -> None:
    """Two inventory names for one machine are both captured (each gets its own folder there),
    but the operator probably did not mean to record it twice."""
    by_address: dict[tuple[str, int], list[str]] = {}
    for host in hosts:
        if not host.is_local:
            by_address.setdefault((host.address, host.port or 22), []).append(host.name)
    for (address, port), names in by_address.items():
        if len(names) > 1:
            warn(f"{' and '.join(names)} resolve to the same address ({address}:{port}): that machine is recorded once per name")


def _fetch_hint(capture_id: str, out_dir: Path, inventories: list[str]) -> str:
    """The command that finishes this capture; it names the inventory the capture recorded (fetch
    reuses it without -i)."""
    command = shlex.join(["fleetflame", "fetch", capture_id, "--out", str(out_dir)])
    return f"{command}   (inventory: {', '.join(inventories) or 'give -i'})"


@app.command()
@operator_errors
def fetch(
    capture: Annotated[
        str | None,
        typer.Argument(
            metavar="[CAPTURE]",
            help="The capture to finish: its id (as `run --detach` printed it) or its folder. Without it, every unfinished capture in OUT.",
            show_default=False,
        ),
    ] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Only the newest unfinished capture in OUT, or, if none, the newest left on the hosts.")] = False,
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    out_dir: OutOpt = Path("captures"),
    formats: FormatOpt = "svg,html",
    no_perf_data: NoPerfDataOpt = False,
    forks: ForksOpt = defaults.FORKS,
    rate_limit: RateOpt = None,
    stall_timeout: StallOpt = 120.0,
    max_perf_data: Annotated[
        int | None,
        typer.Option(
            "--max-perf-data",
            metavar="MB",
            min=1,
            help=(
                "Bound what a host may send back as `run --max-perf-data` does (perf.data up to this + 10 % + 16 MB, twice this "
                "of compressed perf script output). Default: the value the capture was started with. Raise it to fetch a host "
                "that was refused for sending more: it keeps its results."
            ),
            show_default=False,
        ),
    ] = None,
    accept_new_host_keys: HostKeysOpt = False,
    log_file: LogOpt = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Finish captures started earlier: wait for perf to end, symbolize, pull, verify, report, clean up.

    With no CAPTURE, finishes every unfinished capture in OUT, oldest first; when there is none,
    looks for captures left on the hosts (a `run --detach` from another machine, a run that was
    killed). A capture remembers the inventory and --limit it was started with; -i overrides.

    Idempotent and resumable: run it again after an interruption and it completes what is missing
    without pulling twice what already arrived. Prints "nothing to fetch" and exits 0 when there
    is nothing to do.
    """
    from ..capture.recover import plan_fetch
    from ..api import fetch_capture
    from ..connection.settings import SshSettings
    from ..report import parse_formats

    stall_timeout = _stall_timeout(stall_timeout)
    fmts = parse_formats(formats)
    ssh = SshSettings(accept_new_host_keys=accept_new_host_keys)
    plan = plan_fetch(out_dir, capture, latest, inventory, limit, lambda: select_hosts(inventory, limit, announce=False if quiet or json_out else None), ssh, forks)
    for warning in plan.warnings:
        warn(warning)
    jobs = [job for job in plan.jobs if job.hosts]
    if not jobs:
        if not quiet and not json_out:
            for note in plan.notes:
                print_line(err, note)
            print_line(out, "nothing to fetch")
        raise typer.Exit(0)  # --json: one document per capture finished, so none here
    worst = 0
    for job in jobs:
        pending = [h.name for h in job.hosts]
        with _reporting(pending, quiet or json_out, log_file) as reporter:
            outcome = fetch_capture(
                job.folder, job.manifest, job.hosts, ssh, forks, fmts, reporter, not no_perf_data, rate_limit, stall_timeout_s=stall_timeout,
                max_perf_data_mb=max_perf_data,
            )
        hint = _fetch_hint(outcome.manifest.id, out_dir, [str(p) for p in inventory] or outcome.manifest.inventories)
        _show_outcome(outcome, json_out, quiet, log_file, fetch_hint=hint)
        worst = max(worst, outcome.exit_code)
    raise typer.Exit(worst)


def _reporting(hosts: list[str], silent: bool, log_file: Path | None) -> AbstractContextManager[Reporter | None]:
    from ..progress import reporting

    return reporting(hosts, err if not silent and err.is_terminal else None, log_file)


def _show_outcome(outcome: object, json_out: bool, quiet: bool, log_file: Path | None, pruned: list[str] | None = None, fetch_hint: str = "") -> None:
    from ..capture.runner import RunOutcome
    from ..progress import log_line, recap_json, recap_notes, recap_table

    assert isinstance(outcome, RunOutcome)
    manifest = outcome.manifest
    if log_file:
        failed = ", ".join(manifest.failed_hosts) or "none"
        log_line(log_file, f"capture {manifest.id} exit {outcome.exit_code}: {manifest.total_samples} samples, failed: {failed}")
    if json_out:
        print(recap_json(manifest, str(outcome.folder), outcome.exit_code, pruned or []))
    elif outcome.detached:
        if not quiet:
            print_table(out, recap_table(manifest, detached=True))
        print(manifest.id)  # even with --quiet: scripts take the id from here
        if manifest.pending_hosts and not quiet:
            print_line(err, "perf is recording on the hosts; finish with: ", fetch_hint)
    elif not quiet:
        print_table(out, recap_table(manifest))
        for name, note in recap_notes(manifest):
            print_line(out, f"{name}: ", note)
        if manifest.stopped_early:
            print_line(out, f"stopped early: {manifest.duration_s:g} s of the {manifest.requested_duration_s:g} s requested were recorded")
        print_skew_summary(outcome.folder)
        print_line(out, "capture folder: ", str(outcome.folder))
        if outcome.reports:
            print_line(out, "flamegraph:     ", str(outcome.folder / "flamegraph.html"))
        else:
            print_line(out, "no flamegraph: no host was captured")
        if manifest.pending_hosts:
            print_line(out, "unfinished hosts stay on their hosts; finish them with: ", fetch_hint)
        for name in pruned or []:
            print_line(out, "pruned:         ", name)
    if quiet:
        for name in manifest.failed_hosts:
            print_line(err, f"{name}: ", manifest.hosts[name].error or "failed")
    if outcome.abandoned:
        print_line(err, f"abandoned by a second interrupt; what had arrived is kept in {outcome.folder}")
