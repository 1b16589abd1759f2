"""Folded stacks → interactive SVG flame graph (click to zoom, search, tooltips), like flamegraph.pl.

The geometry mirrors flamegraph.pl (padding, 0.59 em glyph width for label fitting, `..`
truncation) so graphs look familiar; the embedded script (flamegraph.js) is our own.
Each frame is `<g data-x data-w>` with exact start and width in counts, so zooming stays exact
however deep it goes; the rect's pixel geometry is for viewers that run no script.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fleetflame.errors import InputError
import fleetflame.render.palette as palette
from fleetflame.render.assets import read_asset
from fleetflame.render.layout import Frame, layout
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import escape, script_json

EXTENSION = ".svg"
XPAD = 10
FRAME_PAD = 1
FONT_WIDTH = 0.59  # average glyph width in em, as flamegraph.pl assumes

Fill = Callable[[Frame], str]
Info = Callable[[Frame, str], str]  # (frame, escaped display name) -> escaped tooltip


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    options = options or FlameGraphOptions()
    check_options(options)
    frames = layout(stacks, min_count_for(sum(v for v in stacks.values() if v > 0), options))
    return draw(frames, options)


def check_options(options: FlameGraphOptions) -> None:
    palette.check_palette(options.colors)
    if options.width <= 2 * XPAD + 50 or options.frame_height < 2 or options.font_size < 1 or options.min_width < 0:
        raise InputError(
            f"bad graph geometry (width {options.width}, frame height {options.frame_height}, "
            f"font size {options.font_size}, min width {options.min_width}): width must exceed "
            f"{2 * XPAD + 50} px, sizes must be positive"
        )


def min_count_for(total: int, options: FlameGraphOptions) -> float:
    usable = options.width - 2 * XPAD
    return options.min_width * total / usable if usable > 0 else 0.0


def draw(frames: list[Frame], options: FlameGraphOptions, fill: Fill | None = None, info: Info | None = None) -> str:
    """The SVG document for laid-out frames.

    `fill` and `info` give a frame's colour and (escaped) tooltip; by default the colour comes
    from the name and the tooltip shows the count and share of the total.
    """
    fs, fh, width = options.font_size, options.frame_height, options.width
    ypad1 = fs * 3 + (fs * 2 if options.subtitle else 0)
    ypad2 = fs * 2 + 10
    max_depth = max(f.depth for f in frames)
    height = (max_depth + 1) * fh + ypad1 + ypad2
    total = frames[0].width
    scale = (width - 2 * XPAD) / total if total else 0.0
    pct_scale = 100 / total if total else 0.0
    glyph = fs * FONT_WIDTH
    count_name = escape(options.count_name)
    inverted, colors = options.inverted, options.colors
    base_y = height - ypad2 - fh + FRAME_PAD
    text_dy = (fh + fs) // 2 - 2
    rect_tail = f'" height="{fh - FRAME_PAD}" fill="'
    names: dict[str, tuple[str, str, str]] = {}  # frame name -> (shown, escaped, colour)
    out = [_header(options, width, height, ypad1)]
    if not total:
        out.append(f'<text x="{width / 2:.1f}" y="{ypad1 + fs * 2}" text-anchor="middle">No {count_name} to show</text>\n')
        frames = []
    out.append('<g id="frames">\n')
    for frame in frames:
        depth, start, w_count, fname, _ = frame
        cached = names.get(fname) if depth else None  # "all" is not cached: a real frame may be named so
        if cached is None:
            shown = "all" if depth == 0 else palette.display_name(fname)
            kind = palette.ROOT if depth == 0 else palette.frame_kind(fname)
            colour = palette.css_rgb(palette.frame_color(fname, kind, colors))
            cached = (shown, escape(shown), colour)
            if depth:
                names[fname] = cached
        shown, name, colour = cached
        x = XPAD + start * scale
        w = w_count * scale
        y = ypad1 + depth * fh if inverted else base_y - depth * fh
        chars = int(w / glyph)
        if chars < 3:
            label = ""
        elif len(shown) <= chars:
            label = name
        else:
            label = escape(shown[: chars - 2]) + ".."
        title = info(frame, name) if info else f"{name} ({w_count:,} {count_name}, {w_count * pct_scale:.2f}%)"
        out.append(
            f'<g data-x="{start}" data-w="{w_count}"><title>{title}</title>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}{rect_tail}{fill(frame) if fill else colour}" rx="2" ry="2"/>'
            f'<text x="{x + 3:.1f}" y="{y + text_dy}">{label}</text></g>\n'
        )
    out.append("</g>\n")
    config = {
        "xpad": XPAD, "width": width, "height": height, "ypad1": ypad1, "ypad2": ypad2,
        "frameHeight": fh, "fontSize": fs, "fontWidth": FONT_WIDTH, "total": total,
        "inverted": inverted, "searchColor": options.search_color, "nameType": options.name_type,
    }  # fmt: skip
    script = read_asset("flamegraph.js")
    out.append(f'<script type="text/ecmascript"><![CDATA[\nvar fgConfig = {script_json(config)};\n{script}]]></script>\n</svg>\n')
    return "".join(out)


def _header(options: FlameGraphOptions, width: int, height: int, ypad1: int) -> str:
    fs = options.font_size
    font = escape(options.font_type)
    subtitle = ""
    if options.subtitle:
        subtitle = f'<text id="subtitle" x="{width / 2:.1f}" y="{fs * 4}">{escape(options.subtitle)}</text>\n'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<svg version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg">\n'
        "<!-- Flame graph drawn by fleetflame. Click a frame to zoom, Ctrl-F to search. -->\n"
        '<defs><linearGradient id="background" y1="0" y2="1" x1="0" x2="0">'
        '<stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/>'
        "</linearGradient></defs>\n"
        f"<style>text{{font-family:{font},sans-serif;font-size:{fs}px;fill:rgb(0,0,0)}}"
        f"#title{{text-anchor:middle;font-size:{fs + 5}px}}#subtitle{{text-anchor:middle;fill:rgb(100,100,100)}}"
        "#search,#ignorecase{opacity:0.1;cursor:pointer}#search:hover,#search.show,#ignorecase:hover,#ignorecase.show{opacity:1}"
        "#unzoom{cursor:pointer}#matched{text-anchor:end}#frames>*:hover rect{stroke:black;stroke-width:0.5}"
        "#frames>*{cursor:pointer}.hide{display:none}.parent{opacity:0.5}</style>\n"
        '<rect x="0" y="0" width="100%" height="100%" fill="url(#background)"/>\n'
        f'<text id="title" x="{width / 2:.1f}" y="{fs * 2}">{escape(options.title)}</text>\n{subtitle}'
        f'<text id="details" x="{XPAD}" y="{height - fs // 2 - 5}"> </text>\n'
        f'<text id="unzoom" class="hide" x="{XPAD}" y="{fs * 2}">Reset Zoom</text>\n'
        f'<text id="search" x="{width - XPAD - 60}" y="{fs * 2}">Search</text>\n'
        f'<text id="ignorecase" x="{width - XPAD - 16}" y="{fs * 2}">ic</text>\n'
        f'<text id="matched" x="{width - XPAD}" y="{height - fs // 2 - 5}"> </text>\n'
    )
