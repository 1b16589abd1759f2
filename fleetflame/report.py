"""Turn a capture folder's per-host stacks into fleet-wide outputs: merge, analyse, render.

Reads only files in the folder (hosts/*/stacks.folded, manifest.json), so `fleetflame report`
can redraw a capture offline, as `run` and `fetch` do when they finish. A host whose
stacks.folded is missing (a copy of the capture without hosts/) is drawn from its lines in the
folder's fleet.folded, which is never replaced by less without a warning, nor by nothing.

The folder is opened once (`O_DIRECTORY|O_NOFOLLOW`) and made 0700 again if it is ours; every
file is read in it with `O_NOFOLLOW` and written whole to a new temporary name (0600 whatever
the umask) renamed into place (capture.files): never through a link, never truncated in place.

The fleet graph's default grouping depends on the fleet's size: up to HOST_THRESHOLD hosts it is
by host (`host;tile;...`), each host readable side by side; above that, by tile kind with the
hosts merged (`KIND;...`), since 50 hosts × 14 tiles leave a tile under 2 px.

Each host's own flamegraph.svg (hosts/HOST/) is drawn up to HOST_SVG_LIMIT completed hosts, or
as asked (`host_svgs`, `report --host-svgs/--no-host-svgs`): at 500 hosts they were 17 s of
`report`'s 20 s and 586 MB of its 588 MB (besides fleet.folded), and the HTML viewer shows any
host (docs/BENCHMARKS.md, "`report` at 500 hosts")."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import folded
from .capture import FLEET_FOLDED, STACKS_FOLDED, Manifest, files
from .capture.folder import CaptureFolder
from .errors import InputError
from .render import RENDERERS, FlameGraphOptions, html, pprof, write_output
from .host.targets import tile_kind
from .render.model import FleetContext

if TYPE_CHECKING:
    from .timeline.store import Timeline

DEFAULT_FORMATS = ("svg", "html")
EXPORT_FORMATS = ("pprof", "speedscope")  # written from the fleet stacks as stored, see _export_options
GROUPINGS = ("auto", "host", "kind", "tile", "none")
HOST_THRESHOLD = 3  # more hosts than this: the default view is by tile kind, hosts merged
HOST_SVG_LIMIT = 16  # more completed hosts than this: no per-host SVG unless asked for (host_svgs=True)
VIEWER_VIEWS = {"host": "host", "kind": "kind", "tile": "kind", "none": "merged"}  # grouping → the viewer's first view


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown or not formats:
        raise InputError(
            f"unknown output format {', '.join(unknown) or repr(text)}: choose from {', '.join(RENDERERS)}"
        )
    return formats


def fleet_stacks(folder: Path | CaptureFolder, manifest: Manifest) -> folded.Stacks:
    """`host;tile;frame;...` for every host that completed, from hosts/HOST/stacks.folded; a host
    whose stacks.folded is missing is taken from its lines in the folder's fleet.folded (a copy
    of the capture without hosts/ keeps its stacks)."""
    if isinstance(folder, Path):
        opened = CaptureFolder(folder)
        try:
            return fleet_stacks(opened, manifest)
        finally:
            opened.close()
    return _fleet_stacks(folder, manifest, None)


def _fleet_stacks(folder: CaptureFolder, manifest: Manifest, keep: dict[str, folded.Stacks] | None) -> folded.Stacks:
    """fleet_stacks; with `keep`, each host's stacks.folded read is also put in it, by host name."""
    per_host = []
    missing = {}
    for name, host in manifest.hosts.items():
        if host.status != "ok":
            continue
        stacks = folder.host_stacks(name)
        if stacks is None:
            missing[name.replace(";", ":")] = name  # its root frame in fleet.folded (folded.with_prefix)
        else:
            per_host.append(folded.with_prefix(stacks, name))
            if keep is not None:
                keep[name] = stacks
    if missing:
        old = folder.old_fleet() or {}
        kept = {stack: count for stack, count in old.items() if stack.partition(";")[0] in missing}
        per_host.append(kept)
        found = {stack.partition(";")[0] for stack in kept}
        for root, name in missing.items():
            if root not in found and manifest.hosts[name].samples > 0:
                files.warn(
                    f"{folder.host_path(name, STACKS_FOLDED)} is missing and {folder.path / FLEET_FOLDED} has none of "
                    f"{name}'s stacks: {name} ({manifest.hosts[name].samples:,} samples) has no frames in the graphs"
                )
    return folded.merge(per_host)


