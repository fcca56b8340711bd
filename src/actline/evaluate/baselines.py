"""Baselines trained and scored on the same split as the model they sit beside.

- majority: always the training set's most frequent class;
- chance: uniformly random scores (averaged over draws);
- classical: what a practitioner would try first: statistics of background-subtracted frames
  (hottest pixel, mean, hot-pixel count, centroid, spread, elongation), summarised over the
  window (mean, std, min, max, slope), fed to logistic regression and gradient boosting with
  balanced class weights; the one with the better macro-F1 on an inner validation part of
  the training data is reported;
- nearest_in_time: where evaluation windows overlap training windows of the same recording,
  the label of the nearest training sample in time, using no pixels at all.
"""

from __future__ import annotations

import numpy as np

from actline.evaluate.classification import summary_metrics

HOT_C = 1.0  # a pixel this much above the floor counts as "hot"


def window_features(win: np.ndarray) -> np.ndarray:
    """[T, H, W] °C (sentinels filled) -> 1-D feature vector of per-frame statistics over time."""
    t, h, w = win.shape
    floor = np.median(win.reshape(t, -1), axis=1)[:, None, None]
    d = win - floor
    pos = np.clip(d, 0, None)
    mass = pos.sum(axis=(1, 2)) + 1e-6
    yy, xx = np.mgrid[0:h, 0:w]
    cy = (pos * yy).sum(axis=(1, 2)) / mass
    cx = (pos * xx).sum(axis=(1, 2)) / mass
    vy = (pos * (yy - cy[:, None, None]) ** 2).sum(axis=(1, 2)) / mass
    vx = (pos * (xx - cx[:, None, None]) ** 2).sum(axis=(1, 2)) / mass
    cxy = (pos * (yy - cy[:, None, None]) * (xx - cx[:, None, None])).sum(axis=(1, 2)) / mass
    tr, det = vy + vx, vy * vx - cxy ** 2
    disc = np.sqrt(np.clip(tr ** 2 / 4 - det, 0, None))
    major, minor = np.sqrt(np.clip(tr / 2 + disc, 0, None)), np.sqrt(np.clip(tr / 2 - disc, 0, None))
    hot = (d > HOT_C).sum(axis=(1, 2)).astype(float)
    speed = np.r_[0.0, np.hypot(np.diff(cy), np.diff(cx))]
    per_frame = np.stack([d.max(axis=(1, 2)), d.mean(axis=(1, 2)), hot, cy / h, cx / w, np.sqrt(tr),
                          major / (minor + 1e-3), speed, np.abs(np.diff(win, axis=0, prepend=win[:1])).mean(axis=(1, 2))],
                         axis=1)
    tt = np.arange(t) - (t - 1) / 2
    slope = (tt[:, None] * per_frame).sum(axis=0) / max((tt ** 2).sum(), 1e-6)
    return np.concatenate([per_frame.mean(0), per_frame.std(0), per_frame.min(0), per_frame.max(0), slope])


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
    """Fit both classical models; pick by inner-validation macro-F1; refit the winner on all training data."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    makers = {
        "logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(
            max_iter=3000, class_weight="balanced", C=1.0)),
        "gradient_boosting": lambda: HistGradientBoostingClassifier(
            class_weight="balanced", max_iter=200, learning_rate=0.1, random_state=seed),
    }
    scores = {}
    if len(set(inner_groups.tolist())) >= 2:
        tr, va = next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=seed).split(x_train, y_train, inner_groups))
        for name, make in makers.items():
            if len(np.unique(y_train[tr])) < 2:
                break
            m = make().fit(x_train[tr], y_train[tr])
            scores[name] = summary_metrics(y_train[va], classical_probs(m, x_train[va], n_classes))["macro_f1"]
    best = max(scores, key=scores.get) if scores else "logistic_regression"
    return best, makers[best]().fit(x_train, y_train), scores


def classical_probs(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    """[N, n_classes] probabilities; classes missing from the training part get 0."""
    out = np.zeros((len(x), n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


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
