"""Thermal recordings as model input without torch: reading one file, and cutting it into chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import Recording, fill_invalid, subtract_background

THERMAL_SUFFIXES = (".h5", ".hdf5", ".csv", ".gz")


def is_thermal_input(path: Path) -> bool:
    return path.suffix.lower() in THERMAL_SUFFIXES


def read_thermal_recording(path: Path) -> Recording:
    """One thermal recording from a file: a ThermalDataGen ``.h5`` or a Nagoya ``.csv``/``.csv.gz``."""
    if path.suffix.lower() in (".h5", ".hdf5"):
        from actline.data.thermal_h5 import read_recording_h5

        return read_recording_h5(path)
    from actline.data.nagoya import UNSTABLE_FRAMES, read_nagoya_csv

    frames, ts, _ = read_nagoya_csv(path)
    keep = slice(UNSTABLE_FRAMES, None)
    return Recording(id=path.name.split(".")[0], frames=frames[keep], timestamps=ts[keep], group="", source=str(path))


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
