"""A recording replayed through the streaming recognizer exactly as a live sensor sends it."""

from __future__ import annotations

import time

import numpy as np


def paced(frames: np.ndarray, timestamps: np.ndarray, speed: float = 0.0):
    """(frame, t) of a recording, each yielded when it is due at ``speed`` times real time (0: at once)."""
    t0_wall, t0 = time.monotonic(), float(timestamps[0]) if len(timestamps) else 0.0
    for frame, ts in zip(frames, timestamps):
        if speed > 0:
            time.sleep(max(0.0, (ts - t0) / speed - (time.monotonic() - t0_wall)))
        yield frame, float(ts)


def replay_frames(sr, frames: np.ndarray, timestamps: np.ndarray, speed: float = 0.0, emit=None, record=None) -> list:
    """Push every frame (at ``speed`` times real time; 0: as fast as possible); the events, in order.
    ``record(t, frame)``, if given, takes each frame with its time on the recording's own clock."""
    events = []
    t0 = float(timestamps[0]) if len(timestamps) else 0.0
    for frame, ts in paced(frames, timestamps, speed):
        new = sr.push(frame, ts - t0)
        if record is not None:
            record(ts, frame)
        events += new
        if emit is not None and new:
            emit(new)
    return events
