"""Renderers of folded stacks: one module per output format, looked up by name in RENDERERS.

    from fleetflame.render import FlameGraphOptions, render, write_output
    svg = render("svg", stacks, FlameGraphOptions(title="lab01"))
    write_output("html", stacks, "out/flamegraph.html", options)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from fleetflame.errors import InputError
from fleetflame.render import foldedtext, html, pprof, speedscope, svg
from fleetflame.render.options import FlameGraphOptions

__all__ = ["FlameGraphOptions", "RENDERERS", "Renderer", "render", "write_output", "output_name"]


class Renderer(NamedTuple):
    extension: str  # with the dot, as Path.suffix: ".svg", ".speedscope.json"
    render: Callable[[Mapping[str, int], FlameGraphOptions], bytes | str]


RENDERERS: dict[str, Renderer] = {
    "svg": Renderer(svg.EXTENSION, svg.render),
    "html": Renderer(html.EXTENSION, html.render),
    "folded": Renderer(foldedtext.EXTENSION, foldedtext.render),
    "speedscope": Renderer(speedscope.EXTENSION, speedscope.render),
    "pprof": Renderer(pprof.EXTENSION, pprof.render),
}


def get(name: str) -> Renderer:
    try:
        return RENDERERS[name]
    except KeyError:
        raise InputError(f"unknown output format {name!r}; choose from {', '.join(RENDERERS)}") from None


def render(fmt: str, stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> bytes | str:
    return get(fmt).render(stacks, options or FlameGraphOptions())


def output_name(fmt: str, stem: str = "flamegraph") -> str:
    """File name for a format, e.g. ("speedscope") -> "flamegraph.speedscope.json"."""
    return f"{stem}{get(fmt).extension}"


def write_output(
    fmt: str, stacks: Mapping[str, int], path: str | Path, options: FlameGraphOptions | None = None, *, dir_fd: int | None = None
) -> Path:
    """Render and write one file (text as UTF-8); returns the path written.

    The file is written whole or not at all, 0600: to a new temporary name, renamed over `path`
    (capture.files.replace_file), so a link at `path` is replaced, never written through, and an
    old file is never truncated. With `dir_fd` (an opened folder), `path` is a name in it."""
    from fleetflame.capture.files import replace_file  # (lazy: the capture package imports renderers' users)

    content = render(fmt, stacks, options)
    replace_file(path, content, dir_fd=dir_fd)
    return Path(path)
