"""Per-frame cost of live streaming on one CPU core, PyTorch against ONNX Runtime, in one process.

Run: .venv/bin/python benchmarks/streaming.py [--model runs/readme/by-recording-thermal_r2plus1d/model]
     [--frames 2000] [--every 4]

Without --model, a randomly initialised thermal_r2plus1d for 40x60 frames and 64-frame windows
(the default recipe's shape) is saved and exported to a temporary directory. Frames are pushed one
at a time with timestamps at 8.8 fps (the ThermalDataGen sensors' rate); the model runs every
--every frames, as `actline stream` does. Reported: mean and 99th-percentile cost per pushed frame,
and the share of the sensor's frame interval it uses.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actline.apps.export import export_model, thermal_example
from actline.apps.stream import StreamConfig, StreamingRecognizer
from actline.infer import Recognizer


def _default_model(tmp: Path) -> Path:
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=14).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": [f"c{i}" for i in range(14)],
           "window": {"length": 64, "mode": "index", "fps": 8.8, "background": "recording-median"},
           "preprocessing": {"frame_shape": [40, 60]}}
    return save_model_dir(tmp / "model", model, cfg)


def run(recog: Recognizer, frames: np.ndarray, every: int, fps: float) -> np.ndarray:
    sr = StreamingRecognizer(recog, StreamConfig(every_frames=every, alerts={}))
    costs = np.empty(len(frames))
    for i, f in enumerate(frames):
        t = time.perf_counter()
        sr.push(f, i / fps)
        costs[i] = time.perf_counter() - t
    return costs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--fps", type=float, default=8.8)
    args = ap.parse_args()
    torch.set_num_threads(1)  # one core, as on an edge device
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or _default_model(Path(tmp))
        onnx_path = Path(tmp) / "model.onnx"
        export_model(model_dir, onnx_path)
        backends = {"pytorch": Recognizer.load(model_dir), "onnxruntime": Recognizer.load(onnx_path, threads=1)}
        h, w = backends["pytorch"].frame_shape
        frames = thermal_example((1, 1, args.frames, h, w))[0, 0]
        interval_ms = 1000 / args.fps
        print(f"{args.frames} frames of {h}x{w} at {args.fps} fps (interval {interval_ms:.0f} ms), model every "
              f"{args.every} frames, window {backends['pytorch'].spec.length}, 1 thread")
        print(f"{'backend':<13}{'mean ms/frame':>15}{'p99 ms/frame':>14}{'share of interval':>19}")
        means = {}
        for name, r in backends.items():
            run(r, frames[:200], args.every, args.fps)  # warm-up
            c = run(r, frames, args.every, args.fps) * 1000
            means[name] = c.mean()
            print(f"{name:<13}{c.mean():>15.2f}{np.percentile(c, 99):>14.2f}{100 * c.mean() / interval_ms:>18.1f}%")
        print(f"ONNX Runtime / PyTorch mean cost: {means['onnxruntime'] / means['pytorch']:.2f}")


if __name__ == "__main__":
    main()
