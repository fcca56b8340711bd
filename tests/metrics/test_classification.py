import numpy as np
import pytest

from actline.evaluate.baselines import majority_probs, nearest_in_time_probs
from actline.metrics.classification import bootstrap_ci, summary_metrics
from actline.models.window_stats import window_stats


def test_summary_metrics_by_hand():
    y = np.array([0, 0, 0, 1, 2])
    prob = np.eye(4)[[0, 0, 1, 1, 0]]
    m = summary_metrics(y, prob)
    assert m["top1"] == pytest.approx(60.0)
    assert m["mean_class_accuracy"] == pytest.approx(100 * (2 / 3 + 1 + 0) / 3)  # classes present in y only
    # F1: class0 p=2/3 r=2/3; class1 p=1/2 r=1; class2 0
    assert m["macro_f1"] == pytest.approx(100 * (2 / 3 + 2 / 3 + 0) / 3)
    assert m["top5"] == 100.0  # 4 classes: everything is in the top 5


def test_baselines():
    y_tr = np.array([1, 1, 1, 2, 0])
    p = majority_probs(y_tr, 3, 4)
    assert (p.argmax(1) == 1).all() and np.argsort(-p[0]).tolist() == [1, 0, 2, 3]  # ties: smaller id first
    near = nearest_in_time_probs([("r", 0.0, 0), ("r", 10.0, 2)], [("r", 2.0), ("r", 8.0), ("q", 1.0)], y_tr, 4)
    assert near.argmax(1).tolist() == [0, 2, 1]


def test_bootstrap_interval_contains_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    prob = np.eye(3)[np.where(rng.random(60) < 0.7, y, (y + 1) % 3)]
    ci = bootstrap_ci(y, prob, n_boot=200)
    est = summary_metrics(y, prob)
    for k, (lo, hi) in ci.items():
        assert lo <= est[k] <= hi and (hi - lo > 1 or k == "top5")


def test_window_stats_see_a_body():
    win = np.full((8, 20, 20), 20.0)
    win[:, 5:8, 5:8] += 6.0
    f = window_stats(win)
    assert np.isfinite(f).all()
    assert f[0] == pytest.approx(6.0)  # mean over time of the hottest pixel above the floor
