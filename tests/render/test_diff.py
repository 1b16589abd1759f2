from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fleetflame.diff import DiffStack, delta_color, diff_stacks, format_diff_folded, read_side, render_diff_svg
from fleetflame.errors import InputError
from fleetflame.folded import read_folded
from fleetflame.render.options import FlameGraphOptions

from .golden import GOLDEN, check_golden

NS = {"s": "http://www.w3.org/2000/svg"}


@pytest.fixture
def sides() -> tuple[dict[str, int], dict[str, int]]:
    return read_folded(GOLDEN / "diff-before.folded"), read_folded(GOLDEN / "diff-after.folded")


def test_diff_stacks_normalised(sides: tuple[dict[str, int], dict[str, int]]) -> None:
    before, after = sides  # totals 200 and 400: before is doubled
    rows = diff_stacks(before, after)
    assert rows == [
        DiffStack("lab01;quic:0;fd_tile_run;fd_quic_gone", 20, 0),
        DiffStack("lab01;quic:0;fd_tile_run;fd_quic_new", 0, 30),
        DiffStack("lab01;quic:0;fd_tile_run;fd_quic_service", 80, 20),
        DiffStack("lab01;verify:0;fd_tile_run;fd_ed25519_verify", 200, 300),
        DiffStack("lab01;verify:0;fd_tile_run;fd_sha512_fini", 100, 50),
    ]
    assert sum(r.before for r in rows) == sum(r.after for r in rows) == 400


def test_diff_stacks_raw(sides: tuple[dict[str, int], dict[str, int]]) -> None:
    rows = diff_stacks(*sides, normalize=False)
    assert [(r.before, r.after) for r in rows] == [(10, 0), (0, 30), (40, 20), (100, 300), (50, 50)]
    assert diff_stacks({}, {"a": 1}) == [DiffStack("a", 0, 1)]
    assert diff_stacks({"a": 0, "b": -3}, {}) == []


def test_diff_folded_text(sides: tuple[dict[str, int], dict[str, int]]) -> None:
    check_golden("diff.txt", format_diff_folded(diff_stacks(*sides)))
    check_golden("diff-raw.txt", format_diff_folded(diff_stacks(*sides, normalize=False)))
    line = format_diff_folded([DiffStack("a;b c;d", 1, 2)])
    assert line == "a;b c;d 1 2\n"


def test_diff_svg_golden(sides: tuple[dict[str, int], dict[str, int]]) -> None:
    check_golden("diff.svg", render_diff_svg(diff_stacks(*sides), title="before → after"))


def diff_frames(document: str) -> dict[str, tuple[str, str, int]]:
    root = ET.fromstring(document.encode())
    out = {}
    for g in root.find("s:g[@id='frames']", NS):
        title = g.find("s:title", NS).text
        out[title[: title.rindex(" (")]] = (title, g.find("s:rect", NS).get("fill"), int(g.get("data-w")))
    return out


def rgb(fill: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", fill))


def test_diff_svg_colours_widths_and_tooltips(sides: tuple[dict[str, int], dict[str, int]]) -> None:
    frames = diff_frames(render_diff_svg(diff_stacks(*sides)))
    title, fill, width = frames["fd_ed25519_verify"]
    assert width == 300  # widths are AFTER's counts
    assert rgb(fill) == (255, 0, 0)  # grew the most: full red
    assert title == "fd_ed25519_verify (before 200, after 300 samples; +100, +25.00% of total, +50.0% vs before)"
    title, fill, width = frames["fd_quic_service"]
    r, g, b = rgb(fill)
    assert b == 255 and r == g < 255  # shrank: blue
    assert "before 80, after 20" in title and "-60, -15.00% of total, -75.0% vs before" in title
    assert frames["fd_quic_new"][0].endswith("+30, +7.50% of total, new)")
    assert "fd_quic_gone" not in frames  # zero width after
    # inclusive change: quic:0 went from 100 to 50, verify:0 from 300 to 350
    assert "before 100, after 50" in frames["quic:0"][0] and rgb(frames["quic:0"][1])[2] == 255
    assert "before 300, after 350" in frames["verify:0"][0] and rgb(frames["verify:0"][1])[0] == 255
    # intensity relative to the largest change (+100): -50 is half-way to full blue
    assert rgb(frames["fd_sha512_fini"][1]) == (107, 107, 255)
    assert frames["lab01"][1] == "rgb(235,235,235)"  # normalised totals: no change


def test_delta_colour_intensity() -> None:
    assert delta_color(0, 10) == "rgb(235,235,235)"
    assert delta_color(10, 10) == "rgb(255,0,0)" and delta_color(-10, 10) == "rgb(0,0,255)"
    light, dark = rgb(delta_color(1, 10)), rgb(delta_color(8, 10))
    assert light[0] == dark[0] == 255 and light[1] > dark[1]


def test_diff_svg_is_valid_and_deterministic(nasty: dict[str, int], sides: tuple[dict[str, int], dict[str, int]]) -> None:
    before = {k: v * 2 for k, v in nasty.items()}
    document = render_diff_svg(diff_stacks(before, nasty), FlameGraphOptions(title="<&>"))
    ET.fromstring(document.encode())
    assert document == render_diff_svg(diff_stacks(before, dict(reversed(nasty.items()))), FlameGraphOptions(title="<&>"))
    assert "var fgConfig" in document and "function zoom(" in document


def test_read_side(tmp_path: Path) -> None:
    (tmp_path / "cap").mkdir()
    (tmp_path / "cap" / "fleet.folded").write_text("a;b 3\n")
    (tmp_path / "x.folded").write_text("c 1\n")
    assert read_side(tmp_path / "cap") == {"a;b": 3}
    assert read_side(tmp_path / "x.folded") == {"c": 1}
    with pytest.raises(InputError, match="fleet.folded"):
        read_side(tmp_path)
