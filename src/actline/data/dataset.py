"""The shared in-memory types: Recording, Sample, ClipDataset (windows are cut by :mod:`actline.data.window`)."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Pixels at or below this are sensor sentinels (e.g. -273.2 °C for a dead pixel), not temperatures.
INVALID_BELOW_C = -100.0


@dataclass
class Recording:
    """One continuous sequence from one sensor: frames in °C and their timestamps in seconds."""

    id: str
    frames: np.ndarray  # [N, H, W] float32, °C, sentinels kept as read
    timestamps: np.ndarray  # [N] float64 seconds (monotone, may be irregular, may have gaps)
    group: str  # its location: the room (sensor id up to the first underscore) or the day (Nagoya)
    source: str = ""  # the file it came from
    frame_labels: np.ndarray | None = None  # [N] int64 class index, -1 = unlabelled
    meta: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.timestamps[-1] - self.timestamps[0]) if self.n_frames > 1 else 0.0

    def frame_intervals(self) -> np.ndarray:
        return np.diff(self.timestamps)

    def invalid_mask(self) -> np.ndarray:
        return self.frames <= INVALID_BELOW_C

    def empty_room(self, max_frames: int = 2000) -> np.ndarray:
        """The empty room: per-pixel median over the recording (sentinels ignored), [H, W] °C.

        A ceiling sensor is static and people move over minutes, so the median of each pixel
        is the floor, the bed, the radiator: what background subtraction removes. Cached.
        """
        room = self.meta.get("_empty_room")
        if room is None:
            room = estimate_background(self.frames, max_frames)
            self.meta["_empty_room"] = room
        return room


def estimate_background(frames: np.ndarray, max_frames: int = 2000) -> np.ndarray:
    """Per-pixel median of up to ``max_frames`` evenly spaced frames, sentinel pixels ignored."""
    frames = np.asarray(frames, dtype=np.float32)
    step = max(1, len(frames) // max_frames)
    sub = frames[::step]
    masked = np.where(sub <= INVALID_BELOW_C, np.nan, sub)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bg = np.nanmedian(masked, axis=0)
    if np.isnan(bg).any():
        bg = np.where(np.isnan(bg), np.nanmedian(masked) if np.isfinite(masked).any() else 20.0, bg)
    return bg.astype(np.float32)


@dataclass(frozen=True)
class Sample:
    """One labelled window centre: a frame of a recording and its class index."""

    recording_id: str
    frame_idx: int
    label: int
    subset: str | None = None  # "train"/"val" where the data set ships a split
    id: str = ""


@dataclass
class ClipDataset:
    """A labelled data set: recordings, labelled window centres (samples) and class names."""

    name: str
    root: Path
    format: str  # "thermal-h5", "nagoya-csv", ...
    classes: list[str]
    recordings: dict[str, Recording]
    samples: list[Sample]
    warnings: list[str] = field(default_factory=list)

    def window(self, sample: Sample, rule) -> np.ndarray:
        """The [T, H, W] float32 window (°C) of one sample, cut and cleaned by ``rule``
        (:class:`~actline.data.window.WindowRule`: sentinels filled, its background removed)."""
        return rule.cut(self.recordings[sample.recording_id], at=sample.frame_idx)

    def span_s(self, sample: Sample, rule) -> tuple[float, float]:
        """First and last timestamp covered by a sample's window."""
        rec = self.recordings[sample.recording_id]
        return rule.span_s(rec.timestamps, sample.frame_idx)

    def labels(self, samples: list[Sample] | None = None) -> np.ndarray:
        return np.array([s.label for s in (self.samples if samples is None else samples)], dtype=np.int64)

    def groups(self, samples: list[Sample] | None = None, by: str = "recording") -> np.ndarray:
        samples = self.samples if samples is None else samples
        if by == "recording":
            return np.array([s.recording_id for s in samples])
        if by in ("location", "group"):
            return np.array([self.recordings[s.recording_id].group for s in samples])
        raise ValueError(f"unknown grouping {by!r} (use 'recording' or 'location')")

    def class_counts(self, samples: list[Sample] | None = None) -> dict[str, int]:
        counts = Counter(s.label for s in (self.samples if samples is None else samples))
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}

    def subset(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.subset == name]
