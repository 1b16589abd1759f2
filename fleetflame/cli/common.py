"""What every command shares: the consoles, the operator-error wrapper, the common options, and
how a capture named on the command line is found.

Output rule (see fleetflame/terminal.py): text from a host, an inventory, a manifest or a file
is printed through `print_line` / `literal_line` / `print_table`, never as rich markup.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from ..errors import FleetflameError, InputError
if TYPE_CHECKING:
    from ..capture.manifest import Manifest
from ..inventory.model import HostRecord
from ..terminal import print_line

# No highlighting and no emoji codes: a host's text is printed as it is (`:fire:` stays text).
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)

P = ParamSpec("P")
R = TypeVar("R")


def operator_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a FleetflameError as one line and exit with its code; tracebacks are for bugs only."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except FleetflameError as exc:
            print_line(err, ("error:", "bold red"), " ", str(exc))
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            raise  # the reader went away (`| head`): Typer exits quietly
        except OSError as exc:  # a file the operator named cannot be read or written: not a bug
            where = f"{exc.filename}: " if exc.filename else ""
            print_line(err, ("error:", "bold red"), " ", f"{where}{exc.strerror or exc}")
            raise typer.Exit(1) from None

    return wrapper


def warn(text: str) -> None:
    """A warning line on stderr; `text` may come from anywhere (it is printed literally)."""
    print_line(err, ("warning:", "yellow"), " ", text)


InventoryOpt = Annotated[
    list[Path],
    typer.Option(
        "-i",
        "--inventory",
        help=(
            "Ansible inventory (YAML or INI file, or a folder); repeat to merge several, as with ansible -i. "
            "Without it, as Ansible: ANSIBLE_INVENTORY, then inventory = in ansible.cfg, then /etc/ansible/hosts."
        ),
        show_default=False,
    ),
]
LimitOpt = Annotated[
    str | None,
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
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder holding capture folders OUT/CAPTURE_ID/.")]
CaptureArg = Annotated[
    str,
    typer.Argument(
        metavar="CAPTURE",
        help="A capture: its id (looked up in --out, as `fleetflame captures` lists it) or the path of its folder.",
        show_default=False,
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option("--from", metavar="A", help="Start of a window: seconds from the start of the recording (12.4) or a UTC time of day (12:03:41.200). With --until.", show_default=False),
]
UntilOpt = Annotated[str | None, typer.Option("--until", metavar="B", help="End of the window, written the same ways.", show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no table (for cron); errors still go to stderr.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Fleet outputs, comma separated: svg,html,folded,speedscope,pprof.")]
HostKeysOpt = Annotated[
    bool,
    # One explicit name: no --no-accept-new-host-keys twin to crowd --help.
    typer.Option("--accept-new-host-keys", help="Trust and remember keys of hosts not yet in known_hosts (never changed keys)."),
]
NoPerfDataOpt = Annotated[bool, typer.Option("--no-perf-data", help="Do not pull perf.data back (stacks only).")]
RateOpt = Annotated[
    float | None,
    typer.Option("--rate-limit", metavar="MB/S", help="Cap each host's transfer at this many MB/s, to spare the validator's network.", min=0.01),
]
ForksOpt = Annotated[
    int,
    typer.Option(help="At most this many hosts connect, symbolize and transfer at once; recording starts everywhere together.", min=1),
]
LogOpt = Annotated[Path | None, typer.Option("--log-file", help="Append a timestamped line per host event and the recap here (for cron).")]


def select_hosts(inventories: list[Path], limit: str | None, *, announce: bool | None = None) -> list[HostRecord]:
    """The hosts that the inventories and --limit select; the note and warnings go to stderr.

    Without -i the inventory is found as Ansible finds it (ANSIBLE_INVENTORY, ansible.cfg,
    /etc/ansible/hosts). `announce` prints which inventory was read ("inventory: … (from …)"):
    always when True, never when False; by default only when it was found without -i and stderr
    is a terminal, so cron jobs and pipes stay quiet while a person sees which fleet is profiled.
    """
    from ..inventory import discover_inventory, load_inventories, select

    found = discover_inventory(inventories)
    if announce or (announce is None and found.discovered and err.is_terminal):
        err.print(found.describe(), markup=False, highlight=False, soft_wrap=True)
    for warning in found.warnings:
        warn(warning)
    loaded = load_inventories(found.paths)
    selection = select(loaded, limit or "all")
    for warning in [*loaded.warnings, *selection.warnings]:
        warn(warning)
    return list(selection.hosts)


def emit(data: str | bytes, output: Path | None) -> None:
    """Write a rendered output to a file, or to stdout when no file is given."""
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


def open_capture(name: str, out_dir: Path) -> tuple[Path, Manifest]:
    """The capture an operator named and its manifest (ManifestError, one line, if damaged);
    a renamed folder is noted once on stderr."""
    from ..capture.manifest import read_manifest, renamed_note

    folder = resolve_capture(name, out_dir)
    manifest = read_manifest(folder)
    note = renamed_note(folder, manifest)
    if note:
        print_line(err, ("note:", "cyan"), " ", note)
    return folder, manifest


def resolve_capture(name: str, out_dir: Path) -> Path:
    """The capture folder an operator named: the path of a capture folder, or a capture id looked
    up in OUT. InputError naming every place tried when neither holds a capture."""
    from ..capture import MANIFEST
    from ..capture.ids import is_capture_id

    path = Path(name)
    if (path / MANIFEST).is_file():
        return path
    is_id = is_capture_id(name)
    if is_id and (out_dir / name / MANIFEST).is_file():
        return out_dir / name
    if path.is_dir():
        here = f"{name} is not a capture folder (it has no {MANIFEST})"
    elif path.exists():
        here = f"{name} is a file, not a capture folder"
    else:
        here = f"{name} is not a capture folder (no such folder)"
    there = f"and there is no capture {name} in {out_dir} (--out)" if is_id else "nor a capture id (like 20261125T221500Z-all)"
    raise InputError(f"{here}, {there}: give a capture folder, or an id that `fleetflame captures --out DIR` lists")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|min|h)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`30`, `30s`, `1.5`, `2m`, `500ms`, `1h` → seconds (what cron lines and humans write)."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r}: give seconds (30, 1.5) or a number with a unit: 30s, 2m, 500ms, 1h")
    return float(match[1]) * _UNIT_S[match[2]]


def duration_option(help_text: str, minimum: float) -> typer.models.OptionInfo:
    """A `--duration` that takes `30`, `30s` or `2m`, and at least `minimum` seconds."""

    def parse(text: str) -> float:
        seconds = text if isinstance(text, float) else parse_duration(text)
        if seconds < minimum:
            raise typer.BadParameter(f"{text!r}: at least {minimum:g} s")
        return seconds

    return typer.Option("--duration", help=help_text, parser=parse, metavar="DURATION")


def window_option(from_text: str | None, until_text: str | None) -> tuple[str, str] | None:
    """--from/--until as given: both or neither (timeline/window.py reads them)."""
    if from_text is None and until_text is None:
        return None
    if from_text is None or until_text is None:
        raise InputError("a window needs both --from and --until")
    return from_text, until_text
