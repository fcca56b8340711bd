"""From per-chunk class probabilities to labels: smoothing that any backend shares (NumPy and SciPy only).

Smoothing, in order (each step can be switched off):
1. a median filter over ``median`` steps of each class's probability (removes single-chunk flicker);
2. Viterbi decoding with a fixed cost per label change (``switch_penalty`` nats): the most probable
   label path that pays for every switch, so a change needs sustained evidence;
3. segments shorter than ``min_segment_s`` are merged into the neighbour whose class they resemble most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from actline.core.rle import runs
from actline.data.segments import step_bounds


@dataclass(frozen=True)
class Decoding:
    median: int = 3
    switch_penalty: float = 2.0
    min_segment_s: float = 2.0


def median_smooth(prob: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(prob) < 2:
        return prob
    p = median_filter(prob, size=(k, 1), mode="nearest")
    return p / np.clip(p.sum(1, keepdims=True), 1e-12, None)


def viterbi(prob: np.ndarray, switch_penalty: float) -> np.ndarray:
    """Most probable label path under a constant switch cost (written out: O(T·C), a few lines).

    Every transition to a different label costs the same, so the best predecessor of a label is
    either itself or the best label overall: no C x C matrix is needed.
    """
    t_len, _ = prob.shape
    if t_len == 0:
        return np.zeros(0, np.int64)
    logp = np.log(np.clip(prob, 1e-12, None))
    score = logp[0].copy()
    back = np.zeros(prob.shape, np.int64)
    for t in range(1, t_len):
        best = int(score.argmax())
        switch = score[best] - switch_penalty
        stay = score >= switch
        back[t] = np.where(stay, np.arange(len(score)), best)
        score = np.where(stay, score, switch) + logp[t]
    path = np.empty(t_len, np.int64)
    path[-1] = int(score.argmax())
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def merge_short(labels: np.ndarray, prob: np.ndarray, bounds: np.ndarray, min_s: float) -> np.ndarray:
    """Relabel the shortest segment under ``min_s`` to the neighbour its steps favour, until none is left."""
    labels = labels.copy()
    while True:
        rs = runs(labels)
        if len(rs) < 2:
            return labels
        dur = [bounds[e] - bounds[s] for s, e, _ in rs]
        i = int(np.argmin(dur))
        if dur[i] >= min_s:
            return labels
        s, e, _ = rs[i]
        cands = [rs[j][2] for j in (i - 1, i + 1) if 0 <= j < len(rs)]
        labels[s:e] = max(cands, key=lambda c: prob[s:e, c].sum())


def decode(prob: np.ndarray, times: np.ndarray, d: Decoding) -> np.ndarray:
    p = median_smooth(prob, d.median)
    labels = viterbi(p, d.switch_penalty) if d.switch_penalty > 0 else p.argmax(1)
    if d.min_segment_s > 0:
        labels = merge_short(labels, p, step_bounds(times), d.min_segment_s)
    return labels
