"""Baselines trained and scored on the same split as the model they sit beside.

- majority: always the training set's most frequent class;
- chance: uniformly random scores (averaged over draws);
- classical: what a practitioner would try first: statistics of background-subtracted frames
  (hottest pixel, mean, hot-pixel count, centroid, spread, elongation), summarised over the
  window (``actline.models.window_stats``), fed to logistic regression and gradient boosting with
  balanced class weights; the one with the better macro-F1 on an inner validation part of
  the training data is reported (and saved with the model, so ``actline evaluate`` scores it on
  new data beside the model);
- nearest_in_time: where evaluation windows overlap training windows of the same recording,
  the label of the nearest training sample in time, using no pixels at all.
"""

from __future__ import annotations

import numpy as np

from actline.metrics.classification import summary_metrics

CLASSICAL = ("logistic", "gbm")  # what a practitioner tries first, with balanced class weights

def majority_probs(y_train: np.ndarray, n_eval: int, n_classes: int) -> np.ndarray:
    prob = np.zeros((n_eval, n_classes))
    counts = np.bincount(y_train, minlength=n_classes)
    order = np.argsort(-counts, kind="stable")  # ranked by training frequency, for top-5 too
    prob[:, order] = np.linspace(1.0, 0.0, n_classes, endpoint=False)[None]
    return prob


def chance_metrics(y_eval: np.ndarray, n_classes: int, draws: int = 50, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ms = [summary_metrics(y_eval, rng.random((len(y_eval), n_classes))) for _ in range(draws)]
    return {k: float(np.mean([m[k] for m in ms])) for k in ms[0]}


def fit_classical(x_train: np.ndarray, y_train: np.ndarray, inner_groups: np.ndarray, n_classes: int, seed: int = 0):
    """Fit logistic regression and gradient boosting (balanced class weights) on window statistics; pick
    the better by macro-F1 on an inner validation part of the training data (whole groups); refit the
    winner on all training data. Returns (name, fitted estimator, inner scores)."""
    from sklearn.model_selection import GroupShuffleSplit

    from actline.train.features_model import estimator_probs, fit_estimator

    scores = {}
    if len(set(inner_groups.tolist())) >= 2:
        tr, va = next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=seed).split(x_train, y_train, inner_groups))
        for name in CLASSICAL:
            if len(np.unique(y_train[tr])) < 2:
                break
            m = fit_estimator(name, x_train[tr], y_train[tr], power=1.0, seed=seed)
            scores[name] = summary_metrics(y_train[va], estimator_probs(m, x_train[va], n_classes))["macro_f1"]
    best = max(scores, key=scores.get) if scores else "logistic"
    return best, fit_estimator(best, x_train, y_train, power=1.0, seed=seed), scores


def nearest_in_time_probs(train_times: list[tuple[str, float, int]], eval_times: list[tuple[str, float]],
                          y_train: np.ndarray, n_classes: int) -> np.ndarray:
    """Label of the nearest training sample in time within the same recording (majority elsewhere)."""
    by_rec: dict[str, list[tuple[float, int]]] = {}
    for rec, t, label in train_times:
        by_rec.setdefault(rec, []).append((t, label))
    fallback = majority_probs(y_train, 1, n_classes)[0]
    prob = np.zeros((len(eval_times), n_classes))
    for i, (rec, t) in enumerate(eval_times):
        cands = by_rec.get(rec)
        if not cands:
            prob[i] = fallback
            continue
        times = np.array([c[0] for c in cands])
        prob[i, cands[int(np.argmin(np.abs(times - t)))][1]] = 1.0
    return prob
