// fleetflame viewer, part 3 of 3: the page. Views of a fleet (tile kinds with hosts merged, by
// host, all merged, one host against the rest), a host selector, the skew findings, idle tiles,
// perf report's top-functions table, icicle orientation and a function's sandwich (callers and
// callees). The first screen is the graph, fitted between the toolbar and the tab bar. State that
// can be linked lives in the URL fragment:
//   #view=host-vs-rest&host=HOST&tile=TILE&fn=FUNCTION   (also view=kind|host|merged|sandwich)
//   #from=12.4&until=13.2   a range of the recording (seconds from its start), with any of the above
(function () {
  "use strict";
  var doc = document;
  var $ = function (id) { return doc.getElementById(id); };
  var header = JSON.parse($("ff-data").textContent);
  if (header.format !== "fleetflame-profile" || header.version !== 2) {
    throw new Error("unknown data format " + header.format + " version " + header.version);
  }
  var VIEW_NAMES = { kind: "Tile kinds, hosts merged", host: "By host", merged: "All merged", "host-vs-rest": "Host vs rest" };
  var ROOT_COLOR = "rgb(200,200,205)", NEUTRAL = "rgb(235,235,235)";
  var TABLE_ROWS = 50;  // rows shown at first; "Show more" adds as many again
  var BY_HOST_PX = 100;  // By host draws at most one host per this many px of width; more are summed
  var MIN_TILE_PX = 20;  // narrower frames have no label (ffDraw)
  var t0 = performance.now();

  $("ff-subtitle").textContent = header.subtitle || "";
  ffData.load(header, $("ff-blob").textContent).then(start, function (error) {
    $("ff-loading").textContent = "Cannot read the profile: " + error.message;
    throw error;
  });

  function start(profile) {
    var decodedAt = performance.now();
    $("ff-loading").hidden = true;
    var fleet = header.fleet, hostCount = profile.hostCount, nameCount = profile.names.length;
    var mainFlame = new ffDraw.Flame($("ff-main"), profile);
    var callersFlame = new ffDraw.Flame($("ff-callers"), profile);
    var calleesFlame = new ffDraw.Flame($("ff-callees"), profile);
    var tip = $("ff-tip"), details = $("ff-details"), searchBox = $("ff-search"), icBox = $("ff-ic");
    var state = {
      view: fleet ? header.defaultView || "kind" : "plain",
      hosts: new Uint8Array(hostCount).fill(1),
      hvrHost: 0, hvrTile: "", fn: -1,
      zoom: 0, inverted: !!header.inverted,
      hit: null, matcher: null,
      sandwich: -1, sandwichZoom: [0, 0],
      tab: null, sort: { key: "self", desc: true },
      range: null,  // {lo, hi}: leaf bins of the time section; the page shows their samples only
      timeTile: "", timeColor: null, timeSort: "total",
    };
    var allCounts = profile.leafCount;  // the whole recording's, kept while a range shows
    var current = null;    // {tree, groupDepth, color, other, key}
    var cache = [];
    var sandwichCache = null;

    // --- views -----------------------------------------------------------------------------
    function maskKey(mask) {
      var s = "";
      for (var i = 0; i < mask.length; i++) s += mask[i] ? "1" : "0";
      return s;
    }

    function weighted(weights) {
      var t = profile.tree;
      return { n: t.n, name: t.name, depth: t.depth, parent: t.parent, end: t.end, self: weights.self, total: weights.total };
    }

    function graphWidth() {
      if (!mainFlame.width) mainFlame.width = $("ff-main").clientWidth;
      return Math.max(mainFlame.width || $("ff-flame").clientWidth, 200);  // (#ff-main is hidden under a sandwich)
    }

    // By host, what fits the width: every selected host side by side if each can be BY_HOST_PX
    // wide; else the ones with the most samples, and the others summed (tile by tile) in one frame.
    function hostSplit(fit) {
      var sums = profile.hostTotals(), chosen = [];
      for (var h = 0; h < hostCount; h++) if (state.hosts[h] && sums[h] > 0) chosen.push(h);
      var width = graphWidth(), tiles = 0;
      if (chosen.length <= fit) {
        if (chosen.length < 2) return { drawn: state.hosts, other: null, note: null };
        chosen.forEach(function (h) { tiles += profile.hostPairs[h].length; });
        var tilePx = width / Math.max(tiles, 1);
        return { drawn: state.hosts, other: null, note: tilePx >= MIN_TILE_PX ? null : {
          text: "By host: " + chosen.length + " hosts and their " + fmt(tiles) + " tiles leave a tile about " + Math.max(1, Math.round(tilePx)) +
            " px wide, too narrow for its name: click a host to zoom on it.", tab: null } };
      }
      chosen.sort(function (a, b) { return sums[b] - sums[a] || a - b; });
      var drawn = new Uint8Array(hostCount), other = new Uint8Array(hostCount), shown = fit - 1;
      chosen.forEach(function (h, k) { (k < shown ? drawn : other)[h] = 1; });
      var rest = chosen.length - shown;
      return { drawn: drawn, other: other, label: "other " + fmt(rest) + " hosts", note: {
        text: "By host: " + fmt(chosen.length) + " hosts are too many to draw side by side (" + (width / chosen.length).toFixed(1) +
          " px each). Drawn one by one: the " + shown + " with the most " + header.countName + "; the other " + fmt(rest) +
          " are summed, tile by tile, in the last frame. To compare particular hosts, select up to " + fit + " in the Hosts tab" +
          (skewByHost.size ? " (hosts with skew findings are marked there)." : "."), tab: "hosts" } };
    }

    function compute() {
      var fit = state.view === "host" ? Math.max(2, Math.floor(graphWidth() / BY_HOST_PX)) : 0;
      var key = state.view + "|" + (state.view === "host-vs-rest" ? state.hvrHost + "|" + state.hvrTile : maskKey(state.hosts)) + "|" + fit;
      for (var c = 0; c < cache.length; c++) if (cache[c].key === key) return cache[c];
      var v = { key: key, groupDepth: 0, other: null, color: null, root: 0, note: null, message: null };
      if (state.view === "plain") {
        v.tree = weighted(profile.weigh([0]));
      } else if (state.view === "kind") {
        v.tree = weighted(profile.weigh(profile.pairs(state.hosts)));
        v.groupDepth = 1;
      } else if (state.view === "host") {
        var split = hostSplit(fit);
        v.tree = profile.byHost(split.drawn, "", split.other);
        if (split.other) v.tree.otherLabel = split.label;
        v.note = split.note;
        v.groupDepth = 2;
      } else if (state.view === "merged") {
        v.tree = profile.merged(profile.weigh(profile.pairs(state.hosts)));
      } else {
        var one = new Uint8Array(hostCount), rest = new Uint8Array(hostCount).fill(1);
        one[state.hvrHost] = 1;
        rest[state.hvrHost] = 0;
        v.tree = weighted(profile.weigh(profile.pairs(one, state.hvrTile)));
        v.other = profile.weigh(profile.pairs(rest, state.hvrTile)).total;
        v.groupDepth = 1;
        var kindName = state.hvrTile.split(":")[0];
        v.root = state.hvrTile && profile.kindNode[kindName] !== undefined ? profile.kindNode[kindName] : 0;
        v.color = deltaColors(v.tree, v.other, v.root);
        // no rest (one host), or nothing on one side: say so rather than draw all red or nothing
        var who = header.hosts[state.hvrHost], of = state.hvrTile ? " of " + state.hvrTile : "";
        if (hostCount < 2) {
          v.message = "Host vs rest: " + who + " is the only host with " + header.countName + " in this capture, so there is no rest of the fleet " +
            "to compare it with. The other views show its " + header.countName + ".";
        } else if (!(v.other[0] > 0)) {
          v.message = "Host vs rest: no host but " + who + " has " + header.countName + of + ": there is no rest to compare it with.";
        } else if (!(v.tree.total[0] > 0)) {
          v.message = "Host vs rest: " + who + " has no " + header.countName + of + " to compare with the rest.";
        }
      }
      cache.unshift(v);
      if (cache.length > 12) cache.pop();  // a kind weighting is 2 × 8 bytes per node of the tree
      return v;
    }

    // Host against the rest: red where the host spends a larger share than the rest, blue smaller.
    function deltaColors(t, other, root) {
      var a = t.total[root], b = other[root], delta = new Float64Array(t.n), max = 0;
      for (var i = root, e = t.end[root]; i < e; i++) {
        if (!(t.total[i] > 0)) continue;
        delta[i] = (a ? t.total[i] / a : 0) - (b ? other[i] / b : 0);
        if (Math.abs(delta[i]) > max) max = Math.abs(delta[i]);
      }
      return function (i) {
        var d = delta[i];
        if (!d || !max || i === 0) return i === 0 ? ROOT_COLOR : NEUTRAL;
        // as `fleetflame diff` colours, but never darker than 110: black names stay readable
        var fade = Math.round(110 + 125 * (1 - Math.min(Math.abs(d) / max, 1)));
        return d > 0 ? "rgb(255," + fade + "," + fade + ")" : "rgb(" + fade + "," + fade + ",255)";
      };
    }

    function colorOf(t) {
      return function (i) { return t.name[i] === 0 ? ROOT_COLOR : profile.color(t.name[i]); };
    }

    // --- rendering ---------------------------------------------------------------------------
    function render() {
      var r0 = performance.now();
      var sandwich = state.sandwich >= 0;
      $("ff-main").hidden = sandwich;
      $("ff-sandwich-view").hidden = !sandwich;
      current = compute();
      var r1 = performance.now();
      var t = current.tree;
      if (state.zoom >= t.n || !(t.total[state.zoom] > 0)) state.zoom = current.root;
      doc.body.classList.toggle("ff-inverted", state.inverted);
      var color = current.color || colorOf(t);
      var opts = { inverted: state.inverted, color: color, hit: state.hit, searchColor: header.searchColor };
      if (!sandwich) callersFlame.width = calleesFlame.width = 0;
      var count;
      if (current.message && !sandwich) {
        count = mainFlame.clear().node.length;
      } else if (sandwich) {
        var s = sandwichOf(t);
        $("ff-sandwich-name").textContent = profile.labels[state.sandwich] + " — " + fmt(s.total) + " " + header.countName +
          " (" + pct(s.total, t.total[0]) + " of the view)";
        var c1 = callersFlame.draw(s.callers, state.sandwichZoom[0], { inverted: false, color: colorOf(s.callers), hit: state.hit, searchColor: header.searchColor });
        var c2 = calleesFlame.draw(s.callees, state.sandwichZoom[1], { inverted: true, color: colorOf(s.callees), hit: state.hit, searchColor: header.searchColor });
        count = c1.node.length + c2.node.length;
      } else {
        count = mainFlame.draw(t, state.zoom, opts).node.length;
      }
      var loading = $("ff-loading");
      if (current.message && !sandwich) loading.hidden = false, loading.textContent = current.message;
      else if (!(t.total[0] > 0) && !sandwich) loading.hidden = false, loading.textContent = "No " + header.countName + " to show.";
      else loading.hidden = true;
      renderNote(sandwich ? null : current.note);
      keepRootInView(sandwich);
      var r2 = performance.now();
      doc.body.setAttribute("data-ff-frames", String(count));
      doc.body.setAttribute("data-ff-view", sandwich ? "sandwich" : state.view);
      renderToolbar();
      renderCrumbs();
      renderMatched();
      if (state.tab === "functions") scheduleFunctions();
      if (state.tab === "timeline") scheduleTimeline();
      lastRender = { compute: r1 - r0, draw: r2 - r1, rest: performance.now() - r2 };
    }
    var lastRender = null;

    // A note above the graph about what the view leaves out, with a button to the tab that helps.
    var shownNote = null;
    function renderNote(note) {
      if (note === shownNote) return;
      shownNote = note;
      var box = $("ff-view-note");
      box.hidden = !note;
      box.textContent = note ? note.text : "";
      if (note && note.tab) {
        var b = doc.createElement("button");
        b.type = "button";
        b.textContent = "Open the Hosts tab";
        b.addEventListener("click", function () { showTab(note.tab, true); });
        box.appendChild(b);
      }
    }

    // The graph scrolls inside its box when the stacks are deeper than the window: a new view
    // opens on its root (at the bottom of a flame graph, the top of an icicle), a sandwich on
    // its function. A zoom keeps the scroll where the user left it.
    var scrolledFor = null;
    function keepRootInView(sandwich) {
      var key = sandwich ? "sandwich|" + state.sandwich : current.key + "|" + state.inverted;
      if (key === scrolledFor) return;
      scrolledFor = key;
      var box = $("ff-flame");
      if (sandwich) {
        var callers = $("ff-callers");
        box.scrollTop = Math.max(0, callers.offsetTop + callers.offsetHeight - box.clientHeight / 2);
      } else {
        box.scrollTop = state.inverted ? 0 : box.scrollHeight;
      }
    }

    function sandwichOf(t) {
      if (sandwichCache && sandwichCache.tree === t && sandwichCache.fn === state.sandwich) return sandwichCache.value;
      var value = ffData.sandwich(t, state.sandwich, profile.labels, nameCount);
      sandwichCache = { tree: t, fn: state.sandwich, value: value };
      return value;
    }

    function renderToolbar() {
      var select = $("ff-view");
      if (select.value !== state.view) select.value = state.view;
      $("ff-hvr").hidden = state.view !== "host-vs-rest";
      if (state.view === "host-vs-rest") {
        $("ff-hvr-host").value = String(state.hvrHost);
        $("ff-hvr-tile").value = state.hvrTile;
      }
      var selected = 0;
      for (var i = 0; i < hostCount; i++) selected += state.hosts[i];
      var hb = $("ff-hosts-button");
      hb.hidden = !fleet || state.view === "host-vs-rest";
      hb.textContent = selected === hostCount ? "All " + hostCount + " hosts" : selected + " of " + hostCount + " hosts";
      $("ff-icicle").checked = state.inverted;
      $("ff-sandwich").disabled = state.fn < 0;
      $("ff-sandwich").textContent = state.fn >= 0 ? "Sandwich: " + short(profile.labels[state.fn]) : "Sandwich";
    }

    function short(s) { return s.length > 40 ? s.slice(0, 38) + ".." : s; }

    function renderCrumbs() {
      var nav = $("ff-crumbs"), t = current.tree;
      nav.textContent = "";
      if (state.sandwich >= 0) return;
      var chain = [];
      for (var n = state.zoom; n >= 0; n = t.parent[n]) chain.unshift(n);
      chain.forEach(function (n) {
        var span = doc.createElement("span");
        span.className = "ff-crumb";
        span.textContent = span.title = labelOf(t, n);
        span.addEventListener("click", function () { zoom(n); });
        nav.appendChild(span);
      });
      $("ff-reset").disabled = state.zoom === current.root && state.sandwichZoom[0] === 0 && state.sandwichZoom[1] === 0;
    }

    function labelOf(t, i) { return t.name[i] === profile.otherName && t.otherLabel ? t.otherLabel : profile.labels[t.name[i]]; }
    // one formatter: Number.toLocaleString builds a new one per call (slow for a table of numbers)
    var numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
    function fmt(n) { return numberFormat.format(Math.round(n)); }
    function pct(part, whole) { return whole ? (100 * part / whole).toFixed(2) + "%" : "-"; }

    // --- zoom, search, details --------------------------------------------------------------
    function zoom(node) {
      state.zoom = node;
      if (node > 0 && current.tree.depth[node] > current.groupDepth) state.fn = current.tree.name[node];
      render();
    }

    function search(term, ignoreCase) {
      searchBox.classList.remove("ff-bad");
      if (!term) { state.hit = state.matcher = null; render(); return; }
      var matcher;
      try {
        matcher = new RegExp(term, ignoreCase ? "i" : "");
      } catch (e) {
        searchBox.classList.add("ff-bad");
        $("ff-matched").textContent = "Invalid regex";
        return;
      }
      var hit = new Uint8Array(nameCount);
      for (var i = 0; i < nameCount; i++) hit[i] = matcher.test(profile.labels[i]) ? 1 : 0;
      state.matcher = matcher;
      state.hit = hit;
      render();
    }

    function escapeRegex(s) { return s.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&"); }

    // Highlight one function by its exact name (the functions table, a finding's fn=).
    function highlight(nameIndex) {
      state.fn = nameIndex;
      searchBox.value = "^" + escapeRegex(profile.labels[nameIndex]) + "$";
      icBox.checked = false;
      search(searchBox.value, false);
    }

    function renderMatched() {
      var el = $("ff-matched");
      if (!state.hit) { el.textContent = ""; return; }
      var t = current.tree;
      var all = ffData.coveredTotal(t, current.root, state.hit, t.total), whole = t.total[current.root];
      var text = "Matched: " + (whole ? (100 * all / whole).toFixed(1) : "0.0") + "%";
      if (state.zoom !== current.root && state.sandwich < 0) {
        text += " (" + (100 * ffData.coveredTotal(t, state.zoom, state.hit, t.total) / t.total[state.zoom]).toFixed(1) + "% of view)";
      }
      el.textContent = text;
    }

    function describe(t, i, other) {
      var parent = t.parent[i];
      var lines = [
        fmt(t.total[i]) + " " + header.countName,
        pct(t.total[i], t.total[0]) + " of total",
        pct(t.total[i], parent >= 0 ? t.total[parent] : t.total[i]) + " of parent" + (parent >= 0 ? " (" + labelOf(t, parent) + ")" : ""),
      ];
      if (other && current && t === current.tree) {
        var r = current.root;
        lines.push(profile.header.hosts[state.hvrHost] + ": " + pct(t.total[i], t.total[r]) + " · rest of the fleet: " +
          pct(other[i], other[r]) + " (" + fmt(other[i]) + " of " + fmt(other[r]) + ")");
      }
      if (t.name[i] === profile.otherName) lines.push("the hosts not drawn one by one, summed tile by tile");
      lines.push(profile.kind(t.name[i]) + " frame, depth " + t.depth[i]);
      return { name: labelOf(t, i), lines: lines };
    }

    function escapeHtml(s) {
      return String(s).replace(/[&<>"']/g, function (c) {
        return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
      });
    }

    function showTip(flame, k, x, y) {
      var t = flame.tree, i = flame.drawn.node[k];
      var d = describe(t, i, flame === mainFlame ? current.other : null);
      tip.innerHTML = "<b>" + escapeHtml(d.name) + "</b>" + d.lines.map(escapeHtml).join("<br>");
      tip.hidden = false;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      tip.style.left = Math.max(0, Math.min(x + 14, window.innerWidth - w - 4)) + "px";
      tip.style.top = (y + 18 + h > window.innerHeight ? Math.max(0, y - h - 8) : y + 18) + "px";
      details.textContent = d.name + " — " + d.lines.slice(0, 3).join(", ");
    }

    [[mainFlame, -1], [callersFlame, 0], [calleesFlame, 1]].forEach(function (pair) {
      var flame = pair[0], which = pair[1], canvas = flame.canvas;
      canvas.addEventListener("mousemove", function (e) {
        var k = flame.at(e.clientX, e.clientY);
        if (k >= 0) showTip(flame, k, e.clientX, e.clientY); else tip.hidden = true;
      });
      canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
      canvas.addEventListener("click", function (e) {
        var k = flame.at(e.clientX, e.clientY);
        if (k < 0) return;
        var node = flame.drawn.node[k];
        if (which < 0) { zoom(node); return; }
        state.sandwichZoom[which] = node;
        if (node > 0) state.fn = flame.tree.name[node];
        render();
      });
    });

    // --- the functions table ----------------------------------------------------------------
    var tableCache = null;
    function functionRows() {
      var t = current.tree, root = state.sandwich >= 0 ? 0 : state.zoom;
      if (tableCache && tableCache.tree === t && tableCache.root === root) return tableCache;
      var rows;
      if (state.view === "host" && root === 0 && state.sandwich < 0) {
        // the whole by-host tree (millions of nodes at 500 hosts) has the same functions, with the
        // same self and total, as the much smaller tile-kind tree of the same hosts
        rows = ffData.functionTable(weighted(profile.weigh(profile.pairs(state.hosts))), 0, 1, nameCount);
      } else {
        rows = ffData.functionTable(t, root, root === 0 ? current.groupDepth : Math.max(current.groupDepth, t.depth[root] - 1), nameCount);
      }
      tableCache = { tree: t, root: root, rows: rows, whole: t.total[root], sortedBy: null };
      return tableCache;
    }

    // The table follows the graph: built once the graph's frame is painted, so a zoom or a view
    // switch shows the graph first and the table a frame later.
    var tableTimer = null;
    function scheduleFunctions() {
      clearTimeout(tableTimer);
      requestAnimationFrame(function () {
        clearTimeout(tableTimer);
        tableTimer = setTimeout(renderFunctions, 0);
      });
    }

    var shownTable = null, tableRows = TABLE_ROWS;
    function renderFunctions() {
      var table = functionRows(), key = state.sort.key, desc = state.sort.desc, sortKey = key + (desc ? "-" : "+");
      var shown = [sortKey, state.fn, tableRows].join("|");
      if (shownTable && shownTable.table === table && shownTable.key === shown) return;
      shownTable = { table: table, key: shown };
      if (table.sortedBy !== sortKey) {
        var labels = profile.labels;
        table.rows.sort(function (a, b) {
          var r = key === "label" ? (labels[a.name] < labels[b.name] ? -1 : labels[a.name] > labels[b.name] ? 1 : 0) : a[key] - b[key];
          if (!r) r = a.total - b.total || a.self - b.self;
          return desc ? -r : r;
        });
        table.sortedBy = sortKey;
      }
      // one string of rows: far cheaper than building 1,200 cells one element at a time
      var rowsHtml = table.rows.slice(0, tableRows).map(function (row) {
        var name = escapeHtml(profile.labels[row.name]);
        return '<tr data-fn="' + row.name + '"' + (row.name === state.fn ? ' class="ff-selected"' : "") + '><td title="' + name + '">' + name +
          "</td><td>" + fmt(row.self) + "</td><td>" + pct(row.self, table.whole) + "</td><td>" + fmt(row.total) + "</td><td>" +
          pct(row.total, table.whole) + '</td><td><button type="button" class="ff-row-sandwich" title="Callers and callees of this function">sandwich</button></td></tr>';
      });
      $("ff-functions").tBodies[0].innerHTML = rowsHtml.join("");
      var more = $("ff-functions-more");
      more.textContent = table.rows.length > tableRows ?
        "Showing " + tableRows + " of " + table.rows.length + " functions (" + fmt(table.whole) + " " + header.countName + "). " :
        table.rows.length + " functions, " + fmt(table.whole) + " " + header.countName + " in the view.";
      if (table.rows.length > tableRows) {
        var button = doc.createElement("button");
        button.type = "button";
        button.textContent = "Show " + Math.min(TABLE_ROWS, table.rows.length - tableRows) + " more";
        button.addEventListener("click", function () { tableRows += TABLE_ROWS; renderFunctions(); });
        more.appendChild(button);
      }
      var marked = false;  // "Self" and "Self %" sort alike: the arrow goes on the first
      Array.prototype.forEach.call($("ff-functions").tHead.rows[0].cells, function (th) {
        var on = th.getAttribute("data-sort") === key && !marked;
        marked = marked || on;
        th.classList.toggle("ff-sorted", on);
        th.classList.toggle("ff-desc", on && desc);
      });
    }

    $("ff-functions").tHead.addEventListener("click", function (e) {
      var key = e.target.getAttribute && e.target.getAttribute("data-sort");
      if (!key) return;
      state.sort = { key: key, desc: state.sort.key === key ? !state.sort.desc : key !== "label" };
      renderFunctions();
    });
    $("ff-functions").tBodies[0].addEventListener("click", function (e) {
      var tr = e.target.closest("tr");
      if (!tr) return;
      var fn = +tr.getAttribute("data-fn");
      if (e.target.classList.contains("ff-row-sandwich")) openSandwich(fn);
      else highlight(fn);
    });

    // --- sandwich ---------------------------------------------------------------------------
    function openSandwich(fn) {
      state.fn = fn;
      state.sandwich = fn;
      state.sandwichZoom = [0, 0];
      render();
    }
    $("ff-sandwich").addEventListener("click", function () { if (state.fn >= 0) openSandwich(state.fn); });
    $("ff-sandwich-close").addEventListener("click", function () { state.sandwich = -1; render(); });

    // --- tabs, hosts, skew, idle tiles ------------------------------------------------------
    // reveal: scroll the page to the tab's content (a click on a tab, a note, a chip)
    function showTab(name, reveal) {
      state.tab = name;
      Array.prototype.forEach.call(doc.querySelectorAll(".ff-tabs button"), function (b) {
        b.classList.toggle("ff-active", b.getAttribute("data-tab") === name);
        b.setAttribute("aria-selected", b.getAttribute("data-tab") === name ? "true" : "false");
      });
      ["functions", "skew", "hosts", "idle", "timeline"].forEach(function (n) { $("ff-tab-" + n).hidden = n !== name; });
      if (name === "functions" && current) renderFunctions();
      if (name === "timeline") drawTimeline();
      if (name === "hosts" && hostBoxesStale) syncHostBoxes();
      if (reveal) $("ff-tab-" + name).scrollIntoView({ block: "nearest" });
    }
    doc.querySelector(".ff-tabs").addEventListener("click", function (e) {
      var name = e.target.getAttribute && e.target.getAttribute("data-tab");
      if (name) showTab(name, true);
    });

    function link(params) {
      if (state.range) params = Object.assign({}, params, rangeParams());
      return "#" + Object.keys(params).filter(function (k) { return params[k] !== undefined && params[k] !== ""; })
        .map(function (k) { return k + "=" + encodeURIComponent(params[k]); }).join("&");
    }

    function anchor(text, href, title) {
      var a = doc.createElement("a");
      a.textContent = text;
      a.href = href;
      if (title) a.title = title;
      return a;
    }

    function cell(tr, content) {
      var td = doc.createElement("td");
      if (typeof content === "string") td.textContent = content; else td.appendChild(content);
      tr.appendChild(td);
    }

    function buildSkew() {
      var box = $("ff-tab-skew"), skew = header.skew;
      var tabButton = doc.querySelector('.ff-tabs button[data-tab="skew"]');
      if (!skew) {
        box.textContent = "No skew analysis in this page (the capture has no skew.json).";
        tabButton.textContent = "Skew findings";
        return;
      }
      var findings = skew.findings || [];
      tabButton.textContent = "Skew findings (" + (findings.length + (skew.omitted || 0)) + ")";
      var p = doc.createElement("p");
      p.textContent = findings.length ?
        "Functions in which a host's tile spends a different share of its samples than the rest of the fleet, beyond sampling noise. Click a row to compare that host with the rest." :
        "No host's tile differs from the rest of the fleet beyond sampling noise.";
      box.appendChild(p);
      if (findings.length) {
        var table = doc.createElement("table");
        table.id = "ff-skew";
        var head = table.createTHead().insertRow();
        ["Host", "Tile", "Function", "Kind", "Host share", "Fleet share", "Difference", "p (adjusted)", ""].forEach(function (h) {
          var th = doc.createElement("th"); th.textContent = h; head.appendChild(th);
        });
        var body = table.createTBody();
        findings.forEach(function (f) {
          var tr = body.insertRow(), href = link({ view: "host-vs-rest", host: f.host, tile: f.tile, fn: f["function"] });
          tr.setAttribute("data-href", href);
          cell(tr, String(f.host)); cell(tr, String(f.tile)); cell(tr, String(f["function"])); cell(tr, String(f.kind));
          cell(tr, (100 * f.host_share).toFixed(1) + "% (" + fmt(f.host_samples) + " of " + fmt(f.host_total) + ")");
          cell(tr, (100 * f.fleet_share).toFixed(1) + "%");
          cell(tr, (f.difference > 0 ? "+" : "") + (100 * f.difference).toFixed(1) + " pts");
          cell(tr, Number(f.p_adjusted).toExponential(1));
          cell(tr, anchor("host vs rest", href, "Open this host against the rest of the fleet"));
        });
        body.addEventListener("click", function (e) {
          var tr = e.target.closest("tr");
          if (tr && e.target.tagName !== "A") location.hash = tr.getAttribute("data-href");
        });
        box.appendChild(table);
        if (skew.omitted) {
          var more = doc.createElement("p");
          more.textContent = skew.omitted + " more findings are in skew.json.";
          box.appendChild(more);
        }
      }
      var few = skew.not_enough_samples || [];
      if (few.length) {
        var det = doc.createElement("details"), sum = doc.createElement("summary");
        sum.textContent = "Not enough samples to compare (" + few.length + ")";
        det.appendChild(sum);
        var ul = doc.createElement("ul");
        few.forEach(function (x) {
          var li = doc.createElement("li");
          li.textContent = x.host + " " + x.tile + ": " + fmt(x.samples) + " " + header.countName + " (needs " + fmt(x.min_samples) + ")";
          ul.appendChild(li);
        });
        det.appendChild(ul);
        box.appendChild(det);
      }
    }

    // One tile of one host counts once, in the chip and on the tab alike.
    function idleCount(idle) {
      return idle.reduce(function (s, e) { return s + (e.hosts || []).length; }, 0);
    }

    function buildIdle() {
      var box = $("ff-tab-idle"), idle = header.idleTiles || [];
      var tabButton = doc.querySelector('.ff-tabs button[data-tab="idle"]');
      tabButton.textContent = "Idle tiles (" + idleCount(idle) + ")";
      var p = doc.createElement("p");
      p.textContent = idle.length ?
        "Tiles with no frame in the graphs: recorded but took no sample (idle, or parked), or not recorded because they were not running (shut down, still booting)." :
        "Every recorded tile took samples.";
      box.appendChild(p);
      if (!idle.length) return;
      var table = doc.createElement("table");
      table.id = "ff-idle";
      var head = table.createTHead().insertRow();
      ["Tile", "Why", "Hosts"].forEach(function (h) { var th = doc.createElement("th"); th.textContent = h; head.appendChild(th); });
      var body = table.createTBody();
      idle.forEach(function (entry) {
        var tr = body.insertRow(), hosts = entry.hosts || [];
        cell(tr, String(entry.tile));
        cell(tr, String(entry.reason || "no samples"));
        cell(tr, hosts.length + (hosts.length === 1 ? " host: " : " hosts: ") + hosts.slice(0, 40).join(", ") + (hosts.length > 40 ? ", …" : ""));
      });
      box.appendChild(table);
    }

    // The skew findings of each host (largest first, as skew.json lists them), by host name.
    var skewByHost = new Map();
    ((header.skew && header.skew.findings) || []).forEach(function (f) {
      if (!skewByHost.has(f.host)) skewByHost.set(f.host, []);
      skewByHost.get(f.host).push(f);
    });
    function skewCount(name) { return skewByHost.has(name) ? skewByHost.get(name).length : 0; }

    var hostRows = [];
    function buildHosts() {
      var list = $("ff-host-list"), sums = profile.hostTotals();
      var frag = doc.createDocumentFragment(), skewed = 0;
      header.hosts.forEach(function (name, h) {
        var row = doc.createElement("label");
        row.className = "ff-host";
        row.setAttribute("data-host", String(h));
        var box = doc.createElement("input");
        box.type = "checkbox";
        box.checked = true;
        row.appendChild(box);
        var span = doc.createElement("span");
        span.textContent = name;
        row.appendChild(span);
        var count = doc.createElement("small");
        count.textContent = " " + fmt(sums[h]);
        row.appendChild(count);
        var n = skewCount(name);
        if (n) {
          var top = skewByHost.get(name)[0];
          var mark = anchor(n + " skew finding" + (n === 1 ? "" : "s"), link({ view: "host-vs-rest", host: name, tile: top.tile, fn: top["function"] }),
            "Skew findings of " + name + "; the largest: " + top["function"] + " in " + top.tile + ". Click to see it against the rest of the fleet");
          mark.className = "ff-skew-mark";
          row.appendChild(mark);
          row.classList.add("ff-has-skew");
          skewed++;
        }
        row.appendChild(anchor("vs rest", link({ view: "host-vs-rest", host: name }), "This host against the rest of the fleet"));
        frag.appendChild(row);
        hostRows.push({ row: row, box: box, name: name });
      });
      list.appendChild(frag);
      if (skewed) {
        $("ff-hosts-skewed").hidden = false;
        $("ff-hosts-skewed").textContent = "Only with skew findings (" + skewed + ")";
      }
      list.addEventListener("change", function (e) {
        var row = e.target.closest(".ff-host");
        if (!row) return;
        state.hosts[+row.getAttribute("data-host")] = e.target.checked ? 1 : 0;
        afterHostChange();
      });
      var failed = header.failedHosts || [];
      if (failed.length) {
        $("ff-failed").textContent = "Failed (no samples): " + failed.map(function (f) { return f.host + (f.error ? " (" + f.error + ")" : ""); }).join("; ");
      }
    }

    function setHosts(pick) {
      for (var h = 0; h < hostCount; h++) state.hosts[h] = pick(h) ? 1 : 0;
      syncHostBoxes();
      afterHostChange();
    }

    // The checkboxes follow the selection when the list is on screen (500 of them cost a style
    // pass even while hidden), else when the Hosts tab opens.
    function syncHostBoxes() {
      if (state.tab !== "hosts") { hostBoxesStale = true; return; }
      hostBoxesStale = false;
      hostRows.forEach(function (r, h) { if (r.box.checked !== !!state.hosts[h]) r.box.checked = !!state.hosts[h]; });
    }
    var hostBoxesStale = false;

    function afterHostChange() {
      var n = 0;
      for (var h = 0; h < hostCount; h++) n += state.hosts[h];
      $("ff-hosts-count").textContent = n + " of " + hostCount + " selected";
      if (state.view === "host-vs-rest") state.view = "kind";
      state.zoom = 0;
      render();
    }

    function filterHosts() {
      var term = $("ff-host-filter").value.toLowerCase();
      hostRows.forEach(function (r) { r.row.hidden = term !== "" && r.name.toLowerCase().indexOf(term) < 0; });
    }

    $("ff-host-filter").addEventListener("input", filterHosts);
    $("ff-hosts-all").addEventListener("click", function () { setHosts(function () { return true; }); });
    $("ff-hosts-none").addEventListener("click", function () { setHosts(function () { return false; }); });
    $("ff-hosts-matching").addEventListener("click", function () {
      setHosts(function (h) { return !hostRows[h].row.hidden; });
    });
    $("ff-hosts-skewed").addEventListener("click", function () { setHosts(function (h) { return skewCount(header.hosts[h]) > 0; }); });
    $("ff-hosts-button").addEventListener("click", function () { showTab("hosts", true); $("ff-host-filter").focus({ preventScroll: true }); });

    function buildNotes() {
      var notes = $("ff-notes"), idle = header.idleTiles || [], failed = header.failedHosts || [];
      var parts = [];
      var skew = header.skew;
      var found = skew && skew.findings ? skew.findings.length + (skew.omitted || 0) : 0;
      if (found) parts.push(["skew", found + " skew finding" + (found === 1 ? "" : "s")]);
      if (idle.length) {
        var n = idleCount(idle);
        var skippedAny = idle.some(function (e) { return e.reason && e.reason !== "no samples"; });
        parts.push(["idle", n + " idle tile" + (n === 1 ? "" : "s") + (skippedAny ? " (no samples, or not running)" : " (recorded, no samples)")]);
      }
      if (failed.length) parts.push(["hosts", failed.length + " failed host" + (failed.length === 1 ? "" : "s")]);
      parts.forEach(function (part) {
        var b = doc.createElement("button");
        b.type = "button";
        b.className = "ff-note";
        b.textContent = part[1];
        b.addEventListener("click", function () { showTab(part[0], true); });
        notes.appendChild(b);
      });
    }

    // --- the view selector and the fragment -------------------------------------------------
    function buildSelectors() {
      var select = $("ff-view");
      if (!fleet) return;
      Object.keys(VIEW_NAMES).forEach(function (v) {
        var o = doc.createElement("option"); o.value = v; o.textContent = VIEW_NAMES[v]; select.appendChild(o);
      });
      select.hidden = false;
      select.addEventListener("change", function () { setView(select.value); });
      var hostSelect = $("ff-hvr-host");
      header.hosts.forEach(function (name, h) {
        var o = doc.createElement("option"), n = skewCount(name);
        o.value = String(h);
        o.textContent = name + (n ? " (" + n + " skew finding" + (n === 1 ? "" : "s") + ")" : "");
        hostSelect.appendChild(o);
      });
      var tileSelect = $("ff-hvr-tile"), o0 = doc.createElement("option");
      o0.value = ""; o0.textContent = "all tiles"; tileSelect.appendChild(o0);
      var kinds = {};
      header.tiles.forEach(function (t) { kinds[t.split(":")[0]] = 1; });
      Object.keys(kinds).sort().concat(header.tiles.filter(function (t) { return t.indexOf(":") >= 0; })).forEach(function (t) {
        var o = doc.createElement("option"); o.value = t; o.textContent = t; tileSelect.appendChild(o);
      });
      hostSelect.addEventListener("change", function () { location.hash = link({ view: "host-vs-rest", host: header.hosts[+hostSelect.value], tile: tileSelect.value }); });
      tileSelect.addEventListener("change", function () { location.hash = link({ view: "host-vs-rest", host: header.hosts[+hostSelect.value], tile: tileSelect.value }); });
    }

    function setView(view) {
      if (view === "host-vs-rest") {
        var first = state.hosts.indexOf(1);
        location.hash = link({ view: view, host: header.hosts[first >= 0 ? first : 0] });
        return;
      }
      state.view = view;
      state.sandwich = -1;
      state.zoom = 0;
      if (location.hash) history.replaceState(null, "", location.pathname + location.search + (state.range ? link({}) : ""));
      render();
    }

    function findName(fn) {
      var i = profile.names.indexOf(fn);
      return i >= 0 ? i : profile.labels.indexOf(fn);
    }

    function fromFragment() {
      var params = new URLSearchParams(location.hash.replace(/^#/, ""));
      var view = params.get("view");
      if (!view) return false;
      var problems = [];
      if (view === "host-vs-rest" && fleet) {
        var host = header.hosts.indexOf(params.get("host") || "");
        if (host < 0) problems.push("host " + JSON.stringify(params.get("host")) + " is not in this capture");
        var tile = params.get("tile") || "";
        if (tile && header.tiles.indexOf(tile) < 0 && !header.tiles.some(function (t) { return t.split(":")[0] === tile; })) {
          problems.push("tile " + JSON.stringify(tile) + " is not in this capture");
          tile = "";
        }
        if (host >= 0) {
          state.view = view;
          state.hvrHost = host;
          state.hvrTile = tile;
          state.zoom = -1;  // the tile's node, set by render
        }
      } else if (VIEW_NAMES[view] && fleet) {
        state.view = view;
        state.zoom = 0;
      } else if (view !== "sandwich") {
        problems.push("unknown view " + JSON.stringify(view));
      }
      state.sandwich = -1;
      var fn = params.get("fn");
      if (fn) {
        var i = findName(fn);
        if (i < 0) problems.push("function " + JSON.stringify(fn) + " is not in this capture");
        else if (view === "sandwich") { state.fn = i; state.sandwich = i; state.sandwichZoom = [0, 0]; }
        else {
          state.fn = i;
          searchBox.value = "^" + escapeRegex(profile.labels[i]) + "$";
          icBox.checked = false;
          var hit = new Uint8Array(nameCount);
          var re = new RegExp(searchBox.value);
          for (var k = 0; k < nameCount; k++) hit[k] = re.test(profile.labels[k]) ? 1 : 0;
          state.hit = hit;
        }
      }
      $("ff-fragment-problem") && $("ff-fragment-problem").remove();
      if (problems.length) {
        var note = doc.createElement("span");
        note.id = "ff-fragment-problem";
        note.className = "ff-problem";
        note.textContent = "Link: " + problems.join("; ");
        $("ff-notes").appendChild(note);
      }
      return true;
    }

    function applyFragment() {
      fromFragment();
      rangeFromFragment();
      render();
      if (state.view === "host-vs-rest" && current.message) {
        details.textContent = "";  // the graph's place says why there is none
      } else if (state.view === "host-vs-rest") {
        var t = current.tree, r = current.root;
        var text = header.hosts[state.hvrHost] + (state.hvrTile ? " " + state.hvrTile : "") + " against the rest of the fleet: red = larger share on this host, blue = smaller";
        if (state.fn >= 0) {
          var hit = new Uint8Array(nameCount);
          hit[state.fn] = 1;
          text += "; " + profile.labels[state.fn] + ": " + pct(ffData.coveredTotal(t, r, hit, t.total), t.total[r]) + " on this host, " +
            pct(ffData.coveredTotal(t, r, hit, current.other), current.other[r]) + " on the rest";
        }
        details.textContent = text;
      }
    }

    // --- the timeline: heatmap, per-host strips, ranges ---------------------------------------
    var time = header.time || null, times = null, timesPromise = null;
    var heatmap = time ? new ffTime.Heatmap($("ff-heatmap")) : null, strips = time ? new ffTime.Strips($("ff-strips")) : null;
    var binS = time ? time.binMs / 1000 : 0;

    // The decoded sample times, once (the text is read when the page has finished loading).
    function loadTimes() {
      if (!time) return Promise.reject(new Error("this page has no sample times"));
      if (!timesPromise) {
        $("ff-time-loading").hidden = false;
        var ready = doc.readyState === "loading" ? new Promise(function (done) { doc.addEventListener("DOMContentLoaded", done); }) : Promise.resolve();
        timesPromise = ready.then(function () {
          var t0 = performance.now();
          return ffTime.load(time, $("ff-time").textContent, profile).then(function (decoded) {
            times = decoded;
            timings.timeDecoded = performance.now() - t0;
            $("ff-time-loading").hidden = true;
            return decoded;
          });
        });
      }
      return timesPromise;
    }

    // seconds from the recording's start, to the ms, and UTC time of day
    function offsetText(epoch) { var s = epoch - time.start; return (Math.abs(s) < 5e-4 ? 0 : s).toFixed(3); }
    function utcText(epoch) { return new Date(Math.round(epoch * 1000)).toISOString().slice(11, 23); }
    function rangeBounds() { return state.range ? [time.origin + state.range.lo * binS, time.origin + state.range.hi * binS] : null; }
    function rangeParams() { var b = rangeBounds(); return { from: offsetText(b[0]), until: offsetText(b[1]) }; }

    // A range of epoch seconds, snapped outwards to the per-leaf bins (the page's resolution).
    function binsOf(t0, t1) {
      // (within 0.6 ms of a bin's edge is on it: a link's times are rounded to the ms)
      var lo = Math.floor((t0 - time.origin + 6e-4) / binS), hi = Math.ceil((t1 - time.origin - 6e-4) / binS);
      lo = Math.max(0, Math.min(lo, time.bins - 1));
      hi = Math.max(lo + 1, Math.min(hi, time.bins));
      return { lo: lo, hi: hi };
    }

    function setRange(range) {
      if (!range) {
        if (!state.range) return;
        state.range = null;
        profile.leafCount = allCounts;
      } else {
        state.range = range;
        profile.leafCount = times.rangeCounts(range.lo, range.hi);
      }
      profile._hostTotals = null;
      cache.length = 0;
      tableCache = sandwichCache = shownTable = null;
      state.zoom = state.view === "host-vs-rest" ? -1 : 0;
      writeRangeHash();
      showRange();
      render();
      doc.body.setAttribute("data-ff-range", state.range ? state.range.lo + "-" + state.range.hi : "");
    }

    // The fragment says the range: from/until replaced (or removed), the other keys kept.
    function writeRangeHash() {
      var params = new URLSearchParams(location.hash.replace(/^#/, ""));
      params.delete("from"); params.delete("until");
      if (state.range) { var r = rangeParams(); params.set("from", r.from); params.set("until", r.until); }
      var text = params.toString();
      history.replaceState(null, "", location.pathname + location.search + (text ? "#" + text : ""));
    }

    function showRange() {
      var bar = $("ff-range"), b = rangeBounds();
      bar.hidden = !b;
      if (!b) return;
      var cmd = "fleetflame report CAPTURE --from " + offsetText(b[0]) + " --until " + offsetText(b[1]);
      $("ff-range-text").textContent = offsetText(b[0]) + " s – " + offsetText(b[1]) + " s from the start (UTC " + utcText(b[0]) + "–" +
        utcText(b[1]) + "), " + fmt(profile.hostTotals().reduce(function (a, v) { return a + v; }, 0)) + " " + header.countName +
        "; every view shows this range, in " + time.binMs + " ms steps";
      bar.title = "The range snaps to the page's " + time.binMs + " ms bins. `" + cmd + "` draws any range exactly.";
    }

    // #from=&until= (seconds from the start): the range, once the times are decoded. A fragment
    // without them keeps the range shown (the links of the page's tables were made before it).
    function rangeFromFragment() {
      var params = new URLSearchParams(location.hash.replace(/^#/, ""));
      var from = params.get("from"), until = params.get("until");
      if (from === null && until === null) { if (state.range) writeRangeHash(); return; }
      var a = Number(from || 0), b = until === null ? Infinity : Number(until);
      if (!time || !(a >= 0) || !(b > a)) {
        rangeProblem(time ? "from=" + from + "&until=" + until + " is not a range (seconds from the start, until after from)" :
          "this page has no sample times, so no range (the capture was made before fleetflame kept them)");
        return;
      }
      loadTimes().then(function () {
        var end = time.origin + time.bins * binS;
        setRange(binsOf(time.start + a, Math.min(time.start + b, end)));
      });
    }
    function rangeProblem(text) {
      var note = doc.createElement("span");
      note.className = "ff-problem";
      note.textContent = "Link: " + text;
      $("ff-notes").appendChild(note);
    }

    // What the tab draws now, and whether it changed since it was drawn.
    var timelineKey = null, gridCache = [], timelineTimer = null;
    function scheduleTimeline() {
      clearTimeout(timelineTimer);
      requestAnimationFrame(function () { clearTimeout(timelineTimer); timelineTimer = setTimeout(drawTimeline, 0); });
    }
    function colorMode() { return state.timeColor || (state.hit ? "share" : "count"); }

    // each search's matches (a new array each time) by a number, for the keys of what is cached
    var hitIds = new WeakMap(), hitCount = 0;
    function hitId(hit) {
      if (!hitIds.has(hit)) hitIds.set(hit, ++hitCount);
      return "h" + hitIds.get(hit);
    }

    function cachedGrid(key, make) {
      for (var i = 0; i < gridCache.length; i++) if (gridCache[i].key === key) return gridCache[i].grid;
      var grid = make();
      gridCache.unshift({ key: key, grid: grid });
      if (gridCache.length > 6) gridCache.pop();
      return grid;
    }

    function drawTimeline() {
      if (!time || state.tab !== "timeline") return;
      if (!times) { loadTimes().then(drawTimeline); return; }
      var share = colorMode() === "share" && !!state.hit, hitKey = share ? hitId(state.hit) : "";
      var key = [maskKey(state.hosts), state.timeTile, share, hitKey, state.timeSort, state.range && state.range.lo + "-" + state.range.hi,
                 pendingCell && pendingCell.bin].join("|");
      if (key === timelineKey) return;
      var t0 = performance.now();
      timelineKey = key;
      var hitLeaves = share ? cachedGrid("hit|" + hitKey, function () { return times.leafHits(state.hit); }) : null;
      var width = Math.max($("ff-tab-timeline").clientWidth - 20, 300);
      var grids = cachedGrid("grids|" + maskKey(state.hosts) + "|" + state.timeTile + "|" + hitKey,
        function () { return times.grids(state.hosts, state.timeTile, hitLeaves); });
      var heat = grids.heat, byHost = grids.strips;
      heatmap.draw(heat, time.start, width);
      var b = rangeBounds();
      if (b) heatmap.mark(b[0], b[1], false);
      if (pendingCell) heatmap.mark(pendingCell.t0, pendingCell.t1, true);
      var order = cachedGrid("order|" + state.timeTile + "|" + hitKey + "|" + state.timeSort, function () { return ffTime.hostOrder(byHost, header.hosts, state.timeSort); });
      var dimmed = null, selected = 0;
      for (var h = 0; h < hostCount; h++) selected += state.hosts[h];
      if (selected < hostCount) { dimmed = new Uint8Array(hostCount); for (h = 0; h < hostCount; h++) dimmed[h] = state.hosts[h] ? 0 : 1; }
      strips.draw(byHost, order, header.hosts, dimmed, width);
      strips.axis(time.start);
      if (b) strips.mark(b[0], b[1]);
      timelineText(heat, byHost, selected, share);
      timings.timelineDrawn = performance.now() - t0;
      doc.body.setAttribute("data-ff-timeline", key);
    }

    function what(share) {
      if (!share) return header.countName;
      var source = state.matcher ? state.matcher.source : searchBox.value;
      return "share of " + (state.fn >= 0 && source === "^" + escapeRegex(profile.labels[state.fn]) + "$" ? profile.labels[state.fn] : "/" + source + "/");
    }

    function timelineText(heat, byHost, selected, share) {
      $("ff-time-hosts").textContent = selected === hostCount ? "all " + hostCount + " hosts" : selected === 1 ?
        header.hosts[state.hosts.indexOf(1)] : selected + " selected hosts";
      var top = ffTime.scaleTop(heat), stop = strips.layout.top;
      var scale = function (v, g) { return share ? (100 * v).toFixed(1) + "% of the " + header.countName : fmt(v) + " " + header.countName; };
      $("ff-heatmap-key").textContent = "Columns: seconds from the start of the recording; rows: " + heat.res + " ms bins. Colour: " + what(share) +
        "; darkest = " + scale(top, heat) + " in a bin" + (share ? "" : "") + ". Drag across cells (or click the first, then the last) to show that range.";
      var perCol = byHost.bins / strips.layout.cols;
      $("ff-strips-key").textContent = "One row per host (" + (state.timeSort === "name" ? "by name" : state.timeSort === "peak" ? "sorted by when each was busiest" : "busiest first") +
        "), x = time, " + (perCol > 1 ? (perCol * byHost.res).toFixed(0) + " ms" : byHost.res + " ms") + " a column. Colour: " + what(share) + "; darkest = " + scale(stop, byHost) +
        ". Hover for the host; click a row to select that host; drag to show a range.";
      var notes = [];
      notes.push("Ranges" + (share ? " and shares" : "") + " have " + time.binMs + " ms bins" + (time.binMs > time.captureMs ?
        " (the capture has " + time.captureMs + " ms; coarser here to keep this page's size)" : "") + ".");
      if (time.fineMs > time.captureMs) notes.push("Sample counts: " + time.fineMs + " ms bins (coarser than the capture's " + time.captureMs + " ms, for the page's size).");
      notes.push("`fleetflame report CAPTURE --from A --until B` draws any range exactly.");
      if (share && !state.hit) notes.push("Search (or pick a function in Top functions) to colour by its share.");
      if (time.unmatched) notes.push(fmt(time.unmatched) + " " + header.countName + " of the timelines have no stack in this page and are left out.");
      if (time.unbinned) notes.push(fmt(time.unbinned) + " " + header.countName + " had no time stamp and are in no range.");
      $("ff-time-note").textContent = notes.join(" ");
      $("ff-time-color").value = share ? "share" : "count";
    }

    function timeTip(x, y, lines) {
      tip.innerHTML = lines.map(function (l, i) { return i ? escapeHtml(l) : "<b>" + escapeHtml(l) + "</b>"; }).join("<br>");
      tip.hidden = false;
      var w = tip.offsetWidth, h = tip.offsetHeight;
      tip.style.left = Math.max(0, Math.min(x + 14, window.innerWidth - w - 4)) + "px";
      tip.style.top = (y + 18 + h > window.innerHeight ? Math.max(0, y - h - 8) : y + 18) + "px";
    }
    function cellLines(cell) {
      var lines = [offsetText(cell.t0) + " s – " + offsetText(cell.t1) + " s (UTC " + utcText(cell.t0) + "–" + utcText(cell.t1) + ")"];
      lines.push(fmt(cell.total) + " " + header.countName + (cell.hit !== null && cell.hit !== undefined && cell.total ?
        ", " + (100 * cell.hit / cell.total).toFixed(1) + "% matching (" + fmt(cell.hit) + ")" : ""));
      return lines;
    }

    // Heatmap: drag from a cell to another, or click one then the other (FlameScope's way).
    var pendingCell = null, down = null;
    function rangeOfCells(a, b) {
      return binsOf(Math.min(a.t0, b.t0), Math.max(a.t1, b.t1));
    }
    if (time) {
      var hm = $("ff-heatmap");
      hm.addEventListener("mousedown", function (e) { down = heatmap.at(e.clientX, e.clientY); e.preventDefault(); });
      hm.addEventListener("mousemove", function (e) {
        var cell = heatmap.at(e.clientX, e.clientY);
        if (!cell) { tip.hidden = true; return; }
        timeTip(e.clientX, e.clientY, cellLines(cell));
      });
      hm.addEventListener("mouseleave", function () { tip.hidden = true; });
      hm.addEventListener("mouseup", function (e) {
        var cell = heatmap.at(e.clientX, e.clientY), from = down;
        down = null;
        if (!cell || !from) return;
        if (cell.bin !== from.bin) { pendingCell = null; setRange(rangeOfCells(from, cell)); return; }
        if (pendingCell) { var first = pendingCell; pendingCell = null; setRange(rangeOfCells(first, cell)); return; }
        pendingCell = cell;
        timelineKey = null;
        drawTimeline();
      });
      var st = $("ff-strips"), stripDown = null;
      st.addEventListener("mousedown", function (e) { stripDown = { x: e.clientX, y: e.clientY, t: strips.timeAt(e.clientX) }; e.preventDefault(); });
      st.addEventListener("mousemove", function (e) {
        var cell = strips.cellAt(e.clientX, e.clientY);
        if (!cell) { tip.hidden = true; return; }
        timeTip(e.clientX, e.clientY, [header.hosts[cell.host]].concat(cellLines(cell)));
      });
      st.addEventListener("mouseleave", function () { tip.hidden = true; });
      st.addEventListener("mouseup", function (e) {
        var from = stripDown;
        stripDown = null;
        if (!from) return;
        if (Math.abs(e.clientX - from.x) > 3) {
          var t = strips.timeAt(e.clientX);
          setRange(binsOf(Math.min(from.t, t), Math.max(from.t, t)));
          return;
        }
        var host = strips.hostAt(e.clientY);
        if (host >= 0) setHosts(function (h) { return h === host; });
      });
      $("ff-range-clear").addEventListener("click", function () { setRange(null); });
      $("ff-time-color").addEventListener("change", function () { state.timeColor = $("ff-time-color").value; timelineKey = null; drawTimeline(); });
      $("ff-time-sort").addEventListener("change", function () { state.timeSort = $("ff-time-sort").value; drawTimeline(); });
      var tileSelect = $("ff-time-tile"), all = doc.createElement("option");
      all.value = ""; all.textContent = "every tile"; tileSelect.appendChild(all);
      var kinds = {};
      header.tiles.forEach(function (t) { kinds[t.split(":")[0]] = 1; });
      Object.keys(kinds).sort().concat(header.tiles.filter(function (t) { return t.indexOf(":") >= 0; })).forEach(function (t) {
        var o = doc.createElement("option"); o.value = t; o.textContent = t.indexOf(":") < 0 ? t + " tiles" : t; tileSelect.appendChild(o);
      });
      tileSelect.addEventListener("change", function () { state.timeTile = tileSelect.value; drawTimeline(); });
      doc.querySelector('.ff-tabs button[data-tab="timeline"]').hidden = false;
    }
    if (header.timeNote) {  // why a capture with sample times has no Timeline tab
      var timeNote = doc.createElement("span");
      timeNote.className = "ff-problem";
      timeNote.textContent = "No timeline: " + header.timeNote;
      $("ff-notes").appendChild(timeNote);
    }

    // --- wiring -------------------------------------------------------------------------------
    $("ff-reset").addEventListener("click", function () {
      if (state.sandwich >= 0) state.sandwichZoom = [0, 0];
      else state.zoom = current.root;
      render();
    });
    $("ff-icicle").addEventListener("change", function () { state.inverted = $("ff-icicle").checked; render(); });
    var pending = null;
    function onSearchInput() {
      clearTimeout(pending);
      pending = setTimeout(function () { search(searchBox.value, icBox.checked); }, 120);
    }
    searchBox.addEventListener("input", onSearchInput);
    icBox.addEventListener("change", onSearchInput);
    doc.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        if (state.sandwich >= 0) state.sandwichZoom = [0, 0]; else state.zoom = current.root;
        render();
      } else if ((e.key === "/" && doc.activeElement !== searchBox && doc.activeElement.tagName !== "INPUT") || ((e.ctrlKey || e.metaKey) && e.key === "f")) {
        e.preventDefault();
        searchBox.focus();
      }
    });
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        mainFlame.width = callersFlame.width = calleesFlame.width = 0;
        scrolledFor = null;  // the graph's box changed height: show the root again
        render();
      }, 100);
    });
    window.addEventListener("hashchange", applyFragment);

    buildSelectors();
    $("ff-tabbar").hidden = false;
    if (fleet) {
      $("ff-panels").hidden = false;
      buildSkew();
      buildIdle();
      buildHosts();
      buildNotes();
      afterHostCountText();
    } else {
      $("ff-panels").hidden = false;
      ["skew", "hosts", "idle"].forEach(function (n) { doc.querySelector('.ff-tabs button[data-tab="' + n + '"]').hidden = true; });
    }
    function afterHostCountText() { $("ff-hosts-count").textContent = hostCount + " of " + hostCount + " selected"; }

    fromFragment();
    state.tab = fleet && header.skew && header.skew.findings && header.skew.findings.length ? "skew" : "functions";
    showTab(state.tab);
    applyFragment();
    var drawnAt = performance.now();
    requestAnimationFrame(function () {
      timings.firstPaint = performance.now();
      performance.mark("ff-first-paint");
      doc.body.setAttribute("data-ff-ready", "1");
    });
    var timings = { start: t0, decoded: decodedAt, drawn: drawnAt, firstPaint: null };

    // For scripts and tests driving the viewer.
    window.fleetflame = {
      profile: profile, state: state, timings: timings, render: render, zoom: zoom, search: search,
      highlight: highlight, setView: setView, showTab: showTab, openSandwich: openSandwich,
      setHosts: function (names) { var chosen = new Set(names); setHosts(function (h) { return chosen.has(header.hosts[h]); }); },
      current: function () { return current; },
      lastRender: function () { return lastRender; },
      // resolves once the functions table has caught up with the graph
      tableDone: function () { return new Promise(function (done) { requestAnimationFrame(function () { setTimeout(function () { setTimeout(done, 0); }, 0); }); }); },
      find: function (label) { return findName(label); },
      // the timeline: decode, and a range in seconds from the start (null: the whole recording)
      loadTimes: function () { return loadTimes().then(function () { return true; }); },
      setRange: function (from, until) {
        if (from === null) { setRange(null); return; }
        setRange(binsOf(time.start + from, time.start + until));
      },
      range: function () { var b = rangeBounds(); return b ? { from: b[0] - time.start, until: b[1] - time.start, lo: state.range.lo, hi: state.range.hi } : null; },
      timeline: function () {
        return { heatmap: heatmap && heatmap.layout, strips: strips && strips.layout, timings: timings, mode: colorMode() };
      },
      drawTimeline: function () { timelineKey = null; drawTimeline(); },
      node: function (label, flame) {
        var f = flame === "callers" ? callersFlame : flame === "callees" ? calleesFlame : mainFlame;
        for (var k = 0; k < f.drawn.node.length; k++) if (labelOf(f.tree, f.drawn.node[k]) === label && !f.drawn.ancestor[k]) return f.drawn.node[k];
        return -1;
      },
      // what a flame canvas shows: one entry per drawn frame
      drawn: function (flame) {
        var f = flame === "callers" ? callersFlame : flame === "callees" ? calleesFlame : mainFlame, d = f.drawn, out = [];
        for (var k = 0; k < d.node.length; k++) {
          var i = d.node[k];
          out.push({ name: labelOf(f.tree, i), x: d.x[k], w: d.w[k], row: d.row[k], top: f.top(d.row[k]), total: f.tree.total[i],
                     ancestor: d.ancestor[k], color: f.opts.color(i), match: !!(f.opts.hit && f.tree.name[i] !== 0 && f.opts.hit[f.tree.name[i]]) });
        }
        return out;
      },
      // the stacks of what the main graph (or a sandwich panel) shows, as folded text would have them
      folded: function (which) {
        var t = which === "callers" ? sandwichCache.value.callers : which === "callees" ? sandwichCache.value.callees : current.tree;
        var out = {}, path = [];
        for (var i = 1; i < t.n; i++) {
          path.length = t.depth[i] - 1;
          path.push(profile.names[t.name[i]]);
          if (t.self[i] > 0) { var key = path.join(";"); out[key] = (out[key] || 0) + t.self[i]; }
        }
        return out;
      },
      describe: function (label) {
        var i = window.fleetflame.node(label);
        return i < 0 ? null : describe(current.tree, i, current.other);
      },
    };
  }
})();
