"""The viewer part of bench/render.py: a 500-host capture rendered and opened in Chromium.

With `timeline` (bench/render.py --timeline) it also builds the 500-host capture for 30 s at 99 Hz
with each host's timeline (bench/synthetic_fleet.synthetic_timelines) and measures the page with
and without its Timeline data: size, first paint (in turns), opening the Timeline tab, a range
selection (≤ 200 ms) and colouring by a function's share.

Prints each figure beside its goal: render time (Python: what `fleetflame report` adds for the
page and the default SVG), HTML size (≤ 30 MB), first paint (≤ 1.5 s from navigation start, the
browser's own start-up not counted) and interaction times (≤ 100 ms: zoom, search, view switches,
measured from the call to the end of the next frame). The browser is Debian's Chromium driven by
Playwright over a pipe; nothing is downloaded.

With `before` (bench/render.py --before COMMIT) the page is also rendered by that commit's
fleetflame (extracted with `git archive`), and the first paint of both pages is measured in
turns (before, after, after, before, ...) in one browser, so both see the same machine load.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.synthetic_fleet import SKEW_FUNCTION, synthetic_fleet
from fleetflame.folded import read_folded, write_folded
from fleetflame.render import html, svg
from fleetflame.render.model import FleetContext
from fleetflame.render.options import FlameGraphOptions
from fleetflame.report import regroup

DATA = Path(__file__).resolve().parent / "data"
REPO = DATA.parent.parent
GOAL_FIRST_PAINT_MS = 1500
GOAL_INTERACTION_MS = 100
GOAL_HTML_MB = 30
MIN_DISTINCT = 200_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-extensions"]  # fmt: skip

# What a user does, as calls into the page's API (window.fleetflame); each is timed to the end of
# the next frame, i.e. until the graph is on screen (the functions table follows a frame later:
# TABLE_INTERACTIONS time that too).
HOST_VS_REST = f"#view=host-vs-rest&host=host017&tile=verify&fn={SKEW_FUNCTION}"
INTERACTIONS = [
    ("zoom into a tile kind", "fleetflame.zoom(fleetflame.profile.kindNode['verify'])"),
    ("zoom deeper", "fleetflame.zoom(fleetflame.node('stem_run1') > 0 ? fleetflame.node('stem_run1') : 0)"),
    ("reset zoom", "fleetflame.zoom(0)"),
    ("search (regex)", "fleetflame.search('fd_verify_.*sig', false)"),
    ("clear search", "fleetflame.search('', false)"),
    ("view: all merged", "fleetflame.setView('merged')"),
    ("view: tile kinds", "fleetflame.setView('kind')"),
    ("view: host vs rest (link)", f"history.replaceState(null, '', '{HOST_VS_REST}'); dispatchEvent(new HashChangeEvent('hashchange'))"),
    ("view: tile kinds again", "fleetflame.setView('kind')"),
    ("select 10 hosts", "fleetflame.setHosts(fleetflame.profile.header.hosts.slice(0, 10))"),
    ("view: by host (10 hosts)", "fleetflame.setView('host')"),
    ("view: tile kinds (10 hosts)", "fleetflame.setView('kind')"),
    ("select all hosts", "fleetflame.setHosts(fleetflame.profile.header.hosts)"),
    ("select all but one host", "fleetflame.setHosts(fleetflame.profile.header.hosts.slice(1))"),
    ("select all hosts again", "fleetflame.setHosts(fleetflame.profile.header.hosts)"),
    ("icicle", "document.getElementById('ff-icicle').click()"),
    ("flame", "document.getElementById('ff-icicle').click()"),
    ("top-functions table (tab)", "fleetflame.showTab('functions')"),
    ("sandwich of stem_run1", "fleetflame.openSandwich(fleetflame.find('stem_run1'))"),
    ("close sandwich", "document.getElementById('ff-sandwich-close').click()"),
]
# Slower: the by-host view of every host materialises one tree of all 500 hosts' stacks (2.8
# million nodes here); built once, then cached. Measured and reported on its own, not hidden.
EXTRA = [("view: by host (all 500 hosts)", "fleetflame.setView('host')"), ("back to tile kinds", "fleetflame.setView('kind')"),
         ("by host (all 500) again", "fleetflame.setView('host')")]

# zoom, then wait until the functions table (drawn in the task after the graph's frame) is done too
TABLE_TIMED = """async (code) => {
  const act = new Function(code);
  const t0 = performance.now();
  act();
  await window.fleetflame.tableDone();
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - t0;
}"""
TABLE_INTERACTIONS = [
    ("zoom + table", "fleetflame.zoom(fleetflame.profile.kindNode['bank'])"),
    ("reset zoom + table", "fleetflame.zoom(0)"),
]

TIMED = """async (code) => {
  const act = new Function(code);
  const t0 = performance.now();
  act();
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - t0;
}"""


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _capture(hosts: int) -> dict[str, int]:
    path = DATA / f"fleet-{hosts}.folded"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        write_folded(synthetic_fleet(hosts), path)
    return read_folded(path)


def fleet_bench(hosts: int, repeat: int, before: str | None = None) -> None:
    stacks = _capture(hosts)
    distinct, frames = len(stacks), sum(k.count(";") + 1 for k in stacks)
    print(f"\nfleet      {hosts} hosts × 14 tiles: {distinct:,} distinct stacks (goal ≥ {MIN_DISTINCT:,}: "
          f"{_verdict(distinct >= MIN_DISTINCT)}), {sum(stacks.values()):,} samples, {frames / distinct:.1f} frames deep")  # fmt: skip
    options = FlameGraphOptions(title=f"fleetflame: {hosts} hosts")
    t0 = time.perf_counter()
    page = html.render_fleet(stacks, options, FleetContext(default_view="kind"))
    t_html = time.perf_counter() - t0
    t0 = time.perf_counter()
    svg_text = svg.render(regroup(stacks, "kind"), options)
    t_svg = time.perf_counter() - t0
    size_mb = len(page.encode()) / 1e6
    path = DATA / f"fleet-{hosts}.html"
    path.write_text(page, encoding="utf-8")
    print(f"render     html {t_html:.2f} s, default svg (by tile kind) {t_svg:.2f} s, {len(svg_text) / 1e6:.1f} MB")
    print(f"html size  {size_mb:.2f} MB                      goal ≤ {GOAL_HTML_MB} MB: {_verdict(size_mb <= GOAL_HTML_MB)}")
    old = _page_at(before, hosts) if before else None
    if old:
        print(f"html size  before ({before}) {old.stat().st_size / 1e6:.2f} MB, after {size_mb:.2f} MB")
    _browser(path, repeat, old, before)


# Renders the page in another process, with the fleetflame that PYTHONPATH chooses.
RENDER_CHILD = r"""
import sys
from fleetflame.folded import read_folded
from fleetflame.render import html
from fleetflame.render.model import FleetContext
from fleetflame.render.options import FlameGraphOptions
stacks = read_folded(sys.argv[1])
page = html.render_fleet(stacks, FlameGraphOptions(title=sys.argv[3]), FleetContext(default_view="kind"))
open(sys.argv[2], "w", encoding="utf-8").write(page)
"""


def _page_at(commit: str, hosts: int) -> Path:
    """The fleet page as `commit`'s fleetflame renders it (bench/data/fleet-HOSTS-COMMIT.html)."""
    path = DATA / f"fleet-{hosts}-{commit.replace('/', '_')}.html"
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "fleetflame"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        subprocess.run([sys.executable, "-c", RENDER_CHILD, str(DATA / f"fleet-{hosts}.folded"), str(path), f"fleetflame: {hosts} hosts"],
                       env={**os.environ, "PYTHONPATH": tmp}, cwd=tmp, check=True)  # fmt: skip (cwd: not this checkout's fleetflame)
    return path


