"""Thermal recordings as an encoder's input without torch: its windows, slid along the recording."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import Recording
from actline.data.window import WindowRule


def chunk_starts(n: int, chunk: int, stride: int) -> np.ndarray:
    """First frame of each chunk: every ``stride`` frames, plus one aligned to the end if frames are left."""
    starts = list(range(0, max(n - chunk, 0) + 1, stride))
    if starts[-1] + chunk < n:
        starts.append(n - chunk)
    return np.asarray(starts, dtype=np.int64)


def recording_chunks(rec: Recording, rule: WindowRule, stride: int, batch: int = 64
                     ) -> Iterator[tuple[float, float, np.ndarray]]:
    """(start_s, end_s, [T, H, W] °C) windows of a recording, cut by the encoder's own ``rule`` (the one it was
    trained with: length, mode, background, sentinel fill) and centred every ``stride`` frames
    (:meth:`WindowRule.centres`). Times are seconds from the recording's first frame; a window ends one
    frame interval after its last frame."""
    if rec.n_frames == 0:
        raise ActlineError(rec.source or rec.id, "the recording has no frames")
    ts = rec.timestamps - rec.timestamps[0]
    dt = float(np.median(np.diff(ts))) if rec.n_frames > 1 else 0.1
    centres = rule.centres(rec.n_frames, stride)
    room = rec.empty_room() if rule.background != "none" else None
    for i in range(0, len(centres), batch):
        part = centres[i:i + batch]
        for c, win in zip(part, rule.cut_many(rec, part, room)):
            idx = rule.indices(rec.timestamps, int(c))
            yield float(ts[idx[0]]), float(ts[idx[-1]] + dt), win
