"""Window statistics: what a practitioner computes first from a thermal window, as one feature vector.

Two kinds, each named by the input it gives an ONNX tree model (:data:`STATISTICS`):

- :func:`window_stats` (``window-statistics/1``): per frame, from the frame minus its floor (median), the
  hottest pixel, the mean, the count of pixels warmer than the floor by ``HOT_C``, the warm mass's
  centroid, spread and elongation, its speed and the mean absolute frame difference. NumPy only: the
  classical baseline and the ``features`` model use exactly this, in training and at the edge.
- :func:`shape_stats` (``window-shape/1``): the person's shape and nothing about where they are; the
  room gate's shape trees read it in rooms it does not know (docs/design-notes.md).

Both summarise their per-frame values over the window by mean, standard deviation, minimum, maximum
and slope.
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
    return _summarise(per_frame)


def _summarise(per_frame: np.ndarray) -> np.ndarray:
    """[T, F] per-frame values -> [5 F]: their mean, standard deviation, minimum, maximum and slope over time."""
    t = len(per_frame)
    tt = np.arange(t) - (t - 1) / 2
    slope = (tt[:, None] * per_frame).sum(axis=0) / max((tt ** 2).sum(), 1e-6)
    return np.concatenate([per_frame.mean(0), per_frame.std(0), per_frame.min(0), per_frame.max(0), slope])


N_STATS = 45  # 9 per-frame statistics x 5 summaries

WARM_C = (2.0, 16.0)  # a pixel this much above its frame's floor can be a person (warmer: a lamp, a heater)


def shape_stats(win: np.ndarray) -> np.ndarray:
    """[T, H, W] °C (sentinels filled) -> [N_SHAPE]: the shape of the largest warm region, frame by frame.

    Per frame, the largest 4-connected region of pixels ``WARM_C`` above the frame's floor (median): its
    area in pixels, the square roots of the eigenvalues of its pixels' coordinate covariance (the long and
    the short axis), their ratio, and its largest and mean excess over the floor (all 0 in a frame with no
    such region); then the frame's mean absolute difference from the one before (0 for the first). Where
    the region is, and so the room's layout, plays no part. One labelling for the whole window: regions
    never join across frames.
    """
    from scipy import ndimage

    t, h, w = win.shape
    d = (win - np.median(win.reshape(t, -1), axis=1)[:, None, None]).astype(np.float64)
    warm = (d > WARM_C[0]) & (d < WARM_C[1])
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    lab, n = ndimage.label(warm, structure=in_plane)
    per_frame = np.zeros((t, 6))
    if n:
        lab_flat = lab.ravel()
        size = np.bincount(lab_flat, minlength=n + 1)
        size[0] = 0
        frame_of = np.zeros(n + 1, np.int64)
        frame_of[lab_flat] = np.arange(lab_flat.size) // (h * w)
        # each frame's largest region (the first in raster order on a tie): by frame, then size down
        order = np.lexsort((np.arange(n + 1), -size, frame_of))
        first = order[np.r_[True, frame_of[order][1:] != frame_of[order][:-1]]]
        is_best = np.zeros(n + 1, bool)
        is_best[first[size[first] > 0]] = True
        at = np.flatnonzero(is_best[lab_flat])  # the chosen regions' pixels only, from here on
        f, yx = np.divmod(at, h * w)
        y, x = np.divmod(yx, w)
        y, x, v = y.astype(float), x.astype(float), d.ravel()[at]
        k = np.bincount(f, minlength=t).astype(float)
        has = k > 0
        sums = {name: np.bincount(f, weights=val, minlength=t)[has]
                for name, val in (("y", y), ("x", x), ("yy", y * y), ("xx", x * x), ("xy", y * x), ("v", v))}
        k = k[has]
        cov = [(sums[a + b] - sums[a] * sums[b] / k) / np.maximum(k - 1, 1) for a, b in ("yy", "xx", "xy")]
        few = k <= 2  # too few pixels for a covariance: a small round spot
        cyy, cxx, cxy = np.where(few, 0.1, cov[0]), np.where(few, 0.1, cov[1]), np.where(few, 0.0, cov[2])
        half = np.sqrt((cyy - cxx) ** 2 / 4 + cxy ** 2)
        major, minor = (cyy + cxx) / 2 + half, (cyy + cxx) / 2 - half
        peak = np.full(t, -np.inf)
        np.maximum.at(peak, f, v)
        per_frame[has] = np.stack([k, np.sqrt(np.maximum(major, 0)), np.sqrt(np.maximum(minor, 0)),
                                   np.sqrt(np.maximum(major, 1e-3) / np.maximum(minor, 1e-3)),
                                   peak[has], sums["v"] / k], axis=1)
    change = np.r_[0.0, np.abs(np.diff(win, axis=0)).mean(axis=(1, 2))] if t > 1 else np.zeros(t)
    return _summarise(np.concatenate([per_frame, change[:, None]], axis=1))


N_SHAPE = 35  # 7 per-frame values x 5 summaries

WINDOW_STATS_INPUT = "window-statistics/1"  # an ONNX tree model's input is window_stats(window), not the window
SHAPE_INPUT = "window-shape/1"  # ... or shape_stats(window)
STATISTICS = {WINDOW_STATS_INPUT: (window_stats, N_STATS), SHAPE_INPUT: (shape_stats, N_SHAPE)}


def statistics_of(windows: np.ndarray, kind: str = WINDOW_STATS_INPUT) -> np.ndarray:
    """[N, T, H, W] -> [N, D] float32 statistics of ``kind`` (a key of :data:`STATISTICS`)."""
    fn, dim = STATISTICS[kind]
    return np.stack([fn(w) for w in windows]).astype(np.float32) if len(windows) else np.zeros((0, dim), np.float32)