def _chromium() -> str | None:
    """Chromium's path, if it and Playwright are installed; else None, having said why."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("chromium   skipped: playwright is not installed (pip install -c constraints.txt -e '.[test]')")
        return None
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("chromium   skipped: no chromium (apt-get install chromium)")
    return chromium


@contextlib.contextmanager
def _launched(chromium: str) -> Iterator[Any]:
    """Headless Chromium, driven by Playwright over a pipe, closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _browser(path: Path, repeat: int, old: Path | None = None, before: str | None = None) -> None:
    chromium = _chromium()
    if not chromium:
        return
    with _launched(chromium) as browser:
        _first_paint(browser, path, repeat)
        if old:
            _first_paint_in_turns(browser, old, path, repeat, before or "before")
        _interactions(browser, path, repeat)


def _open(browser: Any, path: Path) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ff-ready]", state="attached", timeout=60_000)
    return page


def _first_paint(browser: Any, path: Path, repeat: int) -> None:
    runs = []
    for _ in range(max(repeat, 3)):
        page = _open(browser, path)
        runs.append(page.evaluate("""() => ({
            paint: performance.getEntriesByName('ff-first-paint')[0].startTime,
            fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
            script: window.fleetflame.timings.start, decoded: window.fleetflame.timings.decoded,
            drawn: window.fleetflame.timings.drawn})"""))
        page.close()
    paint = sorted(r["paint"] for r in runs)
    median = statistics.median(paint)
    print(f"first paint  median {median:.0f} ms, best {paint[0]:.0f}, worst {paint[-1]:.0f} over {len(runs)} loads"
          f"   goal ≤ {GOAL_FIRST_PAINT_MS} ms: {_verdict(median <= GOAL_FIRST_PAINT_MS)}")  # fmt: skip
    m = runs[paint.index(paint[0])] if False else runs[len(runs) // 2]
    print(f"  (one load: viewer script starts {m['script']:.0f} ms, data decoded {m['decoded']:.0f} ms, "
          f"graph drawn {m['drawn']:.0f} ms, first contentful paint {m['fcp'] or 0:.0f} ms)")  # fmt: skip


def _paint_ms(browser: Any, path: Path) -> float:
    page = _open(browser, path)
    paint = float(page.evaluate("() => performance.getEntriesByName('ff-first-paint')[0].startTime"))
    page.close()
    return paint


def _first_paint_in_turns(browser: Any, old: Path, new: Path, repeat: int, before: str) -> None:
    """First paint of the page before and after, loaded in turns (ABBA) in one browser."""
    runs: dict[Path, list[float]] = {old: [], new: []}
    for i in range(max(repeat, 3)):
        for path in (old, new) if i % 2 == 0 else (new, old):
            runs[path].append(_paint_ms(browser, path))
    a, b = sorted(runs[old]), sorted(runs[new])
    print(f"first paint in turns over {len(a)} loads each: before ({before}) median {statistics.median(a):.0f} ms "
          f"({a[0]:.0f}–{a[-1]:.0f}), after median {statistics.median(b):.0f} ms ({b[0]:.0f}–{b[-1]:.0f})")  # fmt: skip


def _main_thread_cpu_ms(trace_path: Path) -> float:
    """CPU time the page's main thread spent in tasks during a trace (thread time, `tdur`):
    what the interaction costs, apart from waiting for a core on a busy machine."""
    data = json.loads(trace_path.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    main = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"}
    return sum(e.get("tdur", 0) for e in events if e.get("ph") == "X" and e.get("name") == "RunTask" and (e["pid"], e["tid"]) in main) / 1000


def _timed(browser: Any, page: Any, script: str, code: str, trace: Path) -> tuple[float, float]:
    browser.start_tracing(page=page, path=str(trace), categories=["devtools.timeline", "disabled-by-default-devtools.timeline"])
    wall = float(page.evaluate(script, code))
    browser.stop_tracing()
    return wall, _main_thread_cpu_ms(trace)


def _interactions(browser: Any, path: Path, repeat: int) -> None:
    page = _open(browser, path)
    times: dict[str, list[tuple[float, float]]] = {}
    rounds = max(repeat, 3)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        for _ in range(rounds):
            for name, code in INTERACTIONS:
                times.setdefault(name, []).append(_timed(browser, page, TIMED, code, trace))
            for name, code in TABLE_INTERACTIONS:
                times.setdefault(name, []).append(_timed(browser, page, TABLE_TIMED, code, trace))
        extra = {name: _timed(browser, page, TIMED, code, trace) for name, code in EXTRA}
    errors = page.locator("#ff-error").count()
    page.close()
    print(f"interactions over {rounds} rounds, ms: wall to the next frame (median / worst), and the page's main-thread CPU"
          f" (median)   goal ≤ {GOAL_INTERACTION_MS} ms")  # fmt: skip
    worst_wall = worst_cpu = 0.0
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        worst_wall, worst_cpu = max(worst_wall, wall), max(worst_cpu, cpu)
        print(f"  {name:30s} {wall:7.1f} / {max(v[0] for v in values):7.1f}   CPU {cpu:6.1f}   {_verdict(wall <= GOAL_INTERACTION_MS)}")
    for name, (wall, cpu) in extra.items():
        print(f"  {name:30s} {wall:7.1f}             CPU {cpu:6.1f}   (once; see docs/BENCHMARKS.md)")
    print(f"interactions: slowest median {worst_wall:.1f} ms wall ({_verdict(worst_wall <= GOAL_INTERACTION_MS)}), "
          f"{worst_cpu:.1f} ms main-thread CPU ({_verdict(worst_cpu <= GOAL_INTERACTION_MS)})"
          f"{'; SCRIPT ERRORS in the page' if errors else ''}")  # fmt: skip


# --- the timeline (issue 18) ---------------------------------------------------------------------
GOAL_RANGE_MS = 200
TIMELINE_SECONDS = 30.0  # at 99 Hz: 2,970 samples a busy tile
# until the Timeline tab has drawn what the call asked for (body[data-ff-timeline] changes), then a frame
TIMELINE_TIMED = """async (code) => {
  const before = document.body.getAttribute('data-ff-timeline');
  const t0 = performance.now();
  new Function(code)();
  while (document.body.getAttribute('data-ff-timeline') === before && performance.now() - t0 < 20000) {
    await new Promise((done) => setTimeout(done, 0));
  }
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - t0;
}"""
RANGES = [
    ("range: the 0.8 s burst", "fleetflame.setRange(12.4, 13.2)"),
    ("range: 5 s", "fleetflame.setRange(5, 10)"),
    ("range: the whole 30 s", "fleetflame.setRange(0, 30)"),
    ("clear the range", "fleetflame.setRange(null)"),
]
SHARES = [
    ("colour by share: one function", f"fleetflame.search('^{SKEW_FUNCTION}$', false)"),
    ("colour by share: a regex", "fleetflame.search('fd_verify_.*sig', false)"),
    ("back to samples", "fleetflame.search('', false)"),
]


def timeline_pages(hosts: int) -> tuple[Path, Path, dict[str, float]]:
    """The 30 s capture's page without and with its timelines (bench/data/fleet-HOSTS-30s*.html)."""
    from bench.synthetic_fleet import START, synthetic_timelines

    plain, timed = DATA / f"fleet-{hosts}-30s.html", DATA / f"fleet-{hosts}-30s-timeline.html"
    t0 = time.perf_counter()
    stacks = synthetic_fleet(hosts, samples_per_tile=round(99 * TIMELINE_SECONDS), skew_share=0.02)
    t_stacks = time.perf_counter() - t0
    t0 = time.perf_counter()
    timelines = synthetic_timelines(stacks, seconds=TIMELINE_SECONDS)
    t_timelines = time.perf_counter() - t0
    options = FlameGraphOptions(title=f"fleetflame: {hosts} hosts, {TIMELINE_SECONDS:.0f} s")
    t0 = time.perf_counter()
    plain.write_text(html.render_fleet(stacks, options, FleetContext(default_view="kind")), encoding="utf-8")
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    page = html.render_fleet(stacks, options, FleetContext(default_view="kind", timelines=timelines, recording_start=START))
    t_timed = time.perf_counter() - t0
    timed.write_text(page, encoding="utf-8")
    samples = sum(stacks.values())
    entries = sum(len(s) for t in timelines.values() for s in t.series.values())
    print(f"\ntimeline   {hosts} hosts × 14 tiles × {TIMELINE_SECONDS:.0f} s at 99 Hz: {len(stacks):,} distinct stacks, {samples:,} samples, "
          f"{entries:,} (stack, 20 ms bin) entries (made in {t_stacks:.1f} + {t_timelines:.1f} s)")  # fmt: skip
    meta = json.loads(page.split('id="ff-data">', 1)[1].split("</script>", 1)[0])["time"]
    time_mb = len(page.split('id="ff-time">', 1)[1].split("<", 1)[0]) / 1e6
    print(f"  time section: per-leaf bins {meta['binMs']} ms ({meta['events']:,} events), per-host totals {meta['fineMs']} ms "
          f"({meta['hostEvents']:,} events), {time_mb:.2f} MB of text")  # fmt: skip
    print(f"  render (Python) html without timeline {t_plain:.2f} s, with {t_timed:.2f} s")
    return plain, timed, {"plain_mb": plain.stat().st_size / 1e6, "timed_mb": timed.stat().st_size / 1e6}


def timeline_bench(hosts: int, repeat: int) -> None:
    plain, timed, sizes = timeline_pages(hosts)
    print(f"html size  without timeline {sizes['plain_mb']:.2f} MB, with {sizes['timed_mb']:.2f} MB   goal ≤ {GOAL_HTML_MB} MB: "
          f"{_verdict(sizes['timed_mb'] <= GOAL_HTML_MB)}")  # fmt: skip
    chromium = _chromium()
    if not chromium:
        return
    with _launched(chromium) as browser:
        runs: dict[Path, list[float]] = {plain: [], timed: []}
        for i in range(max(repeat, 3)):
            for path in (plain, timed) if i % 2 == 0 else (timed, plain):
                runs[path].append(_paint_ms(browser, path))
        a, b = sorted(runs[plain]), sorted(runs[timed])
        mb = statistics.median(b)
        print(f"first paint in turns over {len(a)} loads each: without timeline median {statistics.median(a):.0f} ms ({a[0]:.0f}–{a[-1]:.0f}), "
              f"with median {mb:.0f} ms ({b[0]:.0f}–{b[-1]:.0f})   goal ≤ {GOAL_FIRST_PAINT_MS} ms: {_verdict(mb <= GOAL_FIRST_PAINT_MS)}")  # fmt: skip
        _timeline_interactions(browser, timed, repeat)


def _timeline_interactions(browser: Any, path: Path, repeat: int) -> None:
    opens, decodes, draws = [], [], []
    for _ in range(max(repeat, 3)):
        page = _open(browser, path)
        opens.append(float(page.evaluate(TIMELINE_TIMED, "fleetflame.showTab('timeline')")))
        t = page.evaluate("() => window.fleetflame.timeline().timings")
        decodes.append(float(t["timeDecoded"]))
        draws.append(float(t["timelineDrawn"]))
        page.close()
    print(f"open the Timeline tab (decode + first draw, to the next frame): median {statistics.median(opens):.0f} ms "
          f"({min(opens):.0f}–{max(opens):.0f}) over {len(opens)} loads; of which decoding {statistics.median(decodes):.0f} ms, "
          f"drawing heatmap and strips {statistics.median(draws):.0f} ms   (no goal; once per page)")  # fmt: skip
    page = _open(browser, path)
    page.evaluate(TIMELINE_TIMED, "fleetflame.showTab('timeline')")
    times: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        for _ in range(max(repeat, 3)):
            for name, code in RANGES:  # each range from the whole recording; "clear" from the previous range
                if "clear" not in name:
                    page.evaluate("() => window.fleetflame.setRange(null)")
                times.setdefault(name + " (graph)", []).append(_timed(browser, page, TIMED, code, trace))
            for name, code in RANGES:  # the same, until the heatmap and strips show it too
                times.setdefault(name + " (graph + timeline)", []).append(_timed(browser, page, TIMELINE_TIMED, code, trace))
            for name, code in SHARES:
                times.setdefault(name, []).append(_timed(browser, page, TIMELINE_TIMED, code, trace))
    errors = page.locator("#ff-error").count()
    page.close()
    print(f"timeline interactions over {max(repeat, 3)} rounds, ms: wall until drawn and a frame (median / worst), main-thread CPU (median)"
          f"   goal: a range ≤ {GOAL_RANGE_MS} ms")  # fmt: skip
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        goal = f"{_verdict(wall <= GOAL_RANGE_MS)}" if name.startswith(("range", "clear")) else "(no goal)"
        print(f"  {name:42s} {wall:7.1f} / {max(v[0] for v in values):7.1f}   CPU {cpu:6.1f}   {goal}")
    if errors:
        print("SCRIPT ERRORS in the page")
