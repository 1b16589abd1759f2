"""Folded stacks → one self-contained HTML page with an interactive flame graph viewer.

Everything is inlined (viewer.js, viewer.css, the data as JSON), so the page works offline
and from any folder. The data is the profile document of `model.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fleetflame.errors import FleetflameError
from fleetflame.render.assets import read_asset
from fleetflame.render.model import build_document
from fleetflame.render.options import FlameGraphOptions
from fleetflame.render.xml import escape, script_json

EXTENSION = ".html"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render(stacks: Mapping[str, int], options: FlameGraphOptions | None = None) -> str:
    options = options or FlameGraphOptions()
    return render_profiles({"all": stacks}, options)


def render_profiles(profiles: Mapping[str, Mapping[str, int]], options: FlameGraphOptions) -> str:
    """A page over several named profiles; the basic viewer shows the first."""
    document = build_document(profiles, options)
    script = read_asset("viewer.js")
    css = read_asset("viewer.css")
    for name, text in (("viewer.js", script), ("viewer.css", css)):
        if "</script" in text.lower() or "</style" in text.lower():
            raise FleetflameError(f"fleetflame/render/{name} must not contain a closing </script> or </style> tag")
    values = {
        "title": escape(options.title),
        "css": css,
        "data": script_json(document),
        "js": script,
    }
    # One pass, so text substituted in (e.g. a title with "{{js}}") is never expanded again.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], read_asset("viewer.html"))
