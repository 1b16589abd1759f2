"""`tiles`, `check` and `hosts`: look at the fleet without recording."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import app
from .common import (
    HostKeysOpt,
    InventoryOpt,
    JsonOpt,
    LimitOpt,
    TargetArg,
    err,
    operator_errors,
    out,
    select_hosts,
)


@app.command()
@operator_errors
def tiles(
    target: TargetArg,
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    json_out: JsonOpt = False,
    accept_new_host_keys: HostKeysOpt = False,
) -> None:
    """Show which threads TARGET resolves to on each host (host x tile x pid x tid), without recording.

    Tiles come from the validator's tile_pid/tile_tid metrics, or from KIND:IDX thread names when
    the metrics do not answer (the source column says which). Exit code 1 if any host failed.
    """
    from ..connection.settings import SshSettings
    from ..host.probe import failures, resolve_fleet, tiles_json, tiles_table
    from ..host.targets import parse_target
    from ..terminal import print_line, print_table

    parsed = parse_target(target)
    hosts = select_hosts(inventory, limit)
    results = resolve_fleet(hosts, parsed, SshSettings(accept_new_host_keys=accept_new_host_keys))
    if json_out:
        print(tiles_json(results))
    else:
        print_table(out, tiles_table(results))
        for host, error in failures(results):
            print_line(out, ("FAILED", "red"), " ", f"{host}: {error}")
        for result in results:
            for note in result.notes:
                print_line(err, ("note:", "yellow"), " ", f"{result.host}: {note}")
    raise typer.Exit(1 if any(r.error for r in results) else 0)


@app.command()
@operator_errors
def check(
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    accept_new_host_keys: HostKeysOpt = False,
) -> None:
    """Preflight every host: SSH, perf and its version, root or sudo -n (sandboxed tiles need
    root), setpriv or capsh (so perf script keeps the tiles' symbols), perf_event_paranoid, the
    metrics endpoint, tiles found (and those `all` would skip), fleetflame_tmpdir (free space, and
    the owner and mode of it and every folder above it, as a capture checks them), and the host's
    clock against this machine's (a note when it is more than 50 ms off).

    One line per problem, saying what to do; exit code 1 if any host has a problem.
    """
    from ..host.check import check_fleet
    from ..connection.settings import SshSettings
    from ..terminal import print_line

    results = check_fleet(select_hosts(inventory, limit), SshSettings(accept_new_host_keys=accept_new_host_keys))
    for result in results:
        if result.ok:
            facts = result.facts
            who = "root" if facts.get("uid") == "0" else "sudo -n"
            source = {"proc": "thread names"}.get(facts.get("tile_source", "?"), facts.get("tile_source", "?"))
            summary = f"{facts.get('perf', '?')}, {who}, {facts.get('tiles', '0')} tiles via {source}"
            print_line(out, ("ok", "green"), "      ", f"{result.host}: {summary}")
        for problem in result.problems:
            print_line(out, ("problem", "red"), " ", problem)
        for note in result.notes:
            print_line(out, ("note", "yellow"), "    ", f"{result.host}: {note}")
    bad = sum(1 for r in results if not r.ok)
    print_line(out, f"{len(results) - bad} of {len(results)} hosts ready")
    raise typer.Exit(1 if bad else 0)


@app.command()
@operator_errors
def hosts(
    inventory: InventoryOpt = [],  # noqa: B006
    limit: LimitOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print each host with its connection settings as JSON.")] = False,
) -> None:
    """List the hosts an inventory and --limit select (the same as `ansible -i INV PATTERN --list-hosts`).

    Without -i the inventory is the one Ansible would use: ANSIBLE_INVENTORY, then `inventory =`
    in ansible.cfg (ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg),
    then /etc/ansible/hosts. Which one was read is said on stderr; stdout is only the host list.
    """
    import json

    from ..inventory import host_record_to_json

    selected = select_hosts(inventory, limit, announce=True)
    if json_out:
        print(json.dumps([host_record_to_json(h) for h in selected], indent=2))
        return
    out.print(f"  hosts ({len(selected)}):", highlight=False)
    for host in selected:
        out.print(f"    {host.name}", highlight=False)
