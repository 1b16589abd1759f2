"""The SVG and the HTML viewer in a real browser (headless Debian Chromium, driven by Playwright
over its own pipe; no browser is downloaded): what is drawn, what each control does, no script
error. Screenshots are kept in $FLEETFLAME_ARTIFACTS (default: test-artifacts/ in the checkout).
Skipped when Chromium or Playwright is absent (`make test` installs both)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.synthetic_fleet import BURST, SKEW_FUNCTION, START, synthetic_fleet, synthetic_timelines
from fleetflame.render import html, svg
from fleetflame.render.model import FleetContext, build_page_data
from fleetflame.render.readback import range_stacks
from fleetflame.render.options import FlameGraphOptions
from fleetflame.report import regroup

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-extensions"]  # fmt: skip
ARTIFACTS = Path(os.environ.get("FLEETFLAME_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("needs Chromium for the real-browser tests: apt-get install -y chromium (`make test` does, as root)")


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -c constraints.txt -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Viewer:
    """A viewer page open in Chromium, with the page's script errors collected."""

    def __init__(self, browser: Any, path: Path, fragment: str = "", width: int = 1280, height: int = 800) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(path.as_uri() + fragment)
        self.page.wait_for_selector("body[data-ff-ready]", state="attached", timeout=30_000)

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def drawn(self, flame: str = "main") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.js("(f) => window.fleetflame.drawn(f)", flame)
        return result

    def names(self, flame: str = "main") -> list[str]:
        return [d["name"] for d in self.drawn(flame) if not d["ancestor"]]

    def frame(self, name: str, flame: str = "main") -> dict[str, Any]:
        found = [d for d in self.drawn(flame) if d["name"] == name and not d["ancestor"]]
        assert found, f"{name} is not drawn"
        return found[0]

    def point(self, name: str, flame: str = "main") -> tuple[float, float]:
        """Page coordinates of the middle of a drawn frame."""
        d = self.frame(name, flame)
        box = self.page.locator(f"#ff-{'main' if flame == 'main' else flame} canvas").bounding_box()
        return box["x"] + d["x"] + min(d["w"], 40) / 2, box["y"] + d["top"] + 8

    def click_frame(self, name: str, flame: str = "main") -> None:
        self.page.mouse.click(*self.point(name, flame))

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).inner_text())

    def shot(self, name: str, full_page: bool = True) -> Path:
        """A screenshot kept in ARTIFACTS: the whole page, or (full_page=False) what the window shows."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        ignore = ARTIFACTS / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        path = ARTIFACTS / f"viewer-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000  # drawn, not a blank page
        return path

    def on_screen(self, frame: dict[str, Any]) -> dict[str, float]:
        """Where a drawn frame is in the window (x, y, width, height), and whether it is all in
        sight: inside the graph's scrolled box and inside the window."""
        canvas = self.page.locator("#ff-main canvas").bounding_box()
        box = self.page.locator("#ff-flame").bounding_box()
        height = self.page.viewport_size["height"]
        x, y = canvas["x"] + frame["x"], canvas["y"] + frame["top"]
        bottom = min(box["y"] + box["height"], height) + 1  # (+1: layout in fractions of a pixel, scrolling in whole ones)
        seen = box["y"] - 1 <= y and y + 16 <= bottom and 0 <= x and x + frame["w"] <= box["x"] + box["width"]
        return {"x": x, "y": y, "width": frame["w"], "height": 16, "seen": seen}

    def close(self) -> None:
        assert self.errors == [] and not self.page.locator("#ff-error").count(), self.errors
        self.page.close()


@pytest.fixture
def open_viewer(browser: Any, tmp_path: Path) -> Iterator[Any]:
    opened: list[Viewer] = []

    def open_(page: str, fragment: str = "", **size: int) -> Viewer:
        path = tmp_path / f"page{len(opened)}.html"
        path.write_text(page, encoding="utf-8")
        viewer = Viewer(browser, path, fragment, **size)
        opened.append(viewer)
        return viewer

    yield open_
    for viewer in opened:
        viewer.close()


def fleet_page(stacks: dict[str, int], **context: Any) -> str:
    return html.render_fleet(stacks, FlameGraphOptions(title="fleetflame: fleet", subtitle="capture X"), FleetContext(**context))


@pytest.fixture(scope="module")
def small_fleet() -> dict[str, int]:
    """The benchmark's synthetic fleet at 6 hosts; host003 runs SKEW_FUNCTION in its verify tiles."""
    return synthetic_fleet(hosts=6, samples_per_tile=300, paths_per_kind=200, skewed_host=3, idle_every=0)


@pytest.fixture(scope="module")
def big_fleet() -> dict[str, int]:
    """500 hosts × 14 tiles, shallow sampling (the shape of bench/fleet_viewer.py's, built in a second)."""
    return synthetic_fleet(hosts=500, samples_per_tile=12, paths_per_kind=40, skewed_host=17, idle_every=0)


def finding(host: str, tile: str, function: str) -> dict[str, Any]:
    return {"host": host, "tile": tile, "function": function, "kind": "inclusive", "host_share": 0.2, "fleet_share": 0.0,
            "host_samples": 240, "host_total": 1200, "fleet_samples": 0, "fleet_total": 6000, "difference": 0.2,
            "p_value": 1e-40, "p_adjusted": 1e-37}  # fmt: skip


