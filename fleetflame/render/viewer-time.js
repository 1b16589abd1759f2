// fleetflame viewer, the time part: the page's sample times (#ff-time, layout in
// fleetflame/render/model.py), decoded only when the Timeline tab or a #from=…&until=… link needs
// them, and what the Timeline tab draws from them: a FlameScope-style heatmap (columns = seconds,
// rows = the bins of a second) and one strip per host (x = time). A range of bins gives each leaf
// its samples within the range, so every view of the page can follow the range.
var ffTime = (function () {
  "use strict";

  // --- decoding ----------------------------------------------------------------------------
  function load(meta, text, profile) {
    var bytes = base64(text);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer().then(function (buffer) { return new Times(meta, new Uint8Array(buffer), profile); });
  }

  function base64(text) {
    if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // Events in leaf order: leaf j's are evBin/evCount[leafStart[j] .. leafStart[j + 1]]. Every
  // use scans them all in that order (sequential reads and writes), which is faster than
  // sorting 10 million events by bin to read a range's only.
  function Times(meta, bytes, profile) {
    this.meta = meta;
    this.profile = profile;
    this.binMs = meta.binMs;
    this.bins = meta.bins;
    this.origin = meta.origin;
    this.start = meta.start;
    var leaves = meta.leaves, bins = meta.bins, events = meta.events, at = 0, v, b, shift;
    var evBin = bins < 65536 ? new Uint16Array(events) : new Uint32Array(events);
    var evCount = new Uint32Array(events), leafStart = new Uint32Array(leaves + 1);
    var e = 0, j, n, k, bin;
    // (the varints inline: most are one byte, and a call per varint costs more than the decoding)
    for (j = 0; j < leaves; j++) {
      v = bytes[at++];
      if (v & 0x80) { v &= 0x7f; shift = 128; do { b = bytes[at++]; v += (b & 0x7f) * shift; shift *= 128; } while (b & 0x80); }
      n = v; bin = 0;
      for (k = 0; k < n; k++, e++) {
        v = bytes[at++];
        if (v & 0x80) { v &= 0x7f; shift = 128; do { b = bytes[at++]; v += (b & 0x7f) * shift; shift *= 128; } while (b & 0x80); }
        bin += v;
        v = bytes[at++];
        if (v & 0x80) { v &= 0x7f; shift = 128; do { b = bytes[at++]; v += (b & 0x7f) * shift; shift *= 128; } while (b & 0x80); }
        evBin[e] = bin;
        evCount[e] = v;
      }
      leafStart[j + 1] = e;
    }
    this.evBin = evBin;
    this.evCount = evCount;
    this.leafStart = leafStart;
    // per host, per fine bin: dense (hosts × fineBins)
    var hosts = meta.hosts, fineBins = meta.fineBins, fine = new Float32Array(hosts * fineBins);
    for (var h = 0; h < hosts; h++) {
      n = next(); bin = 0;
      for (k = 0; k < n; k++) { bin += next(); fine[h * fineBins + bin] = next(); }
    }
    function next() {
      var x = 0, s = 1, c;
      do { c = bytes[at++]; x += (c & 0x7f) * s; s *= 128; } while (c & 0x80);
      return x;
    }
    this.fine = fine;
    this.fineMs = meta.fineMs;
    this.fineBins = fineBins;
    this.fineOrigin = meta.fineOrigin;
    // the host of each leaf
    var leafHost = new Uint32Array(leaves), np = profile.header.counts.pairs;
    for (var p = 0; p < np; p++) leafHost.fill(profile.pairHost[p], profile.pairStart[p], profile.pairStart[p + 1]);
    this.leafHost = leafHost;
  }

  // Each leaf's samples in bins lo <= b < hi.
  Times.prototype.rangeCounts = function (lo, hi) {
    var leaves = this.meta.leaves, out = new Uint32Array(leaves), bin = this.evBin, c = this.evCount, ls = this.leafStart;
    for (var j = 0, e = 0; j < leaves; j++) {
      var sum = 0;
      for (var end = ls[j + 1]; e < end; e++) { var x = bin[e]; if (x >= lo && x < hi) sum += c[e]; }
      out[j] = sum;
    }
    return out;
  };

  // 1 for each leaf of the selected hosts (and of tile, if given).
  Times.prototype.leafMask = function (hostMask, tile) {
    var p = this.profile, np = p.header.counts.pairs, out = new Uint8Array(this.meta.leaves);
    for (var q = 0; q < np; q++) {
      if (!hostMask[p.pairHost[q]] || !p.tileMatches(q, tile)) continue;
      out.fill(1, p.pairStart[q], p.pairStart[q + 1]);
    }
    return out;
  };

  // 1 for each leaf whose stack has a frame that `hit` (per name) marks.
  Times.prototype.leafHits = function (hit) {
    var p = this.profile, t = p.tree, covered = new Uint8Array(t.n), out = new Uint8Array(this.meta.leaves);
    for (var i = 1; i < t.n; i++) covered[i] = hit[t.name[i]] || covered[t.parent[i]] ? 1 : 0;
    for (var j = 0; j < out.length; j++) out[j] = covered[p.leafNode[j]];
    return out;
  };

  // What the heatmap and the strips colour: {res, origin (epoch s), bins, rows, total, hit}, with
  // total[row * bins + b] the samples of row (1 row for the selected hosts: the heatmap; a row per
  // host: the strips) and hit those of stacks that `hitLeaves` marks. Counting samples of every
  // tile takes the per-host totals (20 ms); a tile or a share takes the leaves, in one scan for both.
  Times.prototype.grids = function (hostMask, tile, hitLeaves) {
    var hosts = this.meta.hosts;
    if (!tile && !hitLeaves) {
      var fb = this.fineBins, fine = this.fine, heat = new Uint32Array(fb), strips = new Uint32Array(hosts * fb);
      for (var h = 0; h < hosts; h++) {
        var from = h * fb, on = hostMask[h];
        for (var f = 0; f < fb; f++) { strips[from + f] = fine[from + f]; if (on) heat[f] += fine[from + f]; }
      }
      var g = { res: this.fineMs, origin: this.fineOrigin, bins: fb, hit: null };
      return { heat: Object.assign({ rows: 1, total: heat }, g), strips: Object.assign({ rows: hosts, total: strips }, g) };
    }
    var bins = this.bins, leaves = this.meta.leaves;
    var inTile = tile ? this.leafMask(new Uint8Array(hosts).fill(1), tile) : null;
    var ht = new Uint32Array(bins), hh = hitLeaves ? new Uint32Array(bins) : null;
    var st = new Uint32Array(hosts * bins), sh = hitLeaves ? new Uint32Array(hosts * bins) : null;
    var evBin = this.evBin, cnt = this.evCount, ls = this.leafStart, lh = this.leafHost;
    for (var j = 0; j < leaves; j++) {
      var e = ls[j], end = ls[j + 1];
      if (e === end || (inTile && !inTile[j])) continue;
      var host = lh[j], row = host * bins, heatOn = hostMask[host], hit = hitLeaves && hitLeaves[j];
      for (; e < end; e++) {
        var b = evBin[e], c = cnt[e];
        st[row + b] += c;
        if (hit) sh[row + b] += c;
        if (heatOn) { ht[b] += c; if (hit) hh[b] += c; }
      }
    }
    var gl = { res: this.binMs, origin: this.origin, bins: bins };
    return { heat: Object.assign({ rows: 1, total: ht, hit: hh }, gl), strips: Object.assign({ rows: hosts, total: st, hit: sh }, gl) };
  };

  // --- colours -----------------------------------------------------------------------------
  var EMPTY = [238, 238, 238];
  function ramp(from, to, f) {
    return [Math.round(from[0] + (to[0] - from[0]) * f), Math.round(from[1] + (to[1] - from[1]) * f), Math.round(from[2] + (to[2] - from[2]) * f)];
  }
  var COUNT_LOW = [255, 245, 225], COUNT_HIGH = [190, 30, 10];  // FlameScope's: pale to dark red
  var SHARE_LOW = [246, 240, 250], SHARE_HIGH = [120, 0, 140];
  // value of cell i: a fraction of the scale's top, and its colour
  function colorFor(grid, i, top) {
    var total = grid.total[i];
    if (!(total > 0)) return EMPTY;
    if (grid.hit) return ramp(SHARE_LOW, SHARE_HIGH, top ? Math.min(grid.hit[i] / total / top, 1) : 0);
    return ramp(COUNT_LOW, COUNT_HIGH, top ? Math.min(total / top, 1) : 0);
  }
  // the scale's top: the largest count, or the largest share, of any cell with samples
  function scaleTop(grid) {
    var top = 0;
    for (var i = 0; i < grid.total.length; i++) {
      var t = grid.total[i];
      if (!(t > 0)) continue;
      var v = grid.hit ? grid.hit[i] / t : t;
      if (v > top) top = v;
    }
    return top;
  }

  // --- the heatmap -------------------------------------------------------------------------
  var AXIS = 22, LEFT = 52;
  // Columns of one second from `zero` (the recording's start, rounded down to the grid), rows of
  // `res` ms, 0 ms at the top. cell(c, r) is bin (c * rows + r - shift).
  function Heatmap(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.layout = null;
  }
  Heatmap.prototype.draw = function (grid, start, width) {
    var rows = Math.round(1000 / grid.res), resS = grid.res / 1000;
    var shift = Math.floor((start - grid.origin) / resS + 1e-6);  // bins from the grid's origin to the column base
    var base = grid.origin + shift * resS;  // epoch s of column 0, row 0
    var cols = Math.max(1, Math.ceil((grid.bins - shift) / rows));
    var cw = Math.max(4, Math.min(40, Math.floor((width - LEFT - 8) / cols)));
    var ch = Math.max(3, Math.min(20, Math.floor(300 / rows)));
    var top = scaleTop(grid);
    this.layout = { rows: rows, cols: cols, cw: cw, ch: ch, shift: shift, base: base, grid: grid, top: top, start: start };
    var w = LEFT + cols * cw + 8, h = rows * ch + AXIS, ratio = window.devicePixelRatio || 1;
    var canvas = this.canvas, ctx = this.ctx;
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    for (var c = 0; c < cols; c++) {
      for (var r = 0; r < rows; r++) {
        var b = c * rows + r + shift;
        var rgb = b >= 0 && b < grid.bins ? colorFor(grid, b, top) : null;
        if (!rgb) continue;
        ctx.fillStyle = "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")";
        ctx.fillRect(LEFT + c * cw, r * ch, cw - (cw > 5 ? 1 : 0), ch - (ch > 4 ? 1 : 0));
      }
    }
    ctx.fillStyle = "#333";
    ctx.font = '11px Verdana, "DejaVu Sans", sans-serif';
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    var step = Math.max(1, Math.round(rows / 5));
    for (var rr = 0; rr < rows; rr += step) ctx.fillText(Math.round(rr * grid.res) + " ms", LEFT - 4, rr * ch + ch / 2);
    ctx.textAlign = "center";
    var every = Math.max(1, Math.ceil(30 / cw));
    for (var cc = 0; cc < cols; cc += every) ctx.fillText(fmtOffset(base + cc - start, 0) + " s", LEFT + cc * cw + cw / 2, rows * ch + AXIS / 2);
  };
  // the cell under a point (client coordinates): {bin, t0, t1 (epoch s)} or null
  Heatmap.prototype.at = function (clientX, clientY) {
    var L = this.layout;
    if (!L) return null;
    var rect = this.canvas.getBoundingClientRect(), x = clientX - rect.left - LEFT, y = clientY - rect.top;
    var c = Math.floor(x / L.cw), r = Math.floor(y / L.ch);
    if (c < 0 || c >= L.cols || r < 0 || r >= L.rows) return null;
    var b = c * L.rows + r + L.shift, resS = L.grid.res / 1000;
    return { bin: b, col: c, row: r, t0: L.grid.origin + b * resS, t1: L.grid.origin + (b + 1) * resS,
             total: b >= 0 && b < L.grid.bins ? L.grid.total[b] : 0, hit: L.grid.hit && b >= 0 && b < L.grid.bins ? L.grid.hit[b] : null };
  };
  // the selected range (epoch s) outlined cell by cell
  Heatmap.prototype.mark = function (t0, t1, pending) {
    var L = this.layout, ctx = this.ctx;
    if (!L) return;
    var resS = L.grid.res / 1000;
    ctx.save();
    ctx.fillStyle = pending ? "rgba(20,90,200,0.25)" : "rgba(20,90,200,0.35)";
    for (var c = 0; c < L.cols; c++) {
      for (var r = 0; r < L.rows; r++) {
        var b = c * L.rows + r + L.shift, s = L.grid.origin + b * resS;
        if (s + 1e-9 >= t0 && s + resS <= t1 + 1e-9) ctx.fillRect(LEFT + c * L.cw, r * L.ch, L.cw, L.ch);
      }
    }
    ctx.restore();
  };

  // --- the strips --------------------------------------------------------------------------
  // One row per host (in `order`), x = time from `t0` to `t1` (epoch s), px columns summing bins.
  function Strips(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.layout = null;
  }
  Strips.LABEL = 130;
  Strips.prototype.draw = function (grid, order, names, dimmed, width) {
    var hosts = order.length, rowH = Math.max(2, Math.min(14, Math.floor(600 / Math.max(hosts, 1))));
    var label = rowH >= 10 ? Strips.LABEL : 0, plot = Math.max(100, Math.floor(width - label - 8));
    var cols = Math.min(plot, grid.bins), px = plot / cols;  // px columns, each summing bins
    var colTotal = new Float64Array(grid.rows * cols), colHit = grid.hit ? new Float64Array(grid.rows * cols) : null;
    for (var h = 0; h < grid.rows; h++) {
      for (var b = 0; b < grid.bins; b++) {
        var col = Math.floor(b * cols / grid.bins), i = h * grid.bins + b;
        colTotal[h * cols + col] += grid.total[i];
        if (colHit) colHit[h * cols + col] += grid.hit[i];
      }
    }
    var cgrid = { total: colTotal, hit: colHit }, top = scaleTop(cgrid);
    var w = label + plot + 8, hgt = hosts * rowH + AXIS, ratio = window.devicePixelRatio || 1;
    var canvas = this.canvas, ctx = this.ctx;
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(hgt * ratio);
    canvas.style.width = w + "px"; canvas.style.height = hgt + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    // one pixel per (host, column) in an image, then scaled up: 500 hosts × 1,200 columns would
    // be 600,000 fillRect calls
    var img = new ImageData(cols, Math.max(hosts, 1)), data = img.data;
    for (var k = 0; k < hosts; k++) {
      var host = order[k], faded = dimmed && dimmed[host];
      for (var c = 0; c < cols; c++) {
        var rgb = colorFor(cgrid, host * cols + c, top), o = 4 * (k * cols + c);
        data[o] = faded ? 255 - (255 - rgb[0]) * 0.3 : rgb[0];
        data[o + 1] = faded ? 255 - (255 - rgb[1]) * 0.3 : rgb[1];
        data[o + 2] = faded ? 255 - (255 - rgb[2]) * 0.3 : rgb[2];
        data[o + 3] = 255;
      }
    }
    var off = document.createElement("canvas");
    off.width = cols; off.height = Math.max(hosts, 1);
    off.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, label, 0, plot, hosts * rowH);
    if (rowH >= 6) {  // a white line between rows tall enough to have one
      ctx.fillStyle = "#fff";
      for (var g = 1; g < hosts; g++) ctx.fillRect(label, g * rowH - 1, plot, 1);
    }
    ctx.globalAlpha = 1;
    ctx.font = '11px Verdana, "DejaVu Sans", sans-serif';
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    if (label) {
      ctx.textAlign = "right";
      for (var q = 0; q < hosts; q++) ctx.fillText(short(names[order[q]], 18), label - 4, q * rowH + rowH / 2);
    }
    this.layout = { order: order, rowH: rowH, label: label, plot: plot, cols: cols, px: px, grid: grid, cgrid: cgrid, top: top,
                    t0: grid.origin, t1: grid.origin + grid.bins * grid.res / 1000, hosts: hosts };
    return this.layout;
  };
  // x axis labels, given the recording's start
  Strips.prototype.axis = function (start) {
    var L = this.layout, ctx = this.ctx, y = L.hosts * L.rowH + AXIS / 2;
    ctx.textAlign = "center";
    var span = L.t1 - L.t0, step = niceStep(span / Math.max(2, L.plot / 90));
    for (var s = Math.ceil((L.t0 - start) / step) * step; start + s <= L.t1; s += step) {
      ctx.fillText(fmtOffset(s, step < 1 ? 1 : 0) + " s", L.label + (start + s - L.t0) / span * L.plot, y);
    }
  };
  Strips.prototype.timeAt = function (clientX) {
    var L = this.layout, rect = this.canvas.getBoundingClientRect(), x = clientX - rect.left - L.label;
    return L.t0 + Math.max(0, Math.min(x / L.plot, 1)) * (L.t1 - L.t0);
  };
  Strips.prototype.hostAt = function (clientY) {
    var L = this.layout, rect = this.canvas.getBoundingClientRect(), k = Math.floor((clientY - rect.top) / L.rowH);
    return k >= 0 && k < L.hosts ? L.order[k] : -1;
  };
  Strips.prototype.cellAt = function (clientX, clientY) {
    var L = this.layout, rect = this.canvas.getBoundingClientRect(), x = clientX - rect.left - L.label;
    var host = this.hostAt(clientY);
    if (host < 0 || x < 0 || x >= L.plot) return null;
    var col = Math.floor(x / L.px), i = host * L.cols + col, binsPer = L.grid.bins / L.cols;
    var resS = L.grid.res / 1000;
    return { host: host, t0: L.t0 + Math.floor(col * binsPer) * resS, t1: L.t0 + Math.floor((col + 1) * binsPer) * resS,
             total: L.cgrid.total[i], hit: L.cgrid.hit ? L.cgrid.hit[i] : null };
  };
  Strips.prototype.mark = function (t0, t1) {
    var L = this.layout, ctx = this.ctx, span = L.t1 - L.t0;
    var x0 = L.label + (t0 - L.t0) / span * L.plot, x1 = L.label + (t1 - L.t0) / span * L.plot;
    ctx.save();
    ctx.fillStyle = "rgba(20,90,200,0.25)";
    ctx.fillRect(x0, 0, Math.max(x1 - x0, 1), L.hosts * L.rowH);
    ctx.strokeStyle = "rgba(20,90,200,0.9)";
    ctx.strokeRect(x0 + 0.5, 0.5, Math.max(x1 - x0 - 1, 1), L.hosts * L.rowH - 1);
    ctx.restore();
  };

  // Host order of the strips: busiest first, by name, or by when each host was busiest (hosts
  // busy at the same moment end up together).
  function hostOrder(grid, names, how) {
    var hosts = grid.rows, bins = grid.bins, order = [], sums = new Float64Array(hosts), peak = new Float64Array(hosts);
    for (var h = 0; h < hosts; h++) {
      order.push(h);
      var best = -1, at = 0, weighted = 0;
      for (var b = 0; b < bins; b++) {
        var i = h * bins + b, v = grid.hit ? grid.hit[i] : grid.total[i];
        sums[h] += v;
        weighted += v * b;
        if (v > best) { best = v; at = b; }
      }
      peak[h] = grid.hit ? (sums[h] ? weighted / sums[h] : bins) : at;
    }
    if (how === "name") order.sort(function (a, b) { return names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0; });
    else if (how === "peak") order.sort(function (a, b) { return peak[a] - peak[b] || sums[b] - sums[a] || a - b; });
    else order.sort(function (a, b) { return sums[b] - sums[a] || a - b; });
    return order;
  }

  function niceStep(x) {
    var steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
    for (var i = 0; i < steps.length; i++) if (steps[i] >= x) return steps[i];
    return 1200;
  }
  function fmtOffset(s, digits) {
    var v = Math.abs(s) < 1e-9 ? 0 : s;
    return v.toFixed(digits);
  }
  function short(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

  return { load: load, Heatmap: Heatmap, Strips: Strips, hostOrder: hostOrder, scaleTop: scaleTop };
})();
