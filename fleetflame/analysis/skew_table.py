"""The human form of a skew report: a rich table of the findings, largest first, with the
viewer step that shows each one, and the host/tile pairs left out for want of samples.

Every name in it (host, tile, function) comes from the hosts' data, so it goes through
`terminal.safe_line` and into `Text` cells: never rich markup, never a terminal code. Name
columns are `no_wrap`: printed with `terminal.print_table`, they are never cut.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from ..terminal import literal_line, safe_line
from .compare import MIN_HOSTS
from .skew import Finding, SkewReport

MAX_NAME = 500  # characters of a name shown (a C++ or Rust symbol can run to thousands)
MAX_SKIPPED = 6  # not-enough-samples pairs named in the caption


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(finding: Finding) -> Text:
    points = 100 * finding.difference
    return Text(f"{points:+.1f}", style="bold red" if points > 0 else "bold cyan")


def skew_table(report: SkewReport, capture_folder: Path, limit: int | None = None) -> Table:
    """The findings as a rich table, largest first, with the viewer step that shows each one;
    `limit` rows at most (then "N more"), for the short form after a run's recap."""
    settings = (
        f"≥ {100 * report.min_difference:g} points from the fleet and Benjamini–Hochberg adjusted p ≤ {report.alpha:g}"
        + (f" over {report.comparisons:,} comparisons" if report.comparisons is not None else "")
    )
    shown = report.findings if limit is None else report.findings[:limit]
    if not report.findings:
        table = Table.grid()
        table.add_row(Text(f"skew: no host's tile differs from the rest of the fleet ({settings})", style="green"))
        table.caption = _caption(report, capture_folder, 0)
        table.caption_justify = "left"
        return table
    table = Table(
        title=f"skew: {len(report.findings)} host/tile/function findings, largest first ({settings})",
        title_justify="left",
        caption=_caption(report, capture_folder, len(report.findings) - len(shown)),
        caption_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("host", no_wrap=True)
    table.add_column("tile", no_wrap=True)
    table.add_column("function", no_wrap=True)
    table.add_column("time")
    table.add_column("host", justify="right")
    table.add_column("fleet", justify="right")
    table.add_column("points", justify="right")
    table.add_column("samples", justify="right")
    table.add_column("p adj.", justify="right")
    table.add_column("open in a browser", no_wrap=True)
    for number, finding in enumerate(shown, 1):
        table.add_row(
            str(number),
            literal_line(finding.host, limit=MAX_NAME),
            literal_line(finding.tile, limit=MAX_NAME),
            literal_line(finding.function, limit=MAX_NAME),
            finding.kind,
            _percent(finding.host_share),
            _percent(finding.fleet_share),
            _points(finding),
            f"{finding.host_samples:,}/{finding.host_total:,}",
            f"{finding.p_adjusted:.1e}",
            Text(finding.view),  # percent-encoded: plain ASCII
        )
    return table


def _caption(report: SkewReport, capture_folder: Path, more: int) -> Text:
    lines = []
    if report.findings:
        lines.append(f"open: {safe_line(str(capture_folder))}/ + the last column (the viewer shows that host's tile against the rest)")
    if more:
        lines.append(f"… and {more} more: `fleetflame skew {safe_line(str(capture_folder))}` lists them all")
    if report.not_enough_samples:
        named = ", ".join(
            f"{safe_line(s.host, limit=80)} {safe_line(s.tile, limit=40)} ({s.samples})" for s in report.not_enough_samples[:MAX_SKIPPED]
        )
        rest = len(report.not_enough_samples) - MAX_SKIPPED
        tail = f" and {rest} more (see --json)" if rest > 0 else ""
        lines.append(
            f"not compared, too few samples ({report.min_samples} per host and tile, on ≥ {MIN_HOSTS} hosts): {named}{tail}"
        )
    return Text("\n".join(lines), style="dim")
