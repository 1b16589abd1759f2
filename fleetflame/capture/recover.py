"""What `fetch` finishes: unfinished captures in OUT, or capture folders left on the hosts.

`plan_fetch` makes the whole decision (which captures, from which record, with which hosts), so
the command line only passes flags. A capture remembers the inventories (absolute paths) and the
`--limit` it was started with, and each host's address: `fetch` reuses them unless `-i` is given.
What comes back from a host (its meta.json, the folder's path) is parsed and checked like any
input: it names local folders and remote paths.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..connection import Connection, ConnectionError_, SshSettings, visit_hosts
from ..errors import FleetflameError, HostError, InputError, NoInventoryError
from ..inventory import load_inventories, select
from ..inventory.model import HostRecord
from ..connection.base import sh
from .files import private_dir
from .ids import CaptureId, inside, is_capture_id
from .manifest import MANIFEST, HostMeta, HostResult, Manifest, check_host_name, read_manifest
from .recorder import CaptureRecord
from .scripts import LIST

HostsFinder = Callable[[], list[HostRecord]]
_LISTED_DIR = re.compile(r"^(?P<tmpdir>/[^\t\n]*)/fleetflame-(?P<id>[A-Za-z0-9._+-]+)\.[A-Za-z0-9]{10}$")


@dataclass
class FetchJob:
    """One capture to finish: its folder (created if it is rebuilt from the hosts), its manifest,
    and the hosts to visit."""

    folder: Path
    manifest: Manifest
    hosts: list[HostRecord]
    rebuilt: bool = False


@dataclass
class FetchPlan:
    jobs: list[FetchJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was looked at, for the operator
    warnings: list[str] = field(default_factory=list)


def local_pending(out: Path) -> list[Path]:
    """Capture folders in OUT with hosts whose results have not all arrived, oldest first."""
    if not out.is_dir():
        return []
    found = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and is_capture_id(p.name)):
        try:
            if read_manifest(folder).pending_hosts:
                found.append(folder)
        except (OSError, ValueError, TypeError):
            continue
    return found


def capture_folder(name: str, out: Path) -> Path:
    """A capture named as the operator typed it: a path to a capture folder, or an id in OUT."""
    path = Path(name)
    if (path / MANIFEST).is_file():
        return path
    capture_id = CaptureId.parse_input(name)
    return out / capture_id.text


def recorded_hosts(manifest: Manifest, inventories: list[Path], limit: str | None) -> tuple[list[HostRecord], list[str]]:
    """The capture's pending hosts as an inventory describes them: `-i` if given, else the
    inventories the capture recorded; at the addresses the capture recorded. Returns warnings too."""
    warnings: list[str] = []
    sources: list[str | Path] = list(inventories)
    if not sources:
        if not manifest.inventories:
            raise InputError(f"capture {manifest.id} does not say which inventory it was started with: give -i INVENTORY")
        missing = [p for p in manifest.inventories if not Path(p).exists()]
        if missing:
            raise InputError(
                f"the inventory capture {manifest.id} was started with ({', '.join(missing)}) no longer exists: "
                "give -i INVENTORY"
            )
        sources = list(manifest.inventories)
        limit = manifest.limit if limit is None else limit
    loaded = load_inventories(sources)
    selection = select(loaded, limit or "all")
    warnings += loaded.warnings + selection.warnings
    hosts = []
    for host in selection.hosts:
        row = manifest.hosts.get(host.name)
        if row is None or not row.fetchable:
            continue
        if row.address and row.address != host.address:
            warnings.append(f"{host.name} was captured at {row.address}; the inventory now says {host.address}: using {row.address}")
            host = dataclasses.replace(host, address=row.address)
        hosts.append(host)
    absent = sorted(set(manifest.pending_hosts) - {h.name for h in hosts})
    if absent:
        warnings.append(f"pending hosts not in the inventory (or --limit): {', '.join(absent)}; they stay pending")
    return hosts, warnings


# ---- captures left on the hosts -------------------------------------------------------------


@dataclass(frozen=True)
class RemoteCapture:
    meta: HostMeta
    remote_dir: str


async def _list_one(conn: Connection, gate: asyncio.Semaphore) -> tuple[str, list[RemoteCapture], str | None]:
    host = conn.host
    try:
        async with gate:
            await conn.connect()
            done = await conn.run(sh(LIST, "list", host.tmpdir), privileged=True, timeout=60)
        return host.name, parse_listing(done.stdout.decode("utf-8", errors="replace"), host), None
    except (ConnectionError_, HostError, OSError, asyncio.TimeoutError) as exc:
        return host.name, [], str(exc) or "timed out"


def parse_listing(text: str, host: HostRecord) -> list[RemoteCapture]:
    """`PATH<TAB>META` lines of the LIST script; anything that does not check out is skipped."""
    found = []
    for line in text.splitlines()[:10_000]:
        path, sep, meta_text = line.partition("\t")
        match = _LISTED_DIR.match(path)
        if not sep or not match or match["tmpdir"].rstrip("/") != host.tmpdir.rstrip("/"):
            continue
        try:
            meta = HostMeta.parse(meta_text)
        except (ValueError, TypeError):
            continue
        if meta.host != host.name or meta.id != match["id"]:
            continue  # another inventory name's folder (an alias of this machine), or a mislabelled one
        found.append(RemoteCapture(meta, path))
    return found


def remote_captures(hosts: list[HostRecord], ssh: SshSettings, forks: int = 50) -> tuple[dict[str, dict[str, RemoteCapture]], list[str]]:
    """{capture id: {host: RemoteCapture}} of capture folders left on the hosts, and per-host errors."""
    found: dict[str, dict[str, RemoteCapture]] = {}
    errors = []
    for name, captures, error in visit_hosts(hosts, ssh, forks, _list_one):
        if error:
            errors.append(f"{name}: {error}")
        for capture in captures:
            found.setdefault(capture.meta.id, {})[name] = capture
    return found, errors


def manifest_from_hosts(capture_id: str, found: dict[str, RemoteCapture], hosts: list[HostRecord]) -> Manifest:
    """Rebuild a capture's manifest from what each host kept in its meta.json (a new value: the
    capture's record, recorder.CaptureRecord, writes it or merges it into the local one)."""
    CaptureId.parse(capture_id)
    first = next(iter(found.values())).meta
    manifest = Manifest(
        id=capture_id,
        target=first.target,
        started_at=first.capture_started_at,
        duration_s=first.requested_duration_s,
        requested_duration_s=first.requested_duration_s,
        frequency_hz=first.frequency_hz,
        call_graph=first.call_graph,
        event=first.event,
    )
    addresses = {h.name: h.address for h in hosts}
    for name, capture in sorted(found.items()):
        meta = capture.meta
        manifest.hosts[check_host_name(name)] = HostResult(
            address=addresses.get(name, ""),
            tiles=list(meta.tiles),
            tile_source=meta.tile_source,
            remote_dir=capture.remote_dir,
            expected_end=meta.expected_end,
            collapse_roots=dict(meta.collapse_roots),
            unknown_tid_root=meta.unknown_tid_root,
        )
    return manifest


