"""The simple ceiling baseline (``CONVENTIONS.md``): a person lying down covers more pixels and stays put.

Per frame: the warm blob is the pixels warmer than the floor (the frame's median) + ``warm_c``;
its area and centroid. An alert starts when, for ``hold_s`` seconds, the area stays above
``ratio`` times its running median over the last ``history_s`` seconds and the centroid stays
within ``still_px`` pixels of where it was ``hold_s`` ago; it re-arms when either stops holding.
No model, no training: what a rule on the raw frames reaches.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from actline.data.dataset import INVALID_BELOW_C


@dataclass
class BaselineConfig:
    warm_c: float = 1.0
    ratio: float = 1.6
    history_s: float = 30.0
    hold_s: float = 2.0
    still_px: float = 1.0


def baseline_alerts(frames: np.ndarray, times: np.ndarray, cfg: BaselineConfig | None = None) -> list[float]:
    """Alert start times (s) of the baseline over one recording."""
    cfg = cfg or BaselineConfig()
    x = np.asarray(frames, dtype=np.float32)
    valid = x > INVALID_BELOW_C
    floor = np.nanmedian(np.where(valid, x, np.nan).reshape(len(x), -1), axis=1)
    warm = valid & (x > (floor + cfg.warm_c)[:, None, None])
    area = warm.sum(axis=(1, 2)).astype(np.float64)
    yy, xx = np.mgrid[0:x.shape[1], 0:x.shape[2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cy, cx = (warm * yy).sum(axis=(1, 2)) / area, (warm * xx).sum(axis=(1, 2)) / area
    hist: deque = deque()
    alerts, since, armed = [], None, True
    for i, t in enumerate(times):
        while hist and hist[0][0] < t - cfg.history_s:
            hist.popleft()
        med = float(np.median([a for _, a in hist])) if hist else 0.0
        hist.append((t, area[i]))
        j = int(np.searchsorted(times, t - cfg.hold_s))
        big = area[i] > 0 and area[i] > cfg.ratio * med
        still = np.isfinite(cy[i]) and np.isfinite(cy[j]) and np.hypot(cy[i] - cy[j], cx[i] - cx[j]) <= cfg.still_px
        if big and still:
            since = t if since is None else since
            if armed and t - since >= cfg.hold_s:
                alerts.append(float(t))
                armed = False
        else:
            since, armed = None, True
    return alerts
