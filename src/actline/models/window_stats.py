"""Window statistics: what a practitioner computes first from a thermal window, as one feature vector.

Per frame, from the frame minus its floor (median): the hottest pixel, the mean, the count of
pixels warmer than the floor by ``HOT_C``, the warm mass's centroid, spread and elongation, its
speed and the mean absolute frame difference; summarised over the window by mean, standard
deviation, minimum, maximum and slope. NumPy only: the classical baseline and the ``features``
model use exactly this, in training and at the edge.
"""

from __future__ import annotations

import numpy as np

HOT_C = 1.0  # a pixel this much above the floor counts as "hot"


def window_stats(win: np.ndarray) -> np.ndarray:
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


N_STATS = 45  # 9 per-frame statistics x 5 summaries
