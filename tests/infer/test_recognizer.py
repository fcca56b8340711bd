import json

import numpy as np
import pytest
import torch

from actline.core.errors import ActlineError
from actline.core.hashing import sha256_file
from actline.infer import Recognizer
from actline.modeldir.directory import save_model_dir
from actline.modeldir.reader import load_model_dir
from actline.models import create_model

CLASSES = ["a", "b", "c"]


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3)
    model.eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": CLASSES,
           "window": {"length": 16, "mode": "index", "fps": 10.0},
           "preprocessing": {"frame_shape": [16, 16]}}
    return save_model_dir(tmp_path / "model", model, cfg), model


def test_checkpoint_round_trip(model_dir):
    path, model = model_dir
    loaded, cfg = load_model_dir(path)
    x = torch.randn(2, 1, 16, 16, 16) + 20
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert cfg["classes"] == CLASSES and len(cfg["weights_sha256"]) == 64
    assert sorted(p.name for p in path.iterdir()) == ["checksums.json", "config.json", "model.safetensors"]


def test_corrupt_or_foreign_model_dirs_are_refused(model_dir, tmp_path):
    path, _ = model_dir
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ActlineError, match="checksum mismatch"):
        load_model_dir(path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["pipeline"] = "timeline"
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ActlineError, match="config.json: checksum mismatch"):  # edited after saving
        Recognizer.load(path)
    sums = json.loads((path / "checksums.json").read_text())
    (path / "checksums.json").write_text(json.dumps({**sums, "config.json": sha256_file(path / "config.json")}))
    with pytest.raises(ActlineError, match="not a 'clip-classifier' model"):
        Recognizer.load(path)
    with pytest.raises(ActlineError, match="not a model directory"):
        load_model_dir(tmp_path)


def test_predict_single_and_batch(model_dir):
    path, _ = model_dir
    rec = Recognizer.load(path)
    frames = np.random.default_rng(0).normal(21, 0.3, size=(40, 16, 16)).astype(np.float32)
    frames[5, 3] = -273.2  # sentinel row: filled, not an error
    p = rec.predict(frames)
    assert p.label in CLASSES and 0 < p.confidence <= 1 and len(p.topk) == 3
    assert abs(sum(v for _, v in p.topk) - 1) < 1e-4
    assert [c for c, _ in p.topk][0] == p.label
    batch = rec.predict_batch([frames, frames[:16]])
    assert batch[0].label == p.label and len(batch) == 2


def test_bad_inputs_give_clear_errors(model_dir):
    path, _ = model_dir
    rec = Recognizer.load(path)
    good = np.full((16, 16, 16), 21.0, np.float32)
    with pytest.raises(ActlineError, match=r"expected \[T, H, W\] frames, got shape \(16, 16\)"):
        rec.predict(good[0])
    with pytest.raises(ActlineError, match="model expects 16x16 frames, got 40x60"):
        rec.predict(np.zeros((16, 40, 60), np.float32))
    bad = good.copy()
    bad[3, 3, 3] = np.nan
    with pytest.raises(ActlineError, match="NaN or inf"):
        rec.predict(bad)
    with pytest.raises(ActlineError, match="too few frames: the model needs 16, got 8"):
        rec.predict(good[:8])
    with pytest.raises(ActlineError, match=r"frames\[1\]"):
        rec.predict_batch([good, good[:3]])
