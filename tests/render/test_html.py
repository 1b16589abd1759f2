from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from bench.synthetic_fleet import synthetic_fleet
from fleetflame.render import assets, html
from fleetflame.render.model import FORMAT, VERSION, FleetContext, build_document
from fleetflame.render.readback import decode_stacks, unpack_blob
from fleetflame.render.options import FlameGraphOptions
from fleetflame.report import HOST_THRESHOLD, idle_tiles, regroup, resolve_grouping


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


def embedded(page: str) -> tuple[dict, bytes]:
    """The page's JSON header and its blob, unpacked."""
    scripts = {attrs.get("id"): body for attrs, body in parse(page).scripts}
    return json.loads(scripts["ff-data"]), unpack_blob(scripts["ff-blob"])


def fleet_page(stacks: dict[str, int], **context: object) -> str:
    return html.render_fleet(stacks, FlameGraphOptions(title="fleet"), FleetContext(**context))  # type: ignore[arg-type]


def test_self_contained_no_network(basic: dict[str, int]) -> None:
    for page in (html.render(basic, FlameGraphOptions(title="fleet")), fleet_page(basic)):
        parsed = parse(page)
        assert parsed.links == []  # no src/href at all: nothing to fetch
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.I)
        assert "@import" not in page and "url(" not in page
        assert all("src" not in attrs for attrs, _ in parsed.scripts)
        assert "function finishTree(" in page and "function Flame(" in page  # the viewer is inlined


def test_data_is_lossless(basic: dict[str, int], nasty: dict[str, int]) -> None:
    for stacks in (basic, nasty):
        header, blob = embedded(html.render(stacks))
        assert header["format"] == FORMAT and header["version"] == VERSION and header["fleet"] is False
        # NUL is the one character a frame name cannot keep (it would split the name)
        assert decode_stacks(header, blob) == {k.replace("\0", "\ufffd"): v for k, v in stacks.items()}
    fleet = synthetic_fleet(hosts=5, samples_per_tile=200, paths_per_kind=100)
    header, blob = embedded(fleet_page(fleet))
    assert header["fleet"] is True and header["hosts"] == [f"host00{i}" for i in range(1, 6)]
    assert decode_stacks(header, blob) == fleet


def test_fleet_stacks_share_one_tree_and_one_name_table() -> None:
    """Hosts run the same code: the tree is the tile kinds' (hosts merged), names are stored once."""
    fleet = synthetic_fleet(hosts=20, samples_per_tile=200, paths_per_kind=100)
    header, blob = build_document(fleet, FlameGraphOptions(), FleetContext())
    by_kind = regroup(fleet, "kind")
    frames_by_kind = sum(k.count(";") + 1 for k in by_kind)
    assert header["counts"]["nodes"] < frames_by_kind / 2  # prefixes shared
    assert header["counts"]["leaves"] == len(fleet)  # one leaf per distinct fleet stack
    names = {f for k in fleet for f in k.split(";")}
    assert header["counts"]["names"] <= len(names) + len({t.split(":")[0] for t in header["tiles"]}) + 1


def test_fleet_page_is_small() -> None:
    """The gzip'd blob: a fleet page costs a few bytes per distinct stack, far below its folded text."""
    fleet = synthetic_fleet(hosts=40, samples_per_tile=300, paths_per_kind=200)
    folded_bytes = sum(len(k) + 8 for k in fleet)
    page = fleet_page(fleet)
    assert len(page.encode()) < folded_bytes / 20, (len(page), folded_bytes)


def test_fleet_context_is_embedded(basic: dict[str, int]) -> None:
    skew = {"findings": [{"host": "lab01", "tile": "verify:0", "function": "f"}], "not_enough_samples": []}
    idle = [{"tile": "sign:0", "hosts": ["lab02"]}]
    header, _ = embedded(fleet_page(basic, skew=skew, idle_tiles=idle, default_view="host"))
    assert header["skew"]["findings"] == skew["findings"] and header["skew"]["omitted"] == 0
    assert header["idleTiles"] == idle and header["defaultView"] == "host"


