"""The recap after a run says when nothing was recorded (issue 16), and names skipped tiles."""

from __future__ import annotations

import io

from rich.console import Console

from fleetflame.capture import HostResult, Manifest
from fleetflame.progress import nothing_recorded, recap_notes, recap_table
from fleetflame.terminal import print_table


def manifest(**hosts: HostResult) -> Manifest:
    return Manifest(id="20261207T120000Z-all", target="all", started_at="2026-12-07T12:00:00Z", duration_s=2.0, hosts=dict(hosts))


def test_a_run_that_reached_no_host_says_nothing_was_recorded() -> None:
    down = manifest(a=HostResult(status="failed", error="connection refused"), b=HostResult(status="failed", error="timed out"))
    assert nothing_recorded(down) == "nothing recorded: no host could be reached"
    text = io.StringIO()
    print_table(Console(file=text, width=80, color_system=None), recap_table(down))
    words = " ".join(text.getvalue().split())  # the title wraps at the table's width
    assert "nothing recorded: no host could be reached" in words and "2 s recorded" not in words
    failed = manifest(a=HostResult(status="failed", error="tile verify:7 not found on a", tile_source="metrics"))
    assert nothing_recorded(failed) == "nothing recorded: every host failed"
    some = manifest(a=HostResult(status="ok", samples=5), b=HostResult(status="failed"))
    assert nothing_recorded(some) is None


def test_skipped_tiles_and_warnings_are_named_under_the_recap() -> None:
    done = manifest(a=HostResult(status="ok", samples=5, skipped_tiles=[{"tile": "snapld:0", "reason": "shut down"}],
                                 warnings=["tile kind newtile unknown to fleetflame: recorded all the same"]))
    assert recap_notes(done) == [
        ("a", "skipped snapld:0 (shut down)"),
        ("a", "warning: tile kind newtile unknown to fleetflame: recorded all the same"),
    ]
