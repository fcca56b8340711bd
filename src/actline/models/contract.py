"""One contract for every clip classifier, whatever computes it: windows in, probabilities and features out.

A :class:`WindowClassifier` takes windows ``[N, T, H, W]`` float32 °C that are already cut by
the model's window rule, with sentinels filled and the background removed as its model
directory says, and returns ``probs`` ``[N, K]`` and ``features`` ``[N, D]`` (the embedding
before the classifier; for a model without a neural embedding, its window statistics).
``probs`` also takes the empty-room image of each window's recording (``rooms``, [H, W] or
[N, H, W]), which only the room gate (:mod:`actline.modeldir.parts.room_gate`) reads; callers that know
it pass it, every other classifier ignores it. Evaluation, the recognizer, streaming, the service and
export all talk to this contract only; composite models (fusion, room gate, class guard:
:mod:`actline.modeldir.parts`) wrap these two behind it.

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
from actline.models.window_stats import STATISTICS  # the inputs a tree model on window statistics may name


class WindowClassifier(Protocol):
    num_classes: int
    feature_dim: int

    def probs(self, windows: np.ndarray, rooms: np.ndarray | None = None) -> np.ndarray: ...

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

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        import torch

        return self._run(windows, lambda x: torch.softmax(self.model(x), dim=1))

    def features(self, windows: np.ndarray) -> np.ndarray:
        return self._run(windows, self.model.features)


class OnnxClassifier:
    """ONNX Runtime session whose output is class probabilities; the config rides in its metadata."""

    def __init__(self, model: str | Path | bytes, threads: int = 0):
        path = model if isinstance(model, bytes) else Path(model)
        self.blob = model if isinstance(model, bytes) else None  # an in-memory model's bytes (saved as they are)
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
        self.one_at_a_time = self.session.get_inputs()[0].shape[0] == 1
        self.statistics = self.config.get("input") if self.config.get("input") in STATISTICS else None
        self.on_stats = self.statistics is not None  # statistics computed here, trees in ONNX
        self.num_classes = len(self.config.get("classes", []))
        if self.on_stats:
            self.feature_dim = STATISTICS[self.statistics][1]
        else:
            self.feature_dim = int(self.config.get("feature_dim") or 0)

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        x = self.features(windows) if self.on_stats else np.ascontiguousarray(windows, dtype=np.float32)[:, None]
        if self.one_at_a_time and len(x) != 1:  # an int8 export takes one window (its batch axis is fixed)
            return np.concatenate([self.session.run(None, {self.input: w[None]})[0] for w in x]) if len(x) else \
                np.zeros((0, self.num_classes), np.float32)
        return self.session.run(None, {self.input: x})[0]

    def features(self, windows: np.ndarray) -> np.ndarray:
        if not self.on_stats:
            raise ActlineError("onnx", "this export holds probabilities only (export the backbone for features)")
        from actline.models.window_stats import statistics_of

        return statistics_of(windows, self.statistics)


def fuse_probs(probs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """The normalised weighted geometric mean of several [N, K] probability arrays."""
    logp = sum(w * np.log(np.clip(p, 1e-8, 1.0)) for p, w in zip(probs, weights))
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
