"""TimelinePipeline: one pipeline, two backends (PyTorch, ONNX Runtime), the input normalisation from config.json."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import actline
from actline.core.errors import ActlineError
from actline.data.video import write_video
from actline.features.backbone import build_backbone, rgb_normalisation
from actline.infer.timeline_pipeline import TimelinePipeline
from actline.models import create_model
from actline.train.timeline_fit import TimelineConfig, save_timeline_model


def test_torch_and_onnx_backends_give_the_same_segments(timeline_model, rgb, tmp_path, monkeypatch):
    """In float32 on both sides (the export is float32; a CPU with native bfloat16 would run the PyTorch
    backbone in it, within 0.3 % of these features)."""
    pytest.importorskip("onnxruntime")
    from actline.apps.onnx_export import export_model
    from actline.features import backbone as bbmod

    monkeypatch.setattr(bbmod, "native_bf16", lambda: False)

    export_model(timeline_model, tmp_path / "onnx")
    torch_pipe, onnx_pipe = actline.load(timeline_model), actline.load(tmp_path / "onnx")
    assert isinstance(torch_pipe, TimelinePipeline) and isinstance(onnx_pipe, TimelinePipeline)
    assert type(torch_pipe.backend).__name__ == "TorchTimelineBackend"
    assert type(onnx_pipe.backend).__name__ == "OnnxTimelineBackend"
    video = rgb / "long" / "video_01.mp4"
    want, got = torch_pipe.run(video), onnx_pipe.run(video)
    assert len(want) >= 2  # 6-9 segments in the 13 runs of benchmarks/timeline_test_spread.py
    assert [(s.label, s.fine, s.value_category) for s in got] == [(s.label, s.fine, s.value_category) for s in want]
    assert np.allclose([(s.start_s, s.end_s) for s in got], [(s.start_s, s.end_s) for s in want])
    assert np.allclose([s.confidence for s in got], [s.confidence for s in want], atol=1e-3)
    frames = torch_pipe.frame_labels(video, want)
    assert len(frames) == round(want[-1].end_s * torch_pipe.spec.fps) and set(frames) <= set(torch_pipe.classes)
    with pytest.raises(ActlineError, match="not an exported"):
        TimelinePipeline.load(timeline_model, backend="onnx")


def _rgb_model(path, mean, std):
    """A small timeline model whose RGB backbone normalises with ``mean``/``std`` (saved in config.json)."""
    bb = dataclasses.replace(build_backbone("thermal_r2plus1d", None), mean=mean, std=std)
    torch.manual_seed(0)
    stage1 = create_model("temporal_mlp", num_classes=2, in_chans=bb.dim)
    cfg = TimelineConfig(backbone="thermal_r2plus1d", weights=None, size=32, chunk=8, stride=8)
    registry = {c: {"fine_labels": [c], "model": None, "direct": c} for c in ("a", "b")}
    save_timeline_model(path, cfg, bb, stage1, ["a", "b"], registry, {}, {}, {}, {}, {})
    return bb


def test_the_input_normalisation_comes_from_the_model_config(tmp_path, monkeypatch):
    from actline.features import backbone as bbmod

    monkeypatch.setattr(bbmod, "native_bf16", lambda: False)  # compared with float32 arithmetic below
    rng = np.random.default_rng(0)
    video = write_video(tmp_path / "v.mp4", [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(24)],
                        fps=8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    bb = _rgb_model(tmp_path / "m", mean, std)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["features"]["mean"] == list(mean) and cfg["features"]["std"] == list(std)
    pipe = TimelinePipeline.load(tmp_path / "m")
    assert tuple(pipe.encoder.mean) == mean and tuple(pipe.encoder.std) == std
    feats = pipe.features(video)
    from actline.data.video import VideoSpec, video_chunks

    chunks = np.stack([c for _, _, c in video_chunks(video, VideoSpec(8, 32, 8, 8))])
    x = (torch.from_numpy(chunks).float() / 255 - torch.tensor(mean)) / torch.tensor(std)
    with torch.no_grad():
        want = bb.model.features(x.permute(0, 4, 1, 2, 3).contiguous()).numpy()
    assert np.allclose(feats.x, want, atol=1e-4)
    _rgb_model(tmp_path / "kinetics", *rgb_normalisation("thermal_r2plus1d"))  # other constants, other features
    other = TimelinePipeline.load(tmp_path / "kinetics")
    assert other.encoder.mean != pipe.encoder.mean and not np.allclose(other.features(video).x, feats.x, atol=1e-3)

    pytest.importorskip("onnxruntime")
    from actline.apps.onnx_export import export_model

    export_model(tmp_path / "m", tmp_path / "onnx")
    onnx_cfg = json.loads((tmp_path / "onnx" / "config.json").read_text())
    assert onnx_cfg["features"]["mean"] == list(mean) and onnx_cfg["features"]["std"] == list(std)
    onnx_pipe = actline.load(tmp_path / "onnx")
    assert list(onnx_pipe.encoder.mean) == list(mean)
    assert np.allclose(onnx_pipe.features(video).x, feats.x, atol=1e-4)
