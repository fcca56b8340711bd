"""``Recognizer.load(path).predict(frames)``: the earlier ``ThermalActionRecognizer.predict``, done safely.

Frames are ``[T, H, W]`` float32 °C. The window rule (:class:`~actline.data.window.WindowRule`: length,
index or time mode, background, sentinel fill) comes from the model directory, so callers pass raw
frames (and timestamps for time-based models).

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
from actline.data.dataset import Recording
from actline.data.window import WindowRule
from actline.modeldir.parts.room_gate import room_gate_of

NEW_ROOM_ADVICE = ("the model has not seen this room and is less reliable in it: teach it the room with a few "
                   "labelled minutes there (actline adapt MODEL --data ROOM_DATA --out NEW_MODEL)")


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
        where = config.get("_source", "model config") if isinstance(config, dict) else "model config"
        try:
            self.classes: list[str] = [str(c) for c in config["classes"]]
            self.rule = WindowRule.from_dict(config["window"], where)
            shape = (config.get("preprocessing") or {}).get("frame_shape")
            self.frame_shape = tuple(int(v) for v in shape) if shape else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ActlineError(where, f"incomplete model config ({type(exc).__name__}: {exc})") from None

    @property
    def spec(self) -> WindowRule:
        """The window rule's name before 0.6 (one release of grace)."""
        import warnings

        warnings.warn("Recognizer.spec is now Recognizer.rule", DeprecationWarning, stacklevel=2)
        return self.rule

    @property
    def background(self) -> str:
        """What the model's windows have removed (``none``, ``recording-median`` or ``static-heat``)."""
        return self.rule.background

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

    def room_similarity(self, room) -> float | None:
        """How like its training rooms the empty room ``room`` ([H, W] °C) is, by the room gate's measure
        (cosine similarity of fingerprints, 1: a training room); None for a model without a gate."""
        gate = room_gate_of(self.classifier)
        return None if gate is None else float(gate.similarity(np.asarray(room, np.float32)))

    def room_report(self, room) -> dict | None:
        """Whether the empty room ``room`` ([H, W] °C) is new to the model: ``{"new", "similarity", "new_below",
        "measure"}`` (and, when it is new, ``"advice"``: how to teach the model the room); None for a model
        without a room gate."""
        gate = room_gate_of(self.classifier)
        if gate is None:
            return None
        sim = float(gate.similarity(np.asarray(room, np.float32)))
        out = {"new": sim < gate.threshold, "similarity": round(sim, 3), "new_below": gate.threshold,
               "measure": gate.known.measure}
        return {**out, "advice": NEW_ROOM_ADVICE} if out["new"] else out

    def room(self, frames, room=None, where: str = "frames"):
        """The empty room the gate compares, [H, W]: ``room`` if given, else estimated from ``frames``
        (None for a model without a gate)."""
        if not self.gated:
            return None
        if room is not None:
            return np.asarray(room, dtype=np.float32)
        return estimate_window_background(self._check(frames, where))

    @property
    def needs_room(self) -> bool:
        """Whether predictions read the empty room: a room gate, or windows with a background removed."""
        return self.gated or self.rule.background != "none"

    def estimate_room(self, frames, where: str = "frames") -> np.ndarray | None:
        """The empty room [H, W] °C behind ``frames`` [N, H, W] (None for a model that reads none), by the
        live estimator's seed (a few ms for a 40x60 window). Estimate it once per recording or sensor and pass
        it to every :meth:`predict` of that recording (``room=``): the estimate from one window is the
        costly part of a prediction, and more frames (an empty period, the whole recording) give a better one."""
        if not self.needs_room:
            return None
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

    def window(self, frames, timestamps=None, where: str = "frames", room=None) -> np.ndarray:
        """The model's window cut from the middle of ``frames`` by its window rule, sentinels filled.

        For a model trained on background-subtracted windows, ``room`` is the empty-room image [H, W]
        (e.g. ``Recording.empty_room()``, or a stream's running estimate); without it the live streams'
        estimator runs over the frames passed (:func:`~actline.data.background.estimate_window_background`:
        a pixel someone moved over takes its cool value), which cannot see the floor under a person who
        never moves.
        """
        return self.rule.cut(self._check(frames, where), timestamps, room=room, where=where)

    # ------------------------------------------------------------------ prediction
    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        """[N, T, H, W] windows -> [N, K] probabilities. ``rooms``: the empty room(s) behind them
        ([H, W] or [N, H, W]), read by a room gate only."""
        return self.classifier.probs(windows, rooms)

    def _pred(self, p: np.ndarray, k: int) -> Prediction:
        order = np.argsort(-p)[:k]
        return Prediction(self.classes[order[0]], float(p[order[0]]),
                          [(self.classes[i], float(p[i])) for i in order], p)

    def predict(self, frames, timestamps=None, k: int = 3, room=None, **old) -> Prediction:
        """One window from the middle of ``frames`` [T, H, W] °C. ``room``: the empty room [H, W] of the
        recording (:meth:`estimate_room`, ``Recording.empty_room()``, a stream's running estimate); without it,
        it is estimated from ``frames`` on every call."""
        room = _room_arg(room, old)
        x = self._check(frames)
        if room is None and self.needs_room:
            room = self.estimate_room(x)
        win = self.rule.cut(x, timestamps, room=room, where="frames")
        return self._pred(self.probs(win[None], self.room(x, room))[0], k)

    def predict_batch(self, batch, timestamps=None, k: int = 3, batch_size: int = 32, room=None,
                      **old) -> list[Prediction]:
        room = _room_arg(room, old)
        timestamps = timestamps or [None] * len(batch)
        frames = [self._check(f, f"frames[{i}]") for i, f in enumerate(batch)]
        own = [room if room is not None else self.estimate_room(f, f"frames[{i}]") for i, f in enumerate(frames)]
        wins = np.stack([self.rule.cut(f, t, room=r, where=f"frames[{i}]")
                         for i, (f, t, r) in enumerate(zip(frames, timestamps, own))])
        rooms = np.stack([np.asarray(r, np.float32) for r in own]) if self.gated else None
        probs = np.concatenate([self.probs(wins[i:i + batch_size], None if rooms is None else rooms[i:i + batch_size])
                                for i in range(0, len(wins), batch_size)])
        return [self._pred(p, k) for p in probs]

    def predict_recording(self, rec: Recording, centres=None, stride: int | None = None, k: int = 3,
                          batch_size: int = 32) -> list[tuple[int, float, Prediction]]:
        """Predictions for windows centred on ``centres`` (frame indices) or every ``stride`` frames."""
        self._check(rec.frames[:1], rec.source or rec.id)
        if centres is None:
            n = self.rule.length
            stride = stride or max(1, n // 2)
            centres = list(range(n // 2, max(rec.n_frames - n // 2 + 1, 1), stride)) or [rec.n_frames // 2]
        out = []
        room = rec.empty_room() if self.rule.background != "none" or self.gated else None
        for i in range(0, len(centres), batch_size):
            chunk = centres[i:i + batch_size]
            for c, p in zip(chunk, self.probs(self.rule.cut_many(rec, chunk, room), room)):
                out.append((int(c), float(rec.timestamps[c]), self._pred(p, k)))
        return out


def _room_arg(room, old: dict):
    """``room``, or the ``background`` keyword it was called before 0.6 (one release of grace)."""
    if set(old) - {"background"}:
        raise TypeError(f"unexpected keyword arguments {sorted(set(old) - {'background'})}")
    if "background" in old:
        import warnings

        warnings.warn("Recognizer.predict(background=...) is now room=...", DeprecationWarning, stacklevel=3)
        return old["background"] if room is None else room
    return room
