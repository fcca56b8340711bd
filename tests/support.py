"""Model directories built by hand for tests: a CNN on raw temperatures with a room gate."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np


def gated_model_dir(cnn_dir: Path, out: Path, rooms, threshold: float = 0.5, measure: str = "highpass-residual",
                    fallback: bool = True) -> Path:
    """``cnn_dir``'s network on raw windows behind a room gate whose known rooms are ``rooms`` ([R, H, W] empty
    rooms; or [R, H*W] fingerprints with ``measure="fingerprint"``), with trees fitted on noise and, if
    ``fallback``, the same weights as fallback CNN (which is enough to see it run)."""
    from actline.data.rooms import KnownRooms
    from actline.modeldir.directory import WEIGHTS, read_config, weights_writer, write_model_dir
    from actline.modeldir.parts.fallback import FALLBACK
    from actline.modeldir.parts.room_gate import rooms_writer
    from actline.modeldir.parts.trees import TREES
    from actline.modeldir.reader import load_model_dir
    from actline.models.window_stats import N_STATS
    from actline.train.features_model import fit_estimator, to_onnx

    model, _ = load_model_dir(cnn_dir)
    cfg = {k: v for k, v in read_config(cnn_dir).items() if k not in ("format", "weights_sha256")}
    cfg["window"] = {**cfg["window"], "background": "none"}
    k = len(cfg["classes"])
    rng = np.random.default_rng(0)
    est = fit_estimator("logistic", rng.normal(0, 1, (10 * k, N_STATS)), np.arange(10 * k) % k)
    trees = to_onnx(est, k, {"pipeline": "clip-classifier", "classes": cfg["classes"], "arch": {"name": "features"},
                             "window": {**cfg["window"], "background": "recording-median"}})
    known = KnownRooms(None, "fingerprint", rooms) if measure == "fingerprint" else KnownRooms(rooms, measure)
    cfg["room_gate"] = {"threshold": threshold, "measure": measure, "weights": [0.5, 0.5],
                        "background": "recording-median", "rooms": len(known)}
    files = {WEIGHTS: weights_writer(model), TREES: lambda p: p.write_bytes(trees), "rooms.safetensors": rooms_writer(known)}
    if fallback:
        cfg["room_gate"]["fallback"] = {"arch": cfg["arch"], "background": "static-heat"}
        files[FALLBACK] = weights_writer(model)
    return write_model_dir(out, cfg, files)


def stream_status(port: int) -> dict | None:
    """A running stream's ``/status`` on this machine, or None while it does not answer yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None
