"""Fixtures of the streaming tests: a tiny real model and a recording to replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_model_and_recording(tmp_path_factory) -> tuple[Path, Path]:
    """A random-weight thermal_r2plus1d model directory (16x16 frames, 8-frame windows) and a 30 s recording."""
    import torch

    from actline.data.thermal_h5 import write_recording_h5
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    root = tmp_path_factory.mktemp("stream-model")
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": ["c0", "c1", "c2"],
           "window": {"length": 8, "mode": "index", "fps": 10.0, "background": "recording-median"},
           "preprocessing": {"frame_shape": [16, 16]}}
    model_dir = save_model_dir(root / "model", model, cfg)
    rng = np.random.default_rng(0)
    frames = (20 + rng.normal(0, 0.2, (300, 16, 16))).astype(np.float32)
    for i in range(300):  # a warm blob wandering about
        y, x = 4 + int(6 * abs(np.sin(i / 40))), 3 + (i // 10) % 10
        frames[i, y:y + 3, x:x + 3] += 5.0
    rec = write_recording_h5(root / "rec.h5", frames, 1_700_000_000_000 + np.arange(300) * 100, "rec")
    return model_dir, Path(rec)


@pytest.fixture(scope="session")
def small_onnx_model(small_model_and_recording, tmp_path_factory) -> Path:
    """The small model exported to ONNX: a stream subprocess starts in half a second, without torch."""
    from actline.apps.onnx_export import export_model

    model, _ = small_model_and_recording
    return Path(export_model(model, tmp_path_factory.mktemp("onnx") / "model.onnx")["path"])
