"""Clip classification metrics: top-1/top-5, mean class accuracy, macro-F1, per class, bootstrap CIs."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def _topk(y: np.ndarray, prob: np.ndarray, k: int) -> float:
    k = min(k, prob.shape[1])
    top = np.argsort(-prob, axis=1)[:, :k]
    return float((top == y[:, None]).any(axis=1).mean())


def summary_metrics(y: np.ndarray, prob: np.ndarray) -> dict:
    """The four headline figures in %: top1, top5, mean_class_accuracy, macro_f1.

    Mean class accuracy and macro-F1 average over the classes present in ``y`` (the evaluation set).
    """
    y = np.asarray(y)
    pred = prob.argmax(axis=1)
    present = np.unique(y)
    recalls = [float((pred[y == c] == c).mean()) for c in present]
    _, _, f1, _ = precision_recall_fscore_support(y, pred, labels=present, zero_division=0)
    return {"top1": 100 * float((pred == y).mean()), "top5": 100 * _topk(y, prob, 5),
            "mean_class_accuracy": 100 * float(np.mean(recalls)), "macro_f1": 100 * float(np.mean(f1))}


def bootstrap_ci(y: np.ndarray, prob: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """Percentile 95% intervals of the four figures, resampling evaluation windows with replacement."""
    rng = np.random.default_rng(seed)
    n = len(y)
    draws = {k: [] for k in ("top1", "top5", "mean_class_accuracy", "macro_f1")}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        m = summary_metrics(y[idx], prob[idx])
        for k, v in m.items():
            draws[k].append(v)
    return {k: [round(float(np.percentile(v, 2.5)), 2), round(float(np.percentile(v, 97.5)), 2)] for k, v in draws.items()}


def per_class(y: np.ndarray, prob: np.ndarray, classes: list[str]) -> dict:
    pred = prob.argmax(axis=1)
    labels = np.arange(len(classes))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    return {c: {"precision": round(100 * float(p[i]), 2), "recall": round(100 * float(r[i]), 2),
                "f1": round(100 * float(f[i]), 2), "support": int(s[i])} for i, c in enumerate(classes)}


def confusion(y: np.ndarray, prob: np.ndarray, n_classes: int) -> np.ndarray:
    return confusion_matrix(y, prob.argmax(axis=1), labels=np.arange(n_classes))


def plot_confusion(cm: np.ndarray, classes: list[str], path, title: str = "confusion matrix") -> None:
    from actline.plotting import pyplot, save_figure

    plt = pyplot()

    n = len(classes)
    fig, ax = plt.subplots(figsize=(2 + 0.45 * n, 1.5 + 0.45 * n))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    short = [c if len(c) <= 24 else c[:22] + "…" for c in classes]
    ax.set_xticks(range(n), short, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), short, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