def kind_functions(stacks: dict[str, int]) -> dict[str, tuple[int, int]]:
    """perf report's self and total per function, over the fleet by tile kind (kind frames left out)."""
    self_: dict[str, int] = {}
    total: dict[str, int] = {}
    for stack, count in regroup(stacks, "kind").items():
        frames = stack.split(";")[1:]
        for name in set(frames):
            total[name] = total.get(name, 0) + count
        if frames:
            self_[frames[-1]] = self_.get(frames[-1], 0) + count
    return {name: (self_.get(name, 0), total[name]) for name in total}


# --- plain profiles ----------------------------------------------------------------------


def test_draws_frames_zooms_searches_and_details(open_viewer: Any, basic: dict[str, int]) -> None:
    viewer = open_viewer(html.render(basic, FlameGraphOptions(title="fleet", subtitle="capture X")))
    names = viewer.names()
    for name in ["all", "lab01", "lab02", "verify:0", "quic:0", "fd_ed25519_verify", "fd_quic_conn_service"]:
        assert name in names, name
    assert viewer.text("#ff-subtitle") == "capture X"
    assert viewer.js("document.body.getAttribute('data-ff-frames')") == str(len(viewer.drawn()))
    viewer.page.mouse.move(*viewer.point("fd_sha512_fini"))
    tip = viewer.text("#ff-tip")
    assert tip.startswith("fd_sha512_fini\n25 samples\n12.50% of total")
    assert "38.46% of parent (fd_ed25519_verify)" in tip
    assert viewer.text("#ff-details") == "fd_sha512_fini — 25 samples, 12.50% of total, 38.46% of parent (fd_ed25519_verify)"
    lab01_verify = [d for d in viewer.drawn() if d["name"] == "verify:0"][0]  # lab01's, the first drawn
    viewer.page.mouse.click(viewer.page.locator("#ff-main canvas").bounding_box()["x"] + lab01_verify["x"] + 5,
                            viewer.page.locator("#ff-main canvas").bounding_box()["y"] + lab01_verify["top"] + 8)  # fmt: skip
    viewer.page.fill("#ff-search", "ed25519")
    viewer.page.wait_for_function("document.getElementById('ff-matched').textContent.startsWith('Matched')")
    assert [c.strip() for c in viewer.page.locator(".ff-crumb").all_inner_texts()] == ["all", "lab01", "verify:0"]
    assert viewer.text("#ff-matched") == "Matched: 50.0% (81.3% of view)"  # 100 of 200; 65 of lab01's verify:0 (80)
    assert sorted(d["name"] for d in viewer.drawn() if d["ancestor"]) == ["all", "lab01"]
    assert [d["name"] for d in viewer.drawn() if d["match"]] == ["fd_ed25519_verify", "fd_ed25519_point_frombytes"]
    assert viewer.frame("verify:0")["w"] == pytest.approx(viewer.js("document.querySelector('#ff-main canvas').clientWidth"))
    assert "quic:0" not in viewer.names() and "lab02" not in viewer.names()  # outside the zoomed frame
    viewer.page.keyboard.press("Escape")
    assert "lab02" in viewer.names()
    viewer.shot("basic")


def test_empty_profile(open_viewer: Any) -> None:
    viewer = open_viewer(html.render({}))
    assert viewer.text("#ff-loading") == "No samples to show."


def test_script_errors_are_shown(browser: Any, basic: dict[str, int], tmp_path: Path) -> None:
    """The error marker the other tests rely on does appear when a script fails."""
    page = html.render(basic)
    cut = page.rindex("</body>")
    path = tmp_path / "broken.html"
    path.write_text(page[:cut] + "<script>null.boom();</script>" + page[cut:], encoding="utf-8")
    viewer = Viewer(browser, path)
    assert re.match(r"Viewer error: .*null", viewer.text("#ff-error"))
    viewer.page.close()


# --- fleet views -------------------------------------------------------------------------


