"""The Typer application every command module registers with, and how its help and usage errors read.

Help is Click's plain layout (`rich_markup_mode=None`): `-i, --inventory PATH` on the left, the
help wrapped beside it. Unlike rich's boxed panels, it never cuts a flag name at 80 columns,
reads the same in a pipe, and prints help text literally (rich markup would eat `[0:2]`).

A usage error (unknown option, missing argument, bad value) is one line on stderr, exit 2, like
fleetflame's own input errors: `error: No such option: --bogus; see fleetflame run --help`.

Command lists give each command's whole first sentence, wrapped (Click cuts it with "..."), and
`fleetflame --help` lists the commands in the order of a session: look, record, analyse, tools.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

# Typer 0.26 ships its own copy of Click and does not re-export these; the version is pinned
# (pyproject.toml), so the private path is stable for us.
from typer import _click as click
from typer._click import _textwrap
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from .. import __version__
from ..terminal import print_line
from .common import err, out


class _WholeWords(_textwrap.TextWrapper):
    """Click's help wrapper, except that it never splits a word at a hyphen (`--min-` / `difference`)
    or cuts a long one: a flag or a path in a help text stays whole, to be read and copied."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.break_on_hyphens = False
        self.break_long_words = False


# Click builds its wrapper from this name at each call and offers no option for it.
_textwrap.TextWrapper = _WholeWords  # type: ignore[misc]


class HelpfulGroup(TyperGroup):
    """A command group whose --help gives every command's first sentence whole."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


# `fleetflame --help` order; a command not named here (a new one) comes after these.
COMMAND_ORDER = ("hosts", "check", "tiles", "run", "fetch", "captures", "report", "diff", "skew", "timeline", "flamegraph", "collapse", "demo")


class RootGroup(HelpfulGroup):
    """The `fleetflame` command: commands in COMMAND_ORDER, Click's usage errors as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        run = super().main
        if not standalone_mode:
            return run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            # Not standalone: Click raises its errors to us and returns exit codes it would exit with.
            code = run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as exc:  # `fleetflame` alone: the help is the answer
            exc.show()
            sys.exit(exc.exit_code)
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "fleetflame"
            print_line(err, ("error:", "bold red"), " ", f"{exc.format_message().rstrip('.')}; see {command} --help")
            sys.exit(exc.exit_code)
        except ClickException as exc:
            print_line(err, ("error:", "bold red"), " ", exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort:
            print_line(err, "aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="fleetflame",
    cls=RootGroup,
    help=(
        "Profile Firedancer / Frankendancer validators across a whole fleet with perf, and merge "
        "the results into flamegraphs of the fleet, of each host and of each tile.\n\n"
        "Typical use:\n\n"
        "    fleetflame check -i inventories/mainnet.yml\n\n"
        "    fleetflame run 'verify:*' -i inventories/mainnet.yml --duration 30\n\n"
        "Every command explains its options: fleetflame COMMAND --help."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"fleetflame {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """fleetflame: fleet-wide perf flamegraphs."""
