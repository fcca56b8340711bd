"""Scoring predicted timelines against ground truth (``actline score``)."""

from __future__ import annotations

from pathlib import Path

from actline.data.segments import load_labels, pair_timelines
from actline.metrics.segmentation import SegmentationScores


def score_timelines(pred: str | Path, gt: str | Path, fps: float, bg: tuple[str, ...] = (),
                    level: str = "label") -> SegmentationScores:
    """Frame accuracy, Edit, F1@{10,25,50} and IoU of each prediction (a file, or a directory matched to the
    ground truth's by name). Segment files are sampled at ``fps``; a segment prediction is sampled for as many
    frames as its ground truth has; frame-wise text is taken as it is."""
    scores = SegmentationScores()
    for p, g in pair_timelines(pred, gt):
        truth = load_labels(g, fps, level=level)
        n = len(truth) if p.suffix != ".txt" else None
        scores.add(p.name, load_labels(p, fps, n_frames=n, level=level), truth, bg=tuple(bg))
    return scores
