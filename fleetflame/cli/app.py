"""The Typer application every command module registers with."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from .common import out

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
