"""Sensors per CPU core for live streaming, PyTorch against ONNX Runtime, in one process.

Run: .venv/bin/python benchmarks/streaming.py [--model MODEL_DIR] [--sensors 24] [--seconds 60] [--fps 10] [--gate]

Without --model, a randomly initialised network shaped as the default recipe makes it for 40x60
sensors (thermal_r2plus1d_lite on 8-s windows resampled at 4 steps/s, raw temperatures) is saved and
exported to a temporary directory; ``--old-default`` measures the previous default instead
(thermal_r2plus1d on 64-frame windows, the recording's background subtracted).
``--sensors`` simulated sensors each send ``--fps`` frames a second for ``--seconds`` of sensor time,
as binary payloads, through :class:`StreamHub` exactly as MQTT intake feeds it (decoding, per-sensor
background, ring buffer, windows, the model every quarter window batched across the sensors due in
the same tick, smoothing, state). Sensors start at staggered times, as real ones do. One thread
(torch and ONNX Runtime). Reported per backend: CPU seconds per second of sensor time, and from it
the sensors one core keeps up with at that frame rate (CPU time grows linearly with sensors: the
model's batches and every per-frame step do); plus the same without the model (intake alone).

With ``--gate``, the same network again on ONNX Runtime with a room gate (raw windows; its trees on
window statistics and its shape trees fitted to random statistics, which costs the same as real ones; the
same network again as its static-heat fallback CNN), once with the sensors' own room as its training room
(the gate only compares) and once with another room (every run also computes the shape statistics, runs
the shape trees and the fallback CNN): what the gate costs a stream.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actline.apps.onnx_export import export_model, thermal_example
from actline.apps.stream.hub import StreamHub
from actline.apps.stream.payloads import encode_binary
from actline.infer import Recognizer
from actline.infer.stream_config import StreamConfig


def _default_model(tmp: Path, old: bool = False) -> Path:
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model
    from actline.train.config import LARGE_SENSOR_WINDOW

    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d" if old else "thermal_r2plus1d_lite", num_classes=14).eval()
    window = {"length": 64, "mode": "index", "fps": 10.0, "background": "recording-median"} if old else \
        dataclasses.asdict(LARGE_SENSOR_WINDOW)
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": [f"c{i}" for i in range(14)],
           "window": window,
           "preprocessing": {"frame_shape": [40, 60]}}
    return save_model_dir(tmp / "model", model, cfg)


def _gated(model_dir: Path, out: Path, room: np.ndarray) -> Path:
    """``model_dir``'s network on raw windows with a room gate whose one training room is ``room``."""
    from actline.data.rooms import room_fingerprint
    from actline.modeldir.directory import WEIGHTS, read_config, weights_writer, write_model_dir
    from actline.modeldir.parts.fallback import FALLBACK
    from actline.modeldir.parts.room_gate import SHAPE, rooms_writer
    from actline.modeldir.parts.trees import TREES
    from actline.modeldir.reader import load_model_dir
    from actline.models.window_stats import N_SHAPE, N_STATS, SHAPE_INPUT
    from actline.train.features_model import fit_estimator, to_onnx

    model, _ = load_model_dir(model_dir)
    cfg = {k: v for k, v in read_config(model_dir).items() if k not in ("format", "weights_sha256")}
    cfg["window"] = {**cfg["window"], "background": "none"}
    k = len(cfg["classes"])
    rng = np.random.default_rng(0)
    est = fit_estimator("gbm", rng.normal(0, 1, (20 * k, N_STATS)), np.arange(20 * k) % k)
    trees = to_onnx(est, k, {"pipeline": "clip-classifier", "classes": cfg["classes"], "arch": {"name": "features"},
                             "window": {**cfg["window"], "background": "recording-median"}})
    shape_est = fit_estimator("gbm", rng.normal(0, 1, (20 * k, N_SHAPE)), np.arange(20 * k) % k)
    shape = to_onnx(shape_est, k, {"pipeline": "clip-classifier", "classes": cfg["classes"], "arch": {"name": "features"},
                                   "window": {**cfg["window"], "background": "static-heat"}}, SHAPE_INPUT)
    cfg["room_gate"] = {"threshold": 0.3, "weights": [0.5, 0.5], "background": "recording-median", "rooms": 1,
                        "fallback": {"arch": cfg["arch"], "background": "static-heat"}, "shape": {"background": "static-heat"}}
    return write_model_dir(out, cfg, {WEIGHTS: weights_writer(model), TREES: lambda p: p.write_bytes(trees),
                                      "rooms.safetensors": rooms_writer(room_fingerprint(room[None])),
                                      FALLBACK: weights_writer(model), SHAPE: lambda p: p.write_bytes(shape)})


