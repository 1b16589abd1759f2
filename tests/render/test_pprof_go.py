"""pprof exports read by the real reader: `go tool pprof` (Debian golang-go, installed by
scripts/system-deps.sh), with and without `-tagfocus host=X`, checked against the folded sums."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetflame import folded
from fleetflame.capture import HostResult, Manifest
from fleetflame.render import pprof
from fleetflame.render.options import FlameGraphOptions
from fleetflame.report import build_reports

from .fleetdata import FLEET, host_totals, tile_totals

GO = shutil.which("go")
pytestmark = pytest.mark.skipif(GO is None, reason="go is not installed (Debian golang-go; `make test` installs it as root)")

FREQUENCY = 99
PERIOD = round(1e9 / FREQUENCY)
STARTED = "2026-11-25T22:15:00.250000Z"


def go_pprof(path: Path, *args: str) -> str:
    """stdout of `go tool pprof ARGS PATH`, which must succeed."""
    env = {**os.environ, "HOME": str(path.parent), "PPROF_TMPDIR": str(path.parent), "GOFLAGS": "", "GOTOOLCHAIN": "local"}
    result = subprocess.run(
        [str(GO), "tool", "pprof", *args, str(path)], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def fleet_profile(tmp_path: Path, stacks: dict[str, int] = FLEET) -> Path:
    options = FlameGraphOptions(
        title="fleetflame: fleet",
        subtitle="20261125T221500Z-all",
        fleet_stacks=True,
        frequency_hz=FREQUENCY,
        duration_s=5,
        start_time_ns=pprof.time_nanos(STARTED),
    )
    path = tmp_path / "flamegraph.pb.gz"
    path.write_bytes(pprof.render(stacks, options))
    return path


# pprof shows C++ names simplified (`fn::operator<<`), with the system name in brackets after
_LOCATION = re.compile(r"^\s*(\d+): 0x[0-9a-f]+ M=\d+ (.*) :0 s=0(?:\((.*)\))?$")
_SAMPLE = re.compile(r"^\s*(\d+)(?:\s+(\d+))?: ([\d ]+)$")  # samples [cpu]: location ids
_LABEL = re.compile(r"(\w+):\[(.*?)\]")


def parse_raw(text: str) -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    """(header fields, stack -> (samples, cpu ns)) from `pprof -raw`; labels become root frames
    again in the order host;tile;[thread;]frames, as fleet.folded has them."""
    header_text, _, rest = text.partition("\nSamples:\n")
    header = dict(line.split(": ", 1) for line in header_text.splitlines() if ": " in line)
    sample_text, _, rest = rest.partition("\nLocations\n")
    location_text = rest.partition("\nMappings\n")[0]
    names = {int(m[1]): m[3] or m[2] for m in map(_LOCATION.match, location_text.splitlines()) if m}
    lines = sample_text.splitlines()
    header["sample_types"] = lines[0].strip()
    stacks: dict[str, tuple[int, int]] = {}
    for i, line in enumerate(lines[1:], 1):
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(lines[i + 1])) if i + 1 < len(lines) and not _SAMPLE.match(lines[i + 1]) else {}
        roots = [labels[k] for k in ("host", "tile", "thread") if k in labels]
        frames = [names[int(n)] for n in reversed(m[3].split())]
        key = ";".join(roots + frames)
        samples, cpu = stacks.get(key, (0, 0))
        stacks[key] = (samples + int(m[1]), cpu + int(m[2] or 0))
    return header, stacks


def trace_blocks(text: str) -> list[tuple[dict[str, str], int]]:
    """(labels, samples) of each trace of `pprof -traces`."""
    blocks = []
    for block in text.split("-----------+-------------------------------------------------------")[1:]:
        labels: dict[str, str] = {}
        count = 0
        for line in block.splitlines():
            label = re.match(r"^\s+(\w+):\s{2}(.*)$", line)
            sample = re.match(r"^\s+(\d+)\s{3}\S", line)
            if sample and not count:
                count = int(sample[1])
            elif label and not count:
                labels[label[1]] = label[2]
        if count:  # the output ends with a separator line
            blocks.append((labels, count))
    return blocks


def test_raw_profile_holds_the_fleet_with_labels_period_and_times(tmp_path: Path) -> None:
    header, stacks = parse_raw(go_pprof(fleet_profile(tmp_path), "-raw"))
    assert {k: v[0] for k, v in stacks.items()} == FLEET
    assert all(cpu == samples * PERIOD for samples, cpu in stacks.values())
    assert header["sample_types"] == "samples/count[dflt] cpu/nanoseconds"
    assert header["PeriodType"] == "cpu-clock nanoseconds"
    assert header["Period"] == str(PERIOD)
    assert header["Duration"] == "5s"
    assert header["Time"] == "2026-11-25 22:15:00.25 +0000 UTC"
    assert header["Comment"] == "20261125T221500Z-all"  # the last of the comments (title, subtitle)


def test_tagfocus_host_totals_equal_the_folded_sums(tmp_path: Path) -> None:
    path = fleet_profile(tmp_path)
    everything = trace_blocks(go_pprof(path, "-traces"))
    assert sum(count for _, count in everything) == sum(FLEET.values())
    for host, expected in host_totals(FLEET).items():
        focused = trace_blocks(go_pprof(path, "-traces", "-tagfocus", f"host={re.escape(host)}"))
        assert sum(count for _, count in focused) == expected, host
        assert {labels["host"] for labels, _ in focused} == {host}
        top = go_pprof(path, "-top", "-tagfocus", f"host={re.escape(host)}")
        assert f"Showing nodes accounting for {expected}, " in top, top
    assert f"Total samples = {sum(FLEET.values())} " in go_pprof(path, "-top")


def test_tags_give_every_host_tile_and_kind(tmp_path: Path) -> None:
    text = go_pprof(fleet_profile(tmp_path), "-tags")
    sections = {m[1]: m[2] for m in re.finditer(r"^ (\w+): Total [\d.]+\n((?:\s+[\d.]+ \(.*\n?)*)", text, re.M)}
    assert set(sections) == {"host", "tile", "kind", "thread"}

    def counts(section: str) -> dict[str, float]:
        return {m[2]: float(m[1]) for m in re.finditer(r"^\s+([\d.]+) \(\s*[\d.]+%\): (.*)$", sections[section], re.M)}

    assert counts("host") == host_totals(FLEET)
    by_tile: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for (_, tile), count in tile_totals(FLEET).items():
        by_tile[tile] = by_tile.get(tile, 0) + count
        by_kind[tile.split(":")[0]] = by_kind.get(tile.split(":")[0], 0) + count
    assert counts("tile") == by_tile and counts("kind") == by_kind
    assert counts("thread") == {"solBankStgTx00": 21, "sol Rpc :1": 4}


def test_cpu_sample_index_is_samples_times_the_period(tmp_path: Path) -> None:
    text = go_pprof(fleet_profile(tmp_path), "-top", "-sample_index=cpu", "-unit=ns")
    assert f"Total samples = {sum(FLEET.values()) * PERIOD}ns" in text
    focused = go_pprof(fleet_profile(tmp_path), "-top", "-sample_index=cpu", "-unit=ns", "-tagfocus", "kind=quic")
    assert f"Showing nodes accounting for {30 * PERIOD}ns" in focused


def test_plain_folded_input_has_no_labels_and_counts_only(tmp_path: Path) -> None:
    path = tmp_path / "plain.pb.gz"
    path.write_bytes(pprof.render(FLEET))
    header, stacks = parse_raw(go_pprof(path, "-raw"))
    assert header["sample_types"] == "samples/count[dflt]"
    # no labels: the hosts and tiles stay frames, and the stacks come back exactly
    assert {k: v[0] for k, v in stacks.items()} == FLEET


def test_a_capture_folders_export_matches_fleet_folded(tmp_path: Path) -> None:
    """The real pipeline: build_reports on a capture folder, then go tool pprof on its output."""
    folder = tmp_path / "20261125T221500Z-all"
    per_host: dict[str, dict[str, int]] = {}
    for stack, count in FLEET.items():
        host, rest = stack.split(";", 1)
        per_host.setdefault(host, {})[rest] = count
    results = {}
    for host, stacks in per_host.items():
        (folder / "hosts" / host).mkdir(parents=True)
        folded.write_folded(stacks, folder / "hosts" / host / "stacks.folded")
        results[host] = HostResult(status="ok", samples=folded.total(stacks))
    manifest = Manifest(id=folder.name, target="all", started_at=STARTED, duration_s=5, frequency_hz=FREQUENCY, hosts=results)
    manifest.write(folder)
    build_reports(folder, manifest, formats=("pprof",))
    fleet = folded.read_folded(folder / "fleet.folded")
    path = folder / "flamegraph.pb.gz"
    header, stacks = parse_raw(go_pprof(path, "-raw"))
    assert {k: v[0] for k, v in stacks.items()} == fleet
    assert header["Period"] == str(PERIOD) and header["Duration"] == "5s"
    for host, expected in host_totals(fleet).items():
        focused = trace_blocks(go_pprof(path, "-traces", "-tagfocus", f"host={re.escape(host)}"))
        assert sum(count for _, count in focused) == expected == manifest.hosts[host].samples
