"""The SVG and the HTML viewer in a real browser (headless Chromium): frames drawn, interactions
work, no script error. Skipped when Chromium is absent (`apt-get install chromium`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from fleetflame.render import html, svg
from fleetflame.render.options import FlameGraphOptions

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("needs Chromium for the real-browser tests: apt-get install -y chromium (`make test` does, as root)")


def run_browser(browser: str, page: Path, profile: Path, *args: str, query: str = "") -> str:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args, page.as_uri() + query,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def with_script(page: str, script: str) -> str:
    """The page with a test script run after the viewer's own (it has set itself up by then)."""
    cut = page.rindex("</body>")
    return page[:cut] + f"<script>{script}</script>\n" + page[cut:]


def frame_names(dom: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<div class="ff-frame[^"]*"[^>]*>([^<]*)</div>', dom)]


def out_json(dom: str) -> dict:
    match = re.search(r'<pre id="t-out">(.*?)</pre>', dom, re.S)
    assert match, "test script did not write its output"
    return json.loads(unescape(match.group(1)))


def no_error(dom: str) -> None:
    match = re.search(r'<div id="ff-error">(.*?)</div>', dom, re.S)
    assert match is None, f"script error in the viewer: {unescape(match.group(1)) if match else ''}"


# --- HTML viewer -------------------------------------------------------------------------


def test_html_viewer_draws_frames(browser: str, basic: dict[str, int], tmp_path: Path) -> None:
    page = tmp_path / "flamegraph.html"
    page.write_text(html.render(basic, FlameGraphOptions(title="fleet", subtitle="capture X")), encoding="utf-8")
    dom = run_browser(browser, page, tmp_path / "profile", "--window-size=1280,800", "--dump-dom")
    no_error(dom)
    drawn = int(re.search(r'data-ff-frames="(\d+)"', dom).group(1))
    names = frame_names(dom)
    assert drawn == len(names) > 20
    for name in ["all", "lab01", "lab02", "verify:0", "quic:0", "fd_ed25519_verify", "fd_quic_conn_service"]:
        assert name in names, name
    assert '<div id="ff-subtitle">capture X</div>' in dom


def test_html_viewer_zoom_search_and_details(browser: str, basic: dict[str, int], tmp_path: Path) -> None:
    script = """
    var out = {};
    function frameEl(name) {
      return Array.prototype.filter.call(document.querySelectorAll('.ff-frame'), function (e) {
        return e.textContent === name; })[0];
    }
    var ev = function (type, el) {
      var r = el.getBoundingClientRect();
      el.dispatchEvent(new MouseEvent(type, {bubbles: true, clientX: r.left + 2, clientY: r.top + 2}));
    };
    ev('mousemove', frameEl('fd_sha512_fini'));
    out.tip = document.getElementById('ff-tip').textContent;
    out.tipHidden = document.getElementById('ff-tip').hidden;
    out.details = document.getElementById('ff-details').textContent;
    ev('click', frameEl('verify:0'));   // lab01's verify:0 (the first drawn)
    var box = document.getElementById('ff-search');
    box.value = 'ed25519';
    box.dispatchEvent(new Event('input'));
    setTimeout(function () {
      out.crumbs = Array.prototype.map.call(document.querySelectorAll('.ff-crumb'), function (e) { return e.textContent; });
      out.matched = document.getElementById('ff-matched').textContent;
      out.ancestors = Array.prototype.map.call(document.querySelectorAll('.ff-ancestor'), function (e) { return e.textContent; });
      out.matches = Array.prototype.map.call(document.querySelectorAll('.ff-match'), function (e) { return e.textContent; });
      out.resetEnabled = !document.getElementById('ff-reset').disabled;
      var pre = document.createElement('pre'); pre.id = 't-out'; pre.textContent = JSON.stringify(out);
      document.body.appendChild(pre);
    }, 500);
    """
    page = tmp_path / "flamegraph.html"
    page.write_text(with_script(html.render(basic), script), encoding="utf-8")
    dom = run_browser(browser, page, tmp_path / "profile", "--window-size=1280,800", "--dump-dom")
    no_error(dom)
    out = out_json(dom)
    assert out["tipHidden"] is False
    assert out["tip"].startswith("fd_sha512_fini25 samples12.50% of total")
    assert "38.46% of parent (fd_ed25519_verify)" in out["tip"]
    assert out["details"] == "fd_sha512_fini — 25 samples, 12.50% of total, 38.46% of parent (fd_ed25519_verify)"
    assert out["crumbs"] == ["all", "lab01", "verify:0"]
    assert out["ancestors"] == ["all", "lab01"] or sorted(out["ancestors"]) == ["all", "lab01"]
    assert out["matched"] == "Matched: 50.0% (81.3% of view)"  # 100 of 200; 65 of lab01's verify:0 (80)
    assert out["matches"] == ["fd_ed25519_verify", "fd_ed25519_point_frombytes"]
    assert out["resetEnabled"] is True
    names = frame_names(dom)
    assert "quic:0" not in names and "lab02" not in names  # outside the zoomed frame


