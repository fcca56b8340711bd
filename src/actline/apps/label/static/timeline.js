// A recording's segments (with undo) and the timeline that shows and edits them. Times are seconds from the
// recording's first frame; segments never overlap (a new one takes its time from those it covers).
"use strict";

LP.MIN_S = 0.01; // the shortest segment

LP.Segments = class {
  constructor(rows, duration, onChange) {
    this.list = rows.map(([s, e, label]) => ({ s, e, label }));
    this.duration = duration; this.onChange = onChange; this.undos = []; this.redos = [];
  }
  rows() { return this.list.map((g) => [g.s, g.e, g.label]).sort((a, b) => a[0] - b[0]); }
  key() { return JSON.stringify(this.rows()); }
  // run fn as one undoable step (nothing recorded if nothing changed)
  change(fn) { const before = this.key(); fn(); this.commit(before); }
  // record the change since the state `before` (a key()) as one undoable step
  commit(before) {
    this.list.sort((a, b) => a.s - b.s);
    if (this.key() !== before) { this.undos.push(before); this.redos = []; this.onChange(); }
  }
  restore(key) { this.list = JSON.parse(key).map(([s, e, label]) => ({ s, e, label })); this.onChange(); }
  undo() { if (this.undos.length) { this.redos.push(this.key()); this.restore(this.undos.pop()); } }
  redo() { if (this.redos.length) { this.undos.push(this.key()); this.restore(this.redos.pop()); } }
  // the limit >= 1 frame past the end: the last frame lasts until the next would have come
  clampT(t) { return Math.max(0, Math.min(this.end(), t)); }
  end() { return this.duration + (this.frameS || 0); }
  // a new segment covers [s, e): the parts of others under it are cut away
  add(s, e, label) {
    [s, e] = [this.clampT(Math.min(s, e)), this.clampT(Math.max(s, e))];
    if (e - s < LP.MIN_S) return null;
    const seg = { s, e, label };
    this.change(() => { this.cut(s, e); this.list.push(seg); });
    return this.list.includes(seg) ? seg : null;
  }
  cut(s, e) {
    const out = [];
    for (const g of this.list) {
      if (g.e <= s || g.s >= e) { out.push(g); continue; }
      if (g.s < s - LP.MIN_S) out.push({ s: g.s, e: s, label: g.label });
      if (g.e > e + LP.MIN_S) out.push({ s: e, e: g.e, label: g.label });
    }
    this.list = out;
  }
  neighbours(g) {
    const i = this.list.indexOf(g);
    return [i > 0 ? this.list[i - 1].e : 0, i < this.list.length - 1 ? this.list[i + 1].s : this.end()];
  }
  // without recording an undo step (the caller wraps a whole drag in one)
  setEdge(g, edge, t) {
    const [lo, hi] = this.neighbours(g);
    if (edge === "s") g.s = Math.max(lo, Math.min(g.e - LP.MIN_S, t));
    else g.e = Math.min(hi, Math.max(g.s + LP.MIN_S, t));
  }
  shift(g, start) {
    const [lo, hi] = this.neighbours(g), len = g.e - g.s;
    g.s = Math.max(lo, Math.min(hi - len, start)); g.e = g.s + len;
  }
  remove(g) { this.change(() => { this.list = this.list.filter((x) => x !== g); }); }
  relabel(g, label) { this.change(() => { g.label = label; }); }
  at(t) { return this.list.find((g) => g.s <= t && t < g.e) || null; }
};