def test_nasty_names_cannot_break_out(nasty: dict[str, int]) -> None:
    title = "</title><script>alert(1)</script> {{js}}"
    skew = {"findings": [{"host": "</script><script>alert(2)</script>", "tile": "x", "function": "<!--"}], "not_enough_samples": []}
    page = html.render_fleet({f"h;t;{k}": v for k, v in nasty.items()}, FlameGraphOptions(title=title), FleetContext(skew=skew))
    parsed = parse(page)
    assert len(parsed.scripts) == 5  # error hook, data, blob, viewer, time (empty): no injected script
    assert page.count("</script>") == 5
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; {{js}}</title>" in page
    header, _ = embedded(page)
    assert header["title"] == title and header["skew"]["findings"][0]["host"] == "</script><script>alert(2)</script>"


def test_error_hook_comes_before_the_viewer(basic: dict[str, int]) -> None:
    scripts = parse(html.render(basic)).scripts
    assert 'addEventListener("error"' in scripts[0][1]
    assert [attrs.get("id") for attrs, _ in scripts[1:3]] == ["ff-data", "ff-blob"]
    assert "function start(profile)" in scripts[3][1]


def test_viewer_features_present(basic: dict[str, int]) -> None:
    page = fleet_page(basic)
    for needle in ['id="ff-search"', 'id="ff-reset"', 'id="ff-crumbs"', 'id="ff-tip"', 'id="ff-icicle"', 'id="ff-sandwich"',
                   'id="ff-functions"', 'id="ff-tab-skew"', 'id="ff-host-list"', 'id="ff-tab-idle"', "host-vs-rest",
                   "function zoom(", "function search(", '"Matched: "', "of parent", "of total"]:  # fmt: skip
        assert needle in page, needle


def test_default_grouping_follows_the_fleet_size() -> None:
    assert resolve_grouping("auto", HOST_THRESHOLD) == "host"
    assert resolve_grouping("auto", HOST_THRESHOLD + 1) == "kind"
    assert resolve_grouping("tile", 50) == "tile"
    stacks = {"h1;verify:0;a;b": 2, "h2;verify:1;a;b": 3, "h1;agave;solBankStg;x": 1, "h2;net:0;c": 4}
    assert regroup(stacks, "kind") == {"verify;a;b": 5, "agave;solBankStg;x": 1, "net;c": 4}


def test_idle_tiles_come_from_the_manifest() -> None:
    from fleetflame.capture import HostResult, Manifest

    tiles = [{"name": n} for n in ("verify:0", "sign:0", "net:0")]
    manifest = Manifest(id="x", target="all", started_at="now", hosts={
        "h1": HostResult(status="ok", tiles=tiles), "h2": HostResult(status="ok", tiles=tiles),
        "h3": HostResult(status="failed", tiles=tiles)})  # fmt: skip
    manifest.hosts["h2"].skipped_tiles = [{"tile": "snapld:0", "reason": "shut down"}]
    stacks = {"h1;verify:0;a": 1, "h1;net:0;b": 1, "h2;verify:0;a": 1}
    assert idle_tiles(stacks, manifest) == [
        {"tile": "net:0", "reason": "no samples", "hosts": ["h2"]},
        {"tile": "sign:0", "reason": "no samples", "hosts": ["h1", "h2"]},
        {"tile": "snapld:0", "reason": "shut down", "hosts": ["h2"]},
    ]


