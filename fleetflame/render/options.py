"""Rendering options as plain data, shared by every output format.

The graph options (title to search colour) are flamegraph.pl's. The capture fields at the end
are what the exports (pprof, speedscope) carry beyond the stacks; they stay unset for plain
folded input, where nothing is known about how the samples were taken.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FlameGraphOptions:
    title: str = "Flame Graph"
    subtitle: str | None = None
    width: int = 1200  # image width in px (SVG); the HTML viewer fills the window
    frame_height: int = 16
    font_size: int = 12
    font_type: str = "Verdana"
    min_width: float = 0.1  # px; narrower frames (and their children) are elided
    count_name: str = "samples"
    colors: str = "hot"  # palette of user frames: hot, red, mem, io
    inverted: bool = False  # icicle graph: root at the top
    name_type: str = "Function:"  # prefix of the details line under the graph
    search_color: str = "rgb(230,0,230)"
    # --- the capture, for the exports ---
    frequency_hz: float | None = None  # perf record -F: pprof's period (cpu-clock ns) and cpu time
    duration_s: float | None = None  # how long perf recorded: pprof's duration_nanos
    start_time_ns: int | None = None  # when recording started, ns since the epoch (UTC): pprof's time_nanos
    # Stacks are fleet stacks `host;tile;frame;...` (tile `KIND:IDX`, or `agave;THREAD`): pprof turns
    # host and tile into sample labels, speedscope writes one profile per host after the fleet's.
    fleet_stacks: bool = False
