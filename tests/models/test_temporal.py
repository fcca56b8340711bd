import numpy as np
import pytest
import torch

from actline.models import create_model
from actline.models.temporal import smoothing_loss
from actline.train.engine import EngineConfig
from actline.train.sequence import fit_sequences, pad_batch, step_accuracy


@pytest.mark.parametrize("name", ["temporal_mlp", "ms_tcn"])
def test_shapes_and_padding_does_not_leak(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_chans=12).eval()
    x = torch.randn(1, 30, 12)
    padded = torch.cat([x, torch.randn(1, 20, 12) * 5], dim=1)
    mask = torch.zeros(1, 50, dtype=torch.bool)
    mask[:, :30] = True
    with torch.no_grad():
        a = model(x)
        b = model(padded, mask)
    assert a.shape == (1, 30, 5) and b.shape == (1, 50, 5)
    assert torch.allclose(a, b[:, :30], atol=1e-5)


def test_smoothing_loss_penalises_flicker_only_inside_the_mask():
    steady = torch.zeros(1, 6, 3)
    steady[..., 0] = 5
    flicker = steady.clone()
    flicker[0, 3] = torch.tensor([0.0, 5.0, 0.0])
    m = torch.ones(1, 6, dtype=torch.bool)
    assert smoothing_loss(steady, m) == 0 and smoothing_loss(flicker, m) > 1
    m[0, 3:] = False
    assert smoothing_loss(flicker, m) == 0


def test_pad_batch_fixed_length_repeats_the_last_step_like_the_earlier_system():
    seqs = [(np.ones((3, 2), np.float32), np.array([1, 1, 1])), (np.zeros((9, 2), np.float32), np.zeros(9, int))]
    x, y, m = pad_batch(seqs, fixed_length=5, rng=np.random.default_rng(0))
    assert x.shape == (2, 5, 2) and bool(m.all()) and y[0].tolist() == [1] * 5
    x, y, m = pad_batch(seqs)
    assert x.shape == (2, 9, 2) and m[0].sum() == 3 and y[0, 3:].tolist() == [-1] * 6


def context_task_accuracies(seed: int) -> dict[str, float]:
    """Step accuracy (%) on held-out sequences of a task whose label is the sign of the feature 3 steps
    earlier (it needs temporal context), for the per-step MLP and a small MS-TCN; the epoch is chosen on
    a separate validation set."""
    rng = np.random.default_rng(seed)

    def make(n):
        out = []
        for _ in range(n):
            s = np.repeat(rng.choice([-1.0, 1.0], size=8), 6)
            x = np.stack([np.roll(s, -3), rng.normal(0, 0.1, len(s))], 1).astype(np.float32)
            out.append((x, (s > 0).astype(np.int64)))
        return out

    train, val, test = make(48), make(12), make(24)
    acc = {}
    for name in ("temporal_mlp", "ms_tcn"):
        torch.manual_seed(seed)
        model = create_model(name, num_classes=2, in_chans=2, **({"layers": 4, "channels": 16, "stages": 2,
                                                                   "input_dropout": 0.0} if name == "ms_tcn" else {}))
        engine = EngineConfig(epochs=25, lr=3e-3, weight_decay=1e-4, warmup_epochs=0, schedule="constant", patience=0,
                              device="cpu")
        acc[name] = step_accuracy(fit_sequences(model, train, val, engine, seed=seed, batch_size=8).model, test)
    return acc


def test_ms_tcn_learns_a_context_task_the_mlp_cannot(one_thread):
    acc = context_task_accuracies(0)
    # Measured (benchmarks/timeline_test_spread.py --only temporal; task seeds 0-7, OMP/torch threads 1 and 2,
    # identical under both): MS-TCN 99.9-100, MLP 71.4-77.1 (it can only guess where the sign changes: ~75
    # by construction), gap 22.9-28.6. The bounds sit ~5 and ~8 points inside what was seen.
    assert acc["ms_tcn"] > 95 and acc["ms_tcn"] > acc["temporal_mlp"] + 15, acc
