"""Turn a capture folder's per-host stacks into fleet-wide outputs: merge, analyse, render.

Reads only files in the folder (hosts/*/stacks.folded, manifest.json), so `fleetflame report`
can redraw a capture offline, as `run` and `fetch` do when they finish.

The fleet graph's default grouping depends on the fleet's size: up to HOST_THRESHOLD hosts it is
by host (`host;tile;...`), each host readable side by side; above that, by tile kind with the
hosts merged (`KIND;...`), since 50 hosts × 14 tiles leave a tile under 2 px.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import folded
from .capture import FLEET_FOLDED, STACKS_FOLDED, Manifest, host_dir
from .errors import InputError
from .render import RENDERERS, FlameGraphOptions, html, pprof
from .render.model import FleetContext, tile_kind

DEFAULT_FORMATS = ("svg", "html")
EXPORT_FORMATS = ("pprof", "speedscope")  # written from the fleet stacks as stored, see _export_options
GROUPINGS = ("auto", "host", "kind", "tile", "none")
HOST_THRESHOLD = 3  # more hosts than this: the default view is by tile kind, hosts merged
VIEWER_VIEWS = {"host": "host", "kind": "kind", "tile": "kind", "none": "merged"}  # grouping → the viewer's first view


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


def resolve_grouping(group_by: str, host_count: int) -> str:
    """`auto` → `host` for a few hosts, `kind` for more than HOST_THRESHOLD."""
    if group_by != "auto":
        return group_by
    return "kind" if host_count > HOST_THRESHOLD else "host"


def regroup(stacks: Mapping[str, int], group_by: str) -> folded.Stacks:
    """Reorder the root frames of fleet stacks: by host (as stored), by tile (`tile;host;...`),
    by tile kind with hosts and tile indices merged (`KIND;...`), or neither (`...`)."""
    if group_by == "host":
        return dict(stacks)
    out: folded.Stacks = {}
    kinds: dict[str, str] = {}
    for stack, count in stacks.items():
        parts = stack.split(";", 2)
        if len(parts) < 3:
            key = stack
        elif group_by == "tile":
            key = f"{parts[1]};{parts[0]};{parts[2]}"
        elif group_by == "kind":
            kind = kinds.get(parts[1]) or kinds.setdefault(parts[1], tile_kind(parts[1]))
            key = f"{kind};{parts[2]}"
        else:
            key = parts[2]
        out[key] = out.get(key, 0) + count
    return out


def _title(manifest: Manifest, scope: str) -> FlameGraphOptions:
    ok = len(manifest.ok_hosts)
    recorded = f"{manifest.duration_s:g} s" + (f" (stopped early; {manifest.requested_duration_s:g} s requested)" if manifest.stopped_early else "")
    subtitle = f"{manifest.id} · target {manifest.target} · {recorded} at {manifest.frequency_hz} Hz · {ok}/{len(manifest.hosts)} hosts"
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


def idle_tiles(stacks: Mapping[str, int], manifest: Manifest) -> list[dict[str, Any]]:
    """Tiles of completed hosts that have no frame in the graphs, and why: recorded but took no
    sample (`no samples`), or skipped because they were not running (`shut down`, `booting`,
    `not running`). [{tile, reason, hosts}]"""
    sampled = set()
    for stack in stacks:
        host_name, _, rest = stack.partition(";")
        sampled.add((host_name, rest.partition(";")[0]))
    idle: dict[tuple[str, str], list[str]] = {}
    for name, result in manifest.hosts.items():
        if result.status != "ok":
            continue
        for tile in result.tiles:
            tile_name = str(tile.get("name", "")) if isinstance(tile, dict) else ""
            if tile_name and (name, tile_name) not in sampled:
                idle.setdefault((tile_name, "no samples"), []).append(name)
        for skipped in result.skipped_tiles:
            idle.setdefault((skipped["tile"], skipped["reason"]), []).append(name)
    return [{"tile": tile, "reason": reason, "hosts": sorted(hosts)} for (tile, reason), hosts in sorted(idle.items())]


def skew_findings(folder: Path, stacks: Mapping[str, int], manifest: Manifest) -> dict[str, Any] | None:
    """Skew of the capture (fleetflame.analysis.skew), written to skew.json and returned as its JSON."""
    from .analysis.skew import analyse, write_skew_json

    resolved = {
        name: [str(t.get("name")) for t in host.tiles if isinstance(t, dict)]
        for name, host in manifest.hosts.items()
        if host.status == "ok"
    }
    report = analyse(stacks, resolved=resolved)
    write_skew_json(folder, report)
    data: dict[str, Any] = json.loads(json.dumps(report.to_json()))  # plain JSON, as the file holds
    return data


def fleet_context(folder: Path, stacks: Mapping[str, int], manifest: Manifest, grouping: str) -> FleetContext:
    """What the fleet page shows besides the stacks: skew findings, idle tiles, failed hosts."""
    failed = [{"host": name, "error": manifest.hosts[name].error or manifest.hosts[name].status} for name in manifest.failed_hosts]
    return FleetContext(
        default_view=VIEWER_VIEWS.get(grouping, "kind"),
        skew=skew_findings(folder, stacks, manifest),
        idle_tiles=idle_tiles(stacks, manifest),
        failed_hosts=failed,
        host_threshold=HOST_THRESHOLD,
    )


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
    folder: Path, manifest: Manifest, formats: Iterable[str] = DEFAULT_FORMATS, group_by: str = "auto"
) -> list[Path]:
    """Write fleet.folded, skew.json, the fleet graphs in every format, and one SVG per host."""
    formats = tuple(formats)
    stacks = fleet_stacks(folder, manifest)
    folded.write_folded(stacks, folder / FLEET_FOLDED)
    written = [folder / FLEET_FOLDED]
    grouping = resolve_grouping(group_by, len(manifest.hosts) - len(manifest.failed_hosts))
    context = fleet_context(folder, stacks, manifest, grouping)
    written.append(folder / "skew.json")
    options = _title(manifest, "fleet")
    fleet_formats = [f for f in formats if f not in ("folded", "html", *EXPORT_FORMATS)]
    written += write_outputs(regroup(stacks, grouping), folder, "flamegraph", fleet_formats, options)
    exports = [f for f in formats if f in EXPORT_FORMATS]
    written += write_outputs(stacks, folder, "flamegraph", exports, _export_options(manifest, options))
    if "html" in formats:
        page = folder / f"flamegraph{html.EXTENSION}"
        page.write_text(html.render_fleet(stacks, options, context), encoding="utf-8")
        written.append(page)
    for name, host in manifest.hosts.items():
        path = host_dir(folder, name) / STACKS_FOLDED
        if host.status == "ok" and path.exists():
            host_stacks = folded.read_folded(path)
            written += write_outputs(host_stacks, path.parent, "flamegraph", ["svg"], _title(manifest, name))
    return written
