// fleetflame viewer, part 2 of 3: drawing a call tree (ffData's preorder arrays) on a <canvas>.
// A canvas, not one element per frame: a 500-host fleet draws tens of thousands of frames, which
// as DOM nodes cost far more than the 100 ms a zoom or a view switch may take.
var ffDraw = (function () {
  "use strict";
  var ROW = 16;       // px per stack level
  var MIN_PX = 0.5;   // narrower frames (and their callees) are not drawn
  var FONT = '12px Verdana, "DejaVu Sans", sans-serif';

  // One canvas showing one tree. `host` is the element the canvas fills (its width is used).
  function Flame(host, profile) {
    this.host = host;
    this.profile = profile;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "ff-canvas";
    host.appendChild(this.canvas);
    this.ctx = this.canvas.getContext("2d");
    this.tree = null;
    this.root = 0;
    this.drawn = { node: [], x: [], w: [], row: [] };
    this.charWidth = 0;
    this.width = 0;
  }

  // Draws tree `t` zoomed at node `root`. opts: inverted, color(i) (fill of node i), hit
  // (Uint8Array per name: search matches, drawn in opts.searchColor), ancestors (draw the
  // zoomed node's callers above it at full width).
  Flame.prototype.draw = function (t, root, opts) {
    this.tree = t;
    this.root = root;
    // the width is read once (and after a resize): reading it forces a layout of the whole page
    if (!this.width) this.width = this.host.clientWidth;
    var width = Math.max(this.width, 200);
    var drawn = this.drawn = { node: [], x: [], w: [], row: [], ancestor: [] };
    if (!t || !(t.total[root] > 0)) return this.clear();
    var chain = [];
    for (var a = t.parent[root]; a >= 0; a = t.parent[a]) chain.unshift(a);
    var scale = width / t.total[root], minCount = MIN_PX / scale, base = chain.length;
    var maxRow = 0;
    for (var c = 0; c < chain.length; c++) push(drawn, chain[c], 0, width, c, true);
    // preorder walk of the visible part: children of a drawn node, left to right by x
    var stackNode = [root], stackX = [0];
    while (stackNode.length) {
      var i = stackNode.pop(), x = stackX.pop();
      var row = base + t.depth[i] - t.depth[root];
      if (row > maxRow) maxRow = row;
      push(drawn, i, x * scale, t.total[i] * scale, row, false);
      var kids = [], kx = [], cx = x;
      for (var k = i + 1, e = t.end[i]; k < e; k = t.end[k]) {
        if (t.total[k] >= minCount) { kids.push(k); kx.push(cx); }
        cx += t.total[k];
      }
      for (var q = kids.length - 1; q >= 0; q--) { stackNode.push(kids[q]); stackX.push(kx[q]); }
    }
    if (chain.length > maxRow) maxRow = chain.length;
    // As tall as the deepest stack of the whole tree, whatever the zoom: a zoom then changes no
    // layout around the canvas, so the browser repaints the canvas alone.
    if (t.maxDepth === undefined) {
      var deepest = 0;
      for (var n = 0; n < t.n; n++) if (t.depth[n] > deepest && t.total[n] > 0) deepest = t.depth[n];
      t.maxDepth = deepest;
    }
    this.rows = Math.max(maxRow, t.maxDepth) + 1;
    this.paint(width, opts);
    return drawn;
  };

  // Nothing drawn (the page says why instead).
  Flame.prototype.clear = function () {
    this.drawn = { node: [], x: [], w: [], row: [], ancestor: [] };
    this.canvas.width = this.canvas.height = 0;
    this.canvas.style.width = this.canvas.style.height = "0px";
    return this.drawn;
  };

  function push(drawn, node, x, w, row, ancestor) {
    drawn.node.push(node); drawn.x.push(x); drawn.w.push(w); drawn.row.push(row); drawn.ancestor.push(ancestor);
  }

  Flame.prototype.top = function (row) {
    return this.opts.inverted ? row * ROW : (this.rows - 1 - row) * ROW;
  };

  Flame.prototype.paint = function (width, opts) {
    this.opts = opts;
    var ratio = window.devicePixelRatio || 1, height = this.rows * ROW;
    var canvas = this.canvas, ctx = this.ctx, t = this.tree, p = this.profile, d = this.drawn;
    var w = Math.round(width * ratio), h = Math.round(height * ratio);
    if (canvas.width !== w || canvas.height !== h) {  // resizing reallocates the canvas: only when needed
      canvas.width = w;
      canvas.height = h;
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
    }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    ctx.textBaseline = "middle";
    if (!this.charWidth) this.charWidth = ctx.measureText("fd_verify_during_frag_abcdefgh").width / 30;
    var cw = this.charWidth;
    for (var k = 0; k < d.node.length; k++) {
      var i = d.node[k], x = d.x[k], w = d.w[k], y = this.top(d.row[k]);
      var matched = opts.hit && t.name[i] !== 0 && opts.hit[t.name[i]];
      ctx.globalAlpha = d.ancestor[k] ? 0.55 : 1;
      ctx.fillStyle = matched ? opts.searchColor : opts.color(i);
      ctx.fillRect(x, y, Math.max(w - (w > 2 ? 1 : 0), 0.5), ROW - 1);
      if (w >= 20) {
        var label = t.name[i] === p.otherName && t.otherLabel ? t.otherLabel : p.labels[t.name[i]], fit = Math.floor((w - 6) / cw);
        if (fit >= 2) {
          if (label.length > fit) label = label.slice(0, Math.max(fit - 2, 1)) + "..";
          ctx.fillStyle = "#000";
          ctx.fillText(label, x + 3, y + ROW / 2);
        }
      }
    }
    ctx.globalAlpha = 1;
  };

  // The drawn frame under a point of the canvas (client coordinates), or -1.
  Flame.prototype.at = function (clientX, clientY) {
    var r = this.canvas.getBoundingClientRect(), x = clientX - r.left, y = clientY - r.top, d = this.drawn;
    for (var k = d.node.length - 1; k >= 0; k--) {
      var top = this.top(d.row[k]);
      if (y >= top && y < top + ROW && x >= d.x[k] && x < d.x[k] + Math.max(d.w[k], 1)) return k;
    }
    return -1;
  };

  return { Flame: Flame, ROW: ROW };
})();