def test_html_viewer_empty_profile(browser: str, tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text(html.render({}), encoding="utf-8")
    dom = run_browser(browser, page, tmp_path / "profile", "--dump-dom")
    no_error(dom)
    assert '<div class="ff-empty">No samples to show.</div>' in dom


def test_html_viewer_reports_script_errors(browser: str, basic: dict[str, int], tmp_path: Path) -> None:
    """The error marker the other tests rely on does appear when a script fails."""
    page = tmp_path / "broken.html"
    page.write_text(with_script(html.render(basic), "null.boom();"), encoding="utf-8")
    dom = run_browser(browser, page, tmp_path / "profile", "--dump-dom")
    assert re.search(r'<div id="ff-error">Viewer error: [^<]*null', dom)


def test_html_viewer_screenshot(browser: str, basic: dict[str, int], tmp_path: Path) -> None:
    page = tmp_path / "flamegraph.html"
    page.write_text(html.render(basic, FlameGraphOptions(title="fleetflame: basic")), encoding="utf-8")
    shot = tmp_path / "viewer.png"
    run_browser(browser, page, tmp_path / "profile", "--window-size=1280,500", f"--screenshot={shot}", "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 500)
    assert len(data) > 10_000  # frames and labels, not a blank page


# --- SVG ---------------------------------------------------------------------------------

SVG_ERROR_HOOK = """<script><![CDATA[
window.addEventListener("error", function (e) {
  document.documentElement.setAttribute("data-test-error", e.message);
});
]]></script>
"""


def test_svg_search_zoom_in_browser(browser: str, basic: dict[str, int], tmp_path: Path) -> None:
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
    dom = run_browser(browser, page, tmp_path / "profile", "--dump-dom", query="?s=ed25519")
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


def test_html_viewer_switches_between_views_of_a_capture(browser: str, basic: dict[str, int], tmp_path: Path) -> None:
    from fleetflame.report import fleet_views

    script = """
    var out = {};
    var select = document.getElementById('ff-view');
    out.hidden = select.hidden;
    out.options = Array.prototype.map.call(select.options, function (o) { return o.textContent; });
    out.before = document.querySelectorAll('.ff-frame')[1].textContent;
    select.value = '1';
    select.dispatchEvent(new Event('change'));
    out.after = Array.prototype.map.call(document.querySelectorAll('.ff-frame'), function (e) { return e.textContent; }).slice(0, 3);
    out.rootTotal = window.fleetflame.root.total;
    var pre = document.createElement('pre'); pre.id = 't-out'; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
    """
    views = fleet_views(basic, "host")
    page = tmp_path / "flamegraph.html"
    page.write_text(with_script(html.render_profiles(views, FlameGraphOptions()), script), encoding="utf-8")
    dom = run_browser(browser, page, tmp_path / "profile", "--window-size=1280,800", "--dump-dom")
    no_error(dom)
    out = out_json(dom)
    assert out["hidden"] is False
    assert out["options"] == list(views)
    assert out["before"] == "lab01"
    assert out["after"][0] == "all" and ":" in out["after"][1]  # by tile: tiles sit right above the root
    assert out["rootTotal"] == sum(basic.values())
