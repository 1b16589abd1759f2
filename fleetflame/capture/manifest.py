"""The capture folder's records: `manifest.json` (the control machine's) and `meta.json` (each host's).

    OUT/CAPTURE_ID/manifest.json, fleet.folded, flamegraph.svg, flamegraph.html, skew.json,
    hosts/HOST/perf.data, perf.script.gz, stacks.folded, flamegraph.svg

Both are written and read through one dataclass each, with a format version. Reading validates
every field (types, ranges, names that become paths): a manifest can be hand-edited and a host's
meta.json comes from a machine that may not be trustworthy, so what does not fit is refused
(ValueError), never half-used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import FleetflameError, InputError
import fleetflame.capture.defaults as defaults
from .files import json_by_line, read_text, write_text
from .ids import CaptureId, host_folder_name
from .scripts import check_event

MANIFEST = "manifest.json"
FLEET_FOLDED = "fleet.folded"
HOSTS_DIR = "hosts"
STACKS_FOLDED = "stacks.folded"
PERF_DATA = "perf.data"
PERF_SCRIPT = "perf.script.gz"
SKEW_JSON = "skew.json"

MANIFEST_VERSION = 2
HOST_META_FORMAT = "fleetflame-host-meta"
HOST_META_VERSION = 2
# The only root template for threads that are not tiles: the Agave process's other threads,
# rooted at `agave;THREAD_NAME`. Kept as this literal for manifests written before version 2.
AGAVE_THREADS_ROOT = "agave;{comm}"
MAX_HOST_NAME = 255


@dataclass
class HostResult:
    """One host's part of a capture, as written in manifest.json. Changed only by the capture's
    record (recorder.CaptureRecord), from the facts the drivers report."""

    status: str = "pending"  # "ok" | "failed" (pending while running, or until fetched)
    error: str | None = None
    error_detail: str | None = None  # a traceback, when the failure was a fleetflame bug
    warnings: list[str] = field(default_factory=list)  # e.g. the host's folder could not be removed
    address: str = ""
    tiles: list[dict[str, Any]] = field(default_factory=list)
    tile_source: str | None = None  # "metrics" | "proc"
    skipped_tiles: list[dict[str, str]] = field(default_factory=list)  # [{tile, reason}]: not running
    samples: int = 0
    perf_samples_reported: int | None = None
    perf_data_bytes: int = 0
    perf_data_sha256: str | None = None
    script_bytes: int = 0
    script_sha256: str | None = None
    bytes_pulled: int = 0
    start_signal_at: float | None = None  # control clock: when the start signal was sent
    perf_started_at: float | None = None  # host clock, seconds since the epoch
    # host clock minus control clock, and how well it is known (timeline.clock); None: not measured
    clock_offset_s: float | None = None
    clock_uncertainty_s: float | None = None
    perf_ended_at: float | None = None  # host clock
    recorded_s: float | None = None  # perf_ended_at - perf_started_at
    perf_exit_status: int | None = None
    perf_stderr: str = ""
    remote_dir: str | None = None  # set once perf has started: `fetch` can finish the host from it
    expected_end: float | None = None  # host clock, when perf's duration runs out
    collapse_roots: dict[str, str] = field(default_factory=dict)  # tid -> root frame(s)
    unknown_tid_root: str | None = None  # AGAVE_THREADS_ROOT, or None: other threads are dropped
    transfers: list[dict[str, Any]] = field(default_factory=list)  # {file, offset, bytes, how}
    timings: dict[str, float] = field(default_factory=dict)
    cleaned: bool = False  # the host's folder was removed

    @property
    def fetchable(self) -> bool:
        """Recording started on the host and its results have not all arrived yet."""
        return self.status != "ok" and self.remote_dir is not None and not self.cleaned


@dataclass
class Manifest:
    id: str
    target: str
    started_at: str
    ended_at: str | None = None
    duration_s: float = defaults.DURATION_S  # what was recorded (the longest host), once known
    requested_duration_s: float = defaults.DURATION_S
    stopped_early: bool = False
    frequency_hz: int = defaults.FREQUENCY_HZ
    call_graph: str = defaults.CALL_GRAPH
    event: str | None = None  # perf record -e; None (and manifests without the key): perf's default event
    max_perf_data_mb: int | None = None
    inventories: list[str] = field(default_factory=list)  # absolute paths, as run was given them
    limit: str | None = None
    fleetflame_version: str = __version__
    format_version: int = MANIFEST_VERSION
    hosts: dict[str, HostResult] = field(default_factory=dict)

    @property
    def failed_hosts(self) -> list[str]:
        return [name for name, host in self.hosts.items() if host.status == "failed"]

    @property
    def ok_hosts(self) -> list[str]:
        return [name for name, host in self.hosts.items() if host.status == "ok"]

    def recorded_tiles(self) -> dict[str, list[str]]:
        """Each completed host's tile names (skew lists a tile that took no sample, too)."""
        return {
            name: [str(t.get("name")) for t in host.tiles if isinstance(t, dict)]
            for name, host in self.hosts.items()
            if host.status == "ok"
        }

    @property
    def pending_hosts(self) -> list[str]:
        return [name for name, host in self.hosts.items() if host.fetchable]

    @property
    def total_samples(self) -> int:
        return sum(h.samples for h in self.hosts.values())

    def to_json(self) -> dict[str, Any]:
        # Shallow: every field is already JSON (dataclasses.asdict deep-copies, 0.1 s per write at 16 hosts).
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["hosts"] = {name: vars(host) for name, host in self.hosts.items()}
        return data

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        """A manifest from parsed JSON; ValueError when any field does not fit."""
        if not isinstance(data, dict):
            raise ValueError("a manifest is a JSON object")
        values = _known(cls, data, skip={"hosts"})
        manifest = cls(**values)
        CaptureId.parse(manifest.id)
        manifest.event = check_event(manifest.event)
        hosts = data.get("hosts", {})
        if not isinstance(hosts, dict):
            raise ValueError("hosts is not an object")
        for name, row in hosts.items():
            check_host_name(name)
            if not isinstance(row, dict):
                raise ValueError(f"hosts[{name!r}] is not an object")
            manifest.hosts[name] = HostResult(**_known(HostResult, row))
            check_host_result(manifest.hosts[name], name)
        return manifest

    def write(self, folder: Path) -> None:
        try:
            write_text(folder / MANIFEST, json_by_line(self.to_json(), "hosts"))
        except OSError as exc:
            # A full --out (or one gone read-only): say which capture, which hosts, and that the
            # hosts keep what was not safe here, for `fetch` (one operator line, not a traceback).
            waiting = [name for name, row in self.hosts.items() if row.status != "ok" or not row.cleaned]
            kept = f"; {', '.join(waiting[:8])}{' …' if len(waiting) > 8 else ''} keep their results for it" if waiting else ""
            raise CaptureWriteError(
                f"cannot write {folder / MANIFEST}: {exc.strerror or exc}: free space in {folder.parent}, then "
                f"`fleetflame fetch {self.id} --out {folder.parent}` finishes capture {self.id}{kept}"
            ) from None


