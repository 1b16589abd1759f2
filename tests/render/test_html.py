from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from fleetflame.render import assets, html
from fleetflame.render.model import FORMAT, build_document, decode_profile
from fleetflame.render.options import FlameGraphOptions


class Scripts(HTMLParser):
    """Collects <script> bodies and every src/href attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.links: list[str] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset")]
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def parse(page: str) -> Scripts:
    parser = Scripts()
    parser.feed(page)
    return parser


def embedded(page: str) -> dict:
    (body,) = [body for attrs, body in parse(page).scripts if attrs.get("id") == "ff-data"]
    return json.loads(body)


def test_self_contained_no_network(basic: dict[str, int]) -> None:
    page = html.render(basic, FlameGraphOptions(title="fleet"))
    parsed = parse(page)
    assert parsed.links == []  # no src/href at all: nothing to fetch
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert all("src" not in attrs for attrs, _ in parsed.scripts)
    assert "function buildTree(" in page  # the viewer is inlined


def test_data_is_lossless_and_reusable(basic: dict[str, int], nasty: dict[str, int]) -> None:
    for stacks in (basic, nasty):
        document = embedded(html.render(stacks))
        assert document["format"] == FORMAT and document["version"] == 1
        assert decode_profile(document) == stacks
        assert document["profiles"][0]["total"] == sum(stacks.values())
        frames = document["frames"]
        assert len(frames["name"]) == len(frames["label"]) == len(frames["kind"]) == len(frames["color"])


def test_several_profiles_share_one_frame_table(basic: dict[str, int]) -> None:
    before = {k: v for k, v in basic.items() if "lab01" in k}
    document = build_document({"before": before, "after": basic}, FlameGraphOptions())
    assert [p["name"] for p in document["profiles"]] == ["before", "after"]
    assert decode_profile(document, 0) == before and decode_profile(document, 1) == basic
    assert len(document["frames"]["name"]) == len(set(document["frames"]["name"]))


def test_front_coding_is_compact(basic: dict[str, int]) -> None:
    stacks = build_document({"all": basic}, FlameGraphOptions())["profiles"][0]["stacks"]
    assert stacks[0][0] == 0
    assert sum(len(s) - 1 for s in stacks) < 0.6 * sum(k.count(";") + 1 for k in basic)


def test_nasty_names_cannot_break_out(nasty: dict[str, int]) -> None:
    page = html.render(nasty, FlameGraphOptions(title="</title><script>alert(1)</script> {{js}}"))
    parsed = parse(page)
    assert len(parsed.scripts) == 3  # error hook, data, viewer: no injected script
    assert page.count("</script>") == 3
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; {{js}}</title>" in page
    assert embedded(page)["title"] == "</title><script>alert(1)</script> {{js}}"


def test_error_hook_comes_before_the_viewer(basic: dict[str, int]) -> None:
    scripts = parse(html.render(basic)).scripts
    assert 'addEventListener("error"' in scripts[0][1]
    assert scripts[1][0].get("id") == "ff-data"
    assert "buildTree" in scripts[2][1]


def test_viewer_features_present(basic: dict[str, int]) -> None:
    page = html.render(basic)
    for needle in ['id="ff-search"', 'id="ff-reset"', 'id="ff-crumbs"', 'id="ff-tip"', "function zoom(",
                   "function search(", '"Matched: "', "of parent", "of total"]:  # fmt: skip
        assert needle in page, needle


def test_missing_viewer_asset_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, basic: dict[str, int]) -> None:
    real = resources.files("fleetflame.render")
    for name in ("viewer.css", "viewer.html"):
        (tmp_path / name).write_text(real.joinpath(name).read_text())
    monkeypatch.setattr(assets.resources, "files", lambda package: tmp_path)
    with pytest.raises(assets.MissingAssetError) as error:
        html.render(basic)
    message = str(error.value)
    assert "fleetflame/render/viewer.js is missing" in message
    assert "git checkout -- fleetflame/render/" in message and "pip install" in message
    assert error.value.exit_code == 1


def test_assets_are_packaged() -> None:
    root = Path(html.__file__).parent
    for name in ("viewer.js", "viewer.css", "viewer.html", "flamegraph.js"):
        assert (root / name).is_file(), name