def _host_totals(stacks: Mapping[str, int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stack, count in stacks.items():
        root = stack.partition(";")[0]
        totals[root] = totals.get(root, 0) + count
    return totals


def write_fleet_folded(folder: CaptureFolder, stacks: folded.Stacks) -> folded.Stacks:
    """Write fleet.folded, unless that would replace its stacks by none: then it is kept (with a
    warning) and the graphs are drawn from it. Replacing it with fewer samples of any host says
    so. Returns the stacks the graphs are drawn from."""
    path = folder.path / FLEET_FOLDED
    data = folded.format_folded(stacks).encode("utf-8")
    size = files.file_size(FLEET_FOLDED, dir_fd=folder.fd)
    if size and size != len(data):
        old = folder.old_fleet() or {}
        before, after = _host_totals(old), _host_totals(stacks)
        if not stacks and any(before.values()):
            files.warn(
                f"{path}: kept as it is ({sum(before.values()):,} samples): no completed host of the manifest has "
                f"stacks here (hosts/HOST/stacks.folded) or in it; the graphs are drawn from it"
            )
            return old
        fewer = [root for root, count in before.items() if after.get(root, 0) < count]
        if fewer:
            shown = ", ".join(fewer[:5]) + (f" and {len(fewer) - 5} more" if len(fewer) > 5 else "")
            files.warn(
                f"{path}: replaced with {sum(after.values()):,} samples; it held {sum(before.values()):,} "
                f"(fewer now for {shown}: from hosts/HOST/stacks.folded and the manifest's completed hosts)"
            )
    folder.write(FLEET_FOLDED, data)
    return stacks


def wants_host_svgs(host_svgs: bool | None, host_count: int) -> bool:
    """Per-host SVGs: as asked (True / False), else (None) up to HOST_SVG_LIMIT completed hosts."""
    return host_count <= HOST_SVG_LIMIT if host_svgs is None else host_svgs


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


def skew_findings(folder: Path | CaptureFolder, stacks: Mapping[str, int], manifest: Manifest) -> dict[str, Any] | None:
    """Skew of the capture (fleetflame.analysis.skew), written to skew.json and returned as its JSON."""
    from .analysis.skew import analyse, write_skew_json

    report = analyse(stacks, resolved=manifest.recorded_tiles())
    if isinstance(folder, CaptureFolder):
        write_skew_json(folder.path, report, dir_fd=folder.fd)
    else:
        write_skew_json(folder, report)
    data: dict[str, Any] = json.loads(json.dumps(report.to_json()))  # plain JSON, as the file holds
    return data


def fleet_context(folder: Path | CaptureFolder, stacks: Mapping[str, int], manifest: Manifest, grouping: str) -> FleetContext:
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
    stacks: Mapping[str, int],
    folder: Path,
    stem: str,
    formats: Iterable[str],
    options: FlameGraphOptions,
    *,
    dir_fd: int | None = None,
) -> list[Path]:
    """Render each format as `folder/STEM.EXT`, written whole (render.write_output); with
    `dir_fd` (`folder`, opened), by name in that folder."""
    written = []
    for name in formats:
        file_name = f"{stem}{RENDERERS[name].extension}"
        write_output(name, stacks, file_name if dir_fd is not None else folder / file_name, options, dir_fd=dir_fd)
        written.append(folder / file_name)
    return written


def build_reports(
    folder: Path,
    manifest: Manifest,
    formats: Iterable[str] = DEFAULT_FORMATS,
    group_by: str = "auto",
    host_svgs: bool | None = None,
) -> list[Path]:
    """Write fleet.folded, skew.json, the fleet graphs in every format, and one SVG per host
    (`host_svgs`: True every host, False none, None up to HOST_SVG_LIMIT completed hosts)."""
    formats = tuple(formats)
    opened = CaptureFolder(folder)
    try:
        return _build(opened, manifest, formats, group_by, host_svgs)
    finally:
        opened.close()


def _build(folder: CaptureFolder, manifest: Manifest, formats: tuple[str, ...], group_by: str, host_svgs: bool | None) -> list[Path]:
    host_count = len(manifest.hosts) - len(manifest.failed_hosts)
    per_host: dict[str, folded.Stacks] | None = {} if wants_host_svgs(host_svgs, len(manifest.ok_hosts)) else None
    stacks = write_fleet_folded(folder, _fleet_stacks(folder, manifest, per_host))
    written = [folder.path / FLEET_FOLDED]
    grouping = resolve_grouping(group_by, host_count)
    context = fleet_context(folder, stacks, manifest, grouping)
    written.append(folder.path / "skew.json")
    options = _title(manifest, "fleet")
    fleet_formats = [f for f in formats if f not in ("folded", "html", *EXPORT_FORMATS)]
    written += write_outputs(regroup(stacks, grouping), folder.path, "flamegraph", fleet_formats, options, dir_fd=folder.fd)
    exports = [f for f in formats if f in EXPORT_FORMATS]
    written += write_outputs(stacks, folder.path, "flamegraph", exports, _export_options(manifest, options), dir_fd=folder.fd)
    if "html" in formats:
        timelines, start = _page_timelines(folder, manifest)
        page_context = replace(context, timelines=timelines, recording_start=start)
        written.append(folder.write(f"flamegraph{html.EXTENSION}", html.render_fleet(stacks, options, page_context)))
    # each host's graph from the stacks.folded read above (a host drawn from fleet.folded has none)
    for name, host_stacks in (per_host or {}).items():
        with folder.host_dir(name) as fd:
            if fd is None:
                continue
            written += write_outputs(host_stacks, folder.host_path(name), "flamegraph", ["svg"], _title(manifest, name), dir_fd=fd)
    return written


def _page_timelines(folder: CaptureFolder, manifest: Manifest) -> tuple[Iterator[tuple[str, Timeline]] | None, float | None]:
    """The hosts' timelines for the viewer's Timeline tab, read one host at a time as the page is
    built, and the recording's start; (None, None) for a capture without any (made before
    fleetflame kept sample times): the page has no tab. A damaged one leaves the page without a
    timeline, with a note naming it (render.timedata.build_time)."""
    from .timeline.store import TIMELINE
    from .timeline.window import capture_start, iter_timelines  # (numpy: only where time is read)

    def has_timeline(name: str) -> bool:
        with folder.host_dir(name) as fd:
            if fd is None:
                return False
            try:
                os.stat(TIMELINE, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return False
            return True

    if not any(has_timeline(name) for name in manifest.ok_hosts):
        return None, None
    return iter_timelines(folder, manifest), capture_start(manifest)


def build_window(
    capture: Path, manifest: Manifest, from_text: str, until_text: str, formats: tuple[str, ...], group_by: str
) -> tuple[Path, list[Path]]:
    """Write CAPTURE/windows/FROM-UNTIL/ (fleet.folded, skew.json and the graphs); the capture's
    own files are not touched. Returns the window's folder and the files written."""
    from .analysis.skew import analyse, write_skew_json
    from .timeline.window import WINDOWS_DIR, capture_window  # (numpy: only where time is read)

    window = capture_window(capture, manifest, from_text, until_text)
    stacks = window.stacks
    out = files.private_dir(capture / WINDOWS_DIR / window.name)
    written = []
    with files.opened_dir(out) as fd:
        files.replace_file(FLEET_FOLDED, folded.format_folded(stacks).encode("utf-8"), dir_fd=fd)
        written.append(out / FLEET_FOLDED)
        skew = analyse(stacks, resolved=manifest.recorded_tiles())
        write_skew_json(out, skew, dir_fd=fd)
        written.append(out / "skew.json")
        grouping = resolve_grouping(group_by, window.hosts)
        options = _title(manifest, f"fleet, {window.label}")
        fleet_formats = [f for f in formats if f not in ("folded", "html", *EXPORT_FORMATS)]
        written += write_outputs(regroup(stacks, grouping), out, "flamegraph", fleet_formats, options, dir_fd=fd)
        exports = [f for f in formats if f in EXPORT_FORMATS]
        written += write_outputs(stacks, out, "flamegraph", exports, options, dir_fd=fd)
        if "html" in formats:
            context = FleetContext(
                default_view=VIEWER_VIEWS.get(grouping, "kind"),
                host_threshold=HOST_THRESHOLD,
                skew=json.loads(json.dumps(skew.to_json())),
                idle_tiles=idle_tiles(stacks, manifest),
            )
            files.replace_file(f"flamegraph{html.EXTENSION}", html.render_fleet(stacks, options, context), dir_fd=fd)
            written.append(out / f"flamegraph{html.EXTENSION}")
    return out, written


def written_summary(folder: Path, written: list[Path], hosts: int, host_svgs: bool | None) -> str:
    """What `report` prints: `wrote 5 files (fleet.folded 133 MB, flamegraph.html 867 kB, ..., 16 host SVGs 9.6 MB) in
    FOLDER`, and why a fleet of more than HOST_SVG_LIMIT hosts has no per-host SVG."""
    parts, host_files, host_bytes = [], 0, 0
    for path in written:
        size = files.file_size(path) or 0
        if path.parent == folder:
            parts.append(f"{path.name} {_size(size)}")
        else:
            host_files, host_bytes = host_files + 1, host_bytes + size
    if host_files:
        parts.append(f"{host_files} host SVG{'s' if host_files != 1 else ''} {_size(host_bytes)}")
    line = f"wrote {len(written)} file{'s' if len(written) != 1 else ''} ({', '.join(parts)}) in {folder}"
    if host_svgs is None and hosts > HOST_SVG_LIMIT:
        line += f"; no per-host SVGs above {HOST_SVG_LIMIT} hosts (--host-svgs writes all {hosts})"
    return line


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
