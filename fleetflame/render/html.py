"""Folded stacks → one self-contained HTML page with an interactive flame graph viewer.

Everything is inlined (the viewer's scripts and CSS, the data), so the page works offline and
from any folder. The data is the document of `model.py`: a JSON header and a gzip+base64 blob,
and for a fleet whose capture kept sample times, the time section (#ff-time, read only when the
Timeline tab or a `#from=…&until=…` link needs it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fleetflame.errors import FleetflameError
from fleetflame.render.assets import read_asset
from fleetflame.render.model import FleetContext, build_page_data, pack_blob
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import escape, script_json

EXTENSION = ".html"
SCRIPTS = ("viewer-data.js", "viewer-draw.js", "viewer-time.js", "viewer.js")  # in this order: each uses the ones before
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    """A page for any folded stacks (no host or tile structure assumed)."""
    return _page(stacks, options or FlameGraphOptions(), None)


def render_fleet(stacks: Mapping[str, int], options: FlameGraphOptions, context: FleetContext) -> str:
    """A page for fleet stacks (`host;tile;frame;...`): views by tile kind and by host, host
    selector, host against the rest, skew findings and idle tiles from `context`."""
    return _page(stacks, options, context)


def _page(stacks: Mapping[str, int], options: FlameGraphOptions, context: FleetContext | None) -> str:
    header, blob, time_text = build_page_data(stacks, options, context)
    scripts = [(name, read_asset(name)) for name in SCRIPTS]
    css = read_asset("viewer.css")
    for name, text in [*scripts, ("viewer.css", css)]:
        if "</script" in text.lower() or "</style" in text.lower():
            raise FleetflameError(f"fleetflame/render/{name} must not contain a closing </script> or </style> tag")
    values = {
        "title": escape(options.title),
        "css": css,
        "data": script_json(header),
        "blob": pack_blob(blob),  # base64: nothing in it can close the tag
        "time": time_text,  # base64 too, or empty
        "js": "\n".join(text for _, text in scripts),
    }
    # One pass, so text substituted in (e.g. a title with "{{js}}") is never expanded again.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], read_asset("viewer.html"))

