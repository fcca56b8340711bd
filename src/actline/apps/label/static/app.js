// The page: the recordings list, the player and timeline of the open recording, classes, saving, and the keys.
"use strict";

const $ = (id) => document.getElementById(id);

LP.App = class {
  constructor() {
    this.data = null; this.version = null; this.edits = {}; this.name = null; this.meta = null;
    this.newClasses = []; this.chosen = 0;
    this.heat = new LP.HeatMap($("heat"));
    this.player = new LP.Player(this.heat, () => this.onTime());
    this.timeline = new LP.Timeline($("timeline"), this);
    this.review = null;
    this.bind();
  }
  bind() {
    $("play").onclick = () => this.player.toggle();
    $("speed").onchange = (e) => { this.player.speed = Number(e.target.value); };
    $("mark").onclick = () => this.mark();
    $("delete").onclick = () => this.deleteSelected();
    $("undo").onclick = () => this.undo(false);
    $("zoom-all").onclick = () => this.timeline.zoomAll();
    $("save").onclick = () => this.save();
    $("reload").onclick = () => this.reload();
    $("banner-close").onclick = () => { $("banner").hidden = true; };
    $("add-class").onclick = () => this.addClass($("new-class").value);
    $("new-class").addEventListener("keydown", (e) => { if (e.key === "Enter") this.addClass(e.target.value); });
    $("tab-label").onclick = () => this.tab("label");
    $("tab-review").onclick = () => this.tab("review");
    this.heat.canvas.addEventListener("mousemove", (e) => this.pointer(e));
    document.addEventListener("keydown", (e) => this.key(e));
    window.addEventListener("beforeunload", (e) => { if (this.dirtyNames().length) { e.preventDefault(); e.returnValue = ""; } });
  }
  // ---------------------------------------------------------------- loading
  async start() {
    this.data = await LP.api.get("/api/dataset");
    this.version = this.data.version;
    LP.setColours(this.data.colours);
    $("dataset-name").textContent = this.data.name;
    if (!$("who").value) $("who").value = this.data.user;
    this.renderRecordings(); this.renderClasses();
    if (this.data.review) {
      $("tab-review").hidden = false;
      this.review = this.review || new LP.Review(this);
      await this.review.refresh();
    }
    const first = this.data.recordings.find((r) => !r.error);
    if (first && !this.name) await this.open(first.name);
  }
  async open(name) {
    const t0 = performance.now();
    this.player.pause();
    const [meta, buf] = await Promise.all([
      LP.api.get("/api/recordings/" + encodeURIComponent(name)),
      LP.api.get("/api/recordings/" + encodeURIComponent(name) + "/times", true)]);
    const times = new Float64Array(buf);
    this.name = name; this.meta = meta; this.times = times;
    const mine = this.edits[name];
    if (!mine || mine.segs.key() === mine.base) this.edits[name] = this.editsFor(meta.segments, meta.duration_s, LP.median(times));
    this.heat.setup(meta.height, meta.width, meta.vmin, meta.vmax);
    this.player.open(new LP.FrameSource(name, meta), times);
    this.timeline.open(this.edits[name].segs, times);
    $("recording-name").textContent = name;
    $("recording-info").textContent = `${meta.frames} frames, ${LP.clock(meta.duration_s, false)}, ${meta.width}×${meta.height}, ` +
      `colours ${meta.vmin}–${meta.vmax} °C (dead pixels cyan)`;
    this.renderRecordings();
    await this.player.seek(0);
    this.openedMs = performance.now() - t0; // the benchmark reads this
    return this.openedMs;
  }
  editsFor(rows, duration, frameS) { // base: the segments as saved, to tell unsaved changes
    const segs = new LP.Segments(rows, duration, () => this.changed());
    segs.frameS = frameS;
    return { base: segs.key(), segs };
  }
  // ---------------------------------------------------------------- classes
  classes() { return this.data ? this.data.classes.concat(this.newClasses.filter((c) => !this.data.classes.includes(c))) : []; }
  currentClass() { return this.classes()[this.chosen] || this.classes()[0]; }
  choose(k) {
    if (k < 0 || k >= this.classes().length) return;
    this.chosen = k;
    const g = this.timeline.selected;
    if (g && this.edits[this.name] && g.label !== this.classes()[k]) this.edits[this.name].segs.relabel(g, this.classes()[k]);
    this.renderClasses(); this.timeline.draw();
  }
  addClass(name) {
    name = (name || "").trim();
    if (!name || name.length > 200) return;
    if (!this.classes().includes(name)) this.newClasses.push(name);
    $("new-class").value = "";
    this.choose(this.classes().indexOf(name));
    this.changed();
  }
  renderClasses() {
    for (const [id, review] of [["class-buttons", false], ["review-classes", true]]) {
      const box = $(id);
      box.textContent = "";
      this.classes().forEach((c, k) => {
        const b = document.createElement("button");
        b.type = "button"; b.className = "class" + (!review && k === this.chosen ? " chosen" : "");
        b.style.background = LP.classColour(k);
        b.innerHTML = k < 9 ? `<kbd>${k + 1}</kbd>` : "";
        b.appendChild(document.createTextNode(c));
        b.onclick = () => (review ? this.review.answer(c) : this.choose(k));
        box.appendChild(b);
      });
    }
  }
  // ---------------------------------------------------------------- editing
  mark() {
    if (!this.name) return;
    const t = this.player.t;
    if (this.timeline.markStart === null) { this.timeline.markStart = t; $("mark").textContent = "Mark end"; }
    else {
      const seg = this.edits[this.name].segs.add(this.timeline.markStart, t, this.currentClass());
      this.timeline.markStart = null; $("mark").textContent = "Mark start";
      this.timeline.select(seg);
    }
    this.timeline.draw();
  }
  deleteSelected() {
    const g = this.timeline.selected;
    if (g && this.name) { this.edits[this.name].segs.remove(g); this.timeline.select(null); }
  }
  undo(redo) {
    if (!this.name) return;
    const segs = this.edits[this.name].segs;
    redo ? segs.redo() : segs.undo();
    this.timeline.select(null);
  }
  onSelect(g) { if (g) { const k = this.classes().indexOf(g.label); if (k >= 0) { this.chosen = k; this.renderClasses(); } } }
  dirtyNames() { return Object.keys(this.edits).filter((n) => this.edits[n].segs.key() !== this.edits[n].base); }
  changed() {
    const dirty = this.dirtyNames().length + this.newClasses.length;
    $("save").disabled = !dirty;
    this.status(dirty ? "unsaved changes" : "all saved");
    this.renderRecordings(); this.timeline.draw();
  }
  // ---------------------------------------------------------------- saving, and reloading after a refused save
  async save() {
    const names = this.dirtyNames();
    if (!names.length && !this.newClasses.length) return;
    const segments = {};
    for (const n of names) segments[n] = this.edits[n].segs.rows();
    if (!names.length && this.name) segments[this.name] = this.edits[this.name].segs.rows();
    try {
      const r = await LP.api.post("/api/save", { version: this.version, segments, classes: this.newClasses });
      this.version = r.version;
      for (const n of Object.keys(segments)) this.edits[n].base = this.edits[n].segs.key();
      this.data.classes = this.classes(); this.newClasses = [];
      $("banner").hidden = true;
      this.changed(); this.status("saved");
    } catch (e) {
      this.error(e);
    }
  }
  // fetch what others saved; unsaved changes here are applied on top of it (added segments win)
  async reload() {
    $("banner").hidden = true;
    const kept = {};
    for (const n of this.dirtyNames()) kept[n] = this.edits[n];
    this.edits = {};
    this.data = await LP.api.get("/api/dataset");
    this.version = this.data.version;
    for (const [n, old] of Object.entries(kept)) {
      const meta = await LP.api.get("/api/recordings/" + encodeURIComponent(n));
      const fresh = this.editsFor(meta.segments, meta.duration_s, old.segs.frameS);
      LP.merge(fresh.segs, JSON.parse(old.base), old.segs.rows());
      this.edits[n] = fresh;
    }
    this.renderClasses();
    if (this.name) await this.open(this.name);
    this.changed();
    if (this.review) await this.review.refresh();
  }
  async afterAnswer(r) { // a review answer added a recording: follow the version if nobody else saved in between
    if (r.previous === this.version) this.version = r.version;
    const data = await LP.api.get("/api/dataset");
    this.data.recordings = data.recordings;
    for (const c of data.classes) if (!this.data.classes.includes(c)) this.data.classes.push(c);
    this.newClasses = this.newClasses.filter((c) => !this.data.classes.includes(c));
    this.renderRecordings(); this.renderClasses();
  }
  status(text) { $("status").textContent = text; }
  error(e) {
    $("banner-text").textContent = e.stale ? "Not saved: " + e.message + ". Reload keeps your unsaved changes and " +
      "applies them on top of what was saved." : e.message;
    $("reload").hidden = !e.stale;
    $("banner").hidden = false;
    this.status(e.stale ? "not saved" : "error");
  }
  // ---------------------------------------------------------------- readouts
  onTime() {
    const p = this.player;
    if (!this.times || p.shown < 0) return;
    const i = p.shown, ts = this.times[i];
    const gap = p.t - ts > 3 * (this.edits[this.name].segs.frameS || 0.1) ? ` · gap: no frame for ${(p.t - ts).toFixed(1)} s` : "";
    $("clock").textContent = `frame ${i + 1}/${this.times.length} · time_s ${ts.toFixed(3)} · ` +
      `timestamp_s ${(this.meta.t0 + ts).toFixed(3)}${gap}`;
    $("play").textContent = p.playing ? "Pause" : "Play";
    document.body.dataset.shownFrame = String(i);
    this.timeline.follow(p.t);
    this.timeline.draw();
  }
  pointer(e) {
    const v = this.heat.valueAt(e);
    $("pointer").textContent = v ? `row ${v[0]}, column ${v[1]}: ` + (v[2] === null ? "dead pixel" : v[2].toFixed(2) + " °C") : "";
  }
  renderRecordings() {
    const ul = $("recording-list"), dirty = new Set(this.dirtyNames());
    ul.textContent = "";
    for (const r of this.data.recordings) {
      const li = document.createElement("li");
      li.dataset.name = r.name;
      li.className = (r.name === this.name ? "current " : "") + (dirty.has(r.name) ? "dirty" : "");
      li.innerHTML = "<span></span><span class=meta></span>";
      li.firstChild.textContent = r.name;
      li.lastChild.textContent = r.error ? "unreadable" : LP.clock(r.duration_s, false);
      if (r.error) li.title = r.error; else li.onclick = () => this.open(r.name).catch((err) => this.error(err));
      ul.appendChild(li);
    }
  }
  tab(which) {
    $("label-view").hidden = which !== "label"; $("review-view").hidden = which !== "review";
    $("tab-label").classList.toggle("active", which === "label"); $("tab-review").classList.toggle("active", which === "review");
    this.player.pause();
    if (which === "review") this.review.show(); else if (this.review) this.review.stop();
  }
  key(e) {
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && e.key.toLowerCase() === "s") { e.preventDefault(); this.save(); return; } // from anywhere, inputs too
    if (e.target.matches && e.target.matches("input, select, textarea")) return;
    if (!$("review-view").hidden) { if (!ctrl && this.review.key(e)) e.preventDefault(); return; }
    if (ctrl && e.key.toLowerCase() === "z") { e.preventDefault(); this.undo(e.shiftKey); return; }
    if (ctrl && e.key.toLowerCase() === "y") { e.preventDefault(); this.undo(true); return; }
    if (ctrl) return;
    const p = this.player, step = e.shiftKey ? 1 : 0;
    const keys = {
      " ": () => p.toggle(), m: () => this.mark(), M: () => this.mark(), Delete: () => this.deleteSelected(),
      Backspace: () => this.deleteSelected(), Home: () => p.seek(0), End: () => p.seek(p.duration),
      ArrowLeft: () => (step ? p.seek(p.t - 1) : p.step(-1)), ArrowRight: () => (step ? p.seek(p.t + 1) : p.step(1)),
      Escape: () => { this.timeline.markStart = null; $("mark").textContent = "Mark start"; this.timeline.select(null); },
      0: () => this.timeline.zoomAll(),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); return; }
    if (e.key >= "1" && e.key <= "9") { e.preventDefault(); this.choose(Number(e.key) - 1); }
  }
};

