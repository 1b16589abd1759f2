"""A metrics page in the format Firedancer's metric tile serves (src/disco/metrics/fd_prometheus.c):
`# HELP` / `# TYPE` once per metric, a blank line between metrics, every tile's series labelled
`kind`, `kind_id` (then enum or link labels), counters with a `_total` suffix, histograms as
`_bucket{...,le=}` / `_sum` / `_count`, seconds converted with `%e`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageTile:
    kind: str
    kind_id: int
    pid: int
    tid: int
    status: int = 1


def _series(name: str, tiles: list[PageTile], value: str, extra: str = "") -> list[str]:
    return [f'{name}{{kind="{t.kind}",kind_id="{t.kind_id}"{extra}}} {value}' for t in tiles]


def real_page(tiles: list[PageTile], filler_metrics: int = 40) -> str:
    """The page: the tile gauges first (as fd_metrics_all.c declares them), then `filler_metrics`
    counters, an enum gauge, a seconds gauge and a histogram for every tile."""
    blocks: list[list[str]] = []

    def metric(name: str, kind: str, help_text: str, lines: list[str]) -> None:
        blocks.append([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines])

    metric("tile_pid", "gauge", "Process ID of the tile",
           [f'tile_pid{{kind="{t.kind}",kind_id="{t.kind_id}"}} {t.pid}' for t in tiles])
    metric("tile_tid", "gauge", "Thread ID of the tile. Same as Pid in production, but might differ in development",
           [f'tile_tid{{kind="{t.kind}",kind_id="{t.kind_id}"}} {t.tid}' for t in tiles])
    metric("tile_context_switch_involuntary_count_total", "counter", "The number of involuntary context switches",
           _series("tile_context_switch_involuntary_count_total", tiles, "12"))
    metric("tile_status", "gauge", "The current status of the tile. 0=booting, 1=running, 2=shutdown",
           [f'tile_status{{kind="{t.kind}",kind_id="{t.kind_id}"}} {t.status}' for t in tiles])
    metric("tile_heartbeat", "gauge", "The last UNIX timestamp in nanoseconds that the tile heartbeated",
           _series("tile_heartbeat", tiles, "1765072800123456789"))
    metric("tile_regime_duration_nanos_total", "counter", "Mutually exclusive and exhaustive duration of time the tile spent in each of the regimes",
           [line for state in ("caught_up_housekeeping", "processing_prefrag", "backpressure_prefrag", "caught_up_postfrag")
            for line in _series("tile_regime_duration_nanos_total", tiles, "123456", f',tile_regime="{state}"')])
    metric("tile_sandbox_seconds", "gauge", "Seconds since the tile entered its sandbox",
           _series("tile_sandbox_seconds", tiles, "1.234560e+02"))
    for n in range(filler_metrics):
        name = f"link_published_{n}_count_total"
        metric(name, "counter", f"filler counter {n}",
               _series(name, tiles, str(n * 7), f',link_kind="verify_dedup",link_kind_id="{n % 3}"'))
    buckets = ["8", "16", "32", "64", "128", "256", "+Inf"]
    lines = []
    for t in tiles:
        for le in buckets:
            lines.append(f'tile_housekeeping_duration_seconds_bucket{{kind="{t.kind}",kind_id="{t.kind_id}",le="{le}"}} 3')
        lines.append(f'tile_housekeeping_duration_seconds_sum{{kind="{t.kind}",kind_id="{t.kind_id}"}} 1.5e-05')
        lines.append(f'tile_housekeeping_duration_seconds_count{{kind="{t.kind}",kind_id="{t.kind_id}"}} 3')
    metric("tile_housekeeping_duration_seconds", "histogram", "Duration of one housekeeping", lines)
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
