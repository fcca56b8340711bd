"""The model contract: every classifier (torch, ONNX, trees, fusion) gives probabilities and features
for the same windows; the rare-class guard and fusion rule do what they say."""

import numpy as np
import pytest

import actline
from actline.cli import main
from actline.modeldir.parts.class_guard import RareClassGuard
from actline.modeldir.parts.fusion import FusionClassifier


class Fixed:
    """A stand-in classifier returning fixed probabilities."""

    def __init__(self, p, dim=3):
        self.p, self.num_classes, self.feature_dim = np.asarray(p, dtype=np.float64), len(p), dim

    def probs(self, windows, rooms=None):
        return np.repeat(self.p[None], len(windows), axis=0)

    def features(self, windows):
        return np.zeros((len(windows), self.feature_dim))


def test_rare_class_guard_scales_by_support_and_renormalises():
    factors = RareClassGuard.factors_for([100, 5, 0, 10], min_examples=10)
    assert factors == [1.0, 0.5, 0.0, 1.0]
    g = RareClassGuard(Fixed([0.2, 0.6, 0.1, 0.1]), factors)
    p = g.probs(np.zeros((2, 4, 4, 4)))[0]
    assert p.sum() == pytest.approx(1.0) and p[2] == 0.0
    assert p.argmax() == 1 and p[1] == pytest.approx(0.3 / 0.6)  # a class with 5 examples needs twice the evidence
    assert RareClassGuard.factors_for([3, 1], 0) == [1.0, 1.0]  # 0 turns the guard off


def test_decision_prior_weighs_classes_by_training_frequency():
    # counts 400:100 at power 0.5 give 1 : 0.5, on top of the rare-class factors
    assert RareClassGuard.factors_for([400, 100], 0, prior_power=0.5) == [1.0, 0.5]
    assert RareClassGuard.factors_for([400, 100, 30], 60, prior_power=0.5) == [1.0, 0.5, round(0.5 * (30 / 400) ** 0.5, 4)]
    assert RareClassGuard.factors_for([400, 0], 0, prior_power=1.0) == [1.0, 0.0]
    # a window the model calls 60:40 for the smaller class goes to the larger one once the prior applies
    p = RareClassGuard(Fixed([0.4, 0.6]), RareClassGuard.factors_for([400, 100], 0, 0.5)).probs(np.zeros((1, 2, 2, 2)))[0]
    assert p.argmax() == 0 and p.sum() == pytest.approx(1.0)


def test_fusion_is_a_weighted_geometric_mean():
    a, b = Fixed([0.8, 0.1, 0.1]), Fixed([0.2, 0.7, 0.1])
    p = FusionClassifier([a, b], [0.5, 0.5]).probs(np.zeros((1, 2, 2, 2)))[0]
    want = np.sqrt(a.p * b.p) / np.sqrt(a.p * b.p).sum()
    np.testing.assert_allclose(p, want, rtol=1e-6)
    only_a = FusionClassifier([a, b], [1.0, 0.0]).probs(np.zeros((1, 2, 2, 2)))[0]
    np.testing.assert_allclose(only_a, a.p, rtol=1e-6)
    assert FusionClassifier([a, b], [0.5, 0.5]).features(np.zeros((2, 1, 1, 1))).shape == (2, 6)


@pytest.mark.slow
def test_fusion_model_trains_exports_and_runs_on_every_backend(synth_dir, tmp_path):
    run = tmp_path / "run"
    main(["train", "--data", str(synth_dir), "--out", str(run), "--model", "fusion", "--quiet", "--set", "epochs=2",
          "--set", "window=16", "--set", "num_threads=1"])
    model = run / "model"
    assert sorted(p.name for p in model.iterdir()) == ["checksums.json", "config.json", "model.safetensors", "trees.onnx"]
    windows = np.random.default_rng(0).normal(21, 0.4, (3, 16, 40, 60)).astype(np.float32)
    torch_rec = actline.load(model)
    main(["export", str(model)])
    for other in (actline.load(model / "model.onnx"), actline.load(model, backend="onnx")):
        np.testing.assert_allclose(other.probs(windows), torch_rec.probs(windows), atol=1e-4)
    assert torch_rec.classifier.features(windows).shape[0] == 3
    (model / "trees.onnx").write_bytes(b"not onnx")
    with pytest.raises(actline.core.errors.ActlineError, match="checksum mismatch"):
        actline.load(model)