// ---------------------------------------------------------------- the timeline canvas
LP.Timeline = class {
  constructor(canvas, app) {
    this.canvas = canvas; this.ctx = canvas.getContext("2d"); this.app = app;
    this.segs = null; this.v0 = 0; this.v1 = 1; this.selected = null; this.drag = null; this.markStart = null;
    canvas.addEventListener("mousedown", (e) => this.down(e));
    window.addEventListener("mousemove", (e) => this.move(e));
    window.addEventListener("mouseup", (e) => this.up(e));
    canvas.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
  }
  open(segs, times) {
    this.segs = segs; this.selected = null; this.markStart = null; this.drag = null;
    this.canvas.width = this.canvas.clientWidth || this.canvas.width; // crisp text at the shown size
    this.gaps = LP.gaps(times); this.zoomAll();
  }
  zoomAll() { this.v0 = 0; this.v1 = Math.max(this.segs ? this.segs.end() : 1, 0.001); this.draw(); }
  x(t) { return (t - this.v0) / (this.v1 - this.v0) * this.canvas.width; }
  t(clientX) {
    const r = this.canvas.getBoundingClientRect();
    return this.v0 + (clientX - r.left) / r.width * (this.v1 - this.v0);
  }
  hit(clientX) { // {seg, edge: "s" | "e" | null} under the pointer
    const r = this.canvas.getBoundingClientRect(), px = (this.v1 - this.v0) / r.width * 6, t = this.t(clientX);
    for (const g of this.segs.list) {
      if (Math.abs(t - g.s) <= px) return { seg: g, edge: "s" };
      if (Math.abs(t - g.e) <= px) return { seg: g, edge: "e" };
    }
    const g = this.segs.at(t);
    return g ? { seg: g, edge: null } : null;
  }
  down(e) {
    if (!this.segs || e.button !== 0) return;
    e.preventDefault();
    const h = this.hit(e.clientX), t = this.t(e.clientX);
    this.drag = { x: e.clientX, t, before: this.segs.key(), moved: false, hit: h,
                  offset: h && h.seg ? t - h.seg.s : 0 };
    this.select(h ? h.seg : null);
  }
  move(e) {
    if (!this.segs) return;
    if (!this.drag) {
      const h = e.target === this.canvas ? this.hit(e.clientX) : null;
      this.canvas.style.cursor = h && h.edge ? "ew-resize" : h ? "grab" : "text";
      return;
    }
    const d = this.drag, t = this.t(e.clientX);
    if (!d.moved && Math.abs(e.clientX - d.x) < 4) return;
    d.moved = true;
    if (d.hit && d.hit.edge) this.segs.setEdge(d.hit.seg, d.hit.edge, t);
    else if (d.hit) this.segs.shift(d.hit.seg, t - d.offset);
    else d.to = t;
    this.draw();
  }
  up(e) {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    if (!d.moved) { this.app.player.seek(Math.min(d.t, this.app.player.duration)); this.draw(); return; }
    if (d.hit) this.segs.commit(d.before); // the whole drag is one undo step
    else this.select(this.segs.add(d.t, this.t(e.clientX), this.app.currentClass()));
    this.draw();
  }
  wheel(e) {
    if (!this.segs) return;
    e.preventDefault();
    const t = this.t(e.clientX), f = e.deltaY > 0 ? 1.25 : 0.8, end = this.segs.end();
    let w = Math.min(end, Math.max(0.5, (this.v1 - this.v0) * f));
    this.v0 = Math.max(0, Math.min(end - w, t - (t - this.v0) * w / (this.v1 - this.v0)));
    this.v1 = this.v0 + w;
    this.draw();
  }
  select(g) { this.selected = g; this.app.onSelect(g); this.draw(); }
  follow(t) { // keep the playhead in view
    if (t < this.v0 || t > this.v1) { const w = this.v1 - this.v0; this.v0 = Math.max(0, t - w * 0.1); this.v1 = this.v0 + w; }
  }
  draw() {
    const c = this.ctx, W = this.canvas.width, H = this.canvas.height;
    c.clearRect(0, 0, W, H);
    if (!this.segs) return;
    c.fillStyle = "#eee"; c.fillRect(0, 0, W, 18);
    this.ticks(c, W);
    c.fillStyle = "rgba(0,0,0,.12)";
    for (const [a, b] of this.gaps) c.fillRect(this.x(a), 18, Math.max(1, this.x(b) - this.x(a)), H - 18);
    const classes = this.app.classes();
    for (const g of this.segs.list) {
      const x0 = this.x(g.s), x1 = this.x(g.e);
      if (x1 < 0 || x0 > W) continue;
      c.fillStyle = LP.classColour(Math.max(0, classes.indexOf(g.label)));
      c.fillRect(x0, 24, x1 - x0, H - 30);
      c.strokeStyle = g === this.selected ? "#000" : "#666"; c.lineWidth = g === this.selected ? 3 : 1;
      c.strokeRect(x0, 24, x1 - x0, H - 30);
      c.fillStyle = "#111"; c.font = "12px system-ui";
      c.save(); c.beginPath(); c.rect(x0, 24, x1 - x0, H - 30); c.clip(); c.fillText(g.label, x0 + 4, 44); c.restore();
    }
    const now = this.app.player.t;
    const pending = this.drag && this.drag.to !== undefined ? [this.drag.t, this.drag.to] :
      this.markStart !== null ? [this.markStart, now] : null;
    if (pending) {
      c.fillStyle = "rgba(30,90,200,.35)";
      c.fillRect(this.x(Math.min(...pending)), 22, Math.abs(this.x(pending[1]) - this.x(pending[0])), H - 26);
    }
    c.strokeStyle = "#d00"; c.lineWidth = 2; c.beginPath(); c.moveTo(this.x(now), 0); c.lineTo(this.x(now), H); c.stroke();
  }
  ticks(c, W) {
    const span = this.v1 - this.v0, steps = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    const step = steps.find((s) => span / s <= W / 70) || 7200;
    c.fillStyle = "#333"; c.font = "11px system-ui"; c.strokeStyle = "#999"; c.lineWidth = 1;
    for (let t = Math.ceil(this.v0 / step) * step; t <= this.v1; t += step) {
      const x = this.x(t);
      c.beginPath(); c.moveTo(x, 12); c.lineTo(x, 18); c.stroke();
      c.fillText(LP.clock(t, step < 1), x + 2, 11);
    }
  }
};

// [start, end) of the gaps: no frame for more than three typical frame intervals (and at least half a second)
LP.gaps = (times) => {
  const d = [];
  for (let i = 1; i < times.length; i++) d.push(times[i] - times[i - 1]);
  const sorted = d.slice().sort((a, b) => a - b), median = sorted.length ? sorted[sorted.length >> 1] : 0.1;
  const out = [];
  d.forEach((v, i) => { if (v > Math.max(3 * median, 0.5)) out.push([times[i], times[i + 1]]); });
  return out;
};

LP.clock = (t, tenths) => {
  const m = Math.floor(t / 60), s = t - m * 60;
  return `${m}:${(tenths ? s.toFixed(1) : Math.floor(s).toString()).padStart(tenths ? 4 : 2, "0")}`;
};
