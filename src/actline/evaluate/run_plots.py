"""Figures of a training run: the confusion matrix and the learning curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.core.plotting import pyplot, save_figure


def plot_confusion(cm: np.ndarray, classes: list[str], path, title: str = "confusion matrix") -> None:
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


def plot_curves(histories: list[dict], path: Path) -> None:
    """Training loss and inner-validation scores per epoch, one line per trained member."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for h in histories:
        rows = h.get("history") or []
        if not rows:
            continue
        ep, who = [r["epoch"] for r in rows], f"{'fallback, ' if h.get('fallback') else ''}seed {h['seed']}"
        a.plot(ep, [r["train_loss"] for r in rows], label=f"train ({who})")
        if "val_loss" in rows[0]:
            a.plot(ep, [r["val_loss"] for r in rows], "--", label=f"inner val ({who})")
            b.plot(ep, [r["val_macro_f1"] for r in rows], label=f"macro-F1 ({who})")
            b.plot(ep, [r["val_mean_class_accuracy"] for r in rows], ":", label=f"mean class acc ({who})")
            b.axvline(h["best_epoch"], color="gray", lw=0.5)
    a.set_xlabel("epoch"), a.set_ylabel("loss")
    if a.lines:
        a.legend(fontsize=7)
    else:
        a.text(0.5, 0.5, "no epochs (a model without gradient training)", ha="center", va="center",
               transform=a.transAxes, fontsize=8)
    b.set_xlabel("epoch"), b.set_ylabel("% on inner validation")
    if b.lines:
        b.legend(fontsize=7)
    else:
        b.text(0.5, 0.5, "no inner validation\n(fixed schedule, last epoch)",
               ha="center", va="center", transform=b.transAxes, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
