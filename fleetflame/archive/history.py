"""The capture history in OUT: list the capture folders, and prune the old ones.

A capture folder is `OUT/CAPTURE_ID/` with a readable manifest.json. Anything else in OUT (other
folders, files, lock files) is left alone: listing ignores it and pruning never deletes it.

Retention (`prune`): keep the `keep` newest *completed* captures, those whose hosts all ended ok
or failed. A capture with a pending host (a detached run not fetched yet, a run still recording,
or one whose control process died) is neither counted nor deleted unless `include_pending` is
given, since `fetch` can still complete it. A capture where every host failed is completed and
counts like any other, so `--keep N` always leaves exactly N completed folders.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from ..capture import MANIFEST, read_manifest
from ..capture.ids import CaptureId, is_capture_id
from ..capture.manifest import ManifestError
from ..errors import FleetflameError, InputError
from ..host.targets import Target, parse_target
from ..terminal import literal_line

# new_capture_id(): `%Y%m%dT%H%M%SZ-SLUG[-N]`, SLUG from Target.slug (kinds, digits, `-`, `+`, `_`).


@dataclass(frozen=True)
class CaptureSummary:
    id: str  # the folder name, which is what `fetch` and `report` are given
    target: str
    started_at: str
    ended_at: str | None
    hosts_ok: int
    hosts_failed: int
    hosts_pending: int
    samples: int
    size_bytes: int
    path: Path

    @property
    def pending(self) -> bool:
        return self.hosts_pending > 0

    @property
    def status(self) -> str:
        if self.pending:
            return "pending"
        return "failed" if self.hosts_failed else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "hosts": {"ok": self.hosts_ok, "failed": self.hosts_failed, "pending": self.hosts_pending},
            "samples": self.samples,
            "size_bytes": self.size_bytes,
            "path": str(self.path),
        }


@dataclass
class History:
    out: Path
    captures: list[CaptureSummary] = field(default_factory=list)  # oldest first
    warnings: list[str] = field(default_factory=list)


def read_history(out: Path) -> History:
    """Every capture folder in OUT, oldest first. A capture-named folder whose manifest is missing
    or unreadable (half written, hand edited) is skipped with a warning instead of failing."""
    if not out.exists():
        raise InputError(f"{out}: no such folder; give --out DIR, the folder `fleetflame run --out` wrote captures to")
    if not out.is_dir():
        raise InputError(f"{out} is not a folder; give --out DIR, the folder `fleetflame run --out` wrote captures to")
    history = History(out)
    for entry in sorted(out.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if not is_capture_id(entry.name):
            if (entry / MANIFEST).exists():
                history.warnings.append(
                    f"{entry}: has a {MANIFEST} but its name is not a capture id (like 20261125T221500Z-all); not listed"
                )
            continue
        summary = summarize(entry)
        if isinstance(summary, str):
            history.warnings.append(summary)
        else:
            history.captures.append(summary)
    history.captures.sort(key=_time_order)
    return history


def list_captures(out: Path) -> list[CaptureSummary]:
    return read_history(out).captures


def summarize(folder: Path) -> CaptureSummary | str:
    """The folder's summary, or a warning saying why it can't be read."""
    if not (folder / MANIFEST).is_file():
        return f"{folder}: no {MANIFEST} (a capture that was interrupted while starting?); skipped"
    try:
        manifest = read_manifest(folder)
    except ManifestError as exc:
        return f"{exc}; skipped"
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        return f"{folder}: unreadable {MANIFEST} ({type(exc).__name__}: {exc}); skipped"
    if manifest.id != folder.name:  # the history is by folder name: a folder holding another id is not listed
        return f"{folder}: holds capture {manifest.id}, not {folder.name}; skipped"
    statuses = [host.status for host in manifest.hosts.values()]
    ok, failed = statuses.count("ok"), statuses.count("failed")
    return CaptureSummary(
        id=folder.name,
        target=manifest.target,
        started_at=manifest.started_at,
        ended_at=manifest.ended_at,
        hosts_ok=ok,
        hosts_failed=failed,
        hosts_pending=len(statuses) - ok - failed,  # any other status may still change: keep it
        samples=manifest.total_samples,
        size_bytes=folder_size(folder),
        path=folder,
    )


def folder_size(folder: Path) -> int:
    """Apparent size of the files under folder (as `du -sb`), not following symlinks."""
    size = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed while we walk (a concurrent prune or fetch)
                pass
    return size


def _time_order(capture: CaptureSummary) -> tuple[str, datetime, str]:
    stamp = CaptureId.parse(capture.id).stamp
    try:
        started = datetime.fromisoformat(capture.started_at)
    except (TypeError, ValueError):
        started = datetime.min
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    # The id is to the second; started_at breaks ties between captures of the same second.
    return stamp, started, capture.id


def prune(
    out: Path,
    keep: int,
    dry_run: bool = False,
    *,
    target: Target | None = None,
    include_pending: bool = False,
) -> list[Path]:
    """Delete all but the `keep` newest completed captures in OUT; returns the folders deleted
    (or, with dry_run, that would be), oldest first.

    target: only captures of this TARGET are counted and pruned, so schedules of different
    targets can share OUT. Targets are compared by meaning (`Target.key`): `verify` and
    `verify:0`, `a,b` and `b,a` are the same target (the caller parsed it once).
    include_pending: treat captures with pending hosts like completed ones (they are otherwise
    never touched).
    """
    if keep < 1:
        raise InputError(
            f"--keep {keep}: keep at least 1 capture; to remove every capture, delete the folders yourself"
        )
    key = target.key if target is not None else None
    history = read_history(out)
    candidates = [
        c
        for c in history.captures
        if (include_pending or not c.pending) and (key is None or _target_key(c.target) == key)
    ]
    doomed = candidates[: max(0, len(candidates) - keep)]
    if dry_run:
        return [c.path for c in doomed]
    deleted: list[Path] = []
    problems: list[str] = []
    for capture in doomed:
        if not _safe_to_delete(out, capture.path):
            problems.append(f"{capture.path}: no longer looks like a capture folder; left alone")
            continue
        try:
            shutil.rmtree(capture.path)
        except OSError as exc:
            problems.append(f"{capture.path}: {exc.strerror or exc}")
            continue
        deleted.append(capture.path)
    if problems:
        raise FleetflameError(
            f"pruned {len(deleted)} of {len(doomed)} captures; could not delete: {'; '.join(problems)}"
            " (check permissions on OUT and run `fleetflame captures --prune` again)"
        )
    return deleted


def _target_key(text: str) -> str | None:
    """The key of a manifest's target, None if it is not a target (a hand-edited manifest)."""
    try:
        return parse_target(text).key
    except InputError:
        return None


