"""Rendering options as plain data, shared by every output format."""

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
