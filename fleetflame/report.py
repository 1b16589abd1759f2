"""Turn a capture folder's per-host stacks into fleet-wide outputs: merge, then render.

Reads only files in the folder (hosts/*/stacks.folded, manifest.json), so `fleetflame report`
can redraw a capture offline, as `run` and `fetch` do when they finish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from . import folded
from .capture import FLEET_FOLDED, STACKS_FOLDED, Manifest, host_dir
from .errors import InputError
from .render import RENDERERS, FlameGraphOptions, html, pprof

DEFAULT_FORMATS = ("svg", "html")
EXPORT_FORMATS = ("pprof", "speedscope")  # written from the fleet stacks as stored, see _export_options
GROUPINGS = ("host", "tile", "none")


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown or not formats:
        raise InputError(
            f"unknown output format {', '.join(unknown) or repr(text)}: choose from {', '.join(RENDERERS)}"
        )
    return formats


def fleet_stacks(folder: Path, manifest: Manifest) -> folded.Stacks:
    """`host;tile;frame;...` for every host that completed."""
    per_host = []
    for name, host in manifest.hosts.items():
        path = host_dir(folder, name) / STACKS_FOLDED
        if host.status == "ok" and path.exists():
            per_host.append(folded.with_prefix(folded.read_folded(path), name))
    return folded.merge(per_host)


def regroup(stacks: Mapping[str, int], group_by: str) -> folded.Stacks:
    """Reorder the two root frames of fleet stacks: by host (as stored), by tile, or neither."""
    if group_by == "host":
        return dict(stacks)
    out: folded.Stacks = {}
    for stack, count in stacks.items():
        parts = stack.split(";", 2)
        if len(parts) < 3:
            key = stack
        elif group_by == "tile":
            key = f"{parts[1]};{parts[0]};{parts[2]}"
        else:
            key = parts[2]
        out[key] = out.get(key, 0) + count
    return out


def _title(manifest: Manifest, scope: str) -> FlameGraphOptions:
    ok = len(manifest.hosts) - len(manifest.failed_hosts)
    subtitle = (
        f"{manifest.id} · target {manifest.target} · {manifest.duration_s:g} s at {manifest.frequency_hz} Hz"
        f" · {ok}/{len(manifest.hosts)} hosts"
    )
    return FlameGraphOptions(title=f"fleetflame: {scope}", subtitle=subtitle)


def _export_options(manifest: Manifest, options: FlameGraphOptions) -> FlameGraphOptions:
    """pprof and speedscope get the fleet stacks as stored (host and tile become labels / per-host
    profiles) and how perf sampled: frequency, duration, start time."""
    return replace(
        options,
        fleet_stacks=True,
        frequency_hz=manifest.frequency_hz,
        duration_s=manifest.duration_s,
        start_time_ns=pprof.time_nanos(manifest.started_at),
    )


VIEW_NAMES = {"host": "by host (host;tile;…)", "tile": "by tile (tile;host;…)", "none": "merged (all hosts and tiles)"}


def fleet_views(stacks: Mapping[str, int], group_by: str) -> dict[str, folded.Stacks]:
    """The fleet graph three ways, the chosen grouping first: the HTML viewer switches between them."""
    order = [group_by] + [g for g in GROUPINGS if g != group_by]
    return {VIEW_NAMES[g]: regroup(stacks, g) for g in order}


def write_outputs(
    stacks: Mapping[str, int], folder: Path, stem: str, formats: Iterable[str], options: FlameGraphOptions
) -> list[Path]:
    written = []
    for name in formats:
        renderer = RENDERERS[name]
        path = folder / f"{stem}{renderer.extension}"
        data = renderer.render(stacks, options)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        written.append(path)
    return written


def build_reports(
    folder: Path, manifest: Manifest, formats: Iterable[str] = DEFAULT_FORMATS, group_by: str = "host"
) -> list[Path]:
    """Write fleet.folded, the fleet graphs in every format, and one SVG per host."""
    formats = tuple(formats)
    stacks = fleet_stacks(folder, manifest)
    folded.write_folded(stacks, folder / FLEET_FOLDED)
    written = [folder / FLEET_FOLDED]
    views = fleet_views(stacks, group_by)
    options = _title(manifest, "fleet")
    fleet_formats = [f for f in formats if f not in ("folded", "html", *EXPORT_FORMATS)]
    written += write_outputs(next(iter(views.values())), folder, "flamegraph", fleet_formats, options)
    exports = [f for f in formats if f in EXPORT_FORMATS]
    written += write_outputs(stacks, folder, "flamegraph", exports, _export_options(manifest, options))
    if "html" in formats:
        page = folder / f"flamegraph{html.EXTENSION}"
        page.write_text(html.render_profiles(views, options), encoding="utf-8")
        written.append(page)
    for name, host in manifest.hosts.items():
        path = host_dir(folder, name) / STACKS_FOLDED
        if host.status == "ok" and path.exists():
            host_stacks = folded.read_folded(path)
            written += write_outputs(host_stacks, path.parent, "flamegraph", ["svg"], _title(manifest, name))
    return written