class CaptureWriteError(FleetflameError):
    """The capture's record could not be written on this machine (a full or read-only --out)."""


class ManifestError(InputError, ValueError):
    """A manifest.json that cannot be read as one: damaged, truncated, or not fleetflame's. One
    operator line (exit 2) naming the file; still a ValueError for code that skips such folders."""


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest; ManifestError if it is not a fleetflame manifest, OSError if it
    cannot be read. A folder renamed by the operator is fine: the manifest's id is the capture's
    id (see `renamed_note`)."""
    path = folder / MANIFEST
    text = read_text(path, limit=64 << 20)  # never through a planted link
    try:
        return Manifest.from_json(json.loads(text))
    except (ValueError, TypeError, AttributeError) as exc:
        why = "empty" if not text.strip() else f"{type(exc).__name__}: {str(exc)[:120]}"
        raise ManifestError(
            f"{folder}: unreadable {MANIFEST} ({why}): the capture folder is damaged or is not a "
            f"capture; restore {MANIFEST} from a copy, or make a new capture"
        ) from None


def renamed_note(folder: Path, manifest: Manifest) -> str | None:
    """What to say once when a capture folder does not carry its capture's id as its name."""
    if manifest.id == folder.name:
        return None
    return f"{folder} holds capture {manifest.id} (the folder was renamed): using the manifest's id"


