"""`fleetflame check`: preflight every host and say, per problem, what to do."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from ..connection import Connection, ConnectionError_, SshSettings, visit_hosts
from ..connection.base import sh
from ..inventory.model import HostRecord
from ..timeline.clock import ClockReading, clock_off
from .resolve import Discovery, DiscoveryError, discover
from .scripts import CHECK
from .targets import parse_target
from .tiles import TileError, select_tiles

ALL = parse_target("all")

MIN_FREE_MB = 512


@dataclass
class HostCheck:
    host: str
    facts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_facts(text: str) -> dict[str, str]:
    facts: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            facts[key] = f"{facts[key]},{value}" if key in facts and key == "missing" else value
    return facts


def judge(host: HostRecord, facts: dict[str, str], sudo_ok: bool | None) -> list[str]:
    """The problems these facts show, each with what to do."""
    problems = []
    name = host.name
    if not facts.get("perf"):
        problems.append(
            f"{name}: perf ({host.perf}) not found: install linux-perf (Debian) or linux-tools-$(uname -r) "
            "(Ubuntu), or set fleetflame_perf to its path"
        )
    root = facts.get("uid") == "0"
    if host.become and sudo_ok is False:
        problems.append(
            f"{name}: ansible_become is set but `sudo -n` asks for a password: allow {host.user or 'the SSH user'} "
            "passwordless sudo for perf (a sudoers NOPASSWD rule), or connect as root"
        )
    elif not root and not host.become:
        paranoid = facts.get("paranoid", "")
        if paranoid.lstrip("-").isdigit() and int(paranoid) > 1:
            problems.append(
                f"{name}: not root and kernel.perf_event_paranoid is {paranoid}, so perf cannot record the "
                "validator: set ansible_become: true, connect as root, or `sysctl kernel.perf_event_paranoid=1`"
            )
        else:
            # Production tiles are non-dumpable processes in user namespaces of their own
            # (src/util/sandbox/fd_sandbox.c): only root may attach perf to them.
            problems.append(
                f"{name}: not root, so perf cannot record Firedancer's sandboxed tiles (non-dumpable, in "
                "their own user namespace): set ansible_become: true (passwordless sudo) or connect as root"
            )
    if (root or host.become) and sudo_ok is not False and facts.get("capsysadmin") == "1" and not facts.get("capdrop"):
        problems.append(
            f"{name}: neither setpriv nor capsh can drop CAP_SYS_ADMIN here, so perf script would lose "
            "the symbols of sandboxed tiles: install util-linux (setpriv) or libcap2-bin (capsh)"
        )
    for command in filter(None, facts.get("missing", "").split(",")):
        problems.append(f"{name}: `{command}` not found on the host: install coreutils/util-linux/gzip")
    refused = facts.get("tmpdir_refused", "").strip()
    if refused:  # the capture session's own verdict on the tmpdir (host/scripts.TMPDIR_CHECK), which names the fix
        problems.append(f"{name}: {refused}")
    elif facts.get("tmpdir_writable") != "1":
        problems.append(f"{name}: fleetflame_tmpdir {host.tmpdir} is not a writable folder: create it or set fleetflame_tmpdir")
    free_kb = facts.get("free_kb", "")
    if free_kb.isdigit() and int(free_kb) < MIN_FREE_MB * 1024:
        problems.append(
            f"{name}: only {int(free_kb) // 1024} MB free in {host.tmpdir}: free space or point fleetflame_tmpdir elsewhere"
        )
    return problems


def judge_tiles(result: HostCheck, host: HostRecord, found: Discovery) -> None:
    """Add what discovery found to the check: the tile count and source, a note when the metrics
    did not answer but thread names did, tiles that `all` would skip, or one problem when no tile
    was found or the metrics' pids are not this host's (another PID namespace)."""
    result.notes += found.warnings
    if found.tiles:
        result.facts["tiles"] = str(len(found.tiles))
        result.facts["tile_source"] = found.source
        if found.metrics_error:
            result.notes.append(f"{found.metrics_error} (tiles were found by thread name instead)")
        if not found.threads:
            return
        try:
            selection = select_tiles(ALL, found.tiles, found.threads, host.name)
        except TileError as exc:
            result.problems.append(f"{host.name}: {exc}")
            return
        if selection.skipped:
            idle = ", ".join(f"{s.tile} ({s.reason})" for s in selection.skipped)
            result.notes.append(f"not running, `all` skips: {idle}")
        return
    metrics = found.metrics_error or f"metrics {host.metrics_url} listed no tiles"
    result.problems.append(
        f"{host.name}: no tiles found ({metrics}; and no thread is named KIND:IDX): is the validator "
        "running? If it is, set fleetflame_metrics_url to where its metrics listen"
    )


async def _sudo_works(conn: Connection) -> bool:
    done = await conn.run(["id", "-u"], privileged=True, timeout=30)
    return done.ok and done.stdout.strip() == b"0"


async def read_clock(conn: Connection) -> ClockReading | None:
    """The host's clock against this machine's, as a capture's start signal measures it
    (timeline.clock), over one `date` exec: its round trip (a channel's) bounds the offset."""
    sent_at = time.time()
    done = await conn.run(["date", "+%s.%N"], timeout=30)
    received_at = time.time()
    text = done.stdout.strip()
    if not done.ok or not re.fullmatch(rb"\d{1,12}\.\d{1,9}", text):
        return None
    return ClockReading(sent_at, float(text), received_at)


def clock_note(reading: ClockReading) -> str | None:
    """A note when the host's clock is off by more than 50 ms (clock_off): the timeline corrects it,
    but the operator should know (and fix NTP)."""
    off = clock_off(reading.offset, reading.uncertainty)
    return f"clock {off}: captures correct their timelines by it; keep the host's clock synchronised (chrony/NTP)" if off else None


async def check_host(conn: Connection, gate: asyncio.Semaphore) -> HostCheck:
    host = conn.host
    result = HostCheck(host.name)
    try:
        async with gate:
            await conn.connect()
            sudo_ok = await _sudo_works(conn) if host.become else None
            # Under become the capture runs as root: its facts (CAP_SYS_ADMIN, setpriv) are root's.
            privileged = bool(host.become and sudo_ok)
            done = await conn.run(sh(CHECK, "check", host.perf, host.tmpdir), privileged=privileged, timeout=60)
            result.facts = parse_facts(done.stdout.decode(errors="replace"))
            result.problems += judge(host, result.facts, sudo_ok)
            reading = await read_clock(conn)
            if reading is not None:
                result.facts["clock_offset_s"] = f"{reading.offset:.3f}"
                note = clock_note(reading)
                if note:
                    result.notes.append(note)
            try:
                found = await discover(conn)
            except DiscoveryError as exc:
                result.problems.append(str(exc))
            else:
                judge_tiles(result, host, found)
    except ConnectionError_ as exc:
        result.problems.append(str(exc))
    except asyncio.TimeoutError:
        result.problems.append(f"{host.name}: stopped answering (timed out)")
    return result


def check_fleet(hosts: list[HostRecord], settings: SshSettings, forks: int = 50) -> list[HostCheck]:
    return visit_hosts(hosts, settings, forks, check_host)
