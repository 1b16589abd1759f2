"""Finding captures to finish: pending records in OUT, or capture folders left on the hosts."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from .capture import MANIFEST, HostResult, Manifest, read_manifest
from .connection import Connection, ConnectionError_, SshSettings, visit_hosts
from .errors import InputError
from .inventory.model import HostRecord
from .remote import LIST, sh

CAPTURE_ID = re.compile(r"^\d{8}T\d{6}Z-[A-Za-z0-9._+-]+$")


def local_pending(out: Path) -> list[Path]:
    """Capture folders in OUT with hosts whose results have not all arrived, oldest first."""
    if not out.is_dir():
        return []
    found = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and CAPTURE_ID.match(p.name)):
        try:
            if read_manifest(folder).pending_hosts:
                found.append(folder)
        except (OSError, ValueError, TypeError):
            continue
    return found


def check_capture_id(capture_id: str) -> None:
    if not CAPTURE_ID.match(capture_id):
        raise InputError(f"{capture_id!r} is not a capture id (like 20261125T221500Z-all): see `fleetflame captures`")


async def _list_one(conn: Connection, gate: asyncio.Semaphore) -> tuple[str, list[dict[str, Any]], str | None]:
    host = conn.host
    try:
        async with gate:
            await conn.connect()
            done = await conn.run(sh(LIST, "list", host.tmpdir), privileged=True, timeout=60)
        metas = []
        for line in done.stdout.decode(errors="replace").splitlines():
            path, _, text = line.partition("\t")
            try:
                meta = json.loads(text)
            except ValueError:
                continue
            if isinstance(meta, dict) and meta.get("host") == host.name:
                meta["remote_dir"] = path
                metas.append(meta)
        return host.name, metas, None
    except (ConnectionError_, OSError, asyncio.TimeoutError) as exc:
        return host.name, [], str(exc) or "timed out"


def remote_captures(hosts: list[HostRecord], ssh: SshSettings, forks: int = 50) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """{capture id: {host: meta}} of capture folders left on the hosts, and per-host errors."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    errors = []
    for name, metas, error in visit_hosts(hosts, ssh, forks, _list_one):
        if error:
            errors.append(f"{name}: {error}")
        for meta in metas:
            found.setdefault(str(meta.get("id")), {})[name] = meta
    return found, errors


def manifest_from_hosts(capture_id: str, metas: dict[str, dict[str, Any]], hosts: list[HostRecord]) -> Manifest:
    """Rebuild a capture's manifest from what each host kept in its meta.json."""
    first = next(iter(metas.values()))
    manifest = Manifest(
        id=capture_id,
        target=str(first.get("target", "all")),
        started_at=str(first.get("capture_started_at", "")),
        duration_s=float(first.get("duration_s", 30.0)),
        frequency_hz=int(first.get("frequency_hz", 99)),
        call_graph=str(first.get("call_graph", "fp")),
    )
    addresses = {h.name: h.address for h in hosts}
    for name, meta in sorted(metas.items()):
        manifest.hosts[name] = HostResult(
            address=addresses.get(name, ""),
            tiles=list(meta.get("tiles", [])),
            tile_source=meta.get("tile_source"),
            remote_dir=str(meta["remote_dir"]),
            expected_end=meta.get("expected_end"),
            collapse_roots=dict(meta.get("collapse_roots", {})),
            unknown_tid_root=meta.get("unknown_tid_root"),
        )
    return manifest


def open_or_rebuild(out: Path, capture_id: str, metas: dict[str, dict[str, Any]], hosts: list[HostRecord]) -> tuple[Path, Manifest]:
    """The local capture folder for this id, created from the hosts' records if it is not there."""
    folder = out / capture_id
    rebuilt = manifest_from_hosts(capture_id, metas, hosts)
    if (folder / MANIFEST).is_file():
        manifest = read_manifest(folder)
        for name, host in rebuilt.hosts.items():
            if name not in manifest.hosts or not manifest.hosts[name].remote_dir:
                manifest.hosts[name] = host
        return folder, manifest
    folder.mkdir(parents=True, exist_ok=True)
    rebuilt.write(folder)
    return folder, rebuilt
