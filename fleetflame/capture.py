"""The capture folder, fleetflame's "session": everything `report`, `diff` and the viewer need.

    OUT/CAPTURE_ID/manifest.json, fleet.folded, flamegraph.svg, flamegraph.html,
    hosts/HOST/perf.data, stacks.folded, flamegraph.svg, perf.script.gz
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .tiles import Tile

MANIFEST = "manifest.json"
FLEET_FOLDED = "fleet.folded"
HOSTS_DIR = "hosts"
STACKS_FOLDED = "stacks.folded"
PERF_DATA = "perf.data"
PERF_SCRIPT = "perf.script.gz"


@dataclass
class HostResult:
    """One host's part of a capture, as written in manifest.json."""

    status: str = "pending"  # "ok" | "failed" (pending only while running)
    error: str | None = None
    address: str = ""
    tiles: list[dict[str, Any]] = field(default_factory=list)
    tile_source: str | None = None  # "metrics" | "proc"
    samples: int = 0
    perf_samples_reported: int | None = None
    perf_data_bytes: int = 0
    perf_data_sha256: str | None = None
    script_bytes: int = 0
    script_sha256: str | None = None
    bytes_pulled: int = 0
    perf_started_at: float | None = None  # host clock, seconds since the epoch
    perf_exit_status: int | None = None
    perf_stderr: str = ""
    remote_dir: str | None = None  # set once perf has started: `fetch` can finish the host from it
    expected_end: float | None = None  # host clock, when perf's duration runs out
    collapse_roots: dict[str, str] = field(default_factory=dict)  # tid -> root frame(s)
    unknown_tid_root: str | None = None  # root for other threads (agave: "agave;{comm}")
    transfers: list[dict[str, Any]] = field(default_factory=list)  # {file, offset, bytes} per pull
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def fetchable(self) -> bool:
        """Recording started on the host and its results have not all arrived yet."""
        return self.status != "ok" and self.remote_dir is not None

    def set_tiles(self, tiles: list[Tile], agave_pid: int | None = None) -> None:
        self.tiles = [t.to_json() for t in tiles]
        if agave_pid is not None:
            self.tiles.append({"name": "agave", "kind": "agave", "kind_id": None, "pid": agave_pid, "tid": None})

    def fail(self, error: str) -> None:
        self.status = "failed"
        self.error = error

    def succeed(self) -> None:
        self.status = "ok"
        self.error = None


@dataclass
class Manifest:
    id: str
    target: str
    started_at: str
    ended_at: str | None = None
    duration_s: float = 30.0
    frequency_hz: int = 99
    call_graph: str = "fp"
    inventories: list[str] = field(default_factory=list)
    limit: str | None = None
    fleetflame_version: str = __version__
    hosts: dict[str, HostResult] = field(default_factory=dict)

    @property
    def failed_hosts(self) -> list[str]:
        return [name for name, host in self.hosts.items() if host.status != "ok"]

    @property
    def total_samples(self) -> int:
        return sum(h.samples for h in self.hosts.values())

    def to_json(self) -> dict[str, Any]:
        # Shallow: every field is already JSON (dataclasses.asdict deep-copies, 0.1 s per write at 16 hosts).
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["hosts"] = {name: vars(host) for name, host in self.hosts.items()}
        return data

    @property
    def pending_hosts(self) -> list[str]:
        return [name for name, host in self.hosts.items() if host.fetchable]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        known = HostResult.__dataclass_fields__
        hosts = {
            name: HostResult(**{k: v for k, v in value.items() if k in known})
            for name, value in data.get("hosts", {}).items()
        }
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "hosts"}
        return cls(**fields, hosts=hosts)

    def write(self, folder: Path) -> None:
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)


def read_manifest(folder: Path) -> Manifest:
    return Manifest.from_json(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_capture_id(slug: str, moment: datetime, out: Path) -> str:
    """`20261125T221500Z-all`; a suffix keeps two captures started in the same second apart."""
    base = f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{slug}"
    candidate, n = base, 2
    while (out / candidate).exists():
        candidate, n = f"{base}-{n}", n + 1
    return candidate


_SAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def host_dir(folder: Path, host: str) -> Path:
    """hosts/HOST, with characters that are unsafe in a file name replaced."""
    name = _SAFE.sub("_", host).lstrip(".") or "_"
    return folder / HOSTS_DIR / name
