"""Rooms as the sensor sees them when nobody is there: their fingerprints, and how alike a data set's rooms are.

A room's **fingerprint** is its empty-room image (:meth:`Recording.empty_room
<actline.data.dataset.Recording.empty_room>`) minus its median, scaled to unit length; two rooms are as
alike as the cosine similarity of their fingerprints (1: the same image up to its temperature level).
Real 40x60 ceiling recordings measure, for each recording, a nearest recording of the same location at
0.78-0.98 and a nearest recording of another location at 0.57-0.96 (median 0.86): the sensor's own
pattern makes rooms alike. :func:`room_likeness` measures the same on any data set, so a synthetic preset
can be held against it (``actline data inspect`` prints it).
"""

from __future__ import annotations

import numpy as np

from actline.data.dataset import ClipDataset


def room_fingerprint(room) -> np.ndarray:
    """[..., H, W] empty-room image(s) -> [..., H*W] unit vectors (the room, its median temperature removed)."""
    b = np.asarray(room, dtype=np.float64)
    b = b.reshape(*b.shape[:-2], -1)
    b = b - np.median(b, axis=-1, keepdims=True)
    return (b / (np.linalg.norm(b, axis=-1, keepdims=True) + 1e-9)).astype(np.float32)


def room_likeness(ds: ClipDataset) -> dict | None:
    """For every recording, the fingerprint similarity of its nearest other recording of the same location and
    of its nearest recording of another location: ``{"same": [min, median, max], "other": [...]}``
    (None where a data set has a single location or a single recording)."""
    ids = sorted(ds.recordings)
    if len(ids) < 2 or len({ds.recordings[r].group for r in ids}) < 2:
        return None
    fp = room_fingerprint(np.stack([ds.recordings[r].empty_room() for r in ids]))
    loc = np.array([ds.recordings[r].group for r in ids])
    sim = fp @ fp.T
    same, other = [], []
    for i in range(len(ids)):
        mine = loc == loc[i]
        mine[i] = False
        if mine.any():
            same.append(float(sim[i, mine].max()))
        other.append(float(sim[i, loc != loc[i]].max()))

    def spread(v):
        return [round(float(np.min(v)), 2), round(float(np.median(v)), 2), round(float(np.max(v)), 2)] if v else None

    return {"same": spread(same), "other": spread(other), "recordings": len(ids),
            "locations": int(len(set(loc)))}