def test_missing_viewer_asset_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, basic: dict[str, int]) -> None:
    real = resources.files("fleetflame.render")
    for name in ("viewer.css", "viewer.html"):
        (tmp_path / name).write_text(real.joinpath(name).read_text())
    monkeypatch.setattr(assets.resources, "files", lambda package: tmp_path)
    with pytest.raises(assets.MissingAssetError) as error:
        html.render(basic)
    message = str(error.value)
    assert "fleetflame/render/viewer-data.js is missing" in message
    assert "git checkout -- fleetflame/render/" in message and "pip install" in message
    assert error.value.exit_code == 1


def test_assets_are_packaged() -> None:
    root = Path(html.__file__).parent
    for name in (*html.SCRIPTS, "viewer.css", "viewer.html", "flamegraph.js"):
        assert (root / name).is_file(), name


def write_capture(folder: Path, fleet: dict[str, int], recorded: dict[str, list[str]], failed: tuple[str, ...] = ()) -> None:
    """A capture folder as `run` leaves it: hosts/H/stacks.folded and manifest.json."""
    from fleetflame.capture import HostResult, Manifest
    from fleetflame.folded import write_folded

    per_host: dict[str, dict[str, int]] = {}
    for stack, count in fleet.items():
        host, rest = stack.split(";", 1)
        per_host.setdefault(host, {})[rest] = count
    hosts = {}
    for host, tiles in recorded.items():
        (folder / "hosts" / host).mkdir(parents=True)
        write_folded(per_host.get(host, {}), folder / "hosts" / host / "stacks.folded")
        status = "failed" if host in failed else "ok"
        hosts[host] = HostResult(status=status, error="connection refused" if status == "failed" else None,
                                 tiles=[{"name": t} for t in tiles], samples=sum(per_host.get(host, {}).values()))  # fmt: skip
    Manifest(id=folder.name, target="all", started_at="2026-12-02T18:00:00Z", hosts=hosts).write(folder)


def test_report_by_fleet_size_with_skew_and_idle_tiles(tmp_path: Path) -> None:
    """More than HOST_THRESHOLD hosts: the SVG and the page open by tile kind; skew.json is written
    and its findings (the skewed host) are in the page; a tile without samples is listed."""
    from bench.synthetic_fleet import SKEW_FUNCTION, TILES
    from fleetflame.capture import read_manifest
    from fleetflame.report import build_reports

    fleet = synthetic_fleet(hosts=6, samples_per_tile=600, paths_per_kind=100, skewed_host=2, idle_every=3)
    folder = tmp_path / "20261202T180000Z-all"
    write_capture(folder, fleet, {f"host00{i}": TILES for i in range(1, 8)}, failed=("host007",))
    written = build_reports(folder, read_manifest(folder))
    assert folder / "skew.json" in written and folder / "flamegraph.html" in written
    skew = json.loads((folder / "skew.json").read_text())
    assert {(f["host"], f["function"]) for f in skew["findings"]} >= {("host002", SKEW_FUNCTION)}
    svg_text = (folder / "flamegraph.svg").read_text()
    assert re.search(r"<title>verify \(", svg_text) and not re.search(r"<title>host001 \(", svg_text)  # by kind
    header, blob = embedded((folder / "flamegraph.html").read_text())
    assert header["defaultView"] == "kind" and decode_stacks(header, blob) == fleet
    assert any(f["host"] == "host002" and f["function"] == SKEW_FUNCTION for f in header["skew"]["findings"])
    assert header["idleTiles"] == [{"tile": "sign:0", "reason": "no samples", "hosts": ["host003", "host006"]}]
    assert header["failedHosts"] == [{"host": "host007", "error": "connection refused"}]
    few = tmp_path / "20261202T180000Z-few"
    three = {k: v for k, v in fleet.items() if k.startswith(("host001;", "host002;", "host003;"))}
    write_capture(few, three, {f"host00{i}": TILES for i in range(1, 4)})
    build_reports(few, read_manifest(few))
    assert re.search(r"<title>host001 \(", (few / "flamegraph.svg").read_text())  # by host
    assert embedded((few / "flamegraph.html").read_text())[0]["defaultView"] == "host"
