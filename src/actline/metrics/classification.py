"""Clip classification scores, NumPy only: top-1/top-5, mean class accuracy, macro-F1, per class.

Two mean class accuracies are reported, because figures get compared with other tools':
``mean_class_accuracy`` averages per-class recall over the classes present in the labels (balanced
accuracy); ``mean_class_accuracy_mmaction2`` averages over the union of the classes in the labels
and in the predictions, a predicted class absent from the labels counting 0, as MMAction2 (which
produced the earlier system's figures) does. Intervals are SciPy's BCa bootstrap over windows.
"""

from __future__ import annotations

import warnings

import numpy as np

HEADLINE = ("top1", "top5", "mean_class_accuracy", "macro_f1")


def _counts(y: np.ndarray, pred: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.bincount(y[pred == y], minlength=n).astype(float)
    support = np.bincount(y, minlength=n).astype(float)
    predicted = np.bincount(pred, minlength=n).astype(float)
    return tp, support, predicted


def summary_metrics(y: np.ndarray, prob: np.ndarray) -> dict:
    """The headline figures in %: top1, top5, mean_class_accuracy (+ the MMAction2 form), macro_f1.

    Mean class accuracy and macro-F1 average over the classes present in ``y`` (the evaluation set).
    """
    y = np.asarray(y, dtype=np.int64)
    prob = np.asarray(prob)
    n = max(prob.shape[1], int(y.max(initial=-1)) + 1)
    pred = prob.argmax(axis=1)
    tp, support, predicted = _counts(y, pred, n)
    present = support > 0
    recall = np.divide(tp, support, out=np.zeros(n), where=present)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=precision + recall > 0)
    union = present | (predicted > 0)
    k = min(5, prob.shape[1])
    top5 = (np.argsort(-prob, axis=1, kind="stable")[:, :k] == y[:, None]).any(axis=1).mean() if len(y) else 0.0
    return {"top1": 100 * float((pred == y).mean()) if len(y) else 0.0, "top5": 100 * float(top5),
            "mean_class_accuracy": 100 * float(recall[present].mean()) if present.any() else 0.0,
            "mean_class_accuracy_mmaction2": 100 * float(recall[union].mean()) if union.any() else 0.0,
            "macro_f1": 100 * float(f1[present].mean()) if present.any() else 0.0}


def bootstrap_ci(y: np.ndarray, prob: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """95% BCa intervals (SciPy's ``bootstrap``) of the headline figures, resampling evaluation windows."""
    from scipy.stats import bootstrap

    y, prob = np.asarray(y), np.asarray(prob)
    out = {}
    for key in HEADLINE:
        if len(y) < 3 or len(np.unique(y)) < 2:
            out[key] = [float("nan"), float("nan")]
            continue
        with warnings.catch_warnings():  # a degenerate resample distribution: handled below
            warnings.simplefilter("ignore")
            res = bootstrap((np.arange(len(y)),), lambda i, key=key: summary_metrics(y[i], prob[i])[key],
                            n_resamples=n_boot, vectorized=False, method="BCa", random_state=seed)
        lo, hi = res.confidence_interval
        m = summary_metrics(y, prob)[key]  # BCa is undefined when every resample agrees: fall back to the value
        out[key] = [round(float(lo if np.isfinite(lo) else m), 2), round(float(hi if np.isfinite(hi) else m), 2)]
    return out


def per_class(y: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict:
    y = np.asarray(y, dtype=np.int64)
    n = len(classes)
    tp, support, predicted = _counts(y, np.asarray(prob).argmax(axis=1), n)
    p = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    r = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros(n), where=p + r > 0)
    return {c: {"precision": round(100 * float(p[i]), 2), "recall": round(100 * float(r[i]), 2),
                "f1": round(100 * float(f[i]), 2), "support": int(support[i]), "predicted": int(predicted[i])}
            for i, c in enumerate(classes)}


def confusion(y: np.ndarray, prob: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(y, dtype=np.int64), np.asarray(prob).argmax(axis=1)), 1)
    return cm
