// fleetflame SVG flame graph behaviour: click to zoom, reset, regex search, details line.
// fgConfig (layout constants) is defined just before this script. Runs once, at the end of
// the document, when every frame element already exists.
(function () {
  "use strict";
  var cfg = fgConfig;
  var doc = document;
  var byId = function (id) { return doc.getElementById(id); };
  var details = byId("details"), matchedEl = byId("matched"), unzoomEl = byId("unzoom");
  var searchEl = byId("search"), icEl = byId("ignorecase");
  var usable = cfg.width - 2 * cfg.xpad;
  var frames = [];  // {g, rect, text, x, w, d, name, fill}
  var searchTerm = null, ignoreCase = false;

  function nameOf(g) {
    var t = g.querySelector("title").textContent;
    var cut = t.lastIndexOf(" (");
    return cut < 0 ? t : t.slice(0, cut);
  }

  function depthOf(y) {
    return Math.round(cfg.inverted ? (y - cfg.ypad1) / cfg.frameHeight
                                   : (cfg.height - cfg.ypad2 - y) / cfg.frameHeight - 1);
  }

  function collect() {
    var groups = byId("frames").children;
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i], rect = g.querySelector("rect");
      frames.push({
        g: g, rect: rect, text: g.querySelector("text"),
        x: +g.getAttribute("data-x"), w: +g.getAttribute("data-w"),
        d: depthOf(+rect.getAttribute("y")), name: nameOf(g), fill: rect.getAttribute("fill"),
      });
    }
  }

  function fitText(f, px) {
    var chars = Math.floor(px / (cfg.fontSize * cfg.fontWidth));
    var label = chars < 3 ? "" : f.name.length <= chars ? f.name : f.name.slice(0, chars - 2) + "..";
    f.text.textContent = label;
  }

  function place(f, x, w) {
    f.rect.setAttribute("x", x.toFixed(1));
    f.rect.setAttribute("width", w.toFixed(1));
    f.text.setAttribute("x", (x + 3).toFixed(1));
    fitText(f, w);
  }

  function zoom(target) {
    var scale = usable / target.w;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      f.g.classList.remove("hide", "parent");
      if (f.d < target.d && f.x <= target.x && f.x + f.w >= target.x + target.w) {
        f.g.classList.add("parent");
        place(f, cfg.xpad, usable);
      } else if (f.d >= target.d && f.x >= target.x && f.x + f.w <= target.x + target.w) {
        place(f, cfg.xpad + (f.x - target.x) * scale, f.w * scale);
      } else {
        f.g.classList.add("hide");
      }
    }
    if (target.d === 0) unzoomEl.classList.add("hide");
    else unzoomEl.classList.remove("hide");
    if (searchTerm !== null) search(searchTerm);
  }

  function unzoom() {
    if (frames.length) zoom(frames[0]);
  }

  function search(term) {
    var re;
    try {
      re = new RegExp(term, ignoreCase ? "i" : "");
    } catch (e) {
      matchedEl.textContent = "Invalid regex: " + term;
      return;
    }
    searchTerm = term;
    var spans = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (f.d > 0 && re.test(f.name)) {
        f.rect.setAttribute("fill", cfg.searchColor);
        spans.push([f.x, f.x + f.w]);
      } else {
        f.rect.setAttribute("fill", f.fill);
      }
    }
    // Nested matches (a frame and its callee both matching) must count once: merge intervals.
    spans.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var covered = 0, end = -1;
    for (var j = 0; j < spans.length; j++) {
      var s = Math.max(spans[j][0], end);
      if (spans[j][1] > s) { covered += spans[j][1] - s; end = spans[j][1]; }
    }
    var pct = cfg.total ? 100 * covered / cfg.total : 0;
    matchedEl.textContent = "Matched: " + pct.toFixed(1) + "%";
    searchEl.classList.add("show");
    searchEl.textContent = "Reset Search";
  }

  function resetSearch() {
    searchTerm = null;
    for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
    matchedEl.textContent = " ";
    searchEl.classList.remove("show");
    searchEl.textContent = "Search";
  }

  function askSearch() {
    var term = window.prompt("Search frames (regular expression" + (ignoreCase ? ", ignoring case" : "") + "):", searchTerm || "");
    if (term) search(term);
  }

  collect();
  var index = new Map();
  frames.forEach(function (f) { index.set(f.g, f); });

  function frameOf(target) {
    var g = target.closest ? target.closest("#frames > g") : null;
    return g ? index.get(g) || null : null;
  }

  byId("frames").addEventListener("click", function (e) {
    var f = frameOf(e.target);
    if (f) zoom(f);
  });
  byId("frames").addEventListener("mouseover", function (e) {
    var f = frameOf(e.target);
    if (f) details.textContent = cfg.nameType + " " + f.g.querySelector("title").textContent;
  });
  byId("frames").addEventListener("mouseout", function () { details.textContent = " "; });
  unzoomEl.addEventListener("click", unzoom);
  searchEl.addEventListener("click", function () {
    if (searchTerm === null) askSearch(); else resetSearch();
  });
  icEl.addEventListener("click", function () {
    ignoreCase = !ignoreCase;
    icEl.classList.toggle("show", ignoreCase);
    if (searchTerm !== null) search(searchTerm);
  });
  window.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); askSearch(); }
    else if (e.key === "Escape") { resetSearch(); unzoom(); }
  });

  var params = new URLSearchParams(window.location.search);
  if (params.get("s")) search(params.get("s"));

  // For scripts and tests driving the graph.
  window.fleetflame = { zoom: zoom, unzoom: unzoom, search: search, resetSearch: resetSearch, frames: frames };
})();
