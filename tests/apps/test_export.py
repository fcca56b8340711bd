"""ONNX export: metadata, parity checked before success, and an edge path that never imports torch."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from actline.apps.onnx_export import export_model, thermal_example
from actline.cli import main
from actline.core.errors import ActlineError
from actline.infer import Recognizer
from actline.modeldir.directory import save_model_dir
from actline.models import create_model

ort = pytest.importorskip("onnxruntime")
CLASSES = ["idle", "walk", "lying down-lying with risk"]


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(0)
    model = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": model.arch, "classes": CLASSES,
           "window": {"length": 16, "mode": "index", "fps": 10.0, "background": "recording-median"},
           "preprocessing": {"frame_shape": [40, 60]}, "metrics": {"top1": 50.0}}
    return save_model_dir(tmp_path / "model", model, cfg)


def test_export_embeds_config_and_matches_pytorch(model_dir, capsys):
    main(["export", str(model_dir), "--format", "onnx"])
    onnx_path = model_dir / "model.onnx"
    assert "largest probability difference" in capsys.readouterr().out
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    cfg = json.loads(meta["actline_config"])
    assert cfg["classes"] == CLASSES and cfg["window"]["background"] == "recording-median"
    assert sess.get_inputs()[0].shape[0] == "batch"  # dynamic batch axis
    torch_r, onnx_r = Recognizer.load(model_dir), Recognizer.load(onnx_path)
    frames = thermal_example((1, 1, 40, 40, 60), seed=3)[0, 0]
    for r in (torch_r, onnx_r):
        assert r.classes == CLASSES and r.background == "recording-median"
    a = torch_r.predict_batch([frames, frames[::-1]])
    b = onnx_r.predict_batch([frames, frames[::-1]])
    assert max(np.abs(x.probs - y.probs).max() for x, y in zip(a, b)) < 1e-4


def test_failed_parity_writes_nothing(model_dir, tmp_path):
    with pytest.raises(ActlineError, match="disagrees with PyTorch"):
        export_model(model_dir, tmp_path / "x.onnx", atol=-1.0)
    assert not (tmp_path / "x.onnx").exists() and not list(tmp_path.glob(".x.onnx*"))
    with pytest.raises(SystemExit):
        main(["export", str(model_dir), "--format", "tflite"])


def test_onnx_recognizer_and_streaming_import_no_torch(model_dir):
    export_model(model_dir)
    code = f"""
import sys
import numpy as np
from actline.infer.recognizer import Recognizer
from actline.apps.stream import StreamConfig, StreamingRecognizer
r = Recognizer.load({str(model_dir / "model.onnx")!r})
sr = StreamingRecognizer(r, StreamConfig(every_frames=4))
rng = np.random.default_rng(0)
events = []
for i in range(64):
    events += sr.push(rng.normal(21, 0.2, (40, 60)).astype(np.float32), i * 0.1)
assert sr.runs >= 10, sr.runs
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision")))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_stream_cli_replays_a_recording_with_the_onnx_model(model_dir, tmp_path, capsys):
    from actline.data.thermal_h5 import write_recording_h5

    export_model(model_dir)
    rng = np.random.default_rng(0)
    frames = rng.normal(21, 0.2, (80, 40, 60)).astype(np.float32)
    ts = (np.arange(80) * 100 + 1_700_000_000_000).astype(np.int64)
    ts[40:] += 30_000  # a 30 s gap: the stream must reset
    rec = write_recording_h5(tmp_path / "rec.h5", frames, ts, "S1")
    main(["stream", str(model_dir / "model.onnx"), "--replay", str(rec), "--speed", "0",
          "--events", str(tmp_path / "ev.jsonl"), "--collect", str(tmp_path / "col"), "--every", "4"])
    text = capsys.readouterr().out
    assert "80 frames" in text and "reset" in text
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert "reset" in kinds
