// fleetflame viewer, part 1 of 3: the data. Decodes the page's blob (layout in
// fleetflame/render/model.py) and derives the call trees the views draw, all as typed arrays in
// preorder (a node's subtree is the index range [i, end[i])), so that weighing a selection of
// hosts, summing a subtree or skipping it costs one pass over flat arrays, not a walk of objects.
var ffData = (function () {
  "use strict";

  var KIND_NAMES = ["root", "user", "kernel", "jit", "inlined"];

  // --- decoding ----------------------------------------------------------------------------
  function base64Bytes(text) {
    if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function gunzip(bytes) {
    if (typeof DecompressionStream !== "function") {
      return Promise.reject(new Error("this browser cannot decompress the profile (no DecompressionStream); use a current Chromium, Firefox or Safari"));
    }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }

  // The profile: the tile kinds' call tree (or a plain profile's tree), leaves per (host, tile) pair.
  function Profile(header, buffer) {
    var c = header.counts, off = 0;
    function take(Type, n) {
      var a = new Type(buffer, off, n);
      off += n * Type.BYTES_PER_ELEMENT;
      return a;
    }
    function pad() { off += (4 - off % 4) % 4; }
    this.header = header;
    var nodeName = take(Uint32Array, c.nodes);
    this.pairHost = take(Uint32Array, c.pairs);
    this.pairTile = take(Uint32Array, c.pairs);
    this.pairStart = take(Uint32Array, c.pairs + 1);
    this.leafNode = take(Uint32Array, c.leaves);
    this.leafCount = take(Uint32Array, c.leaves);
    var nodeDepth = take(Uint16Array, c.nodes);
    pad();
    this.nameKind = take(Uint8Array, c.names);
    this.nameRgb = take(Uint8Array, 3 * c.names);
    pad();
    var text = new TextDecoder().decode(new Uint8Array(buffer, off, c.namesBytes));
    this.names = text.split("\n");
    this.labels = this.names.map(displayName);
    this.colors = new Array(c.names);
    // One name the data does not have: the frame of the by-host view that sums the hosts not
    // drawn one by one (its label, "other 488 hosts", is the tree's: tree.otherLabel).
    this.otherName = this.names.length;
    this.names.push("[other hosts]");
    this.labels.push("other hosts");
    this.colors[this.otherName] = "rgb(186,186,196)";
    this.tree = finishTree({ n: c.nodes, name: nodeName, depth: nodeDepth });
    this.hostCount = header.fleet ? header.hosts.length : 0;
    // the pairs of each host, and the tree node of each tile kind
    this.hostPairs = [];
    for (var h = 0; h < this.hostCount; h++) this.hostPairs.push([]);
    for (var p = 0; p < c.pairs && header.fleet; p++) this.hostPairs[this.pairHost[p]].push(p);
    this.kindNode = {};
    var t = this.tree;
    for (var i = 1; i < t.n; i = t.end[i]) this.kindNode[this.names[t.name[i]]] = i;
  }

  function displayName(name) {
    var tail = name.slice(-4);
    return tail === "_[k]" || tail === "_[j]" || tail === "_[i]" || tail === "_[w]" ? name.slice(0, -4) : name;
  }

  Profile.prototype.color = function (nameIndex) {
    var c = this.colors[nameIndex];
    if (!c) {
      var k = 3 * nameIndex;
      c = this.colors[nameIndex] = "rgb(" + this.nameRgb[k] + "," + this.nameRgb[k + 1] + "," + this.nameRgb[k + 2] + ")";
    }
    return c;
  };
  Profile.prototype.kind = function (nameIndex) {
    return nameIndex === this.otherName ? "root" : KIND_NAMES[this.nameKind[nameIndex]] || "user";
  };

  // Samples of each host (Float64Array by host index), summed once.
  Profile.prototype.hostTotals = function () {
    if (this._hostTotals) return this._hostTotals;
    var sums = new Float64Array(this.hostCount);
    for (var p = 0; p < this.header.counts.pairs && this.header.fleet; p++) {
      for (var j = this.pairStart[p], e = this.pairStart[p + 1]; j < e; j++) sums[this.pairHost[p]] += this.leafCount[j];
    }
    this._hostTotals = sums;
    return sums;
  };

  // The tile a pair belongs to matches TILE ("verify" = every verify tile, "verify:2" one tile).
  Profile.prototype.tileMatches = function (pair, tile) {
    if (!tile) return true;
    var name = this.header.tiles[this.pairTile[pair]];
    return name === tile || (tile.indexOf(":") < 0 && name.split(":")[0] === tile);
  };

  // Pairs of the selected hosts (a Uint8Array per host), optionally of one tile; `except` inverts.
  Profile.prototype.pairs = function (hostMask, tile) {
    var out = [];
    var np = this.header.counts.pairs;
    for (var p = 0; p < np; p++) {
      if (this.header.fleet && !hostMask[this.pairHost[p]]) continue;
      if (this.header.fleet && !this.tileMatches(p, tile)) continue;
      out.push(p);
    }
    return out;
  };

  // Sample weights of the kind tree for a list of pairs: self and total per node.
  Profile.prototype.weigh = function (pairs) {
    var t = this.tree, self = new Float64Array(t.n);
    for (var q = 0; q < pairs.length; q++) {
      var p = pairs[q];
      for (var j = this.pairStart[p], e = this.pairStart[p + 1]; j < e; j++) self[this.leafNode[j]] += this.leafCount[j];
    }
    return { self: self, total: totals(t, self) };
  };

  // --- trees -------------------------------------------------------------------------------
  // {n, name, depth} in preorder → adds parent and end (subtree end).
  function finishTree(t) {
    var n = t.n, parent = new Int32Array(n), end = new Int32Array(n), last = [];
    parent[0] = -1;
    for (var i = 0; i < n; i++) {
      var d = t.depth[i];
      last[d] = i;
      if (i) parent[i] = last[d - 1];
      end[i] = i + 1;
    }
    for (var j = n - 1; j > 0; j--) if (end[j] > end[parent[j]]) end[parent[j]] = end[j];
    t.parent = parent;
    t.end = end;
    return t;
  }

  function totals(t, self) {
    var total = new Float64Array(self);
    for (var i = t.n - 1; i > 0; i--) total[t.parent[i]] += total[i];
    return total;
  }

  // A tree built by merging paths (a view that sums other trees, the sandwich's callers and
  // callees): nodes keyed by (parent, name) in a Map, put in preorder by finish().
  function Builder(nameCount) {
    this.names = nameCount + 1;
    this.name = [-1];
    this.parent = [-1];
    this.self = [0];
    this.index = new Map();
  }
  Builder.prototype.child = function (parent, name) {
    var key = parent * this.names + name, i = this.index.get(key);
    if (i === undefined) {
      i = this.name.length;
      this.index.set(key, i);
      this.name.push(name);
      this.parent.push(parent);
      this.self.push(0);
    }
    return i;
  };
  // Preorder, siblings sorted by label: returns the tree and, per builder node, its tree index.
  Builder.prototype.finish = function (labels, rootName) {
    var n = this.name.length, kids = new Array(n), i;
    for (i = 1; i < n; i++) (kids[this.parent[i]] || (kids[this.parent[i]] = [])).push(i);
    var name = this.name;
    var byLabel = function (a, b) { var x = labels[name[a]], y = labels[name[b]]; return x < y ? -1 : x > y ? 1 : 0; };
    var order = new Int32Array(n), depth = new Uint16Array(n), names = new Uint32Array(n), self = new Float64Array(n);
    var stack = [0], depths = [0], k = 0;
    while (stack.length) {
      var b = stack.pop(), d = depths.pop();
      order[b] = k;
      depth[k] = d;
      names[k] = b ? name[b] : rootName;
      self[k] = this.self[b];
      k++;
      var ch = kids[b];
      if (ch) {
        ch.sort(byLabel);
        for (var c = ch.length - 1; c >= 0; c--) { stack.push(ch[c]); depths.push(d + 1); }
      }
    }
    var t = finishTree({ n: n, name: names, depth: depth });
    t.self = self;
    t.total = totals(t, self);
    return { tree: t, order: order };
  };

  // Fleet by host: host frames, tile frames, then the pair's part of its kind's subtree (the
  // nodes its leaves reach, found by walking up from each leaf until a node already marked).
  // Hosts of `otherMask` (optional) are not drawn one by one but summed, tile by tile, under one
  // last frame (profile.otherName; its label is the tree's otherLabel).
  Profile.prototype.byHost = function (hostMask, tile, otherMask) {
    var src = this.tree, h = this.header, srcDepth = src.depth, srcParent = src.parent, self_ = this;
    var stamp = new Int32Array(src.n), scratch = new Float64Array(src.n), todo = new Int32Array(src.n);
    var cap = Math.max(1 << 16, 4 * this.header.counts.leaves), n = 1, np = h.counts.pairs;
    var name = new Uint32Array(cap), depth = new Uint16Array(cap), self = new Float64Array(cap);
    function grow(need) {
      while (cap < need) cap *= 2;
      var a = new Uint32Array(cap); a.set(name); name = a;
      var b = new Uint16Array(cap); b.set(depth); depth = b;
      var c = new Float64Array(cap); c.set(self); self = c;
    }
    // one tile frame (depth 2) and, under it, the summed stacks of `pairs` (all of that tile)
    function emitTile(pairs, mark, tileIndex) {
      var count = 0, tileSelf = 0;
      for (var q = 0; q < pairs.length; q++) {
        var p = pairs[q];
        for (var j = self_.pairStart[p], e = self_.pairStart[p + 1]; j < e; j++) {
          var x = self_.leafNode[j];
          if (srcDepth[x] < 2) { tileSelf += self_.leafCount[j]; continue; }  // the stack ends at the tile
          scratch[x] += self_.leafCount[j];
          while (srcDepth[x] >= 2 && stamp[x] !== mark) { stamp[x] = mark; count++; x = srcParent[x]; }
        }
      }
      if (n + count + 1 > cap) grow(n + count + 1);
      name[n] = h.tileNames[tileIndex]; depth[n] = 2; self[n] = tileSelf; n++;
      // emit the marked nodes in preorder: from the kind's node down through marked children only
      var kind = self_.kindNode[self_.names[h.tileKinds[tileIndex]]], top = 0;
      for (var c = kind + 1; c < src.end[kind]; c = src.end[c]) if (stamp[c] === mark) todo[top++] = c;
      reverse(todo, 0, top);
      while (top) {
        var y = todo[--top];
        name[n] = src.name[y]; depth[n] = srcDepth[y] + 1; self[n] = scratch[y]; n++;
        scratch[y] = 0;
        var first = top;
        for (var k = y + 1, ke = src.end[y]; k < ke; k = src.end[k]) if (stamp[k] === mark) todo[top++] = k;
        reverse(todo, first, top);
      }
    }
    var byTile = [];  // the other hosts' pairs, by tile index
    for (var host = 0; host < this.hostCount; host++) {
      if (otherMask && otherMask[host]) {
        this.hostPairs[host].forEach(function (p) {
          if (self_.tileMatches(p, tile)) (byTile[self_.pairTile[p]] || (byTile[self_.pairTile[p]] = [])).push(p);
        });
        continue;
      }
      if (!hostMask[host]) continue;
      var pairs = this.hostPairs[host].filter(function (p) { return this.tileMatches(p, tile); }, this);
      if (!pairs.length) continue;
      if (n + 1 > cap) grow(n + 1);
      name[n] = h.hostNames[host]; depth[n] = 1; self[n] = 0; n++;
      for (var q = 0; q < pairs.length; q++) emitTile([pairs[q]], pairs[q] + 1, this.pairTile[pairs[q]]);
    }
    if (byTile.length) {
      if (n + 1 > cap) grow(n + 1);
      name[n] = this.otherName; depth[n] = 1; self[n] = 0; n++;
      for (var t = 0; t < byTile.length; t++) if (byTile[t]) emitTile(byTile[t], np + 1 + t, t);  // tiles in name order
    }
    var out = finishTree({ n: n, name: name.subarray(0, n), depth: depth.subarray(0, n) });
    out.self = self.subarray(0, n);
    out.total = totals(out, out.self);
    return out;
  };

  function reverse(a, from, to) {
    for (var i = from, j = to - 1; i < j; i++, j--) { var x = a[i]; a[i] = a[j]; a[j] = x; }
  }

  // Fleet with hosts, tiles and kinds merged: the kind tree's subtrees summed under one root.
  // The structure is built once; each selection only re-weighs it through `map`.
  Profile.prototype.mergedShape = function () {
    if (this._merged) return this._merged;
    var src = this.tree, b = new Builder(this.names.length), bnode = new Int32Array(src.n);
    for (var i = 1; i < src.n; i++) bnode[i] = src.depth[i] === 1 ? 0 : b.child(bnode[src.parent[i]], src.name[i]);
    var done = b.finish(this.labels, 0), map = new Int32Array(src.n);
    for (var k = 0; k < src.n; k++) map[k] = done.order[bnode[k]];
    this._merged = { tree: done.tree, map: map };
    return this._merged;
  };

  Profile.prototype.merged = function (weights) {
    var shape = this.mergedShape(), t = shape.tree, self = new Float64Array(t.n);
    for (var i = 0; i < weights.self.length; i++) self[shape.map[i]] += weights.self[i];
    return { n: t.n, name: t.name, depth: t.depth, parent: t.parent, end: t.end, self: self, total: totals(t, self) };
  };

  // The sandwich of function `fn` (a name index) in tree t, from its topmost occurrences:
  // callers (paths up to the root, reversed) and callees (its subtrees, merged).
  function sandwich(t, fn, labels, nameCount) {
    var callers = new Builder(nameCount), callees = new Builder(nameCount), map = new Int32Array(t.n);
    var total = 0;
    for (var i = 1; i < t.n;) {
      if (t.total[i] <= 0) { i = t.end[i]; continue; }
      if (t.name[i] !== fn) { i++; continue; }
      total += t.total[i];
      var at = 0;
      for (var a = t.parent[i]; a > 0; a = t.parent[a]) at = callers.child(at, t.name[a]);
      callers.self[at] += t.total[i];
      map[i] = 0;
      callees.self[0] += t.self[i];
      for (var j = i + 1; j < t.end[i]; j++) {
        if (t.total[j] <= 0) { map[j] = -1; continue; }
        map[j] = callees.child(map[t.parent[j]], t.name[j]);
        callees.self[map[j]] += t.self[j];
      }
      i = t.end[i];
    }
    return { total: total, callers: callers.finish(labels, fn).tree, callees: callees.finish(labels, fn).tree };
  }

  // perf report's table for the subtree of `root`: self and total (a recursive function counted
  // once per stack) per function, leaving out the first `groupDepth` levels (host, tile, kind).
  function functionTable(t, root, groupDepth, nameCount) {
    var self = new Float64Array(nameCount), total = new Float64Array(nameCount), seen = new Uint8Array(nameCount);
    var onPath = new Int32Array(nameCount), stackName = [], stackDepth = [];
    for (var i = root, e = t.end[root]; i < e;) {
      if (t.total[i] <= 0) { i = t.end[i]; continue; }
      var d = t.depth[i];
      while (stackDepth.length && stackDepth[stackDepth.length - 1] >= d) { stackDepth.pop(); onPath[stackName.pop()]--; }
      if (d > groupDepth && i > 0) {
        var f = t.name[i];
        self[f] += t.self[i];
        if (!onPath[f]) total[f] += t.total[i];
        seen[f] = 1;
        onPath[f]++;
        stackName.push(f); stackDepth.push(d);
      }
      i++;
    }
    var rows = [];
    for (var k = 0; k < nameCount; k++) if (seen[k]) rows.push({ name: k, self: self[k], total: total[k] });
    return rows;
  }

  // Samples under the topmost nodes whose name `hit` marks (a match inside a match counts once).
  function coveredTotal(t, root, hit, weights) {
    var sum = 0;
    for (var i = root, e = t.end[root]; i < e;) {
      if (t.total[i] > 0 && t.name[i] !== 0 && hit[t.name[i]]) { sum += weights[i]; i = t.end[i]; } else i++;
    }
    return sum;
  }

  function load(header, blobText) {
    return gunzip(base64Bytes(blobText)).then(function (buffer) { return new Profile(header, buffer); });
  }

  return { load: load, Builder: Builder, totals: totals, sandwich: sandwich, functionTable: functionTable,
           coveredTotal: coveredTotal, finishTree: finishTree };
})();
