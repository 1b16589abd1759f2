// fleetflame HTML viewer: reads the profile document from #ff-data (see fleetflame/render/model.py)
// and draws a flame graph as absolutely positioned <div>s: click to zoom, breadcrumb and reset,
// regex search with the matched share, details of the hovered frame.
(function () {
  "use strict";
  var ROW = 16;          // px per stack level
  var MIN_PX = 0.5;      // narrower frames (and their children) are not drawn

  var doc = document;
  var $ = function (id) { return doc.getElementById(id); };
  var data = JSON.parse($("ff-data").textContent);
  if (data.format !== "fleetflame-profile") throw new Error("unknown data format " + data.format);
  var frames = data.frames;
  var flame = $("ff-flame"), tip = $("ff-tip"), details = $("ff-details");
  var searchBox = $("ff-search"), icBox = $("ff-ic"), matchedEl = $("ff-matched");

  // --- the call tree -------------------------------------------------------------------
  function Node(name, parent) {
    this.name = name;         // index into frames, -1 for the root
    this.parent = parent;
    this.depth = parent ? parent.depth + 1 : 0;
    this.total = 0;
    this.children = [];
  }

  function buildTree(profile) {
    var root = new Node(-1, null);
    var path = [root];
    var stacks = profile.stacks, counts = profile.counts;
    for (var i = 0; i < stacks.length; i++) {
      var entry = stacks[i];
      path.length = entry[0] + 1;
      for (var j = 1; j < entry.length; j++) {
        var parent = path[path.length - 1];
        var last = parent.children[parent.children.length - 1];
        var child = last && last.name === entry[j] ? last : null;
        if (!child) { child = new Node(entry[j], parent); parent.children.push(child); }
        path.push(child);
      }
      for (var k = 0; k < path.length; k++) path[k].total += counts[i];
    }
    return root;
  }

  function label(node) { return node.name < 0 ? "all" : frames.label[node.name]; }
  function color(node) { return node.name < 0 ? data.rootColor : frames.color[node.name]; }
  function kind(node) { return node.name < 0 ? "root" : frames.kind[node.name]; }

  // Several profiles (e.g. a capture by host, by tile, merged): a selector switches between them.
  var profile = data.profiles[0] || { name: "empty", total: 0, stacks: [], counts: [] };
  var root = buildTree(profile);
  var zoomed = root;
  var viewSelect = $("ff-view");

  function showProfile(index) {
    profile = data.profiles[index];
    root = buildTree(profile);
    zoomed = root;
    if (window.fleetflame) window.fleetflame.root = root;
    render();
  }

  if (viewSelect && data.profiles.length > 1) {
    data.profiles.forEach(function (p, i) {
      var option = doc.createElement("option");
      option.value = String(i);
      option.textContent = p.name;
      viewSelect.appendChild(option);
    });
    viewSelect.hidden = false;
    viewSelect.addEventListener("change", function () { showProfile(+viewSelect.value); });
  }
  var matcher = null;     // RegExp of the current search, or null
  var matches = null;     // per frame name: does it match? (names repeat; test each once)
  var shown = [];         // nodes drawn, indexed by the element's data-i

  // --- drawing ---------------------------------------------------------------------------
  function visible(view, width) {
    var out = [];
    for (var a = view.parent; a; a = a.parent) out.push({ node: a, x: 0, w: 1, ancestor: true });
    var minCount = view.total * MIN_PX / width;
    (function walk(node, x) {
      out.push({ node: node, x: x / view.total, w: node.total / view.total, ancestor: false });
      var cx = x;
      for (var i = 0; i < node.children.length; i++) {
        var c = node.children[i];
        if (c.total >= minCount) walk(c, cx);
        cx += c.total;
      }
    })(view, 0);
    return out;
  }

  function render() {
    var width = Math.max(flame.clientWidth, 200);
    flame.textContent = "";
    shown = [];
    if (!root.total) {
      flame.innerHTML = '<div class="ff-empty">No ' + escapeHtml(data.countName) + " to show.</div>";
      flame.style.height = "";
      doc.body.setAttribute("data-ff-frames", "0");
      return;
    }
    var items = visible(zoomed, width);
    var maxDepth = 0;
    items.forEach(function (it) { if (it.node.depth > maxDepth) maxDepth = it.node.depth; });
    flame.style.height = (maxDepth + 1) * ROW + "px";
    var frag = doc.createDocumentFragment();
    for (var i = 0; i < items.length; i++) {
      var it = items[i], node = it.node, el = doc.createElement("div");
      var top = data.inverted ? node.depth * ROW : (maxDepth - node.depth) * ROW;
      el.className = "ff-frame ff-" + kind(node) + (it.ancestor ? " ff-ancestor" : "");
      el.style.cssText = "left:" + (it.x * 100).toFixed(4) + "%;width:" + (it.w * 100).toFixed(4) +
        "%;top:" + top + "px;background:" + (isMatch(node) ? data.searchColor : color(node));
      el.setAttribute("data-i", shown.length);
      if (isMatch(node)) el.classList.add("ff-match");
      if (it.w * width >= 20) el.textContent = label(node);
      shown.push(node);
      frag.appendChild(el);
    }
    flame.appendChild(frag);
    doc.body.setAttribute("data-ff-frames", String(items.length));
    renderCrumbs();
    renderMatched();
  }

  function renderCrumbs() {
    var nav = $("ff-crumbs");
    nav.textContent = "";
    var chain = [];
    for (var n = zoomed; n; n = n.parent) chain.unshift(n);
    chain.forEach(function (n) {
      var span = doc.createElement("span");
      span.className = "ff-crumb";
      span.textContent = label(n);
      span.title = label(n);
      span.addEventListener("click", function () { zoom(n); });
      nav.appendChild(span);
    });
    $("ff-reset").disabled = zoomed === root;
  }

  // --- zoom, search, details -------------------------------------------------------------
  function zoom(node) {
    zoomed = node;
    render();
  }

  function isMatch(node) {
    return matches !== null && node.name >= 0 && matches[node.name] === 1;
  }

  // Share of samples under matching frames; a match inside a match counts once.
  function matchedTotal(node) {
    if (isMatch(node)) return node.total;
    var sum = 0;
    for (var i = 0; i < node.children.length; i++) sum += matchedTotal(node.children[i]);
    return sum;
  }

  function renderMatched() {
    if (matcher === null) { matchedEl.textContent = ""; return; }
    var pct = root.total ? 100 * matchedTotal(root) / root.total : 0;
    var text = "Matched: " + pct.toFixed(1) + "%";
    if (zoomed !== root) text += " (" + (100 * matchedTotal(zoomed) / zoomed.total).toFixed(1) + "% of view)";
    matchedEl.textContent = text;
  }

  function search(term, ignoreCase) {
    searchBox.classList.remove("ff-bad");
    if (!term) { matcher = matches = null; render(); return; }
    try {
      matcher = new RegExp(term, ignoreCase ? "i" : "");
    } catch (e) {
      searchBox.classList.add("ff-bad");
      matchedEl.textContent = "Invalid regex";
      return;
    }
    matches = new Uint8Array(frames.label.length);
    for (var i = 0; i < matches.length; i++) matches[i] = matcher.test(frames.label[i]) ? 1 : 0;
    render();
  }

  function percent(part, whole) { return whole ? (100 * part / whole).toFixed(2) + "%" : "-"; }

  function describe(node) {
    var parentTotal = node.parent ? node.parent.total : node.total;
    return {
      name: label(node),
      lines: [
        node.total.toLocaleString("en-US") + " " + data.countName,
        percent(node.total, root.total) + " of total",
        percent(node.total, parentTotal) + " of parent" + (node.parent ? " (" + label(node.parent) + ")" : ""),
        kind(node) + " frame, depth " + node.depth,
      ],
    };
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function nodeOf(target) {
    var el = target.closest ? target.closest(".ff-frame") : null;
    return el ? shown[+el.getAttribute("data-i")] : null;
  }

  function showTip(node, x, y) {
    var d = describe(node);
    tip.innerHTML = "<b>" + escapeHtml(d.name) + "</b>" + d.lines.map(escapeHtml).join("<br>");
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.max(0, Math.min(x + 14, window.innerWidth - w - 4)) + "px";
    tip.style.top = (y + 18 + h > window.innerHeight ? Math.max(0, y - h - 8) : y + 18) + "px";
    details.textContent = d.name + " — " + d.lines.slice(0, 3).join(", ");
  }

  flame.addEventListener("click", function (e) {
    var node = nodeOf(e.target);
    if (node) zoom(node);
  });
  flame.addEventListener("mousemove", function (e) {
    var node = nodeOf(e.target);
    if (node) showTip(node, e.clientX, e.clientY); else tip.hidden = true;
  });
  flame.addEventListener("mouseleave", function () { tip.hidden = true; });
  $("ff-reset").addEventListener("click", function () { zoom(root); });
  var pending = null;
  function onSearchInput() {
    clearTimeout(pending);
    pending = setTimeout(function () { search(searchBox.value, icBox.checked); }, 120);
  }
  searchBox.addEventListener("input", onSearchInput);
  icBox.addEventListener("change", onSearchInput);
  doc.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { zoom(root); }
    else if ((e.key === "/" && doc.activeElement !== searchBox) || ((e.ctrlKey || e.metaKey) && e.key === "f")) {
      e.preventDefault();
      searchBox.focus();
    }
  });
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(render, 100);
  });

  $("ff-subtitle").textContent = data.subtitle || "";
  render();

  // For scripts and tests driving the viewer.
  window.fleetflame = {
    data: data, root: root, zoom: zoom, search: search, describe: describe, showProfile: showProfile,
    find: function (name) {
      var found = null;
      (function walk(n) {
        if (found) return;
        if (n.name >= 0 && frames.label[n.name] === name) { found = n; return; }
        n.children.forEach(walk);
      })(window.fleetflame.root);
      return found;
    },
  };
})();
