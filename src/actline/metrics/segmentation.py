"""Timeline metrics as the field computes them: frame accuracy, segmental Edit, F1@{10,25,50}.

Matches the ``eval.py`` of MS-TCN (Farha & Gall, CVPR 2019) value for value, including its
conventions: a segment's end is the index where the next segment starts (the last segment
ends at the last frame's index), background classes are left out of segments, F1 counts a
predicted segment as a true positive when its best-overlapping ground-truth segment of the
same label (first on ties) reaches the IoU threshold and was not matched before.
Aggregation: accuracy over all frames; F1 from tp, fp, fn summed over videos; Edit as the mean
of per-video scores. Vectorised with numpy so thousands of long videos score in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from actline.core.errors import ActlineError
from actline.core.rle import run_bounds

OVERLAPS = (0.10, 0.25, 0.50)


def segments(labels, bg=()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, starts, ends) of the runs of a frame-wise sequence, background runs dropped."""
    y = np.asarray(labels)
    if len(y) == 0:
        return y[:0], np.zeros(0, int), np.zeros(0, int)
    starts, ends = run_bounds(y)
    ends[-1] = len(y) - 1  # the reference's convention for the last segment
    labs = y[starts]
    if len(bg):
        keep = ~np.isin(labs, np.asarray(list(bg), dtype=labs.dtype if labs.dtype.kind in "US" else object))
        labs, starts, ends = labs[keep], starts[keep], ends[keep]
    return labs, starts, ends


def levenshtein(p, y) -> int:
    """Edit distance between two label sequences; one numpy pass per row of the table."""
    p, y = list(p), list(y)
    m, n = len(p), len(y)
    if m == 0 or n == 0:
        return max(m, n)
    codes = {v: i for i, v in enumerate(dict.fromkeys(p + y))}
    pc = np.array([codes[v] for v in p])
    yc = np.array([codes[v] for v in y])
    idx = np.arange(n + 1)
    prev = idx.astype(np.int64)
    for i in range(1, m + 1):
        a = np.empty(n + 1, dtype=np.int64)
        a[0] = i
        a[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (yc != pc[i - 1]))
        # row[j] = min(a[j], row[j-1] + 1) == min_k<=j (a[k] + j - k)
        prev = np.minimum.accumulate(a - idx) + idx
    return int(prev[-1])


def edit_score(pred, gt, bg=()) -> float:
    p, _, _ = segments(pred, bg)
    y, _, _ = segments(gt, bg)
    if len(p) == 0 and len(y) == 0:
        return 100.0
    return (1 - levenshtein(p, y) / max(len(p), len(y))) * 100


def f_counts(pred, gt, overlap: float, bg=()) -> tuple[int, int, int]:
    """(tp, fp, fn) of predicted segments against ground-truth segments at an IoU threshold."""
    pl, ps, pe = segments(pred, bg)
    yl, ys, ye = segments(gt, bg)
    if len(pl) == 0 or len(yl) == 0:
        return 0, len(pl), len(yl)
    inter = np.minimum(pe[:, None], ye[None]) - np.maximum(ps[:, None], ys[None])
    union = np.maximum(pe[:, None], ye[None]) - np.minimum(ps[:, None], ys[None])
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union == 0, 1, union), 0.0) * (pl[:, None] == yl[None])
    best = iou.argmax(axis=1)
    ok = iou[np.arange(len(pl)), best] >= overlap
    tp = len(np.unique(best[ok]))  # a ground-truth segment counts once; later claimants are false positives
    return tp, len(pl) - tp, len(yl) - tp


def f1_from(tp: float, fp: float, fn: float) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 200 * precision * recall / (precision + recall) if precision + recall else 0.0


def mean_iou(pred, gt, bg=()) -> float:
    """Mean IoU (in %) of each ground-truth segment with its best same-label predicted segment."""
    pl, ps, pe = segments(pred, bg)
    yl, ys, ye = segments(gt, bg)
    if len(yl) == 0:
        return 100.0 if len(pl) == 0 else 0.0
    if len(pl) == 0:
        return 0.0
    inter = np.clip(np.minimum(pe[None], ye[:, None]) - np.maximum(ps[None], ys[:, None]), 0, None)
    union = np.maximum(pe[None], ye[:, None]) - np.minimum(ps[None], ys[:, None])
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0) * (yl[:, None] == pl[None])
    return float(iou.max(axis=1).mean() * 100)


@dataclass
class SegmentationScores:
    """Per-video values and the reference's aggregates."""

    per_video: dict = field(default_factory=dict)
    correct: int = 0
    total: int = 0
    correct_fg: int = 0
    total_fg: int = 0
    counts: dict = field(default_factory=lambda: {o: np.zeros(3) for o in OVERLAPS})

    def add(self, name: str, pred, gt, bg=(), overlaps=OVERLAPS) -> dict:
        pred, gt = np.asarray(pred), np.asarray(gt)
        if len(gt) == 0:
            raise ActlineError(name, "ground truth is empty (0 frames)")
        if len(pred) != len(gt):
            raise ActlineError(name, f"prediction has {len(pred)} frames but ground truth has {len(gt)}")
        row = {}
        keep = ~np.isin(gt, list(bg)) if len(bg) else np.ones(len(gt), bool)
        correct = int((pred == gt).sum())
        self.correct += correct
        self.total += len(gt)
        row["acc"] = 100.0 * correct / len(gt)
        row["acc_fg"] = 100.0 * float((pred[keep] == gt[keep]).mean()) if keep.any() else float("nan")
        self.correct_fg += int((pred[keep] == gt[keep]).sum())
        self.total_fg += int(keep.sum())
        row["edit"] = edit_score(pred, gt, bg)
        row["mean_iou"] = mean_iou(pred, gt, bg)
        for o in overlaps:
            tp, fp, fn = f_counts(pred, gt, o, bg)
            self.counts.setdefault(o, np.zeros(3))
            self.counts[o] += (tp, fp, fn)
            row[f"f1@{o:g}"] = f1_from(tp, fp, fn)
            row[f"tp_fp_fn@{o:g}"] = [float(tp), float(fp), float(fn)]
        self.per_video[name] = row
        return row

    def aggregate(self) -> dict:
        if not self.per_video:
            raise ActlineError(None, "nothing to score (no videos)")
        out = {"acc": 100.0 * self.correct / self.total,
               "acc_fg": 100.0 * self.correct_fg / self.total_fg if self.total_fg else float("nan"),
               "edit_mean": float(np.mean([r["edit"] for r in self.per_video.values()])),
               "mean_iou": float(np.mean([r["mean_iou"] for r in self.per_video.values()])),
               "n_videos": len(self.per_video), "n_frames": self.total}
        for o, (tp, fp, fn) in self.counts.items():
            out[f"f1@{o:g}"] = float(f1_from(tp, fp, fn))
            out[f"tp_fp_fn@{o:g}"] = [float(tp), float(fp), float(fn)]
        return out
