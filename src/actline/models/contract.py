"""One contract for every clip classifier, whatever computes it: windows in, probabilities and features out.

A :class:`WindowClassifier` takes windows ``[N, T, H, W]`` float32 °C that are already cut by
the model's window rule, with sentinels filled and the background removed as its model
directory says, and returns ``probs`` ``[N, K]`` and ``features`` ``[N, D]`` (the embedding
before the classifier; for a model without a neural embedding, its window statistics).
``probs`` also takes the empty-room image of each window's recording (``background``, [H, W] or
[N, H, W]), which only the room gate (:mod:`actline.models.room_gate`) reads; callers that know it
pass it, every other classifier ignores it. Evaluation, the recognizer, streaming, the service and export all talk to this contract only.

- :class:`TorchClassifier`: any registered torch model (``create_model``), CPU or GPU;
- :class:`OnnxClassifier`: ONNX Runtime over either an exported model (windows in) or a tree
  model on window statistics (``--model features``: statistics computed here, trees in ONNX).
  It imports neither torch nor scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from actline.core.errors import ActlineError

WINDOW_STATS_INPUT = "window-statistics/1"  # the ONNX input is window_stats(window), not the window


class WindowClassifier(Protocol):
    num_classes: int
    feature_dim: int

    def probs(self, windows: np.ndarray, background: np.ndarray | None = None) -> np.ndarray: ...

    def features(self, windows: np.ndarray) -> np.ndarray: ...


class TorchClassifier:
    def __init__(self, model, device: str = "cpu", batch_size: int = 32):
        import torch

        self.model, self.device, self.batch_size = model.eval(), torch.device(device), batch_size
        self.num_classes = int(model.arch["num_classes"]) if hasattr(model, "arch") else None
        self.feature_dim = int(getattr(model, "feature_dim", 0))

    def _run(self, windows: np.ndarray, fn) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(windows[i:i + self.batch_size], dtype=np.float32))
                out.append(fn(xb[:, None].to(self.device)).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.num_classes or 0), np.float32)

    def probs(self, windows: np.ndarray, background=None) -> np.ndarray:
        import torch

        return self._run(windows, lambda x: torch.softmax(self.model(x), dim=1))

    def features(self, windows: np.ndarray) -> np.ndarray:
        return self._run(windows, self.model.features)


class OnnxClassifier:
    """ONNX Runtime session whose output is class probabilities; the config rides in its metadata."""

    def __init__(self, model: str | Path | bytes, threads: int = 0):
        path = model if isinstance(model, bytes) else Path(model)
        where = "ONNX model" if isinstance(model, bytes) else path
        try:
            import onnxruntime as ort
        except ImportError:
            raise ActlineError(where, "ONNX models need onnxruntime (pip install 'actline[runtime]')") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(path if isinstance(path, bytes) else str(path), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - any unreadable model is the user's input error
            raise ActlineError(where, f"cannot load ONNX model ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "actline_config" not in meta:
            raise ActlineError(where, "not an actline model (no actline_config in the ONNX metadata)")
        self.config = json.loads(meta["actline_config"])
        self.input = self.session.get_inputs()[0].name
        self.on_stats = self.config.get("input") == WINDOW_STATS_INPUT
        self.num_classes = len(self.config.get("classes", []))
        if self.on_stats:
            from actline.models.window_stats import N_STATS

            self.feature_dim = N_STATS
        else:
            self.feature_dim = int(self.config.get("feature_dim") or 0)

    def probs(self, windows: np.ndarray, background=None) -> np.ndarray:
        x = self.features(windows) if self.on_stats else np.ascontiguousarray(windows, dtype=np.float32)[:, None]
        return self.session.run(None, {self.input: x})[0]

    def features(self, windows: np.ndarray) -> np.ndarray:
        if not self.on_stats:
            raise ActlineError("onnx", "this export holds probabilities only (export the backbone for features)")
        from actline.models.window_stats import window_stats

        return np.stack([window_stats(w) for w in windows]).astype(np.float32) if len(windows) else \
            np.zeros((0, self.feature_dim), np.float32)


def fuse_probs(probs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """The normalised weighted geometric mean of several [N, K] probability arrays."""
    logp = sum(w * np.log(np.clip(p, 1e-8, 1.0)) for p, w in zip(probs, weights))
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class FusionClassifier:
    """Late fusion: the normalised weighted geometric mean of its members' probabilities.

    ``fusion`` models pair a CNN with the ``features`` model (window statistics into trees), trained on
    the same windows: where a room is unlike the training rooms the two fail in different ways, and a
    class must convince both. ``features`` concatenates the members' features.
    """

    def __init__(self, members: list, weights: list[float]):
        self.members, self.weights = members, [float(w) for w in weights]
        self.num_classes = members[0].num_classes
        self.feature_dim = sum(m.feature_dim for m in members)

    def probs(self, windows: np.ndarray, background=None) -> np.ndarray:
        return fuse_probs([m.probs(windows, background) for m in self.members], self.weights)

    def features(self, windows: np.ndarray) -> np.ndarray:
        return np.concatenate([m.features(windows) for m in self.members], axis=1)

    @property
    def model(self):  # the torch member, when there is one (what ``Recognizer.model`` shows)
        return next((m.model for m in self.members if hasattr(m, "model")), None)


class RareClassGuard:
    """Keeps a model off the classes it barely knows: a class seen ``n`` < ``min_examples`` times in
    training has its probability scaled by ``n / min_examples``; with ``prior_power`` every class is
    also weighed by its training frequency to that power (then renormalised).

    A handful of windows cannot tell a model where a class ends, so in a room unlike its training
    rooms a model may put most windows into such a class; with the guard it falls back on the classes
    it knows well unless the evidence for the rare one is strong. The prior leans every decision
    back towards the training frequencies, which the tempered class weights of training move away
    from (off by default: on tuning data it did not pay, docs/results.md). The factors ride in the
    model's config (``class_guard``), so every backend and every export applies the same ones.
    """

    def __init__(self, inner, factors):
        self.inner, self.factors = inner, np.asarray(factors, dtype=np.float32)
        self.num_classes, self.feature_dim = inner.num_classes, inner.feature_dim

    @staticmethod
    def factors_for(train_counts, min_examples: int, prior_power: float = 0.0) -> list[float]:
        counts = np.asarray(train_counts, dtype=np.float64)
        f = np.clip(counts / max(min_examples, 1), 0.0, 1.0) if min_examples > 0 else np.ones(len(counts))
        if prior_power > 0:
            f = f * (counts / max(float(counts.max()), 1.0)) ** prior_power
        return [round(float(x), 4) for x in f]

    def probs(self, windows: np.ndarray, background=None) -> np.ndarray:
        p = self.inner.probs(windows, background) * self.factors
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)

    def features(self, windows: np.ndarray) -> np.ndarray:
        return self.inner.features(windows)

    def __getattr__(self, name):  # model, session, config: whatever the wrapped classifier offers
        return getattr(self.inner, name)


def guarded(classifier, config: dict):
    """``classifier`` wrapped in the RareClassGuard its config names (unchanged when it names none)."""
    guard = (config or {}).get("class_guard")
    return RareClassGuard(classifier, guard["factors"]) if guard and guard.get("factors") else classifier