// three-way merge of one recording's segments: theirs (already in `segs`), plus what this page added, minus what it removed
LP.merge = (segs, base, mine) => {
  const k = (r) => JSON.stringify(r), inBase = new Set(base.map(k)), inMine = new Set(mine.map(k));
  const removed = new Set(base.filter((r) => !inMine.has(k(r))).map(k));
  segs.list = segs.list.filter((g) => !removed.has(k([g.s, g.e, g.label])));
  for (const [s, e, label] of mine.filter((r) => !inBase.has(k(r)))) { segs.cut(s, e); segs.list.push({ s, e, label }); }
  segs.list.sort((a, b) => a.s - b.s);
};

LP.median = (times) => { // the typical frame interval
  const d = [];
  for (let i = 1; i < times.length; i++) d.push(times[i] - times[i - 1]);
  d.sort((a, b) => a - b);
  return d.length ? d[d.length >> 1] : 0.1;
};

LP.onUnauthorized = () => {
  $("token-form").hidden = false; $("label-view").hidden = true;
};

window.addEventListener("DOMContentLoaded", () => {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) { LP.api.token = decodeURIComponent(m[1]); sessionStorage.setItem("actline-token", LP.api.token); history.replaceState(null, "", location.pathname); }
  $("token-form").onsubmit = (e) => {
    e.preventDefault();
    LP.api.token = $("token-input").value.trim(); sessionStorage.setItem("actline-token", LP.api.token);
    $("token-form").hidden = true; $("label-view").hidden = false; $("banner").hidden = true;
    LP.app.start().catch((e) => LP.app.error(e));
  };
  LP.app = new LP.App();
  LP.app.start().catch((e) => LP.app.error(e));
});
