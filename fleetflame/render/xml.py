"""Escaping for XML/HTML text and attributes, including characters XML 1.0 forbids."""

from __future__ import annotations

import json
from typing import Any

# C0 controls other than tab/newline/CR are not allowed in XML 1.0 even as entities;
# frame names can hold them (binary garbage from perf), so they become U+FFFD.
_TABLE: dict[int, str] = {c: "\ufffd" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
_TABLE.update({0xFFFE: "\ufffd", 0xFFFF: "\ufffd"})
_TABLE.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#39;"})


def clean(text: str) -> str:
    """Replace lone surrogates (undecodable bytes kept by surrogateescape), unencodable as UTF-8."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def escape(text: str) -> str:
    """Safe inside XML/HTML text and double- or single-quoted attributes."""
    return clean(text.translate(_TABLE))


def script_json(value: Any) -> str:
    """JSON that is safe to embed in <script> and in CDATA (no `<`, `>` or `&` left)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
