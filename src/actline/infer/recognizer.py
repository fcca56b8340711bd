"""``Recognizer.load(path).predict(frames)``: the earlier ``ThermalActionRecognizer.predict``, done safely.

Frames are ``[T, H, W]`` float32 °C. The window rule (length, index or time mode) comes from the
model directory, so callers pass raw frames (and timestamps for time-based models).

The probabilities come from any :class:`~actline.models.contract.WindowClassifier`: PyTorch
(a model directory), or ONNX Runtime (an ``.onnx`` export, or a tree model), whose ONNX path
imports neither torch nor torchvision, so an edge device needs neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import estimate_window_background
from actline.data.dataset import (
    Recording,
    WindowSpec,
    fill_invalid,
    remove_background,
    window_indices,
)
from actline.models.room_gate import room_gate_of


@dataclass
class Prediction:
    label: str
    confidence: float
    topk: list[tuple[str, float]] = field(default_factory=list)
    probs: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 4),
                "topk": [[c, round(p, 4)] for c, p in self.topk]}


class Recognizer:
    def __init__(self, classifier, config: dict):
        self.classifier, self.config = classifier, config
        try:
            self.classes: list[str] = [str(c) for c in config["classes"]]
            w = config["window"]
            self.spec = WindowSpec(length=int(w["length"]), mode=str(w["mode"]), fps=float(w["fps"]))
            if self.spec.length < 1:
                raise ValueError(f"window length must be >= 1, got {self.spec.length}")
            self.background = w.get("background", "none")
            shape = (config.get("preprocessing") or {}).get("frame_shape")
            self.frame_shape = tuple(int(v) for v in shape) if shape else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ActlineError(config.get("_source", "model config") if isinstance(config, dict) else "model config",
                               f"incomplete model config ({type(exc).__name__}: {exc})") from None

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", backend: str | None = None, threads: int = 0) -> "Recognizer":
        """A model directory (PyTorch, or ONNX Runtime for tree models) or an exported ``.onnx`` file
        (ONNX Runtime, no torch import)."""
        from actline.modeldir.reader import load_classifier

        classifier, cfg = load_classifier(path, device=device, backend=backend, threads=threads)
        return cls(classifier, cfg)

    @property
    def gated(self) -> bool:
        """Whether the model has a room gate (it then reads each recording's empty-room image)."""
        return room_gate_of(self.classifier) is not None

    def room_similarity(self, background) -> float | None:
        """How like its training rooms the room behind ``background`` ([H, W] °C) is, by the room gate's
        measure (cosine similarity of fingerprints, 1: a training room); None for a model without a gate."""
        gate = room_gate_of(self.classifier)
        return None if gate is None else float(gate.similarity(np.asarray(background, np.float32)))

    def room(self, frames, background=None, where: str = "frames"):
        """The empty room the gate compares, [H, W]: ``background`` if given, else estimated from ``frames``
        (None for a model without a gate)."""
        if not self.gated:
            return None
        if background is not None:
            return np.asarray(background, dtype=np.float32)
        return estimate_window_background(self._check(frames, where))

    @property
    def model(self):
        """The torch module, for a PyTorch-backed recognizer (None otherwise)."""
        return getattr(self.classifier, "model", None)

    # ------------------------------------------------------------------ input checks
    def _check(self, frames, where: str = "frames") -> np.ndarray:
        x = np.asarray(frames)
        if x.ndim != 3:
            raise ActlineError(where, f"expected [T, H, W] frames, got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise ActlineError(where, f"frames must be numeric, got {x.dtype}")
        if self.frame_shape and tuple(x.shape[1:]) != self.frame_shape:
            raise ActlineError(where, f"model expects {self.frame_shape[0]}x{self.frame_shape[1]} frames, "
                               f"got {x.shape[1]}x{x.shape[2]}")
        if not np.isfinite(x).all():
            raise ActlineError(where, f"frames contain NaN or inf ({int((~np.isfinite(x)).sum())} values)")
        return x.astype(np.float32, copy=False)

    def window(self, frames, timestamps=None, where: str = "frames", background=None) -> np.ndarray:
        """The model's window cut from the middle of ``frames``, sentinels filled.

        For a model trained on background-subtracted windows, ``background`` is the empty-room
        image [H, W] (e.g. ``Recording.background()``); without it the live streams' estimator runs over
        the frames passed (:func:`~actline.data.background.estimate_window_background`: a pixel someone
        moved over takes its cool value), which cannot see the floor under a person who never moves.
        """
        x = self._check(frames, where)
        return self._remove_background(self._cut(x, timestamps, where), x, background, where)

    def _remove_background(self, win, frames, background, where):
        if self.background == "none":
            return win
        bg = estimate_window_background(frames) if background is None else np.asarray(background, dtype=np.float32)
        if bg.shape != win.shape[1:]:
            raise ActlineError(where, f"background must be {win.shape[1]}x{win.shape[2]}, got {bg.shape}")
        return remove_background(win, bg, self.background)

    def _cut(self, x: np.ndarray, timestamps, where: str) -> np.ndarray:
        t = len(x)
        if self.spec.mode == "index":
            if t < self.spec.length:
                raise ActlineError(where, f"too few frames: the model needs {self.spec.length}, got {t}")
            s = (t - self.spec.length) // 2
            return fill_invalid(x[s:s + self.spec.length])
        if timestamps is None:
            raise ActlineError(where, "this model resamples by time: pass timestamps (seconds) with the frames")
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.shape != (t,) or not np.isfinite(ts).all() or (np.diff(ts) < 0).any():
            raise ActlineError(where, "timestamps must be finite, non-decreasing, one per frame")
        need = (self.spec.length - 1) / self.spec.fps
        if ts[-1] - ts[0] < 0.5 * need:
            raise ActlineError(where, f"too few frames: the model needs about {need:.1f} s, got {ts[-1] - ts[0]:.1f} s")
        rec = Recording("input", x, ts, "input")
        return fill_invalid(x[window_indices(rec, t // 2, self.spec)])

    # ------------------------------------------------------------------ prediction
    def probs(self, windows: np.ndarray, background=None) -> np.ndarray:
        """[N, T, H, W] windows -> [N, K] probabilities. ``background``: the empty room(s) behind them
        ([H, W] or [N, H, W]), read by a room gate only."""
        return self.classifier.probs(windows, background)

    def _pred(self, p: np.ndarray, k: int) -> Prediction:
        order = np.argsort(-p)[:k]
        return Prediction(self.classes[order[0]], float(p[order[0]]),
                          [(self.classes[i], float(p[i])) for i in order], p)

    def predict(self, frames, timestamps=None, k: int = 3, background=None) -> Prediction:
        win = self.window(frames, timestamps, background=background)
        return self._pred(self.probs(win[None], self.room(frames, background))[0], k)

    def predict_batch(self, batch, timestamps=None, k: int = 3, batch_size: int = 32, background=None) -> list[Prediction]:
        timestamps = timestamps or [None] * len(batch)
        wins = np.stack([self.window(f, t, where=f"frames[{i}]", background=background)
                         for i, (f, t) in enumerate(zip(batch, timestamps))])
        rooms = np.stack([self.room(f, background, f"frames[{i}]") for i, f in enumerate(batch)]) if self.gated else None
        probs = np.concatenate([self.probs(wins[i:i + batch_size], None if rooms is None else rooms[i:i + batch_size])
                                for i in range(0, len(wins), batch_size)])
        return [self._pred(p, k) for p in probs]

    def predict_recording(self, rec: Recording, centres=None, stride: int | None = None, k: int = 3,
                          batch_size: int = 32) -> list[tuple[int, float, Prediction]]:
        """Predictions for windows centred on ``centres`` (frame indices) or every ``stride`` frames."""
        self._check(rec.frames[:1], rec.source or rec.id)
        if centres is None:
            stride = stride or max(1, self.spec.length // 2)
            centres = list(range(self.spec.length // 2, max(rec.n_frames - self.spec.length // 2 + 1, 1), stride))
            centres = centres or [rec.n_frames // 2]
        out = []
        bg = rec.background() if self.background != "none" or self.gated else None
        for i in range(0, len(centres), batch_size):
            chunk = centres[i:i + batch_size]
            wins = np.stack([self._remove_background(fill_invalid(rec.frames[window_indices(rec, c, self.spec)]),
                                                     None, bg, rec.source or rec.id) for c in chunk])
            for c, p in zip(chunk, self.probs(wins, bg)):
                out.append((int(c), float(rec.timestamps[c]), self._pred(p, k)))
        return out
