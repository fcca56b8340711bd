"""One ``frames/<recording>.h5`` read a slice at a time: a 10-minute recording opens without reading its frames.

:class:`LazyRecording` checks the file as :func:`~actline.data.recordings.thermal_h5_file.read_recording_h5` does
(datasets stored in this file, numeric, shapes within the read limits) and reads the timestamps once;
:meth:`LazyRecording.read` then reads only the frames asked for (HDF5 decompresses the chunks they
touch). The label page serves recordings this way.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.limits import ReadLimits, current_limits
from actline.data.recordings.thermal_h5_file import opened_h5


@contextlib.contextmanager
def _opened(path: Path, limits: ReadLimits):
    """The file's checked ``frames`` and ``timestamps`` datasets, nothing read yet."""
    with opened_h5(path, limits) as (_, frames, ts):
        yield frames, ts


class LazyRecording:
    """Shape and timestamps (seconds, the sensor's clock) of one recording file; frames on demand."""

    def __init__(self, path: str | Path, limits: ReadLimits | None = None):
        self.path, self.limits = Path(path), current_limits(limits)
        with _opened(self.path, self.limits) as (frames, ts):
            self.n_frames, self.height, self.width = (int(v) for v in frames.shape)
            self.timestamps = ts[()].astype(np.float64) / 1000.0  # Unix milliseconds -> seconds
        if self.n_frames == 0:
            raise ActlineError(self.path, "'frames' is empty (0 frames)")
        if not np.isfinite(self.timestamps).all() or (np.diff(self.timestamps) < 0).any():
            raise ActlineError(self.path, "'timestamps' must be finite and never go back")

    @property
    def time_s(self) -> np.ndarray:
        """Each frame's time in seconds from the first frame."""
        return self.timestamps - self.timestamps[0]

    @property
    def duration_s(self) -> float:
        return float(self.timestamps[-1] - self.timestamps[0])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as float32 °C (NaN and inf kept: the caller decides what to show)."""
        return self.read_many([(start, stop)])[0]

    def read_many(self, slices: list[tuple[int, int]]) -> list[np.ndarray]:
        """Several ``(start, stop)`` slices, the file opened once."""
        for start, stop in slices:
            if not 0 <= start <= stop <= self.n_frames:
                raise ActlineError(self.path, f"frames {start}:{stop} are outside 0:{self.n_frames}")
        with _opened(self.path, self.limits) as (frames, _):
            if frames.shape[0] != self.n_frames:
                raise ActlineError(self.path, "the file changed since it was opened")
            return [np.asarray(frames[a:b], dtype=np.float32) for a, b in slices]

    def sample(self, count: int = 16) -> np.ndarray:
        """Up to ``count`` frames evenly spread over the recording (for a colour scale)."""
        idx = np.unique(np.linspace(0, self.n_frames - 1, min(count, self.n_frames)).round().astype(int))
        return np.concatenate(self.read_many([(int(i), int(i) + 1) for i in idx]))
