"""`fleetflame flamegraph`: flamegraph.pl's options reach the SVG and the HTML viewer, lines that
are not folded stacks are counted and shown safely, and hostile input never gets a traceback or
unbounded memory."""

from __future__ import annotations

import gzip
import random
import resource
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleetflame import folded
from fleetflame.cli import app
from fleetflame.render import palette

from .golden import GOLDEN
from .test_svg import NS, frames_of

runner = CliRunner()
FLEETFLAME = [sys.executable, "-m", "fleetflame"]


def invoke(*args: str, input: bytes | str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["flamegraph", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def svg_of(*args: str) -> ET.Element:
    code, out, err = invoke(str(GOLDEN / "basic.folded"), *args)
    assert code == 0, err
    return ET.fromstring(out.encode("utf-8"))


def rect_y(root: ET.Element, name: str) -> float:
    for g in root.find("s:g[@id='frames']", NS) or []:
        if (g.find("s:title", NS).text or "").startswith(name + " ("):
            return float(g.find("s:rect", NS).get("y") or "nan")
    raise AssertionError(f"no frame {name}")


def test_width_title_and_subtitle_reach_the_svg() -> None:
    root = svg_of("--width", "800", "--title", "Fleet <verify>", "--subtitle", "lab01 & lab02")
    assert root.get("width") == "800"
    assert root.find("s:text[@id='title']", NS).text == "Fleet <verify>"
    assert root.find("s:text[@id='subtitle']", NS).text == "lab01 & lab02"
    all_rect = next(g for g in root.find("s:g[@id='frames']", NS) if g.find("s:title", NS).text.startswith("all ("))
    assert float(all_rect.find("s:rect", NS).get("width")) == pytest.approx(800 - 20)


def test_min_width_elides_narrow_frames() -> None:
    def names(*args: str) -> set[str]:
        code, out, err = invoke(str(GOLDEN / "elide.folded"), "--width", "600", *args)
        assert code == 0, err
        return set(frames_of(out))

    assert not {"tiny_leaf", "deep2"} & names("--min-width", "1")
    assert {"tiny_leaf", "deep2"} <= names("--min-width", "0")


def test_inverted_draws_an_icicle_with_flamegraph_pls_title() -> None:
    normal, icicle = svg_of(), svg_of("--inverted")
    assert rect_y(normal, "all") > rect_y(normal, "lab01")
    assert rect_y(icicle, "all") < rect_y(icicle, "lab01")
    assert icicle.find("s:text[@id='title']", NS).text == "Icicle Graph"
    assert normal.find("s:text[@id='title']", NS).text == "Flame Graph"


def test_reverse_puts_leaves_at_the_root() -> None:
    code, out, _ = invoke(str(GOLDEN / "basic.folded"), "--reverse", "--format", "folded")
    assert code == 0
    reversed_stacks = folded.read_folded(out.splitlines())
    assert reversed_stacks == folded.reverse_stacks(folded.read_folded(GOLDEN / "basic.folded"))
    assert "fd_ed25519_point_frombytes;fd_ed25519_verify;fd_verify_during_frag;stem_run;fd_tile_run;verify:0;lab01" in reversed_stacks
    root = svg_of("--reverse")
    assert rect_y(root, "fd_mcache_wait") > rect_y(root, "stem_run")  # a leaf is now next to the root


@pytest.mark.parametrize("colors", sorted(palette.PALETTES))
def test_colors_pick_the_palette_in_the_svg(colors: str) -> None:
    expected = palette.css_rgb(palette.frame_color("fd_quic_service", palette.USER, colors))
    root = svg_of("--colors", colors)
    fills = {g.find("s:title", NS).text.split(" (")[0]: g.find("s:rect", NS).get("fill") for g in root.find("s:g[@id='frames']", NS)}
    assert fills["fd_quic_service"] == expected


def test_colors_reach_the_html_viewer(tmp_path: Path) -> None:
    """The page's colours (packed by the viewer's own encoding) change with --colors and only with it."""
    pages = {}
    for colors in ("hot", "mem", "mem"):
        page = tmp_path / f"{colors}.html"
        code, _, err = invoke(str(GOLDEN / "basic.folded"), "--colors", colors, "--format", "html", "-o", str(page))
        assert code == 0, err
        pages.setdefault(colors, set()).add(page.read_text(encoding="utf-8"))
    assert len(pages["mem"]) == 1 and pages["mem"] != pages["hot"]


def test_title_subtitle_and_inversion_reach_the_html_viewer(tmp_path: Path) -> None:
    page = tmp_path / "g.html"
    args = ["--format", "html", "-o", str(page), "--title", "T<itle>", "--subtitle", "sub & title", "--inverted"]
    code, _, err = invoke(str(GOLDEN / "basic.folded"), *args)
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    assert "<title>T&lt;itle&gt;</title>" in text
    assert '"subtitle":"sub \\u0026 title"' in text and '"inverted":true' in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--colors", "rainbow"], "unknown colour palette 'rainbow'; choose one of hot, red, mem, io"),
        (["--width", "30"], "width must exceed"),
        (["--min-width", "-1"], "min width -1.0"),
        (["--format", "png"], "--format 'png': choose one of svg, html, folded, speedscope, pprof"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    code, out, err = invoke(str(GOLDEN / "basic.folded"), *args)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and message in err


def test_lines_that_are_not_folded_are_counted_and_shown_safely(tmp_path: Path) -> None:
    source = tmp_path / "mixed.folded"
    source.write_bytes(b"main;work 3\nno count here\n\n\x1b]0;pwned\x07\x1b[2J[/sys] 5x\nmain;idle 1.6\nx;y -4\nbig 99999999999999999999\n")
    code, out, err = invoke(str(source), "--format", "folded")
    assert code == 0
    assert out == "main;idle 2\nmain;work 3\n"
    (line,) = err.strip().splitlines()
    assert line.startswith("warning: Ignored 4 lines with invalid format (not 'frame;frame;leaf COUNT'); the first, ")
    assert f"{source}:2: 'no count here'" in line
    assert "\x1b" not in err and "\x07" not in err


def test_first_bad_line_with_control_characters_is_escaped(tmp_path: Path) -> None:
    source = tmp_path / "evil.folded"
    source.write_bytes(b"\x1b[31mred\x1b[0m \xe2\x80\xae42x\na 1\n")
    code, _, err = invoke(str(source))
    assert code == 0
    assert "\x1b" not in err and "\u202e" not in err
    assert "\\x1b[31mred" in err and "\\u202e42x" in err


def test_empty_or_all_bad_input_is_one_line(tmp_path: Path) -> None:
    code, out, err = invoke(input="")
    assert code == 2 and out == "" and err.strip() == "error: no stacks in the input: expected lines like 'main;work;leaf 42'"
    code, out, err = invoke(input="just words\nmore words\n")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "Ignored 2 lines" in line and "stdin:1: 'just words'" in line and "expected lines like" in line


def test_damaged_gzip_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "cut.folded.gz"
    source.write_bytes(gzip.compress(b"main;work 3\n" * 10_000)[:-200])
    code, out, err = invoke(str(source))
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert "damaged gzip data" in line and str(source) in line


def test_a_folder_or_missing_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = invoke(str(tmp_path))
    assert code == 2 and err.strip() == f"error: {tmp_path}: not a file (give folded stack files, or '-' for stdin)"
    code, _, err = invoke(str(tmp_path / "nothing.folded"))
    assert code == 2 and err.strip() == f"error: {tmp_path / 'nothing.folded'}: no such file"


def run_measured(args: list[str], stdin: Path | None = None) -> tuple[int, bytes, bytes, int]:
    """(exit code, stdout, stderr, peak RSS in KiB) of `fleetflame ARGS` in a fresh process.

    A wrapper process runs it so RUSAGE_CHILDREN covers that one command only."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], stdin=sys.stdin, capture_output=True)\n"
        "sys.stdout.buffer.write(b'%d %d\\n' % (r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
        "sys.stdout.buffer.write(r.stdout[:1000] + b'\\0' + r.stderr)\n"
    )
    with open(stdin or "/dev/null", "rb") as fp:
        done = subprocess.run([sys.executable, "-c", wrapper, *FLEETFLAME, *args], stdin=fp, capture_output=True, timeout=300, check=True)
    head, _, rest = done.stdout.partition(b"\n")
    code, rss = map(int, head.split())
    out, _, err = rest.partition(b"\0")
    return code, out, err, rss


def baseline_rss() -> int:
    code, _, _, rss = run_measured(["flamegraph", str(GOLDEN / "basic.folded")])
    assert code == 0
    return rss


def test_a_huge_line_without_newline_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    source = tmp_path / "one-line.folded"
    with open(source, "wb") as fp:
        fp.write(b"main;ok 1\n")
        chunk = b"frame;" * (1 << 20)
        for _ in range(10):  # 60 MB on one line, no newline
            fp.write(chunk)
    code, out, err, rss = run_measured(["flamegraph", str(source), "--format", "folded"])
    assert code == 0 and out == b"main;ok 1\n"
    assert b"Ignored 1 lines" in err and b"a line longer than 4 MiB" in err
    assert rss - baseline_rss() < 40 * 1024, rss  # KiB: far less than the 60 MB line


def test_a_gzip_bomb_of_one_line_stays_bounded(tmp_path: Path) -> None:
    source = tmp_path / "bomb.folded.gz"
    with gzip.open(source, "wb", compresslevel=9) as fp:
        block = b"x" * (1 << 20)
        for _ in range(200):  # 200 MB inflated from about 200 KB
            fp.write(block)
        fp.write(b" 1\nmain;ok 2\n")
    code, out, err, rss = run_measured(["flamegraph", str(source), "--format", "folded"])
    assert code == 0 and out == b"main;ok 2\n", err
    assert rss - baseline_rss() < 40 * 1024, rss


def test_random_bytes_never_give_a_traceback(tmp_path: Path) -> None:
    rng = random.Random(11)
    source = tmp_path / "random.bin"
    source.write_bytes(rng.randbytes(8 << 20))
    code, out, err, _ = run_measured(["flamegraph", str(source)])
    assert b"Traceback" not in err
    if code == 0:
        assert out.startswith(b"<?xml")
    else:
        assert code == 2 and len(err.strip().splitlines()) == 1


def test_random_lines_read_like_flamegraph_pl() -> None:
    """Line by line, load_folded keeps exactly the lines a reference parser keeps, summed."""
    rng = random.Random(3)
    alphabet = ["a", "b", ";", " ", "\t", "1", "0", ".", "-", "é", "\r", "\x00", "\ufffd", "9" * 20, "e"]
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    expected: dict[str, int] = {}
    for line in lines:
        text = line.removesuffix("\r")
        stack, sep, count = text.rpartition(" ")
        is_number = bool(count) and count.replace(".", "", 1).isdigit() and count[0] != "." and count.isascii()
        if sep and stack and is_number and round(float(count)) <= folded.MAX_COUNT:
            expected[stack] = expected.get(stack, 0) + round(float(count))
    data = "\n".join(lines).encode("utf-8")

    class Stream:
        def __init__(self) -> None:
            self.pos = 0

        def read(self, n: int) -> bytes:  # small, odd-sized reads: lines and UTF-8 cross block ends
            n = min(n, rng.randint(1, 97))
            chunk = data[self.pos : self.pos + n]
            self.pos += len(chunk)
            return chunk

    got = folded.load_folded(Stream())  # type: ignore[arg-type]
    assert got.stacks == expected
    assert got.ignored == sum(1 for line in lines if line.strip()) - sum(
        1 for line in lines if folded.parse_line(line) is not None
    )


def test_peak_memory_helper_measures_the_child() -> None:
    """run_measured's figure is the child's own: a fresh wrapper has no other children."""
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
    assert 10_000 < baseline_rss() < 500_000
