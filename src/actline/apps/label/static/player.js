// The heat-map player: frames arrive in chunks of int16 centi-degrees, are drawn on a canvas, and play at the
// recording's own timestamps (irregular frame rates and gaps included).
"use strict";
const LP = (window.LP = window.LP || {});

LP.SENTINEL = -10000; // centi-degrees: readings below -100 °C are dead pixels

// ---------------------------------------------------------------- the API, with the token when there is one
LP.api = {
  token: sessionStorage.getItem("actline-token") || "",
  headers(extra) {
    const h = Object.assign({}, extra || {});
    if (this.token) h.Authorization = "Bearer " + this.token;
    return h;
  },
  async fail(r) {
    const data = await r.json().catch(() => ({ detail: r.status + " " + r.statusText }));
    const e = new Error(data.detail || r.statusText);
    e.status = r.status;
    e.stale = !!data.stale;
    if (r.status === 401 && LP.onUnauthorized) LP.onUnauthorized();
    return e;
  },
  async get(path, binary) {
    const r = await fetch(path, { headers: this.headers(), cache: "no-store" });
    if (!r.ok) throw await this.fail(r);
    return binary ? r.arrayBuffer() : r.json();
  },
  async post(path, body) {
    const r = await fetch(path, { method: "POST", body: JSON.stringify(body),
      headers: this.headers({ "Content-Type": "application/json" }) });
    if (!r.ok) throw await this.fail(r);
    return r.json();
  },
};

// ---------------------------------------------------------------- colours
// the colour ramp of actline's rendered videos (the server sends it: /api/dataset "colours"), black to white
LP.lut = new Uint8ClampedArray(256 * 3).map((_, i) => (i % 3 === 0 ? i / 3 : 0));
LP.sentinelRGB = [0, 200, 255];
LP.setColours = (c) => { LP.lut = Uint8ClampedArray.from(c.lut); LP.sentinelRGB = c.sentinel; };

LP.classColour = (k) => `hsl(${(k * 137.5) % 360}, 65%, 72%)`;

// ---------------------------------------------------------------- one canvas showing one frame
LP.HeatMap = class {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.off = document.createElement("canvas");
    this.frame = null;
  }
  setup(h, w, vmin, vmax, maxW = 640, maxH = 480) {
    this.h = h; this.w = w; this.vmin = vmin * 100; this.vmax = vmax * 100;
    this.scale = Math.max(1, Math.floor(Math.min(maxW / w, maxH / h)));
    this.canvas.width = w * this.scale; this.canvas.height = h * this.scale;
    this.off.width = w; this.off.height = h;
    this.image = this.off.getContext("2d").createImageData(w, h);
    this.frame = null;
  }
  draw(frame) {
    const px = this.image.data, lut = LP.lut, dead = LP.sentinelRGB, lo = this.vmin, span = Math.max(1, this.vmax - this.vmin);
    for (let i = 0, n = frame.length; i < n; i++) {
      const v = frame[i], o = i * 4;
      if (v < LP.SENTINEL) { px[o] = dead[0]; px[o + 1] = dead[1]; px[o + 2] = dead[2]; px[o + 3] = 255; continue; }
      const k = Math.max(0, Math.min(255, ((v - lo) * 255 / span) | 0)) * 3;
      px[o] = lut[k]; px[o + 1] = lut[k + 1]; px[o + 2] = lut[k + 2]; px[o + 3] = 255;
    }
    this.off.getContext("2d").putImageData(this.image, 0, 0);
    this.ctx.imageSmoothingEnabled = false;
    this.ctx.drawImage(this.off, 0, 0, this.canvas.width, this.canvas.height);
    this.frame = frame;
  }
  // [row, column, °C or null for a dead pixel] under the pointer
  valueAt(event) {
    if (!this.frame) return null;
    const r = this.canvas.getBoundingClientRect();
    const x = Math.floor((event.clientX - r.left) / r.width * this.w), y = Math.floor((event.clientY - r.top) / r.height * this.h);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return null;
    const v = this.frame[y * this.w + x];
    return [y, x, v < LP.SENTINEL ? null : v / 100];
  }
};