def _safe_to_delete(out: Path, folder: Path) -> bool:
    """Checked again just before rmtree: a real folder directly in OUT, capture-named, with a manifest."""
    return (
        not folder.is_symlink()
        and folder.is_dir()
        and folder.parent.resolve() == out.resolve()
        and is_capture_id(folder.name)
        and (folder / MANIFEST).is_file()
    )


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def captures_table(history: History, width: int = 80) -> Table:
    """The history as a table that fits `width` columns when the ids do; ids are never wrapped or
    cut (print it with terminal.print_table), since they are what an operator copies into
    `report` or `fetch`. The id already says when and what: the target and start columns come
    only when there is room. A capture in which no host was captured reads `0 ok` in red."""
    total = sum(c.size_bytes for c in history.captures)
    table = Table(
        title=literal_line(f"{_plural(len(history.captures), 'capture')} in {history.out} · {human_size(total)}"),
        title_justify="left",
        box=None,
        pad_edge=False,
        header_style="bold",
    )
    rows: list[tuple[Text, Text, Text, Text, str, str]] = []
    for c in history.captures:
        hosts = Text(f"{c.hosts_ok} ok", style="green" if c.hosts_ok else ("bold red" if not c.hosts_pending else ""))
        if c.hosts_failed:
            hosts.append(f" · {c.hosts_failed} failed", style="red")
        if c.hosts_pending:
            hosts.append(f" · {c.hosts_pending} pending", style="yellow")
        started = c.started_at.replace("T", " ").split(".")[0].rstrip("Z")
        rows.append((literal_line(c.id), literal_line(c.target), literal_line(started), hosts, f"{c.samples:,}",
                     human_size(c.size_bytes)))
    widest = [max([len(h), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(("capture", "target", "started (UTC)", "hosts", "samples", "size"))]
    used = widest[0] + widest[3] + widest[4] + widest[5] + 2 * 3  # 2 columns of padding between two
    with_target = used + widest[1] + 2 <= width
    used += (widest[1] + 2) if with_target else 0
    with_start = used + widest[2] + 2 <= width
    table.add_column("capture", no_wrap=True)
    if with_target:
        table.add_column("target", no_wrap=True)
    if with_start:
        table.add_column("started (UTC)", no_wrap=True)
    table.add_column("hosts", overflow="fold")
    table.add_column("samples", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    for id_cell, target_cell, start_cell, hosts_cell, samples, size in rows:
        cells: list[Text | str] = [id_cell, *([target_cell] if with_target else []), *([start_cell] if with_start else [])]
        table.add_row(*cells, hosts_cell, samples, size)
    return table


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def captures_json(history: History) -> str:
    return json.dumps(
        {
            "out": str(history.out),
            "captures": [c.to_json() for c in history.captures],
            "warnings": history.warnings,
        },
        indent=2,
    )


def prune_json(out: Path, keep: int, deleted: list[Path], dry_run: bool) -> str:
    return json.dumps(
        {"out": str(out), "keep": keep, "dry_run": dry_run, "deleted": [p.name for p in deleted]},
        indent=2,
    )
