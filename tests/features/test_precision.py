"""A video backbone's precision: float32 by default, bfloat16 when asked (or with ``auto``, where the CPU computes it
natively); features within a fraction of a percent of float32, cached apart from them, never for thermal encoders."""

import numpy as np
import pytest

from actline.core.errors import ActlineError
from actline.data.video import VideoSpec, write_video
from actline.features import backbone as bbmod
from actline.features.backbone import build_backbone
from actline.features.cache import FeatureCache, extract
from actline.train.timeline_fit import TimelineConfig

SPEC = VideoSpec(fps=8, size=32, chunk=8, stride=8)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("v") / "v.mp4"
    return write_video(path, [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(40)], fps=10)


def test_bf16_features_are_close_to_fp32_and_cached_apart(video, tmp_path):
    fp32, bf16 = build_backbone("r3d_18", None, precision="fp32"), build_backbone("r3d_18", None, precision="bf16")
    assert (fp32.effective_precision, bf16.effective_precision) == ("fp32", "bf16")
    a, b = extract(video, fp32, SPEC).x, extract(video, bf16, SPEC).x
    rel = np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)
    assert rel.max() < 0.02, rel  # bfloat16 keeps 8 bits of mantissa: measured 0.2-0.3 % on 16x112x112 chunks
    cache = FeatureCache(tmp_path)
    assert cache.key(video, fp32, SPEC) != cache.key(video, bf16, SPEC)
    assert bf16.config()["precision"] == "bf16"


def test_float32_by_default_and_auto_follows_the_cpu(monkeypatch):
    bb = build_backbone("thermal_r2plus1d", None)  # an RGB backbone with random weights
    assert bb.precision == "fp32" and bb.effective_precision == "fp32"
    assert TimelineConfig().precision == "fp32"
    bb.precision = "auto"
    monkeypatch.setattr(bbmod, "native_bf16", lambda: False)
    assert bb.effective_precision == "fp32"
    monkeypatch.setattr(bbmod, "native_bf16", lambda: True)
    assert bb.effective_precision == "bf16"


def test_fp32_cache_keys_are_those_of_before(video, tmp_path, monkeypatch):
    """A cache filled in float32 stays valid: the key gains a precision only for bfloat16."""
    monkeypatch.setattr(bbmod, "native_bf16", lambda: False)
    bb = build_backbone("thermal_r2plus1d", None, precision="auto")
    key = FeatureCache(tmp_path).key(video, bb, SPEC)
    bb.precision = "fp32"
    assert FeatureCache(tmp_path).key(video, bb, SPEC) == key


def test_thermal_encoders_stay_float32(tmp_path):
    from actline.modeldir.directory import save_model_dir
    from actline.models import create_model

    net = create_model("thermal_r2plus1d", num_classes=3).eval()
    cfg = {"pipeline": "clip-classifier", "arch": net.arch, "classes": ["a", "b", "c"],
           "window": {"length": 8, "mode": "index", "fps": 10.0, "background": "none"},
           "preprocessing": {"frame_shape": [16, 16]}}
    model = save_model_dir(tmp_path / "m", net, cfg)
    enc = build_backbone(str(model), None, precision="bf16")
    assert enc.kind == "thermal" and enc.effective_precision == "fp32"
    x = np.random.default_rng(0).normal(20, 1, (2, 8, 16, 16)).astype(np.float32)
    assert enc(x).shape == (2, enc.dim) and enc(x).dtype == np.float32


def test_a_bad_precision_is_refused_in_one_line():
    with pytest.raises(ActlineError, match="precision: must be one of auto, fp32, bf16, got 'fp16'"):
        build_backbone("thermal_r2plus1d", None, precision="fp16")
    with pytest.raises(ActlineError, match="precision must be auto, fp32 or bf16"):
        TimelineConfig(precision="half").validate()