class NoModel:
    """The recognizer's window rule without the network: what intake costs by itself."""

    def __init__(self, r: Recognizer):
        self.r = r

    def __getattr__(self, name):
        return getattr(self.r, name)

    def probs(self, windows, rooms=None):
        return np.full((len(windows), len(self.r.classes)), 1 / len(self.r.classes), np.float32)


def simulate(recog, payloads: list[list[bytes]], fps: float) -> dict:
    """Feed every sensor's payloads tick by tick; CPU seconds, model runs and batch sizes."""
    hub = StreamHub(recog, StreamConfig(alerts={}))
    n_sensors, n = len(payloads), len(payloads[0])
    stagger = max(1, hub.cfg.every_frames or recog.rule.length // 4)
    cpu0 = time.process_time()
    for tick in range(n + stagger):
        items = [(f"S{k:03d}", payloads[k][tick - k % stagger]) for k in range(n_sensors)
                 if 0 <= tick - k % stagger < n]
        hub.process(items)
    cpu = time.process_time() - cpu0
    runs = sum(v["model_runs"] for v in hub.status()["sensors"].values())
    batches = sum(k * v for k, v in hub.batches.items()) / max(sum(hub.batches.values()), 1)
    return {"cpu_s": cpu, "sensor_seconds": n / fps, "runs": runs, "mean_batch": batches}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--sensors", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--gate", action="store_true", help="also the same network behind a room gate (see above)")
    ap.add_argument("--old-default", action="store_true", help="the previous default network and window (see above)")
    args = ap.parse_args()
    logging.getLogger("actline").setLevel(logging.ERROR)  # each simulated sensor's "new room" line is expected here
    torch.set_num_threads(1)  # one core
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or _default_model(Path(tmp), args.old_default)
        onnx_path = Path(tmp) / "model.onnx"
        export_model(model_dir, onnx_path)
        backends = {"PyTorch": Recognizer.load(model_dir), "ONNX Runtime": Recognizer.load(onnx_path, threads=1)}
        r0 = backends["PyTorch"]
        h, w = r0.frame_shape
        n = int(args.seconds * args.fps)
        base = thermal_example((1, 1, n + 200, h, w))[0, 0]
        payloads = [[encode_binary(f, i / args.fps) for i, f in enumerate(base[k % 200:k % 200 + n])]
                    for k in range(args.sensors)]
        if args.gate:  # the sensors' room (the frames' median) as the training room, then a room unlike it
            rooms = {"familiar room": np.median(base, axis=0),
                     "unfamiliar room, fallback CNN and shape trees every run": np.tile(np.linspace(15, 30, w, dtype=np.float32), (h, 1))}
            for what, room in rooms.items():
                gated = _gated(model_dir, Path(tmp) / what.split(",")[0].replace(" ", "-"), room)
                export_model(gated, gated.parent / f"{gated.name}.onnx")
                backends[f"ONNX Runtime, room gate, {what}"] = Recognizer.load(gated.parent / f"{gated.name}.onnx",
                                                                               threads=1)
        print(f"{args.sensors} sensors x {args.seconds:.0f} s at {args.fps:g} fps, {h}x{w} frames, "
              f"{r0.config['arch']['name']} on windows of {r0.rule.length} {r0.rule.mode} steps, background "
              f"{r0.background}, model every {r0.rule.length // 4} frames batched across sensors, 1 thread")
        print(f"| backend | CPU s per s of sensor time ({args.sensors} sensors) | sensors per core | model runs | "
              "mean batch |")
        print("|---|---:|---:|---:|---:|")
        results = {}
        for name, recog in [("intake alone (no model)", NoModel(r0)), *backends.items()]:
            simulate(recog, [p[:100] for p in payloads[:4]], args.fps)  # warm-up
            res = simulate(recog, payloads, args.fps)
            share = res["cpu_s"] / res["sensor_seconds"]
            results[name] = args.sensors / share
            print(f"| {name} | {share:.3f} | {results[name]:.0f} | {res['runs']} | {res['mean_batch']:.1f} |", flush=True)
        print(f"ONNX Runtime / PyTorch sensors per core: {results['ONNX Runtime'] / results['PyTorch']:.2f}")
        for name in (n for n in results if "room gate" in n):
            print(f"{name} / ONNX Runtime without it, sensors per core: {results[name] / results['ONNX Runtime']:.2f}")


if __name__ == "__main__":
    main()
