"""Run-length encoding of a label sequence: the one helper behind segments, decoding and segment metrics."""

from __future__ import annotations

import numpy as np


def run_bounds(labels) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of equal values in a 1-D sequence; ``ends`` are exclusive."""
    y = np.asarray(labels)
    if len(y) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(y[1:] != y[:-1]) + 1
    return np.r_[0, change].astype(np.int64), np.r_[change, len(y)].astype(np.int64)


def runs(labels) -> list[tuple[int, int, object]]:
    """(start, end exclusive, value) of each run of equal values."""
    y = np.asarray(labels)
    starts, ends = run_bounds(y)
    return [(int(s), int(e), y[s].item()) for s, e in zip(starts, ends)]
