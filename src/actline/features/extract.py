"""Chunks of a video or thermal recording, as model input, and one feature vector per chunk.

No torch here: the torch backbone (:mod:`actline.features.backbone`) and the ONNX Runtime one
(:mod:`actline.infer.timeline_backends`) are both an :class:`Encoder`, and both prepare their input
with :func:`model_input`, from the normalisation their ``config.json`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import numpy as np

from actline.core.errors import ActlineError
from actline.core.progress import Progress
from actline.data.chunks import recording_chunks
from actline.data.dataset import Recording
from actline.data.formats import is_thermal_input, load_recording
from actline.data.video import VideoSpec, prefetch, video_chunks
from actline.data.window import WindowRule


@dataclass
class Features:
    x: np.ndarray  # [N, D] float32
    times: np.ndarray  # [N, 2] chunk start and end in s

    def __len__(self) -> int:
        return len(self.x)


class Encoder(Protocol):
    """A frozen feature extractor: raw chunks in, ``[N, D]`` float32 out (what extraction and the cache need)."""

    name: str
    digest: str  # of the weights: part of the feature cache's key
    dim: int
    kind: str  # "rgb" (uint8 video) or "thermal" (°C frames)
    window: WindowRule | None  # thermal: the window rule the encoder was trained with (None for rgb)

    def __call__(self, chunks: np.ndarray) -> np.ndarray: ...


def model_input(chunks: np.ndarray, kind: str, mean=None, std=None) -> np.ndarray:
    """The backbone's input ``[N, C, T, H, W]`` float32: RGB ``[N, T, H, W, 3]`` uint8 scaled to 0-1 and
    normalised per channel with ``mean``/``std`` (saved in the model's ``config.json``); thermal
    ``[N, T, H, W]`` °C as they are, with one channel."""
    if kind == "rgb":
        if mean is None or std is None:
            raise ActlineError("config.json", "an RGB backbone needs its input normalisation (features mean and std)")
        x = (np.asarray(chunks, np.float32) / np.float32(255.0) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 4, 1, 2, 3))
    return np.ascontiguousarray(chunks, dtype=np.float32)[:, None]


def encoder_window(features: dict, where="config.json") -> WindowRule | None:
    """The window rule of a thermal encoder from its saved ``features`` settings (None for RGB backbones).
    Older timeline models saved only the window's length and background: consecutive frames."""
    if features.get("kind") != "thermal":
        return None
    w = features.get("window")
    if isinstance(w, dict):
        return WindowRule.from_dict(w, where)
    return WindowRule.from_dict({"length": w or 16, "background": features.get("background") or "none"}, where)


def source_chunks(source: str | Path | Recording, kind: str, spec: VideoSpec, window: WindowRule | None = None
                  ) -> Iterator[tuple[float, float, np.ndarray]]:
    """(start_s, end_s, chunk) over a video (resampled to ``spec``) or a thermal recording (the encoder's
    ``window`` rule, every ``spec.stride`` frames)."""
    if isinstance(source, Recording) or kind == "thermal":
        rec = source if isinstance(source, Recording) else load_recording(Path(source))
        if window is None:
            raise ActlineError(rec.source or rec.id, "a thermal recording needs a thermal encoder (with its window rule)")
        return recording_chunks(rec, window, spec.stride)
    if is_thermal_input(Path(source)):
        raise ActlineError(source, "a thermal recording needs a thermal model (this one reads videos)")
    return video_chunks(source, spec)


def frame_times(source: str | Path, kind: str, spec: VideoSpec, end_s: float) -> np.ndarray:
    """The instants (s from the start) of the frames a timeline of ``source`` is written for, frame-wise:
    a thermal recording's own frames; a video's frames resampled to ``spec.fps`` up to ``end_s``."""
    if kind == "thermal":
        ts = load_recording(Path(source)).timestamps
        return ts - ts[0]
    return np.arange(int(round(end_s * spec.fps))) / spec.fps


def _batched(it: Iterable, n: int):
    batch = []
    for item in it:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def extract(source: str | Path | Recording, encoder: Encoder, spec: VideoSpec, batch: int = 8,
            progress: Progress | None = None) -> Features:
    """Features of every chunk of a video or thermal recording; decoding runs ahead in a worker thread."""
    chunks = source_chunks(source, encoder.kind, spec, encoder.window)
    task = f"features {getattr(source, 'id', None) or Path(source).name}"
    xs, times = [], []
    for group in _batched(prefetch(chunks, depth=2 * batch), batch):
        xs.append(encoder(np.stack([c for _, _, c in group])))
        times += [(a, b) for a, b, _ in group]
        if progress:
            progress(task, len(times), None)
    return Features(np.concatenate(xs).astype(np.float32), np.asarray(times, dtype=np.float64).reshape(-1, 2))
