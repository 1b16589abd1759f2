"""Differential flame graphs: what changed between two sets of folded stacks.

Like FlameGraph's difffolded.pl (`stack before after` lines, `-n` normalisation) followed by
flamegraph.pl's differential mode: frame widths are the AFTER counts; a frame is red if it
grew, blue if it shrank, darker the larger the change. Unlike flamegraph.pl, which colours a
frame by its own (self) change, we colour by the change of everything under it, so the tile or
subsystem that grew stands out, not only its leaves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from fleetflame.errors import InputError
from fleetflame.folded import FoldedInput, load_folded, open_binary
from fleetflame.render import palette, svg
from fleetflame.render.layout import Frame, layout
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import escape

NEUTRAL = "rgb(235,235,235)"


class DiffStack(NamedTuple):
    stack: str
    before: int
    after: int


def read_side(path: str | Path) -> dict[str, int]:
    """Folded stacks from a folded file (gzip too) or a capture folder (its fleet.folded).

    A side without stacks is an InputError: diffing against nothing would draw every frame as
    new (or gone), which says nothing about either capture.
    """
    path = Path(path)
    if path.is_dir():
        read = _read_capture(path)
        path = path / "fleet.folded"
    elif not path.is_file():
        raise InputError(f"{path}: not found; give a folded file or a capture folder holding fleet.folded")
    else:
        read = load_folded(path)
    if not any(count > 0 for count in read.stacks.values()):
        ignored = f" ({read.ignored_message()})" if read.ignored else ""
        raise InputError(f"{path}: no stacks in it{ignored}: expected folded lines like 'main;work;leaf 42'")
    return read.stacks


def _read_capture(folder: Path) -> FoldedInput:
    """A capture folder's fleet.folded, read by name in the folder (opened once) and never
    through a symbolic link: a capture folder's files are fleetflame's, not pointers elsewhere."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            stream = open_binary("fleet.folded", dir_fd=fd)
        except FileNotFoundError:
            raise InputError(
                f"{folder} has no fleet.folded: finish the capture with `fleetflame fetch`, "
                f"or rebuild it with `fleetflame report {folder}`"
            ) from None
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(folder / "fleet.folded")) from None
        with stream:
            return load_folded(stream, name=str(folder / "fleet.folded"))
    finally:
        os.close(fd)


def diff_stacks(before: Mapping[str, int], after: Mapping[str, int], normalize: bool = True) -> list[DiffStack]:
    """Every stack of either side with both counts, sorted by stack.

    With `normalize` (difffolded.pl -n), BEFORE is scaled to AFTER's total, so a longer or
    busier capture does not show up as growth everywhere.
    """
    total_before = sum(v for v in before.values() if v > 0)
    total_after = sum(v for v in after.values() if v > 0)
    scale = total_after / total_before if normalize and total_before and total_after else 1.0
    rows = []
    for stack in sorted(before.keys() | after.keys()):
        b = round(max(before.get(stack, 0), 0) * scale)
        a = max(after.get(stack, 0), 0)
        if a or b:
            rows.append(DiffStack(stack, b, a))
    return rows


def format_diff_folded(rows: Iterable[DiffStack]) -> str:
    """difffolded.pl's output: `stack BEFORE AFTER` per line."""
    return "".join(f"{r.stack} {r.before} {r.after}\n" for r in rows)


def delta_color(delta: int, max_delta: int) -> str:
    if not delta or not max_delta:
        return NEUTRAL
    fade = int(215 * (1 - min(abs(delta) / max_delta, 1.0)))
    return f"rgb(255,{fade},{fade})" if delta > 0 else f"rgb({fade},{fade},255)"


def render_diff_svg(
    rows: Iterable[DiffStack], options: FlameGraphOptions | None = None, *, title: str | None = None
) -> str:
    """The differential SVG of `diff_stacks` rows: widths from AFTER, colours from AFTER - BEFORE."""
    if options is None:
        options = FlameGraphOptions(title="Differential Flame Graph", subtitle="width: after · red: grew · blue: shrank")
    if title is not None:
        options = replace(options, title=title)
    svg.check_options(options)
    rows = list(rows)
    after_map = {r.stack: r.after for r in rows}
    before_map = {r.stack: r.before for r in rows}
    total = sum(after_map.values())
    frames = layout(after_map, svg.min_count_for(total, options), other=before_map)
    max_delta = max((abs(f.width - f.other) for f in frames if f.depth), default=0)
    count_name = escape(options.count_name)
    root_colour = palette.css_rgb(palette.frame_color("all", palette.ROOT))

    def fill(frame: Frame) -> str:
        return root_colour if frame.depth == 0 else delta_color(frame.width - frame.other, max_delta)

    def info(frame: Frame, name: str) -> str:
        delta = frame.width - frame.other
        share = 100 * delta / total if total else 0.0
        change = f", {100 * delta / frame.other:+.1f}% vs before" if frame.other else ", new"
        return (
            f"{name} (before {frame.other:,}, after {frame.width:,} {count_name}; "
            f"{delta:+,}, {share:+.2f}% of total{change})"
        )

    return svg.draw(frames, options, fill, info)