def test_fleet_views_show_the_right_stacks(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    """Every view the viewer derives in the browser equals the same view computed in Python."""
    viewer = open_viewer(fleet_page(small_fleet))
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "kind"  # more than 3 hosts
    assert viewer.js("window.fleetflame.folded()") == regroup(small_fleet, "kind")
    assert sorted(set(viewer.names()) & {"verify", "bank", "net"}) == ["bank", "net", "verify"]
    viewer.page.select_option("#ff-view", "host")
    assert viewer.js("window.fleetflame.folded()") == small_fleet
    viewer.page.select_option("#ff-view", "merged")
    assert viewer.js("window.fleetflame.folded()") == regroup(small_fleet, "none")
    viewer.page.select_option("#ff-view", "kind")
    assert viewer.js("window.fleetflame.folded()") == regroup(small_fleet, "kind")
    viewer.shot("fleet-by-kind")


def test_few_hosts_open_by_host(open_viewer: Any, basic: dict[str, int]) -> None:
    viewer = open_viewer(fleet_page(basic, default_view="host"))
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "host"
    assert viewer.names()[:2] == ["all", "lab01"]


def test_host_selector(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    viewer = open_viewer(fleet_page(small_fleet))
    assert viewer.text("#ff-hosts-button") == "All 6 hosts"
    viewer.page.click("#ff-hosts-button")
    viewer.page.click("#ff-hosts-none")
    assert viewer.text("#ff-hosts-button") == "0 of 6 hosts"
    for host in ("host002", "host005"):
        viewer.page.locator(f'.ff-host:has-text("{host}") input').check()
    assert viewer.text("#ff-hosts-button") == "2 of 6 hosts"
    chosen = {k: v for k, v in small_fleet.items() if k.startswith(("host002;", "host005;"))}
    assert viewer.js("window.fleetflame.folded()") == regroup(chosen, "kind")
    assert viewer.frame("all")["total"] == sum(chosen.values())
    viewer.page.select_option("#ff-view", "host")
    assert [n for n in viewer.names() if n.startswith("host")] == ["host002", "host005"]
    assert viewer.js("window.fleetflame.folded()") == chosen
    viewer.shot("host-selector")
    viewer.page.fill("#ff-host-filter", "host00")  # every host matches
    viewer.page.fill("#ff-host-filter", "host006")
    assert viewer.page.locator(".ff-host:visible").count() == 1
    viewer.page.click("#ff-hosts-matching")
    assert viewer.text("#ff-hosts-button") == "1 of 6 hosts"
    viewer.page.click("#ff-hosts-all")
    assert viewer.text("#ff-hosts-button") == "All 6 hosts"


def test_skew_panel_opens_host_vs_rest_in_one_click(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    skew = {"findings": [finding("host003", "verify", SKEW_FUNCTION)],
            "not_enough_samples": [{"host": "host006", "tile": "sign:0", "samples": 12, "min_samples": 100}]}  # fmt: skip
    viewer = open_viewer(fleet_page(small_fleet, skew=skew))
    assert viewer.page.locator(".ff-tabs button.ff-active").inner_text() == "Skew findings (1)"  # findings open first
    row = viewer.page.locator("#ff-skew tbody tr")
    assert row.count() == 1
    assert row.locator("td").all_inner_texts()[:4] == ["host003", "verify", SKEW_FUNCTION, "inclusive"]
    assert "host006 sign:0: 12 samples (needs 100)" in viewer.page.locator("#ff-tab-skew details").text_content()
    viewer.page.click("#ff-skew tbody td:first-child")
    viewer.page.wait_for_function("document.body.getAttribute('data-ff-view') === 'host-vs-rest'")
    assert viewer.js("location.hash") == f"#view=host-vs-rest&host=host003&tile=verify&fn={SKEW_FUNCTION}"
    host_verify = {k: v for k, v in small_fleet.items() if k.startswith("host003;verify:")}
    assert viewer.js("window.fleetflame.folded()") == regroup(host_verify, "kind")
    assert [c.strip() for c in viewer.page.locator(".ff-crumb").all_inner_texts()] == ["all", "verify"]  # zoomed on the tile
    assert viewer.page.locator("#ff-hvr-host").input_value() == "2"  # host003
    skewed = viewer.frame(SKEW_FUNCTION)
    assert skewed["match"] is True  # fn= highlights the function
    share = sum(v for k, v in host_verify.items() if SKEW_FUNCTION in k) / sum(host_verify.values())
    details = viewer.text("#ff-details")
    assert details.startswith("host003 verify against the rest of the fleet")
    assert f"{SKEW_FUNCTION}: {100 * share:.2f}% on this host, 0.00% on the rest" in details
    viewer.page.fill("#ff-search", "")  # without the highlight: coloured by difference
    viewer.page.wait_for_function("!document.getElementById('ff-matched').textContent")
    red = viewer.frame(SKEW_FUNCTION)["color"]
    assert red.startswith("rgb(255,") and red != "rgb(255,255,255)"  # grew on this host: red
    viewer.page.mouse.move(*viewer.point(SKEW_FUNCTION))
    assert "rest of the fleet: 0.00%" in viewer.text("#ff-tip")
    viewer.shot("host-vs-rest")


def test_host_vs_rest_from_a_link(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    fragment = f"#view=host-vs-rest&host=host001&tile=verify%3A2&fn={SKEW_FUNCTION}"
    viewer = open_viewer(fleet_page(small_fleet), fragment)
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "host-vs-rest"
    one_tile = {k: v for k, v in small_fleet.items() if k.startswith("host001;verify:2;")}
    assert viewer.js("window.fleetflame.folded()") == regroup(one_tile, "kind")
    assert "function \"" + SKEW_FUNCTION + "\" is not in this capture" not in viewer.text("#ff-notes")
    sandwich = open_viewer(fleet_page(small_fleet), "#view=sandwich&fn=stem_run1")
    assert sandwich.js("document.body.getAttribute('data-ff-view')") == "sandwich"
    assert sandwich.drawn("callees")[0]["name"] == "stem_run1"
    bad = open_viewer(fleet_page(small_fleet), "#view=host-vs-rest&host=nohost&fn=x")
    assert 'host "nohost" is not in this capture' in bad.text("#ff-notes")
    assert bad.js("document.body.getAttribute('data-ff-view')") == "kind"


def test_top_functions_table(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    viewer = open_viewer(fleet_page(small_fleet))
    viewer.page.click('.ff-tabs button[data-tab="functions"]')
    expected = kind_functions(small_fleet)
    whole = sum(small_fleet.values())

    def rows() -> list[list[str]]:
        viewer.page.wait_for_timeout(50)
        return [r.locator("td").all_inner_texts()[:5] for r in viewer.page.locator("#ff-functions tbody tr").all()]

    table = rows()
    assert len(table) == min(50, len(expected))
    if len(expected) > 50:
        viewer.page.click("#ff-functions-more button")
        assert len(rows()) == min(100, len(expected))
    by_self = sorted(expected.items(), key=lambda kv: (-kv[1][0], -kv[1][1]))
    for (name, (self_, total)), row in zip(by_self[:20], table):
        assert row == [name.removesuffix("_[i]").removesuffix("_[k]"), f"{self_:,}", f"{100 * self_ / whole:.2f}%",
                       f"{total:,}", f"{100 * total / whole:.2f}%"]  # fmt: skip
    viewer.page.click('#ff-functions th:has-text("Total %")')
    totals = [int(r[3].replace(",", "")) for r in rows()]
    assert totals == sorted(totals, reverse=True) and totals[0] == max(t for _, t in expected.values())
    viewer.page.click('#ff-functions th:has-text("Total %")')
    totals = [int(r[3].replace(",", "")) for r in rows()]
    assert totals == sorted(totals)
    viewer.page.click('#ff-functions th:has-text("Total %")')
    target = "stem_run1"
    viewer.page.click(f'#ff-functions tbody tr:has(td:text-is("{target}")) td:first-child')
    assert viewer.page.input_value("#ff-search") == f"^{target}$"
    matched = [d for d in viewer.drawn() if d["match"]]
    assert matched and {d["name"] for d in matched} == {target}
    assert viewer.text("#ff-matched") == f"Matched: {100 * expected[target][1] / whole:.1f}%"
    viewer.shot("top-functions")


def test_icicle(open_viewer: Any, basic: dict[str, int]) -> None:
    viewer = open_viewer(html.render(basic))
    rows = max(d["row"] for d in viewer.drawn())
    assert viewer.frame("all")["top"] == rows * 16  # flame: root at the bottom
    viewer.page.check("#ff-icicle")
    assert viewer.frame("all")["top"] == 0  # icicle: root at the top
    assert viewer.frame("fd_sha512_fini")["top"] == viewer.frame("fd_sha512_fini")["row"] * 16
    viewer.shot("icicle")


def test_sandwich(open_viewer: Any, basic: dict[str, int]) -> None:
    viewer = open_viewer(fleet_page(basic, default_view="host"))
    viewer.page.click('.ff-tabs button[data-tab="functions"]')
    viewer.page.click('#ff-functions tbody tr:has(td:text-is("fd_ed25519_verify")) .ff-row-sandwich')
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "sandwich"
    assert viewer.js("window.fleetflame.folded('callers')") == {
        "fd_verify_during_frag;stem_run;fd_tile_run;verify:0;lab01": 65,
        "fd_verify_during_frag;stem_run;fd_tile_run;verify:0;lab02": 35,
    }
    assert viewer.js("window.fleetflame.folded('callees')") == {"fd_ed25519_point_frombytes": 75, "fd_sha512_fini": 25}
    callers, callees = viewer.drawn("callers"), viewer.drawn("callees")
    assert callers[0]["name"] == callees[0]["name"] == "fd_ed25519_verify"
    assert callers[0]["top"] == max(d["top"] for d in callers)  # callers above the function
    assert callees[0]["top"] == 0  # callees below it
    assert "fd_ed25519_verify — 100 samples (50.00% of the view)" in viewer.text("#ff-sandwich-view")
    viewer.shot("sandwich")
    viewer.page.click("#ff-sandwich-close")
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "host"
    viewer.click_frame("fd_sha512_fini")  # a clicked frame is the toolbar's sandwich
    viewer.page.click("#ff-sandwich")
    assert viewer.js("window.fleetflame.folded('callers')") == {
        "fd_ed25519_verify;fd_verify_during_frag;stem_run;fd_tile_run;verify:0;lab01": 25}


def test_idle_tiles_are_listed(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    idle = [{"tile": "sign:0", "hosts": ["host002", "host004"]}, {"tile": "metric:0", "hosts": ["host001"]}]
    failed = [{"host": "host007", "error": "connection refused"}]
    viewer = open_viewer(fleet_page(small_fleet, idle_tiles=idle, failed_hosts=failed))
    notes = viewer.page.locator("#ff-notes button").all_inner_texts()
    assert "3 idle tiles (recorded, no samples)" in notes and "1 failed host" in notes
    viewer.page.click('#ff-notes button:has-text("idle")')
    rows = [r.locator("td").all_inner_texts() for r in viewer.page.locator("#ff-idle tbody tr").all()]
    assert rows == [["sign:0", "no samples", "2 hosts: host002, host004"], ["metric:0", "no samples", "1 host: host001"]]
    assert viewer.text('.ff-tabs button[data-tab="idle"]') == "Idle tiles (3)"
    viewer.page.click('.ff-tabs button[data-tab="hosts"]')
    assert "host007 (connection refused)" in viewer.text("#ff-failed")
    viewer.shot("idle-tiles")


def test_hostile_names_stay_text(open_viewer: Any, nasty: dict[str, int]) -> None:
    stacks = {f"<img src=x onerror=alert(1)>;verify:0;{k}": v for k, v in list(nasty.items())[:20]}
    skew = {"findings": [finding("<img src=x onerror=alert(1)>", "verify:0", "</script><b>x")], "not_enough_samples": []}
    viewer = open_viewer(fleet_page(stacks, skew=skew, idle_tiles=[{"tile": "<b>t</b>", "hosts": ["<i>h</i>"]}]))
    assert viewer.page.locator("#ff-tab-skew img, #ff-tab-skew b, #ff-tab-idle b").count() == 0
    assert "</script><b>x" in viewer.text("#ff-skew")
    # NUL is the one character a name cannot keep: it becomes U+FFFD
    assert viewer.js("window.fleetflame.folded()") == {k.replace("\0", "\ufffd"): v for k, v in regroup(stacks, "kind").items()}


# --- SVG -----------------------------------------------------------------------------------

SVG_ERROR_HOOK = """<script><![CDATA[
window.addEventListener("error", function (e) {
  document.documentElement.setAttribute("data-test-error", e.message);
});
]]></script>
"""


def run_chromium(chromium: str, page: Path, profile: Path, *args: str, query: str = "") -> str:
    command = [chromium, "--headless", *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args,
               page.as_uri() + query]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_svg_search_zoom_in_browser(chromium_path: str, basic: dict[str, int], tmp_path: Path) -> None:
    document = svg.render(basic)
    head = document.index(">", document.index("<svg")) + 1
    zoom = """<script><![CDATA[
    var target = document.querySelectorAll('#frames > g')[5];  // lab01;verify:0 in layout order
    target.querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));
    target.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    ]]></script>
"""
    document = document[:head] + "\n" + SVG_ERROR_HOOK + document[head:].replace("</svg>\n", zoom + "</svg>\n")
    page = tmp_path / "flamegraph.svg"
    page.write_text(document, encoding="utf-8")
    dom = run_chromium(chromium_path, page, tmp_path / "profile", "--dump-dom", query="?s=ed25519")
    assert not re.search(r'<svg[^>]*data-test-error=', dom), dom[:300]
    assert re.search(r'<text id="matched"[^>]*>Matched: 50\.0%</text>', dom)
    assert re.search(r'<text id="unzoom" class=""', dom)  # zoomed: Reset Zoom shown
    assert re.search(r'<text id="details"[^>]*>Function: verify:0 \(80 samples, 40\.00%\)</text>', dom)
    groups = re.findall(r'<g data-x="(\d+)" data-w="(\d+)"( class="[^"]*")?><title>([^<]*)</title><rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="\d+" fill="([^"]+)"', dom)
    frames = {(title.rsplit(" (", 1)[0], int(x0)): (cls, float(x), float(w), fill) for x0, _, cls, title, x, w, fill in groups}
    assert "hide" in frames["quic:0", 20][0] and "hide" in frames["lab02", 142][0]
    assert "hide" in frames["verify:0", 150][0]  # lab02's
    assert "parent" in frames["lab01", 0][0] and frames["lab01", 0][2] == 1180.0
    cls, x, w, fill = frames["verify:0", 62]
    assert "hide" not in cls and (x, w) == (10.0, 1180.0)  # the zoomed frame fills the width
    cls, x, w, fill = frames["fd_ed25519_verify", 67]
    assert fill == "rgb(230,0,230)"  # search highlight
    assert (x, w) == (pytest.approx(10 + 1180 * 5 / 80, abs=0.1), pytest.approx(1180 * 65 / 80, abs=0.1))



def test_top_functions_by_host_equal_by_kind(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    """The by-host view's table (computed from the tile-kind tree) lists what the by-kind one does."""
    viewer = open_viewer(fleet_page(small_fleet))
    viewer.page.click('.ff-tabs button[data-tab="functions"]')

    def rows() -> list[list[str]]:
        viewer.page.wait_for_timeout(50)
        return [r.locator("td").all_inner_texts()[:5] for r in viewer.page.locator("#ff-functions tbody tr").all()]

    by_kind = rows()
    viewer.page.select_option("#ff-view", "host")
    assert rows() == by_kind
    viewer.click_frame("host002")  # zoomed on one host: that host's functions
    zoomed = rows()
    host = {k: v for k, v in small_fleet.items() if k.startswith("host002;")}
    expected = {re.sub(r"_\[[kijw]\]$", "", name): counts for name, counts in kind_functions(host).items()}
    for name, self_, _, total, _ in zoomed[:10]:
        assert (self_, total) == (f"{expected[name][0]:,}", f"{expected[name][1]:,}"), name


# --- big fleets, one screen, few hosts ------------------------------------------------------


def host_totals(stacks: dict[str, int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stack, count in stacks.items():
        host = stack.split(";", 1)[0]
        totals[host] = totals.get(host, 0) + count
    return totals


def test_by_host_at_500_hosts_draws_the_largest_and_sums_the_rest(open_viewer: Any, big_fleet: dict[str, int]) -> None:
    """By host at 500 hosts (2.5 px a host) is not a blank screen: the hosts with the most samples
    one by one, the others summed tile by tile in one labelled frame, and a note saying so."""
    viewer = open_viewer(fleet_page(big_fleet, skew={"findings": [finding("host017", "verify", SKEW_FUNCTION)]}))
    viewer.js("window.fleetflame.openSandwich(window.fleetflame.find('stem_run1'))")  # (the graph hidden: its width still counts)
    viewer.page.select_option("#ff-view", "host")
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "host"
    note = viewer.text("#ff-view-note")
    width = viewer.js("document.querySelector('#ff-main canvas').clientWidth")
    fit = max(2, width // 100)
    assert f"500 hosts are too many to draw side by side ({width / 500:.1f} px each)" in note
    assert f"the {fit - 1} with the most samples; the other {501 - fit} are summed" in note
    hosts = [d for d in viewer.drawn() if d["row"] == 1]
    totals = host_totals(big_fleet)
    largest = sorted(totals, key=lambda h: (-totals[h], h))[: fit - 1]
    assert [d["name"] for d in hosts] == sorted(largest) + [f"other {501 - fit} hosts"]
    other = hosts[-1]
    assert other["total"] == sum(v for h, v in totals.items() if h not in largest) and other["w"] > 0.9 * width
    # readable: the summed frame and its tiles are wide, labelled and in sight (the graph's box
    # opens scrolled to its root)
    tiles = [d for d in viewer.drawn() if d["row"] == 2 and d["x"] >= other["x"]]
    assert sorted(d["name"] for d in tiles) == sorted({k.split(";")[1] for k in big_fleet})
    for frame in [other, *tiles]:
        assert viewer.on_screen(frame)["seen"], frame
    assert len([d for d in tiles if d["w"] >= 60]) >= 10  # wide enough for their names (sign:0 and store:0 are quiet tiles)
    # the same stacks as Python sums them: the largest hosts as they are, the others by tile
    expected: dict[str, int] = {}
    for stack, count in big_fleet.items():
        host, rest = stack.split(";", 1)
        key = stack if host in largest else f"[other hosts];{rest}"
        expected[key] = expected.get(key, 0) + count
    assert viewer.js("window.fleetflame.folded()") == expected
    viewer.page.mouse.move(*viewer.point(other["name"]))
    assert f"{other['name']}\n{other['total']:,} samples" in viewer.text("#ff-tip")
    viewer.shot("by-host-500", full_page=False)
    viewer.page.click("#ff-view-note button")  # "Open the Hosts tab"
    assert viewer.page.locator(".ff-tabs button.ff-active").inner_text() == "Hosts"
    viewer.page.locator("#ff-host-list").scroll_into_view_if_needed()
    # a few hosts chosen: each drawn, labelled; no summed frame, no note about it
    viewer.js("(names) => window.fleetflame.setHosts(names)", ["host003", "host017", "host250"])
    viewer.js("window.fleetflame.setView('host')")
    hosts = [d for d in viewer.drawn() if d["row"] == 1]
    assert [d["name"] for d in hosts] == ["host003", "host017", "host250"]
    assert viewer.js("window.fleetflame.folded()") == {k: v for k, v in big_fleet.items() if k.startswith(("host003;", "host017;", "host250;"))}
    assert viewer.page.locator("#ff-view-note").is_hidden()
    # ten: the hosts are labelled, the tiles too narrow for names, and the note says what to do
    viewer.js("window.fleetflame.setHosts(window.fleetflame.profile.header.hosts.slice(0, 10))")
    hosts = [d for d in viewer.drawn() if d["row"] == 1]
    assert [d["name"] for d in hosts] == [f"host{i:03d}" for i in range(1, 11)]
    assert all(d["w"] >= 100 for d in hosts)
    assert "too narrow for its name: click a host to zoom on it" in viewer.text("#ff-view-note")


@pytest.mark.parametrize("fleet", ["500 hosts", "2 hosts"])
def test_first_screen_at_1280x800_shows_the_graph_root_kinds_and_tabs(open_viewer: Any, big_fleet: dict[str, int], basic: dict[str, int],
                                                                      fleet: str) -> None:  # fmt: skip
    """The default view fits the window: the graph (deeper than the window at 500 hosts) opens on
    its root and first frames (tile kinds; hosts for a small fleet), and the tabs are in sight."""
    if fleet == "500 hosts":
        viewer = open_viewer(fleet_page(big_fleet, idle_tiles=[{"tile": "sign:0", "hosts": ["host050"]}]), width=1280, height=800)
        first = {k.split(";")[1].split(":")[0] for k in big_fleet}
    else:
        viewer = open_viewer(fleet_page(basic, default_view="host"), width=1280, height=800)
        first = {"lab01", "lab02"}
    rows = max(d["row"] for d in viewer.drawn()) + 1
    box = viewer.page.locator("#ff-flame").bounding_box()
    if fleet == "500 hosts":
        assert rows * 16 > box["height"]  # deeper than the window leaves: the graph scrolls inside its box
    frames = {d["name"]: d for d in viewer.drawn() if d["row"] == 1}
    assert set(frames) == first
    for frame in [*frames.values(), viewer.frame("all")]:
        where = viewer.on_screen(frame)
        assert where["seen"] and where["y"] + 16 <= 800, (frame["name"], where)
    wide = [d for d in frames.values() if d["w"] >= 60]  # wide enough for its name: it is drawn
    assert wide
    tabs = viewer.page.locator(".ff-tabs button:visible")
    assert tabs.count() == 4
    for i in range(tabs.count()):
        tab = tabs.nth(i).bounding_box()
        assert tab["y"] >= 0 and tab["y"] + tab["height"] <= 800, tabs.nth(i).inner_text()
    assert viewer.js("scrollY") == 0
    viewer.shot(f"first-screen-{fleet.replace(' ', '-')}", full_page=False)
    viewer.page.check("#ff-icicle")  # an icicle opens on its root too: at the top
    top = viewer.on_screen(viewer.frame("all"))
    assert top["seen"] and top["y"] == pytest.approx(box["y"], abs=1)


def test_hosts_with_skew_findings_are_marked(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    skew = {"findings": [finding("host003", "verify", SKEW_FUNCTION), finding("host003", "verify:2", "stem_run1"),
                         finding("host005", "bank:0", "stem_run1")], "not_enough_samples": []}  # fmt: skip
    viewer = open_viewer(fleet_page(small_fleet, skew=skew))
    viewer.page.click('.ff-tabs button[data-tab="hosts"]')
    marked = viewer.page.locator(".ff-host.ff-has-skew")
    assert [r.locator("span").inner_text() for r in marked.all()] == ["host003", "host005"]
    assert viewer.page.locator(".ff-skew-mark").all_inner_texts() == ["2 skew findings", "1 skew finding"]
    assert viewer.page.locator(".ff-host:not(.ff-has-skew) .ff-skew-mark").count() == 0
    options = viewer.page.locator("#ff-hvr-host option").all_inner_texts()
    assert options[2] == "host003 (2 skew findings)" and options[0] == "host001"
    viewer.shot("hosts-skew-marked")
    viewer.page.click("#ff-hosts-skewed")  # "Only with skew findings (2)"
    assert viewer.text("#ff-hosts-skewed") == "Only with skew findings (2)"
    assert viewer.text("#ff-hosts-button") == "2 of 6 hosts"
    viewer.page.click('.ff-host:has-text("host003") .ff-skew-mark')  # its largest finding, against the rest
    viewer.page.wait_for_function("document.body.getAttribute('data-ff-view') === 'host-vs-rest'")
    assert viewer.js("location.hash") == f"#view=host-vs-rest&host=host003&tile=verify&fn={SKEW_FUNCTION}"
    assert viewer.frame(SKEW_FUNCTION)["match"] is True


def test_host_vs_rest_without_a_rest_says_so(open_viewer: Any, basic: dict[str, int]) -> None:
    """One host: no rest to compare with. A message, not a graph coloured all red."""
    one = {k: v for k, v in basic.items() if k.startswith("lab01;")}
    viewer = open_viewer(fleet_page(one, default_view="host"), "#view=host-vs-rest&host=lab01")
    assert viewer.js("document.body.getAttribute('data-ff-view')") == "host-vs-rest"
    message = viewer.text("#ff-loading")
    assert message == ("Host vs rest: lab01 is the only host with samples in this capture, so there is no rest of the fleet to compare it with. "
                       "The other views show its samples.")  # fmt: skip
    assert viewer.drawn() == [] and viewer.js("document.body.getAttribute('data-ff-frames')") == "0"
    assert "red = larger share" not in viewer.text("#ff-details")
    assert viewer.page.locator("#ff-main canvas").bounding_box()["height"] == 0
    viewer.shot("host-vs-rest-one-host")
    viewer.page.select_option("#ff-view", "kind")  # the other views draw as ever
    assert viewer.page.locator("#ff-loading").is_hidden() and "verify" in viewer.names()
    # two hosts, a tile only one of them has: no rest for it either way
    two = open_viewer(fleet_page(basic), "#view=host-vs-rest&host=lab01&tile=quic%3A0")
    assert two.text("#ff-loading") == "Host vs rest: no host but lab01 has samples of quic:0: there is no rest to compare it with."
    two.js("location.hash = '#view=host-vs-rest&host=lab02&tile=quic'")
    two.page.wait_for_function("document.getElementById('ff-loading').textContent.indexOf('lab02') >= 0")
    assert two.text("#ff-loading") == "Host vs rest: lab02 has no samples of quic to compare with the rest."
    two.js("location.hash = '#view=host-vs-rest&host=lab02&tile=verify'")  # both have verify: a graph again
    two.page.wait_for_function("document.getElementById('ff-loading').hidden")
    assert "fd_mcache_wait" in two.names()


# --- the timeline (issue 18) ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def timed_fleet() -> tuple[dict[str, int], dict[str, Any]]:
    """6 hosts, 20 s at about 60 samples/s a tile; host003's SKEW_FUNCTION only in BURST."""
    stacks = synthetic_fleet(hosts=6, samples_per_tile=1200, paths_per_kind=120, skewed_host=3, idle_every=0, skew_share=0.05)
    return stacks, synthetic_timelines(stacks, seconds=20.0, skewed_host="host003")


def timed_page(timed_fleet: tuple[dict[str, int], dict[str, Any]]) -> str:
    stacks, timelines = timed_fleet
    return fleet_page(stacks, timelines=timelines, recording_start=START)


def open_timeline(viewer: Viewer) -> dict[str, Any]:
    viewer.js("() => window.fleetflame.showTab('timeline', true)")
    viewer.page.wait_for_selector("body[data-ff-timeline]", state="attached", timeout=20_000)
    layout: dict[str, Any] = viewer.js("() => { const t = window.fleetflame.timeline(); return {heatmap: {rows: t.heatmap.rows, cols: t.heatmap.cols,"
                                       " cw: t.heatmap.cw, ch: t.heatmap.ch, shift: t.heatmap.shift, res: t.heatmap.grid.res},"
                                       " strips: {hosts: t.strips.hosts, rowH: t.strips.rowH, label: t.strips.label, plot: t.strips.plot,"
                                       " t0: t.strips.t0}, mode: t.mode}; }")
    return layout


def heat_cell(viewer: Viewer, layout: dict[str, Any], b: int) -> tuple[float, float]:
    """Page coordinates of the middle of the heatmap's cell of bin b."""
    h = layout["heatmap"]
    box = viewer.page.locator("#ff-heatmap").bounding_box()
    c, r = divmod(b - h["shift"], h["rows"])
    return box["x"] + 52 + c * h["cw"] + h["cw"] / 2, box["y"] + r * h["ch"] + h["ch"] / 2


def drag(viewer: Viewer, a: tuple[float, float], b: tuple[float, float]) -> None:
    mouse = viewer.page.mouse
    mouse.move(*a)
    mouse.down()
    mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    mouse.move(*b)
    mouse.up()


def skew_samples(folded: dict[str, int]) -> int:
    return sum(v for k, v in folded.items() if k.endswith(SKEW_FUNCTION))


def test_timeline_tab_draws_heatmap_and_strips(open_viewer: Any, timed_fleet: Any) -> None:
    viewer = open_viewer(timed_page(timed_fleet), width=1400, height=900)
    layout = open_timeline(viewer)
    assert layout["heatmap"]["rows"] == 50 and layout["heatmap"]["cols"] == 20 and layout["heatmap"]["res"] == 20  # 20 s of 20 ms bins
    assert layout["strips"]["hosts"] == 6 and layout["mode"] == "count"
    assert viewer.page.locator("#ff-heatmap").bounding_box()["height"] > 200
    assert "20 ms" in viewer.text("#ff-time-note") and "--from A --until B" in viewer.text("#ff-time-note")
    viewer.page.mouse.move(*heat_cell(viewer, layout, 3))
    assert "0.060 s – 0.080 s" in viewer.text("#ff-tip")
    viewer.shot("timeline")


def test_timeline_colours_by_the_share_of_a_search(open_viewer: Any, timed_fleet: Any) -> None:
    viewer = open_viewer(timed_page(timed_fleet), width=1400, height=900)
    open_timeline(viewer)
    viewer.js(f"() => window.fleetflame.search('{SKEW_FUNCTION}', false)")
    viewer.page.wait_for_function("() => window.fleetflame.timeline().mode === 'share' && document.getElementById('ff-time-color').value === 'share'")
    viewer.page.wait_for_function(f"() => document.getElementById('ff-heatmap-key').textContent.includes('/{SKEW_FUNCTION}/')")
    # every bin with a share is in the burst; the strips: only host003 has one
    bins = viewer.js("() => { const g = window.fleetflame.timeline().heatmap.grid; return Array.from(g.hit.keys()).filter(i => g.hit[i] > 0); }")
    first = round(BURST[0] / 0.02)
    assert bins and all(first <= b < first + 40 for b in bins)
    hosts = viewer.js("() => { const s = window.fleetflame.timeline().strips, g = s.grid, out = new Set();"
                      " for (let i = 0; i < g.hit.length; i++) if (g.hit[i] > 0) out.add(Math.floor(i / g.bins)); return Array.from(out); }")
    assert [viewer.js("() => window.fleetflame.profile.header.hosts")[h] for h in hosts] == ["host003"]
    viewer.shot("timeline-share")


def test_a_dragged_range_shows_that_range_only(open_viewer: Any, timed_fleet: Any) -> None:
    stacks, timelines = timed_fleet
    viewer = open_viewer(timed_page(timed_fleet), width=1400, height=900)
    layout = open_timeline(viewer)
    first = round(BURST[0] / 0.02)
    drag(viewer, heat_cell(viewer, layout, first), heat_cell(viewer, layout, first + 39))
    viewer.page.wait_for_selector(f'body[data-ff-range="{first}-{first + 40}"]', state="attached")
    assert viewer.js("() => window.fleetflame.range()")["lo"] == first
    assert "#from=12.400&until=13.200" in viewer.js("() => location.hash")
    assert "12.400 s – 13.200 s" in viewer.text("#ff-range")
    inside = viewer.js("() => window.fleetflame.folded()")
    assert skew_samples(inside) == skew_samples(stacks) > 0
    header, blob, text = build_page_data(stacks, FlameGraphOptions(), FleetContext(timelines=timelines, recording_start=START))
    assert sum(inside.values()) == sum(range_stacks(header, blob, text, *BURST).values())
    # the top functions follow the range
    viewer.js("() => window.fleetflame.showTab('functions')")
    viewer.js("() => window.fleetflame.tableDone()")
    assert SKEW_FUNCTION in viewer.text("#ff-functions")
    # drag on the strips over the first 10 s: no burst there
    viewer.js("() => window.fleetflame.showTab('timeline', true)")
    viewer.page.wait_for_function("() => window.fleetflame.timeline().strips !== null")
    box = viewer.page.locator("#ff-strips").bounding_box()
    s = layout["strips"]
    y = box["y"] + s["rowH"] * 2.5
    drag(viewer, (box["x"] + s["label"] + 1, y), (box["x"] + s["label"] + s["plot"] * 0.45, y))
    viewer.page.wait_for_function("() => window.fleetflame.range() && window.fleetflame.range().lo === 0")
    assert skew_samples(viewer.js("() => window.fleetflame.folded()")) == 0
    viewer.shot("timeline-range")
    viewer.page.locator("#ff-range-clear").click()
    assert viewer.js("() => window.fleetflame.range()") is None and "from=" not in viewer.js("() => location.hash")
    assert sum(viewer.js("() => window.fleetflame.folded()").values()) == sum(stacks.values())


def test_a_link_restores_the_range_and_the_view(open_viewer: Any, timed_fleet: Any) -> None:
    stacks, _ = timed_fleet
    viewer = open_viewer(timed_page(timed_fleet), "#view=merged&from=12.4&until=13.2", width=1400, height=900)
    viewer.page.wait_for_selector("body[data-ff-range]", state="attached", timeout=20_000)
    assert viewer.js("() => window.fleetflame.state.view") == "merged"
    r = viewer.js("() => window.fleetflame.range()")
    assert abs(r["from"] - 12.4) < 1e-3 and abs(r["until"] - 13.2) < 1e-3
    folded = viewer.js("() => window.fleetflame.folded()")
    assert skew_samples(folded) == skew_samples(stacks) and sum(folded.values()) < sum(stacks.values()) / 10
    # a host-vs-rest link of the page keeps the range
    viewer.js("() => { location.hash = '#view=host-vs-rest&host=host003&tile=verify'; }")
    viewer.page.wait_for_function("() => window.fleetflame.state.view === 'host-vs-rest' && location.hash.includes('from=12.400')")
    assert viewer.js("() => window.fleetflame.range()")["lo"] == r["lo"]


def test_a_page_without_timelines_has_no_timeline_tab(open_viewer: Any, small_fleet: dict[str, int]) -> None:
    viewer = open_viewer(fleet_page(small_fleet), "#from=1&until=2")
    assert not viewer.page.locator('.ff-tabs button[data-tab="timeline"]').is_visible()
    assert viewer.page.locator("#ff-range").is_hidden()
    assert "no sample times" in viewer.text("#ff-notes")
