"""`tiles`, `check` and `hosts`: look at the fleet without recording."""

from __future__ import annotations

from typing import Annotated

import typer

from .app import app
from .common import (
    InventoryOpt,
    JsonOpt,
    LimitOpt,
    TargetArg,
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
    accept_new_host_keys: Annotated[bool, typer.Option(help="Trust keys of hosts not yet in known_hosts.")] = False,
) -> None:
    """Show which threads TARGET resolves to on each host (host x tile x pid x tid), without recording."""
    from ..connection.settings import SshSettings
    from ..probe import resolve_fleet, tiles_json, tiles_table
    from ..targets import parse_target

    parsed = parse_target(target)
    hosts = select_hosts(inventory, limit)
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
    from ..check import check_fleet
    from ..connection.settings import SshSettings

    results = check_fleet(select_hosts(inventory, limit), SshSettings(accept_new_host_keys=accept_new_host_keys))
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
