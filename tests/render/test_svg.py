from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from fleetflame.errors import InputError
from fleetflame.folded import read_folded
from fleetflame.render import palette, svg
from fleetflame.render.layout import Frame, layout
from fleetflame.render.options import FlameGraphOptions

from .golden import GOLDEN, check_golden

NS = {"s": "http://www.w3.org/2000/svg"}

CASES = {
    "basic.svg": ("basic.folded", FlameGraphOptions()),
    "basic-inverted.svg": ("basic.folded", FlameGraphOptions(title="Icicle", subtitle="lab01 + lab02", inverted=True)),
    "basic-mem-narrow.svg": ("basic.folded", FlameGraphOptions(colors="mem", width=400, font_size=10, frame_height=14)),
    "kinds.svg": ("kinds.folded", FlameGraphOptions(title="kernel, JIT, inlined, user")),
    "nasty.svg": ("nasty.folded", FlameGraphOptions(title='<title> & "quotes" ]]>')),
    "elide.svg": ("elide.folded", FlameGraphOptions(width=600, min_width=1.0)),
}


@pytest.mark.parametrize("expected", sorted(CASES))
def test_golden(expected: str) -> None:
    source, options = CASES[expected]
    check_golden(expected, svg.render(read_folded(GOLDEN / source), options))


def frames_of(document: str) -> dict[str, list[ET.Element]]:
    """Frame <g> elements by the name in their tooltip."""
    root = ET.fromstring(document.encode("utf-8"))
    out: dict[str, list[ET.Element]] = {}
    for g in root.find("s:g[@id='frames']", NS) or []:
        title = g.find("s:title", NS).text or ""
        out.setdefault(title[: title.rindex(" (")], []).append(g)
    return out


def test_valid_xml_with_nasty_names(nasty: dict[str, int]) -> None:
    options = FlameGraphOptions(title='a <b> & "c" ]]> \x01', subtitle="</svg>")
    document = svg.render(nasty, options)
    frames = frames_of(document)  # parses, or raises
    for name in ['fn<T, U>::operator<<(std::ostream&)', 'tile&"quoted"', "</script>", "]]>", "<!-- not a comment -->",
                 "日本語_関数", "tab\tname", "bell\ufffdchar", "nul\ufffdbyte", "(anonymous namespace)::f()", "{{js}}"]:  # fmt: skip
        assert name in frames, name
    root = ET.fromstring(document.encode())
    assert root.find("s:text[@id='title']", NS).text == 'a <b> & "c" ]]> \ufffd'
    assert document.count("]]>") == 1  # only the script's own CDATA end


def test_deterministic_whatever_the_input_order(basic: dict[str, int]) -> None:
    shuffled = list(basic.items())
    random.Random(1).shuffle(shuffled)
    assert svg.render(basic) == svg.render(dict(shuffled)) == svg.render(dict(basic))


def test_widths_and_tooltips(basic: dict[str, int]) -> None:
    frames = frames_of(svg.render(basic))
    (all_g,) = frames["all"]
    assert all_g.get("data-w") == str(sum(basic.values())) == "200"
    assert frames["all"][0].find("s:title", NS).text == "all (200 samples, 100.00%)"
    # same function under two hosts: two frames; merged within one parent
    ed = frames["fd_ed25519_verify"]
    assert sorted(int(g.get("data-w")) for g in ed) == [35, 65]
    assert frames["lab01"][0].find("s:title", NS).text == "lab01 (142 samples, 71.00%)"
    rect = frames["lab01"][0].find("s:rect", NS)
    assert float(rect.get("width")) == pytest.approx(1180 * 142 / 200, abs=0.05)


def test_narrow_frames_elided() -> None:
    stacks = read_folded(GOLDEN / "elide.folded")
    # usable width 580 px for 10503 samples: 1 px is ~18.1 samples
    frames = frames_of(svg.render(stacks, FlameGraphOptions(width=600, min_width=1.0)))
    assert {"root", "wide", "wider_child", "visible"} <= frames.keys()
    assert not {"tiny_leaf", "narrow_branch", "deep1", "deep2"} & frames.keys()
    frames = frames_of(svg.render(stacks, FlameGraphOptions(width=600, min_width=0.0)))
    assert {"tiny_leaf", "narrow_branch", "deep1", "deep2"} <= frames.keys()


def test_labels_fit_or_are_truncated(basic: dict[str, int]) -> None:
    document = svg.render(basic, FlameGraphOptions(width=300))
    for g in ET.fromstring(document.encode()).find("s:g[@id='frames']", NS):
        label = g.find("s:text", NS).text or ""
        width = float(g.find("s:rect", NS).get("width"))
        assert len(label) <= max(int(width / (12 * svg.FONT_WIDTH)), 0)
        name = g.find("s:title", NS).text.rsplit(" (", 1)[0]
        assert label in ("", name) or (label.endswith("..") and name.startswith(label[:-2]))


def test_script_has_zoom_search_and_tooltips(basic: dict[str, int]) -> None:
    document = svg.render(basic)
    script = document[document.index("<script"):]
    for needle in ["function zoom(", "function unzoom(", "function search(", "new RegExp(", '"Matched: "',
                   "Reset Zoom", "addEventListener(\"click\"", "var fgConfig = {"]:  # fmt: skip
        assert needle in document, needle
    assert "<![CDATA[" in script and "]]></script>" in script
    assert all(g.find("s:title", NS) is not None for gs in frames_of(document).values() for g in gs)