def open_or_rebuild(out: Path, capture_id: str, found: dict[str, RemoteCapture], hosts: list[HostRecord]) -> tuple[Path, Manifest, bool]:
    """The local folder for this id (inside OUT), created from the hosts' records if needed; a
    local record gains the hosts' rows it lacks (written only if it gained some)."""
    folder = inside(out, out / CaptureId.parse(capture_id).text)
    rebuilt = manifest_from_hosts(capture_id, found, hosts)
    if (folder / MANIFEST).is_file():
        record = CaptureRecord(folder, read_manifest(folder))
        record.found(rebuilt.hosts)
        return folder, record.manifest, False
    private_dir(folder)
    CaptureRecord.create(folder, rebuilt)
    return folder, rebuilt, True


# ---- the decision ----------------------------------------------------------------------------


def plan_fetch(
    out: Path,
    capture: str | None,
    latest: bool,
    inventories: list[Path],
    limit: str | None,
    find_hosts: HostsFinder,
    ssh: SshSettings,
    forks: int = 50,
) -> FetchPlan:
    """Which captures `fetch` finishes:

    - CAPTURE (an id in OUT, or a capture folder's path): that one, from its local record, or
      from the hosts if OUT has none;
    - `--latest`: the newest unfinished capture in OUT, else the newest left on the hosts;
    - neither: every unfinished capture in OUT, oldest first; if there is none, what `--latest`
      finds on the hosts.

    `find_hosts()` gives the hosts to search when the hosts must be asked (from -i, or the
    inventory Ansible would use); it raises InputError if there is no inventory."""
    plan = FetchPlan()
    if capture is not None and latest:
        raise InputError("give a CAPTURE or --latest, not both")
    if capture is not None:
        folder = capture_folder(capture, out)
        if (folder / MANIFEST).is_file():
            plan.jobs.append(_local_job(folder, inventories, limit, plan))
            return plan
        return _from_hosts(out, folder.name, find_hosts, ssh, forks, plan)
    pending = local_pending(out)
    if pending:
        chosen = pending[-1:] if latest else pending
        plan.jobs += [_local_job(folder, inventories, limit, plan) for folder in chosen]
        return plan
    plan.notes.append(f"no unfinished capture in {out}")
    return _from_hosts(out, None, find_hosts, ssh, forks, plan)


