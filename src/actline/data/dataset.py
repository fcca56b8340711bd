"""The shared in-memory types: Recording, Sample, ClipDataset, and window extraction."""

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

    def background(self, max_frames: int = 2000) -> np.ndarray:
        """The empty room: per-pixel median over the recording (sentinels ignored), [H, W] °C.

        A ceiling sensor is static and people move over minutes, so the median of each pixel
        is the floor, the bed, the radiator: what background subtraction removes. Cached.
        """
        bg = self.meta.get("_background")
        if bg is None:
            bg = estimate_background(self.frames, max_frames)
            self.meta["_background"] = bg
        return bg


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


@dataclass(frozen=True)
class WindowSpec:
    """How a window is cut around a sample's centre frame.

    ``mode="index"``: ``length`` consecutive frames ``c - length//2 .. c + length - length//2 - 1``,
    repeating the edge frame past either end (the earlier system's rule).
    ``mode="time"``: ``length`` instants ``1/fps`` apart centred the same way on the centre
    frame's timestamp, each taking the latest frame at or before it (sample-and-hold), so
    recordings at 6 or 30 fps give windows of the same duration.
    """

    length: int = 64
    mode: str = "index"
    fps: float = 10.0

    def __post_init__(self):
        if self.length < 1:
            raise ValueError(f"window length must be >= 1, got {self.length}")
        if self.mode not in ("index", "time"):
            raise ValueError(f"window mode must be 'index' or 'time', got {self.mode!r}")
        if self.mode == "time" and not self.fps > 0:
            raise ValueError(f"window fps must be > 0, got {self.fps}")


def window_indices(rec: Recording, center: int, spec: WindowSpec) -> np.ndarray:
    offsets = np.arange(spec.length) - spec.length // 2
    if spec.mode == "index":
        idx = center + offsets
    else:
        t = rec.timestamps[center] + offsets / spec.fps
        idx = np.searchsorted(rec.timestamps, t, side="right") - 1
    return np.clip(idx, 0, rec.n_frames - 1)


BACKGROUNDS = ("none", "recording-median", "static-heat")
PERSON_WARMTH_C = (1.0, 12.0)  # a person reads 1-10 °C over the floor (real 40x60 data: 5.8-8.7 °C, p10-p90)


def static_heat(bg: np.ndarray, warmth: tuple[float, float] = PERSON_WARMTH_C) -> np.ndarray:
    """The part of an empty-room estimate that cannot be a person: the floor's unevenness and heat sources
    hotter than any person. Pixels of ``bg`` as warm as a person over the floor are set to the floor.

    A recording-wide median is the empty room only if people move; where someone lies or sits still for
    most of the recording (a person in bed all night), the median holds them, and subtracting it erases
    them. Keeping person-warm pixels out of what is subtracted keeps that person, while lamps, heaters
    and the floor pattern still go.
    """
    bg = np.asarray(bg, dtype=np.float32)
    floor = float(np.median(bg))
    excess = bg - floor
    return np.where((excess > warmth[0]) & (excess < warmth[1]), np.float32(floor), bg)


def remove_background(win: np.ndarray, bg: np.ndarray, mode: str) -> np.ndarray:
    """``mode``: "none" (unchanged), "recording-median" (subtract ``bg``), "static-heat" (subtract only
    what cannot be a person, :func:`static_heat`)."""
    if mode == "none":
        return win
    if mode == "static-heat":
        bg = static_heat(bg)
    elif mode != "recording-median":
        raise ValueError(f"unknown background mode {mode!r} (known: {', '.join(BACKGROUNDS)})")
    return subtract_background(win, bg)


def subtract_background(win: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Window minus the empty-room image, plus the room's mean temperature (stays in °C)."""
    return (win - bg[None] + float(bg.mean())).astype(np.float32)


def fill_invalid(frames: np.ndarray) -> np.ndarray:
    """Replace sentinel pixels by the median of the valid pixels of the same frame.

    A frame with no valid pixel takes the median of the whole window.
    """
    frames = np.asarray(frames, dtype=np.float32)
    bad = frames <= INVALID_BELOW_C
    if not bad.any():
        return frames
    out = frames.copy()
    masked = np.where(bad, np.nan, frames)
    with warnings.catch_warnings():  # all-NaN frames are expected here
        warnings.simplefilter("ignore", RuntimeWarning)
        per_frame = np.nanmedian(masked.reshape(len(frames), -1), axis=1)
        overall = np.nanmedian(masked)
    if np.isnan(overall):
        overall = 20.0  # nothing valid at all: a neutral room temperature
    per_frame = np.where(np.isnan(per_frame), overall, per_frame).astype(np.float32)
    out[bad] = np.broadcast_to(per_frame[:, None, None], frames.shape)[bad]
    return out


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

    def window(self, sample: Sample, spec: WindowSpec, clean: bool = True, background: str = "none") -> np.ndarray:
        """The [T, H, W] float32 window (°C) of one sample; sentinels filled when ``clean``.

        ``background="recording-median"`` subtracts the recording's empty-room estimate and adds
        back its mean, so values stay in °C around the room temperature.
        """
        rec = self.recordings[sample.recording_id]
        frames = rec.frames[window_indices(rec, sample.frame_idx, spec)]
        win = fill_invalid(frames) if clean else np.asarray(frames, dtype=np.float32)
        return win if background == "none" else remove_background(win, rec.background(), background)

    def span_s(self, sample: Sample, spec: WindowSpec) -> tuple[float, float]:
        """First and last timestamp covered by a sample's window."""
        rec = self.recordings[sample.recording_id]
        idx = window_indices(rec, sample.frame_idx, spec)
        return float(rec.timestamps[idx[0]]), float(rec.timestamps[idx[-1]])

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
