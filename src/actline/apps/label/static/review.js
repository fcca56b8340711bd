// The review queue: each open item's window plays as a loop beside the model's top 3; Enter confirms the top
// class, a class key corrects it. An answer becomes a recording and a segment of the data set.
"use strict";

LP.Review = class {
  constructor(app) {
    this.app = app; this.items = []; this.answered = []; this.index = 0; this.loop = null; this.current = null;
    this.heat = new LP.HeatMap(document.getElementById("review-heat"));
    this.who = document.getElementById("who");
    this.who.value = localStorage.getItem("actline-who") || this.who.value;
    this.who.addEventListener("change", () => localStorage.setItem("actline-who", this.who.value.trim()));
    this.heat.canvas.addEventListener("mousemove", (e) => {
      const v = this.heat.valueAt(e);
      document.getElementById("review-readout").textContent = v ? `row ${v[0]}, column ${v[1]}: ` +
        (v[2] === null ? "dead pixel" : v[2].toFixed(2) + " °C") : "";
    });
  }
  async refresh() {
    const [open, done] = await Promise.all([LP.api.get("/api/review"), LP.api.get("/api/review?answered=true")]);
    this.items = open.items; this.answered = done.items;
    document.getElementById("review-count").textContent = `(${this.items.length})`;
    this.index = Math.min(this.index, Math.max(0, this.items.length - 1));
    this.list();
    await this.show();
  }
  list() {
    const ul = document.getElementById("review-list");
    ul.textContent = "";
    const add = (item, k, answered) => {
      const li = document.createElement("li");
      li.dataset.id = item.id;
      li.className = answered ? "answered" : k === this.index ? "current" : "";
      li.innerHTML = "<span></span><span class=meta></span>";
      li.firstChild.textContent = item.recording;
      li.lastChild.textContent = answered ? "✓ " + item.answer : `${item.top3[0][0]} ${(item.top3[0][1] * 100).toFixed(0)}%`;
      if (!answered) li.addEventListener("click", () => { this.index = k; this.list(); this.show(); });
      ul.appendChild(li);
    };
    this.items.forEach((item, k) => add(item, k, false));
    this.answered.forEach((item, k) => add(item, k, true));
  }
  async show() {
    clearTimeout(this.loop);
    const item = this.items[this.index];
    this.current = null;
    document.getElementById("review-title").textContent = item ? item.recording : "No open items";
    document.getElementById("top3").textContent = "";
    if (!item) { document.getElementById("review-info").textContent = ""; this.heat.ctx.clearRect(0, 0, 9999, 9999); return; }
    const [meta, buf] = await Promise.all([LP.api.get(`/api/review/${item.id}`), LP.api.get(`/api/review/${item.id}/frames`, true)]);
    this.current = { item, meta, frames: new Int16Array(buf) };
    document.getElementById("review-info").textContent = `${item.start_s.toFixed(1)}–${item.end_s.toFixed(1)} s, ` +
      `${meta.frames} frames, ${item.source}; becomes recording ${meta.recording}`;
    const ol = document.getElementById("top3");
    for (const [label, p] of item.top3) {
      const li = document.createElement("li");
      li.innerHTML = "<span></span> <span class=p></span><span class=bar></span>";
      li.children[0].textContent = label;
      li.children[1].textContent = (p * 100).toFixed(1) + " %";
      li.children[2].style.width = Math.round(p * 200) + "px";
      ol.appendChild(li);
    }
    this.heat.setup(meta.height, meta.width, meta.vmin, meta.vmax, 480, 360);
    this.play(0);
  }
  play(i) { // the window as a loop, at its own timestamps
    const c = this.current;
    if (!c || document.getElementById("review-view").hidden) return;
    const size = c.meta.height * c.meta.width, times = c.meta.times;
    this.heat.draw(c.frames.subarray(i * size, (i + 1) * size));
    const next = (i + 1) % times.length, wait = next ? times[next] - times[i] : 0.6;
    this.loop = setTimeout(() => this.play(next), Math.min(2000, wait * 1000));
  }
  confirm() { if (this.current) this.answer(this.current.item.top3[0][0]); }
  async answer(label) {
    const c = this.current;
    if (!c || this.busy) return;
    this.busy = true;
    try {
      const who = this.who.value.trim() || undefined;
      const r = await LP.api.post(`/api/review/${c.item.id}/answer`, who ? { label, who } : { label });
      this.app.status(`${c.item.recording}: ${label} — added as ${r.recording}`);
      await this.app.afterAnswer(r);
      await this.refresh();
    } catch (e) {
      this.app.error(e);
    } finally {
      this.busy = false;
    }
  }
  next(step) { if (this.items.length) { this.index = (this.index + step + this.items.length) % this.items.length; this.list(); this.show(); } }
  key(e) {
    if (e.key === "Enter" || e.key === "y") { this.confirm(); return true; }
    if (e.key >= "1" && e.key <= "9") {
      const label = this.app.classes()[Number(e.key) - 1];
      if (label) this.answer(label);
      return true;
    }
    if (e.key === "n" || e.key === "ArrowDown") { this.next(1); return true; }
    if (e.key === "p" || e.key === "ArrowUp") { this.next(-1); return true; }
    return false;
  }
  stop() { clearTimeout(this.loop); }
};
