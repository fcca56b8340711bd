"""Evaluation steps: a model's figures with intervals and per class, beside baselines scored on the same windows."""

from __future__ import annotations

import numpy as np

from actline.metrics.classification import (
    HEADLINE,
    bootstrap_ci,
    per_class,
    summary_metrics,
)


def _round(d: dict) -> dict:
    return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in d.items()}


def score(y: np.ndarray, prob: np.ndarray, classes: list[str], seed: int = 0) -> dict:
    """Headline figures (%), their 95% BCa intervals, per-class precision/recall/F1, and n."""
    return {**_round(summary_metrics(y, prob)), "n": int(len(y)), "ci95": bootstrap_ci(y, prob, seed=seed),
            "per_class": per_class(y, prob, classes)}


def evaluate_with_baselines(y: np.ndarray, prob: np.ndarray, classes: list[str], baselines: dict, seed: int = 0,
                            extra: dict | None = None) -> dict:
    """The model's figures beside each baseline's. ``baselines`` maps a name to ``[N, K]`` probabilities
    on the same windows, or to a dict of figures already computed (chance) with optional details."""
    out = score(y, prob, classes, seed)
    base = {}
    for name, b in baselines.items():
        if isinstance(b, dict):
            base[name] = _round(b)
        else:
            base[name] = _round(summary_metrics(y, b))
    out["baselines"] = base
    return {**out, **(extra or {})}


def headline(m: dict) -> dict:
    return {k: m[k] for k in (*HEADLINE, "n") if k in m}