def test_kinds_get_their_own_colours() -> None:
    frames = frames_of(svg.render(read_folded(GOLDEN / "kinds.folded")))

    def rgb(name: str) -> tuple[int, ...]:
        fill = frames[name][0].find("s:rect", NS).get("fill")
        return tuple(int(v) for v in re.findall(r"\d+", fill))

    for kernel in ["do_syscall_64", "__sys_sendmmsg", "[kernel.kallsyms]"]:
        r, g, b = rgb(kernel)
        assert b > r + 60 and b > g + 40, kernel  # blue
    r, g, b = rgb("bpf_fn_0x1234")
    assert g > r + 60 and g > b + 60  # JIT: green
    r, g, b = rgb("fd_memcpy")
    assert g > r + 60 and b > r + 60  # inlined: aqua
    for user in ["fd_net_tx", "solana_runtime::bank::Bank::process_transactions", "[unknown]"]:
        r, g, b = rgb(user)
        assert r >= 205 and b <= 55, user  # hot
    assert rgb("all") == (200, 200, 205)
    assert "do_syscall_64_[k]" not in frames  # annotation shown as colour, not text


def test_same_name_same_colour_across_renders(basic: dict[str, int]) -> None:
    a = palette.frame_color("fd_quic_service", palette.USER)
    assert a == palette.frame_color("fd_quic_service", palette.USER)
    assert a != palette.frame_color("fd_quic_conn_service", palette.USER)


def test_unknown_palette_is_an_input_error(basic: dict[str, int]) -> None:
    with pytest.raises(InputError, match="palette 'rainbow'"):
        svg.render(basic, FlameGraphOptions(colors="rainbow"))


def test_bad_geometry_is_an_input_error(basic: dict[str, int]) -> None:
    with pytest.raises(InputError, match="width must exceed"):
        svg.render(basic, FlameGraphOptions(width=20))


def test_empty_input_is_a_valid_svg() -> None:
    document = svg.render({})
    root = ET.fromstring(document.encode())
    assert "No samples to show" in "".join(root.itertext())


def test_inverted_puts_the_root_on_top(basic: dict[str, int]) -> None:
    def y(document: str, name: str) -> float:
        return float(frames_of(document)[name][0].find("s:rect", NS).get("y"))

    normal, inverted = svg.render(basic), svg.render(basic, replace(FlameGraphOptions(), inverted=True))
    assert y(normal, "all") > y(normal, "lab01")
    assert y(inverted, "all") < y(inverted, "lab01")


# --- layout ------------------------------------------------------------------------------


def reference_layout(stacks: dict[str, int]) -> set[tuple[int, int, int, str]]:
    """Straightforward trie layout, as flamegraph.pl draws it: children sorted by name, to the
    right of the parent's own (self) samples."""
    tree: dict = {}
    for stack, count in stacks.items():
        node = tree
        names = stack.split(";")
        for i, name in enumerate(names):
            entry = node.setdefault(name, [0, 0, {}])
            entry[0] += count
            if i == len(names) - 1:
                entry[1] += count
            node = entry[2]
    out = {(0, 0, sum(stacks.values()), "all")}

    def walk(node: dict, depth: int, x: int) -> None:
        for name in sorted(node):
            total, own, children = node[name]
            out.add((depth, x, total, name))
            walk(children, depth + 1, x + own)
            x += total

    walk(tree, 1, 0)
    return out


def test_layout_keeps_runs_together_when_names_share_prefixes() -> None:
    # plain string order would put "a;b!x" and "a;b-y" between "a;b" and "a;b;c"
    stacks = {"a;b": 1, "a;b!x": 2, "a;b;c": 4, "a;b-y;z": 8, "a;b c": 16, "a;b;c;d": 32}
    got = {(f.depth, f.start, f.width, f.name) for f in layout(stacks)}
    assert got == reference_layout(stacks)
    assert [f.width for f in layout(stacks) if f.name == "b"] == [37]


def test_layout_matches_reference_on_random_stacks() -> None:
    rng = random.Random(5)
    names = ["a", "b", "b1", "b:0", "b;", "c d", "a.b", "", "b!"]
    for _ in range(200):
        stacks: dict[str, int] = {}
        for _ in range(rng.randint(1, 30)):
            stack = ";".join(rng.choice(names) for _ in range(rng.randint(1, 6)))
            stacks[stack] = stacks.get(stack, 0) + rng.randint(1, 9)
        got = {(f.depth, f.start, f.width, f.name) for f in layout(stacks)}
        assert got == reference_layout(stacks), stacks


def test_layout_min_count_and_other_weights() -> None:
    stacks = {"a;b": 10, "a;c": 1, "d": 5}
    other = {"a;b": 3, "a;gone": 7, "d": 1}
    frames = layout(stacks, min_count=2, other=other)
    assert frames[0] == Frame(0, 0, 16, "all", 11)
    assert {f.name: (f.width, f.other) for f in frames[1:]} == {"a": (11, 10), "b": (10, 3), "d": (5, 1)}
