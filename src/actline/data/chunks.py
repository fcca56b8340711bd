"""Thermal recordings as model input without torch: cut into fixed-length chunks of their own frames."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import Recording, fill_invalid, subtract_background


def chunk_starts(n: int, chunk: int, stride: int) -> np.ndarray:
    """First frame of each chunk: every ``stride`` frames, plus one aligned to the end if frames are left."""
    starts = list(range(0, max(n - chunk, 0) + 1, stride))
    if starts[-1] + chunk < n:
        starts.append(n - chunk)
    return np.asarray(starts, dtype=np.int64)


def recording_chunks(rec: Recording, chunk: int, stride: int, background: str = "none"
                     ) -> Iterator[tuple[float, float, np.ndarray]]:
    """(start_s, end_s, [chunk, H, W] °C) windows over a recording's own frames (no resampling).

    A thermal encoder was trained on windows of its sensor's frames, so it sees the same here;
    sentinels are filled, and the empty room subtracted when the encoder was trained that way.
    """
    if rec.n_frames == 0:
        raise ActlineError(rec.source or rec.id, "the recording has no frames")
    frames = rec.frames
    bg = rec.background() if background == "recording-median" else None
    ts = rec.timestamps - rec.timestamps[0]
    dt = float(np.median(np.diff(ts))) if rec.n_frames > 1 else 0.1
    for s in chunk_starts(rec.n_frames, chunk, stride):
        idx = np.clip(np.arange(s, s + chunk), 0, rec.n_frames - 1)  # a short recording repeats its last frame
        win = fill_invalid(frames[idx])
        if bg is not None:
            win = subtract_background(win, bg)
        yield float(ts[s]), float(ts[min(s + chunk, rec.n_frames) - 1] + dt), win
