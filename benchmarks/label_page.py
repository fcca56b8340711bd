"""How fast the label page opens a long recording and shows a frame after a seek, in headless Chromium.

Run: .venv/bin/python benchmarks/label_page.py [--minutes 10] [--fps 30] [--seeks 40] [--play-seconds 10]

A data set with one 40x60 recording (default 10 minutes at 30 fps: 18,000 frames, jittered frame
times, a 5 s gap) is written to a temporary directory; ``actline label``'s application serves it on
uvicorn on loopback, and headless Chromium opens the page. Measured inside the page (performance.now):

- **open**: from choosing the recording to its first frame on the canvas (its metadata, its frame
  times and the first chunk of frames), every time from a cold start of the page;
- **page load**: from navigation to the first frame drawn (the page, its scripts, the data set list);
- **seek, cold**: from a seek to a random time to its frame on the canvas, with nothing in the page's cache;
- **seek, near**: a seek a few seconds on from the previous one (the chunk already fetched ahead);
- **playback**: 10 s (``--play-seconds``) played at 4x speed, counting the animation frames that found their frame missing (stalls).

The baseline beside it: reading the whole recording at once (``read_recording_h5``), what opening
it would cost without chunks, before any of it crossed the network.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' browser and server helpers, so that nothing is copied

from actline.apps.label import create_label_app  # noqa: E402
from actline.data.dataset import Recording  # noqa: E402
from actline.data.labels import LabelledSegment, write_labelled_dataset  # noqa: E402
from actline.data.thermal_h5 import read_recording_h5  # noqa: E402
from tests.apps.browser import chromium  # noqa: E402
from tests.apps.label.conftest import Server  # noqa: E402


def long_recording(minutes: float, fps: float, seed: int = 0) -> Recording:
    n = int(minutes * 60 * fps)
    rng = np.random.default_rng(seed)
    frames = np.empty((n, 40, 60), np.float32)
    floor = rng.normal(21.0, 0.3, (40, 60)).astype(np.float32)
    for i in range(n):
        frames[i] = floor
        y, x = int(18 + 14 * np.sin(i / 400)), int(28 + 24 * np.sin(i / 700))
        frames[i, y:y + 5, x:x + 4] += 7.5
    frames += rng.normal(0, 0.1, frames.shape).astype(np.float32)
    dt = np.full(n - 1, 1 / fps) * rng.uniform(0.8, 1.2, n - 1)
    dt[n // 3] = 5.0  # a gap
    ts = 1_700_000_000.0 + np.round(np.r_[0.0, np.cumsum(dt)], 3)
    return Recording(id="SL14_long", frames=frames, timestamps=ts, group="SL14")


OPEN = """const done = arguments[arguments.length - 1];
LP.app.open(arguments[0]).then((ms) => done(ms), (e) => done('error: ' + e.message));"""
SEEKS = """const [times, cold, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => { const out = [], p = LP.app.player;
  for (const t of times) {
    if (cold) { await new Promise((r) => setTimeout(r, 300)); p.source.cache.clear(); }  // nothing fetched ahead
    const t0 = performance.now(); await p.seek(t); out.push(performance.now() - t0); }
  return out; })().then(done, (e) => done('error: ' + e.message));"""
PLAY = """const done = arguments[arguments.length - 1], p = LP.app.player;
p.seek(arguments[0]).then(() => { p.stalls = 0; p.speed = 4; const shown = p.shown; p.play();
  setTimeout(() => { p.pause(); done([p.stalls, p.shown - shown]); }, arguments[1] * 1000); });"""


def measure(url: str, name: str, duration: float, seeks: int, play_s: float, rng) -> dict:
    browser = chromium()
    browser.set_script_timeout(120)
    try:
        out = {"open": [], "page load": []}
        for _ in range(3):
            t0 = time.perf_counter()
            browser.get(url)
            browser.execute_async_script("""const done = arguments[0];
                (function wait() { document.body.dataset.shownFrame ? done() : setTimeout(wait, 5); })();""")
            out["page load"].append((time.perf_counter() - t0) * 1000)
            out["open"].append(browser.execute_async_script(OPEN, name))
        cold = [float(t) for t in rng.uniform(0, duration, seeks)]
        out["seek, cold"] = browser.execute_async_script(SEEKS, cold, True)
        near = [float(t) for t in np.clip(cold[-1] + np.cumsum(rng.uniform(0.5, 3.0, seeks)), 0, duration)]
        out["seek, near"] = browser.execute_async_script(SEEKS, near, False)
        stalls, advanced = browser.execute_async_script(PLAY, duration / 4, play_s)
        for key, vals in out.items():
            if any(isinstance(v, str) for v in vals):
                raise SystemExit(f"{key}: {vals}")
        return {"times": out, "stalls": stalls, "played": advanced}
    finally:
        browser.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--seeks", type=int, default=40)
    ap.add_argument("--play-seconds", type=float, default=10.0)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        rec = long_recording(args.minutes, args.fps)
        data = write_labelled_dataset(Path(tmp) / "data", {rec.id: rec}, [LabelledSegment(rec.id, 10.0, 20.0, "walk")],
                                      ["idle", "walk", "fall"])
        t0 = time.perf_counter()
        read_recording_h5(data / "frames" / f"{rec.id}.h5")
        whole_ms = (time.perf_counter() - t0) * 1000
        server = Server(create_label_app(data))
        try:
            r = measure(server.url, rec.id, rec.duration_s, args.seeks, args.play_seconds, rng)
        finally:
            server.stop()
    print(f"\nlabel page, one 40x60 recording of {rec.n_frames:,} frames ({args.minutes:g} min at {args.fps:g} fps), "
          "headless Chromium, server on loopback\n")
    print(f"| {'measure':<38} | {'median ms':>9} | {'p90 ms':>8} | {'max ms':>8} | {'n':>3} |")
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 5}|")
    for key, vals in r["times"].items():
        vals = sorted(float(v) for v in vals)
        p90 = vals[min(len(vals) - 1, int(0.9 * len(vals)))]
        print(f"| {key:<38} | {statistics.median(vals):>9.0f} | {p90:>8.0f} | {vals[-1]:>8.0f} | {len(vals):>3} |")
    print(f"| {'baseline: read the whole recording':<38} | {whole_ms:>9.0f} | {'':>8} | {'':>8} | {1:>3} |")
    print(f"\nplayback at 4x for {args.play_seconds:g} s: {r['played']:,} frames of the recording went by, {r['stalls']} animation frames waited for data (stalls)")


if __name__ == "__main__":
    main()