@dataclass
class HostMeta:
    """What a host keeps in its capture folder's meta.json: enough for `fetch` to finish the
    capture from the host alone (after `run --detach` elsewhere, or a run that died)."""

    id: str
    host: str
    target: str
    capture_started_at: str
    requested_duration_s: float
    frequency_hz: int
    call_graph: str
    event: str | None = None  # perf record -e; None (and meta.json without the key): perf's default event
    expected_end: float | None = None
    tiles: list[dict[str, Any]] = field(default_factory=list)
    tile_source: str | None = None
    collapse_roots: dict[str, str] = field(default_factory=dict)
    unknown_tid_root: str | None = None
    want_perf_data: bool = True
    format: str = HOST_META_FORMAT
    version: int = HOST_META_VERSION

    def to_line(self) -> str:
        """One JSON line (the session script writes it to meta.json as it comes)."""
        return json.dumps(vars(self), separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def parse(cls, text: str) -> HostMeta:
        """A host's meta.json line; ValueError unless every field fits."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != HOST_META_FORMAT:
            raise ValueError("not a fleetflame meta.json")
        if data.get("version") != HOST_META_VERSION:
            raise ValueError(f"meta.json version {data.get('version')!r} (this fleetflame reads {HOST_META_VERSION})")
        meta = cls(**_known(cls, data))
        CaptureId.parse(meta.id)
        check_host_name(meta.host)
        _finite(meta.requested_duration_s, "requested_duration_s", 0, 366 * 86400)
        if not 1 <= meta.frequency_hz <= 1_000_000 or meta.call_graph not in ("fp", "dwarf", "lbr"):
            raise ValueError("bad frequency or call graph")
        meta.event = check_event(meta.event)
        if meta.expected_end is not None:
            _finite(meta.expected_end, "expected_end", 0, 1e11)
        check_tiles(meta.tiles)
        check_roots(meta.collapse_roots, meta.unknown_tid_root)
        return meta


def check_host_name(name: object) -> str:
    """A host name as fleetflame stores it: a non-empty string, bounded, no control characters."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_HOST_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"bad host name {str(name)[:80]!r}")
    host_folder_name(name)
    return name


def check_tiles(tiles: object) -> None:
    if not isinstance(tiles, list) or len(tiles) > 100_000:
        raise ValueError("tiles is not a list")
    for tile in tiles:
        if not isinstance(tile, dict) or not isinstance(tile.get("name"), str) or len(tile["name"]) > 64:
            raise ValueError("bad tile entry")


def check_skipped(skipped: object) -> None:
    if not isinstance(skipped, list) or len(skipped) > 100_000:
        raise ValueError("skipped_tiles is not a list")
    for entry in skipped:
        if not (isinstance(entry, dict) and set(entry) == {"tile", "reason"}
                and all(isinstance(v, str) and 0 < len(v) <= 64 for v in entry.values())):
            raise ValueError("bad skipped_tiles entry")


def check_roots(roots: object, unknown_tid_root: object) -> None:
    if not isinstance(roots, dict) or len(roots) > 1_000_000:
        raise ValueError("collapse_roots is not an object")
    for tid, root in roots.items():
        if not (isinstance(tid, str) and tid.isdigit() and len(tid) < 12 and isinstance(root, str) and 0 < len(root) <= 256):
            raise ValueError("bad collapse root")
    if unknown_tid_root not in (None, AGAVE_THREADS_ROOT):
        raise ValueError(f"unknown_tid_root must be None or {AGAVE_THREADS_ROOT!r}")


def check_host_result(row: HostResult, name: str) -> None:
    if row.status not in ("pending", "ok", "failed"):
        raise ValueError(f"hosts[{name!r}].status {row.status!r}")
    check_tiles(row.tiles)
    check_skipped(row.skipped_tiles)
    check_roots(row.collapse_roots, row.unknown_tid_root)
    for attr in ("clock_offset_s", "clock_uncertainty_s"):  # a planted 1e308 would shift a timeline off any axis
        if getattr(row, attr) is not None:
            _finite(getattr(row, attr), f"hosts[{name!r}].{attr}", -1e9, 1e9)
    for attr in ("samples", "perf_data_bytes", "script_bytes", "bytes_pulled"):
        value = getattr(row, attr)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"hosts[{name!r}].{attr} is not a count")


def _finite(value: object, name: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} out of range")


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def _known(cls: type, data: dict[str, Any], skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The fields of dataclass `cls` found in `data`, type-checked against their annotation
    (`X | None` allows null). Unknown keys are ignored (newer writers may add some)."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in skip or f.name not in data:
            continue
        value = data[f.name]
        annotation = str(f.type)
        if value is None:
            if "None" not in annotation:
                raise ValueError(f"{f.name} must not be null")
            out[f.name] = None
            continue
        base = annotation.split("|")[0].split("[")[0].strip()
        allowed = _TYPES.get(base)
        if allowed is not None and (not isinstance(value, allowed) or (base in ("int", "float") and isinstance(value, bool))):
            raise ValueError(f"{f.name} should be {base}, not {type(value).__name__}")
        out[f.name] = value
    return out


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_capture_id(slug: str, moment: datetime, out: Path) -> str:
    """`20261125T221500Z-all`; a suffix keeps two captures started in the same second apart."""
    return CaptureId.new(slug, moment, out).text


def host_dir(folder: Path, host: str) -> Path:
    """hosts/HOST: the inventory name encoded injectively as one safe file name."""
    return folder / HOSTS_DIR / host_folder_name(host)
