"""The human form of a skew report: a rich table of the findings, largest first, with the
viewer step that shows each one, and the host/tile pairs left out for want of samples.

Every name in it (host, tile, function) comes from the hosts' data, so it goes through
`terminal.safe_line` and into `Text` cells: never rich markup, never a terminal code. Name
columns are `no_wrap`: printed with `terminal.print_table`, they are never cut.
"""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from ..terminal import safe_line
from .compare import MIN_HOSTS
from .skew import Finding, SkewReport

MAX_NAME = 500  # characters of a name shown (a C++ or Rust symbol can run to thousands)
MAX_SKIPPED = 6  # not-enough-samples pairs named in the caption


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(finding: Finding) -> Text:
    points = 100 * finding.difference
    return Text(f"{points:+.1f}", style="bold red" if points > 0 else "bold cyan")


# The table must fit the width it is given (80 columns in a pipe): no vertical borders, so each
# column costs its widest cell and 3 between columns (none at the edges); what is left goes to the
# names.
MIN_FUNCTION = 12
MIN_NAMES = 40  # below this many columns for names, samples and p adj. make way


def _fit(text: str, width: int, middle: bool = True) -> Text:
    """A name from a host, one line, cut to `width` characters: in the middle for a symbol (its
    namespace and its function say more than what lies between), at the end for a host name
    (`val-fra-07.mainnet…`)."""
    clean = safe_line(text, limit=MAX_NAME)
    if len(clean) <= width:
        return Text(clean)
    keep = max(1, width - 1)
    if not middle:
        return Text(clean[:keep] + "…")
    return Text(clean[: keep - keep // 2] + "…" + clean[len(clean) - keep // 2 :])


def skew_table(report: SkewReport, capture_folder: Path, limit: int | None = None, *, width: int = 80,
               links: bool = False) -> Table:
    """The findings as a rich table, largest first, `limit` rows at most (then "N more"), that fits
    `width` columns: names are cut in the middle to fit, the samples and p columns come only
    when there is room, the viewer link of each finding only with `links` (it may be as long as
    it is: it is for copying)."""
    settings = (
        f"≥ {100 * report.min_difference:g} points from the fleet, BH-adjusted p ≤ {report.alpha:g}"
        + (f", {report.comparisons:,} comparisons" if report.comparisons is not None else "")
    )
    shown = report.findings if limit is None else report.findings[:limit]
    if not report.findings:
        table = Table.grid()
        table.add_row(Text(f"skew: no host's tile differs from the rest of the fleet ({settings})", style="green"))
        table.caption = _caption(report, capture_folder, 0, links)
        table.caption_justify = "left"
        return table
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        title=f"skew: {len(report.findings)} findings, largest first",
        title_justify="left",
        caption=_caption(report, capture_folder, len(report.findings) - len(shown), links, settings),
        caption_justify="left",
    )
    cells = [_cells(number, finding) for number, finding in enumerate(shown, 1)]
    headers = ("#", "time", "host", "fleet", "points", "samples", "p adj.")
    widest = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    names = width - 3 * 7 - sum(widest[:5])
    wide = names - sum(widest[5:]) - 6 >= MIN_NAMES
    if wide:
        names -= sum(widest[5:]) + 6
    tile_w = min(max(len(safe_line(f.tile)) for f in shown), 16)
    host_w = min(max(len(safe_line(f.host)) for f in shown), max(8, (names - tile_w) // 2))
    function_w = max(MIN_FUNCTION, names - host_w - tile_w)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("host", no_wrap=True)
    table.add_column("tile", no_wrap=True)
    table.add_column("function", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("host", justify="right", no_wrap=True)
    table.add_column("fleet", justify="right", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    if wide:
        table.add_column("samples", justify="right", no_wrap=True)
        table.add_column("p adj.", justify="right", no_wrap=True)
    if links:
        table.add_column("open in a browser", no_wrap=True)
    for finding, row in zip(shown, cells):
        number, time, host, fleet, points, samples, p_adjusted = row
        line: list[str | Text] = [
            number, _fit(finding.host, host_w, middle=False), _fit(finding.tile, tile_w), _fit(finding.function, function_w), time,
            host, fleet, Text(points, style="bold red" if finding.difference > 0 else "bold cyan"),
        ]
        if wide:
            line += [samples, p_adjusted]
        if links:
            line.append(Text(finding.view))  # percent-encoded: plain ASCII
        table.add_row(*line)
    return table


def _cells(number: int, finding: Finding) -> tuple[str, str, str, str, str, str, str]:
    """The fixed cells of a finding's row: #, time, host %, fleet %, points, samples, p adj."""
    return (
        str(number),
        "incl" if finding.kind == "inclusive" else finding.kind,
        _percent(finding.host_share),
        _percent(finding.fleet_share),
        f"{100 * finding.difference:+.1f}",
        f"{finding.host_samples:,}/{finding.host_total:,}",
        f"{finding.p_adjusted:.1e}",
    )


def _caption(report: SkewReport, capture_folder: Path, more: int, links: bool, settings: str = "") -> Text:
    lines = [f"findings: {settings}"] if settings else []
    if report.findings and links:
        lines.append(f"open: {safe_line(str(capture_folder))}/ + the last column (the viewer shows that host's tile against the rest)")
    elif report.findings:
        lines.append(f"see one: {safe_line(str(capture_folder))}/flamegraph.html, Skew tab (links: --links)")
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
