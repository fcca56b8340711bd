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


# ----------------------------------------------------------------------------- rooms a model knows
MEASURES = ("highpass-residual", "fingerprint")
DEFAULT_MEASURE = "highpass-residual"
NEW_ROOM_BELOW = 0.5  # highpass-residual similarity under which a room is new (chosen on tuning sets only)
HIGHPASS_SIGMA = 2.0  # pixels: what varies more slowly than this is the sensor's optics, not the room


def room_signature(room, measure: str = DEFAULT_MEASURE) -> np.ndarray:
    """[..., H, W] empty-room image(s) -> [..., H*W] unit vectors that a measure compares.

    ``fingerprint``: the room minus its median (:func:`room_fingerprint`); alike rooms seen by one kind of
    sensor score high whatever they hold, because the sensor's own pattern dominates. ``highpass-residual``:
    the room minus a blurred copy of itself (σ = 2 px), so what remains are its edges: furniture, hot objects,
    the floor's own pattern, and not the optics' smooth fall-off."""
    b = np.asarray(room, dtype=np.float32)
    if measure == "highpass-residual":
        from scipy import ndimage

        sigma = (0,) * (b.ndim - 2) + (HIGHPASS_SIGMA, HIGHPASS_SIGMA)
        b = b - ndimage.gaussian_filter(b, sigma, mode="nearest")
    elif measure != "fingerprint":
        raise ValueError(f"unknown room measure {measure!r} (known: {', '.join(MEASURES)})")
    return room_fingerprint(b)


class KnownRooms:
    """The rooms a model was trained (or calibrated) in, and how alike a room is to the nearest of them.

    With ``highpass-residual`` (the default), the signatures (:func:`room_signature`) have their mean over the
    known rooms removed before they are compared (with three rooms or more): what every known room shares is
    the sensor's own pattern, not the room. On the realistic preset's tuning sets a held-out recording of a
    known room scores 0.70 or more in 90 % of cases, a recording of a new room 0.31 or less in 90 %; a room
    is new below 0.5. ``fingerprint`` is the measure of models made before 0.6 (its threshold was 0.3)."""

    def __init__(self, images=None, measure: str = DEFAULT_MEASURE, signatures=None):
        self.measure = measure
        self.images = None if images is None else np.asarray(images, dtype=np.float32)
        sig = room_signature(self.images, measure) if signatures is None else np.asarray(signatures, np.float32)
        if sig.ndim != 2 or not len(sig):
            raise ValueError(f"known rooms must be [rooms, pixels], got {sig.shape}")
        self.common = sig.mean(0) if measure == "highpass-residual" and len(sig) >= 3 else np.zeros(sig.shape[1], np.float32)
        self.signatures = _unit(sig - self.common)

    def __len__(self) -> int:
        return len(self.signatures)

    @property
    def pixels(self) -> int:
        return self.signatures.shape[1]

    def similarity(self, room) -> np.ndarray:
        """[..., H, W] empty-room image(s) -> similarity to the nearest known room (1: a known room itself)."""
        return self.nearest(room)[0]

    def nearest(self, room) -> tuple[np.ndarray, np.ndarray]:
        """[..., H, W] empty-room image(s) -> (similarity to the nearest known room, that room's index)."""
        q = room_signature(room, self.measure)
        if q.shape[-1] != self.pixels:
            raise ValueError(f"{q.shape[-1]} pixels, but the known rooms have {self.pixels}")
        sims = _unit(q - self.common) @ self.signatures.T
        # rounded: a known room against itself is 1 whatever order the CPU summed in (0.99999994 in float32)
        return np.round(sims.max(axis=-1), 4), sims.argmax(axis=-1)

    def adding(self, images) -> KnownRooms:
        """These rooms and ``images`` ([N, H, W]) besides (a room taught by calibration)."""
        if self.images is None:  # only signatures known (a model made before 0.6): append theirs
            return KnownRooms(None, self.measure, np.concatenate([self.signatures, room_signature(images, self.measure)]))
        return KnownRooms(np.concatenate([self.images, np.asarray(images, np.float32)]), self.measure)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-9)).astype(np.float32)