// ---------------------------------------------------------------- frames of one recording, a chunk at a time
LP.FrameSource = class {
  constructor(name, meta) {
    this.url = "/api/recordings/" + encodeURIComponent(name) + "/frames";
    this.n = meta.frames; this.size = meta.height * meta.width; this.chunk = meta.chunk;
    this.cache = new Map(); this.pending = new Map(); this.keep = Math.max(8, Math.ceil(48 * 256 / this.chunk));
  }
  load(c) {
    if (c < 0 || c * this.chunk >= this.n) return Promise.resolve(null);
    if (this.cache.has(c)) { const v = this.cache.get(c); this.cache.delete(c); this.cache.set(c, v); return Promise.resolve(v); }
    if (this.pending.has(c)) return this.pending.get(c);
    const p = LP.api.get(`${this.url}?start=${c * this.chunk}&count=${this.chunk}`, true).then((buf) => {
      const frames = new Int16Array(buf);
      this.cache.set(c, frames); this.pending.delete(c);
      while (this.cache.size > this.keep) this.cache.delete(this.cache.keys().next().value);
      return frames;
    }, (e) => { this.pending.delete(c); throw e; });
    this.pending.set(c, p);
    return p;
  }
  frame(i) {
    const c = Math.floor(i / this.chunk), frames = this.cache.get(c);
    if (!frames) return null;
    const o = (i - c * this.chunk) * this.size;
    return frames.subarray(o, o + this.size);
  }
  async get(i) { await this.load(Math.floor(i / this.chunk)); return this.frame(i); }
  ahead(i) { // the next two chunks, and the previous one (scrubbing back)
    const c = Math.floor(i / this.chunk);
    for (const k of [c, c + 1, c + 2, c - 1]) this.load(k).catch(() => {});
  }
};

// ---------------------------------------------------------------- playing at the recording's own timestamps
LP.Player = class {
  constructor(heat, onShow) {
    this.heat = heat; this.onShow = onShow; this.playing = false; this.speed = 1; this.seq = 0;
    this.t = 0; this.shown = -1; this.times = null; this.source = null;
  }
  open(source, times) {
    this.pause(); this.source = source; this.times = times; this.t = 0; this.shown = -1;
    this.duration = times[times.length - 1];
  }
  indexAt(t) { // the last frame at or before t
    const ts = this.times;
    let lo = 0, hi = ts.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ts[mid] <= t + 1e-9) lo = mid; else hi = mid - 1; }
    return lo;
  }
  show(i, frame) { this.heat.draw(frame); this.shown = i; this.onShow(this); }
  // go to t; resolves once its frame is on the canvas (or a later seek took over)
  async seek(t) {
    if (!this.times) return;
    this.t = Math.max(0, Math.min(this.duration, t));
    const i = this.indexAt(this.t), seq = ++this.seq;
    let frame = this.source.frame(i);
    if (!frame) frame = await this.source.get(i);
    if (seq === this.seq && frame) this.show(i, frame);
    this.source.ahead(i);
    this.onShow(this);
  }
  step(frames) { if (this.times) this.seek(this.times[Math.max(0, Math.min(this.times.length - 1, this.shown + frames))]); }
  toggle() { this.playing ? this.pause() : this.play(); }
  play() {
    if (!this.times || this.playing) return;
    if (this.t >= this.duration) this.t = 0;
    this.playing = true; this.wall = performance.now();
    requestAnimationFrame((now) => this.tick(now));
    this.onShow(this);
  }
  pause() { this.playing = false; if (this.onShow && this.times) this.onShow(this); }
  tick(now) {
    if (!this.playing) return;
    const i = this.indexAt(this.t), frame = this.source.frame(i);
    if (frame) { // time moves on only while frames are there to show: a slow network stalls, never skips
      if (i !== this.shown) this.show(i, frame);
      this.t = Math.min(this.duration, this.t + (now - this.wall) / 1000 * this.speed);
    } else {
      this.stalls = (this.stalls || 0) + 1;
    }
    this.wall = now;
    this.source.ahead(i);
    if (this.t >= this.duration) {
      const last = this.source.frame(this.times.length - 1);
      if (last) this.show(this.times.length - 1, last);
      this.pause();
      return;
    }
    this.onShow(this);
    requestAnimationFrame((n) => this.tick(n));
  }
};