def _nowhere(capture_id: str, out: Path, asked: int, errors: list[str]) -> FleetflameError:
    """A capture the operator named that is neither in OUT nor on any host that answered: exit 2
    (a wrong name), or exit 1 when some hosts could not be asked (it may be on them)."""
    looked = f"capture {capture_id} is not in {out} (--out) nor on any of the {asked - len(errors)} hosts that answered"
    if errors:
        error = FleetflameError(f"{looked}; {len(errors)} could not be asked ({errors[0]}{' …' if len(errors) > 1 else ''}): "
                                "it may be on them; try again when they answer")
        return error
    return InputError(f"{looked}: check the id (`fleetflame captures --out {out}` lists this machine's captures)")


def _local_job(folder: Path, inventories: list[Path], limit: str | None, plan: FetchPlan) -> FetchJob:
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{folder}: unreadable {MANIFEST} ({exc}): fix or remove that folder") from None
    if not manifest.pending_hosts:
        plan.notes.append(f"capture {manifest.id}: nothing left to fetch")
        return FetchJob(folder, manifest, [])
    hosts, warnings = recorded_hosts(manifest, inventories, limit)
    plan.warnings += warnings
    return FetchJob(folder, manifest, hosts)


def _from_hosts(out: Path, capture_id: str | None, find_hosts: HostsFinder, ssh: SshSettings, forks: int, plan: FetchPlan) -> FetchPlan:
    try:
        hosts = find_hosts()
    except NoInventoryError as exc:
        # A configured inventory that is missing or broken is an error (exit 2) like everywhere
        # else; only "no inventory at all" lets a bare fetch end with "nothing to fetch".
        if capture_id is not None:
            raise  # that capture can only come from the hosts: say why they cannot be asked
        plan.notes.append(f"the hosts were not asked for captures left on them: {exc}")
        return plan
    found, errors = remote_captures(hosts, ssh, forks)
    plan.warnings += errors
    wanted = capture_id if capture_id is not None else max(found, default=None)
    if capture_id is not None and wanted not in found:
        raise _nowhere(capture_id, out, len(hosts), errors)
    if wanted is None or wanted not in found:
        plan.notes.append(f"no unfinished capture left on the {len(hosts)} selected hosts")
        return plan
    folder, manifest, rebuilt = open_or_rebuild(out, wanted, found[wanted], hosts)
    selected = [h for h in hosts if h.name in manifest.hosts and manifest.hosts[h.name].fetchable]
    plan.jobs.append(FetchJob(folder, manifest, selected, rebuilt))
    return plan
