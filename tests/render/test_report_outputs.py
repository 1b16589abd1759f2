"""What `report` writes into a capture folder, and what it prints: one SVG per host up to
HOST_SVG_LIMIT hosts (or as asked), one summary line on a terminal."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bench.synthetic_fleet import TILES, synthetic_fleet
from fleetflame.capture import read_manifest
from fleetflame.cli import analysis_cmds, app
from fleetflame.report import HOST_SVG_LIMIT, build_reports, written_summary

from .test_html import write_capture

FLEET_FILES = ["flamegraph.html", "flamegraph.svg", "fleet.folded", "skew.json"]


def capture(tmp_path: Path, hosts: int, failed: tuple[str, ...] = ()) -> Path:
    fleet = synthetic_fleet(hosts=hosts, samples_per_tile=3, paths_per_kind=10, skewed_host=None, idle_every=0)
    folder = tmp_path / "20261202T180000Z-all"
    write_capture(folder, fleet, {f"host{h:03d}": TILES for h in range(1, hosts + 1)}, failed=failed)
    return folder


def host_svgs(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob("hosts/*/flamegraph.svg"))


def test_host_svgs_up_to_the_limit_unless_asked(tmp_path: Path) -> None:
    folder = capture(tmp_path, HOST_SVG_LIMIT + 1)
    written = build_reports(folder, read_manifest(folder))
    assert sorted(p.name for p in written) == FLEET_FILES and host_svgs(folder) == []
    written = build_reports(folder, read_manifest(folder), host_svgs=True)
    hosts = [f"host{h:03d}" for h in range(1, HOST_SVG_LIMIT + 2)]
    assert host_svgs(folder) == hosts and len(written) == len(FLEET_FILES) + len(hosts)
    assert "<title>host005 (" not in (folder / "hosts/host004/flamegraph.svg").read_text()  # each host's own stacks
    assert "fleetflame: host004" in (folder / "hosts/host004/flamegraph.svg").read_text()


def test_host_svgs_count_the_hosts_that_completed(tmp_path: Path) -> None:
    """HOST_SVG_LIMIT + 1 hosts of which one failed: HOST_SVG_LIMIT graphs; --no-host-svgs: none."""
    folder = capture(tmp_path, HOST_SVG_LIMIT + 1, failed=("host003",))
    written = build_reports(folder, read_manifest(folder))
    assert len(host_svgs(folder)) == HOST_SVG_LIMIT and "host003" not in host_svgs(folder)
    assert len(written) == len(FLEET_FILES) + HOST_SVG_LIMIT
    written = build_reports(folder, read_manifest(folder), host_svgs=False)
    assert sorted(p.name for p in written) == FLEET_FILES


@pytest.mark.parametrize("terminal", [True, False])
def test_report_prints_a_summary_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    """On a terminal one line: how many files, their sizes, where; to a pipe each path first."""
    folder = capture(tmp_path, HOST_SVG_LIMIT + 1)
    screen = StringIO()
    monkeypatch.setattr(analysis_cmds, "out", Console(file=screen, force_terminal=terminal, color_system=None, width=100,
                                                      highlight=False, emoji=False))  # fmt: skip
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    lines = screen.getvalue().splitlines()
    summary = (rf"wrote 4 files \(fleet\.folded [\d.]+ kB, skew\.json [\d.]+ kB, flamegraph\.svg [\d.]+ kB, flamegraph\.html [\d.]+ kB\) "
               rf"in {re.escape(str(folder))}; no per-host SVGs above 16 hosts \(--host-svgs writes all 17\)")  # fmt: skip
    assert re.fullmatch(summary, lines[-1]), lines[-1]
    assert lines[:-1] == ([] if terminal else [str(folder / name) for name in ("fleet.folded", "skew.json", "flamegraph.svg", "flamegraph.html")])
    screen.truncate(0)
    screen.seek(0)
    result = CliRunner().invoke(app, ["report", str(folder), "--host-svgs", "--format", "html"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"wrote 20 files \(.*, flamegraph\.html [\d.]+ kB, 17 host SVGs [\d.]+ [kM]B\) in .*", screen.getvalue().splitlines()[-1])


def test_written_summary_sizes(tmp_path: Path) -> None:
    (tmp_path / "hosts" / "a").mkdir(parents=True)
    (tmp_path / "big").write_bytes(b"x" * 2_500_000)
    (tmp_path / "hosts" / "a" / "flamegraph.svg").write_bytes(b"x" * 1500)
    paths = [tmp_path / "big", tmp_path / "hosts" / "a" / "flamegraph.svg"]
    assert written_summary(tmp_path, paths, 1, None) == f"wrote 2 files (big 2.5 MB, 1 host SVG 1.5 kB) in {tmp_path}"
    assert written_summary(tmp_path, paths[:1], 40, False) == f"wrote 1 file (big 2.5 MB) in {tmp_path}"


def test_the_page_has_a_timeline_when_the_capture_kept_sample_times(tmp_path: Path) -> None:
    """report passes the hosts' timelines to the viewer (header.time); a capture without them
    (made before fleetflame kept them) gets the page as before, and no error."""
    import json

    from bench.synthetic_fleet import synthetic_timelines
    from fleetflame.capture.ids import host_folder_name
    from fleetflame.timeline import write_timeline

    def header(folder: Path) -> dict[str, object]:
        page = (folder / "flamegraph.html").read_text()
        data: dict[str, object] = json.loads(page.split('id="ff-data">', 1)[1].split("</script>", 1)[0])
        return data

    folder = capture(tmp_path, 3)
    build_reports(folder, read_manifest(folder))
    assert "time" not in header(folder)
    fleet = synthetic_fleet(hosts=3, samples_per_tile=3, paths_per_kind=10, skewed_host=None, idle_every=0)
    for host, timeline in synthetic_timelines(fleet, seconds=2.0, skewed_host=None).items():
        write_timeline(folder / "hosts" / host_folder_name(host), timeline)
    build_reports(folder, read_manifest(folder))
    time = header(folder)["time"]
    assert isinstance(time, dict) and time["samples"] == sum(fleet.values()) and time["unmatched"] == 0


def test_a_damaged_timeline_leaves_the_page_without_one_and_says_which(tmp_path: Path) -> None:
    import json

    from bench.synthetic_fleet import synthetic_timelines
    from fleetflame.capture.ids import host_folder_name
    from fleetflame.timeline import write_timeline

    folder = capture(tmp_path, 3)
    fleet = synthetic_fleet(hosts=3, samples_per_tile=3, paths_per_kind=10, skewed_host=None, idle_every=0)
    for host, timeline in synthetic_timelines(fleet, seconds=2.0, skewed_host=None).items():
        write_timeline(folder / "hosts" / host_folder_name(host), timeline)
    damaged = folder / "hosts" / host_folder_name(sorted(fleet)[0].split(";")[0]) / "timeline.json.gz"
    damaged.write_bytes(damaged.read_bytes()[:40])
    build_reports(folder, read_manifest(folder))  # the graphs are drawn all the same
    page = (folder / "flamegraph.html").read_text()
    header = json.loads(page.split('id="ff-data">', 1)[1].split("</script>", 1)[0])
    assert "time" not in header and str(damaged) in header["timeNote"]
