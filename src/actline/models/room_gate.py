"""The room gate: in a room unlike every training room, lean on the trees as well as the CNN.

A CNN trained on a few rooms reads a new room's floor, furniture and sensor placement as evidence
and can put a whole recording into one class (on a realistic tuning set, an unseen room's 61
``standing`` windows all went to a class with 5 training windows, at probability 0.97). The trees
on background-subtracted window statistics fail differently there. The gate compares the room
seen by the sensor with the training recordings' rooms and fuses the two only where it is new:

- a room's **fingerprint** is its empty-room image minus its median, scaled to unit length
  (:func:`room_fingerprint`); its **familiarity** is the cosine similarity to the nearest training
  recording's fingerprint (1: the same room; seen rooms measured 0.47–1.00, unseen 0.03–0.63);
- below ``threshold`` the probabilities are the fusion (normalised weighted geometric mean, as
  :class:`~actline.models.contract.FusionClassifier`) of a **fallback CNN** and the trees on
  windows minus the empty room; elsewhere they are the CNN's, unchanged. The fallback CNN is a second
  network trained on windows with only the static heat removed (``static-heat``: floor pattern and
  hot furniture gone, a still person kept), so that it reads the person rather than the room; a
  model directory made before it existed has none, and the CNN itself takes its place.

The threshold (0.3) was chosen on realistic tuning sets 100–114 only, the static-heat fallback on
sets 103–114 and confirmed, by a rule written first, on fresh sets 115–120 (docs/results.md). The
model directory holds the training fingerprints (``rooms.safetensors``), the trees (``trees.onnx``)
and the fallback CNN (``fallback.safetensors``, or ``fallback.onnx`` once exported). The gate needs
the empty-room image of each window's recording, which callers pass as ``background``
(``Recording.background()``, or the stream's running background); without it, each window's own
frames give an estimate (:func:`~actline.data.background.estimate_window_background`).
"""

from __future__ import annotations

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import estimate_window_background
from actline.data.dataset import remove_background
from actline.models.contract import fuse_probs

DEFAULT_THRESHOLD = 0.3  # chosen on tuning sets only (benchmarks/room_gate.py, docs/results.md)


def room_gate_of(classifier) -> RoomGate | None:
    """The :class:`RoomGate` a classifier is, or wraps (behind the rare-class guard); None without one."""
    while classifier is not None and not isinstance(classifier, RoomGate):
        classifier = classifier.__dict__.get("inner")  # the guard's wrapped classifier; no forwarding
    return classifier


def room_fingerprint(background) -> np.ndarray:
    """[..., H, W] empty-room image(s) -> [..., H*W] unit vectors (the room, its median temperature removed)."""
    b = np.asarray(background, dtype=np.float64)
    b = b.reshape(*b.shape[:-2], -1)
    b = b - np.median(b, axis=-1, keepdims=True)
    return (b / (np.linalg.norm(b, axis=-1, keepdims=True) + 1e-9)).astype(np.float32)


class RoomGate:
    """A WindowClassifier: ``cnn`` where the room is familiar, ``fallback`` fused with ``trees`` where it is not.

    ``fingerprints``: [R, H*W] training recordings' fingerprints; ``windows`` reach :meth:`probs` as
    the CNN takes them (background ``none``); the trees get them minus the empty room
    (``trees_background``, ``recording-median`` by default, as they were trained) and the fallback CNN
    minus what its ``fallback_background`` removes (``static-heat``). Without a fallback the CNN itself
    is fused with the trees (model directories saved before the fallback existed).
    """

    def __init__(self, cnn, trees, fingerprints, threshold: float = DEFAULT_THRESHOLD,
                 weights=(0.5, 0.5), trees_background: str = "recording-median", fallback=None,
                 fallback_background: str = "static-heat"):
        self.cnn, self.trees, self.threshold = cnn, trees, float(threshold)
        self.fallback, self.fallback_background = fallback, fallback_background
        self.fingerprints = np.asarray(fingerprints, dtype=np.float32)
        if self.fingerprints.ndim != 2 or not len(self.fingerprints):
            raise ActlineError("room gate", f"fingerprints must be [rooms, pixels], got {self.fingerprints.shape}")
        self.weights, self.trees_background = [float(w) for w in weights], trees_background
        self.num_classes, self.feature_dim = cnn.num_classes, cnn.feature_dim

    def backgrounds(self, windows: np.ndarray, background=None) -> np.ndarray:
        """[N, H, W]: ``background`` broadcast to every window, or each window's own estimate."""
        if background is None:
            return np.stack([estimate_window_background(w) for w in windows]) if len(windows) else \
                np.zeros((0, *windows.shape[2:]), np.float32)
        bg = np.asarray(background, dtype=np.float32)
        bg = np.broadcast_to(bg, (len(windows), *bg.shape[-2:])) if bg.ndim == 2 else bg
        if bg.shape != (len(windows), *windows.shape[2:]):
            raise ActlineError("background", f"expected one {windows.shape[2]}x{windows.shape[3]} empty-room image "
                                             f"per window, got shape {bg.shape}")
        if not np.isfinite(bg).all():
            raise ActlineError("background", "the empty-room image contains NaN or inf")
        return bg

    def similarity(self, background) -> np.ndarray:
        """[..., H, W] empty-room image(s) -> cosine similarity to the nearest training room."""
        fp = room_fingerprint(background)
        if fp.shape[-1] != self.fingerprints.shape[1]:
            raise ActlineError("background", f"{fp.shape[-1]} pixels, but the training rooms have "
                                             f"{self.fingerprints.shape[1]}")
        # rounded: a training room against itself is 1 whatever order the CPU summed in (0.99999994 in float32)
        return np.round((fp @ self.fingerprints.T).max(axis=-1), 4)

    def probs(self, windows: np.ndarray, background=None) -> np.ndarray:
        p = np.asarray(self.cnn.probs(windows), dtype=np.float32)
        if not len(windows):
            return p
        bg = self.backgrounds(windows, background)
        new = self.similarity(bg) < self.threshold
        if new.any():
            own = p[new] if self.fallback is None else self.fallback.probs(
                self._minus(windows[new], bg[new], self.fallback_background))
            p[new] = fuse_probs([np.asarray(own, dtype=np.float32), self.trees.probs(
                self._minus(windows[new], bg[new], self.trees_background))], self.weights)
        return p

    @staticmethod
    def _minus(windows: np.ndarray, bg: np.ndarray, mode: str) -> np.ndarray:
        return np.stack([remove_background(w, b, mode) for w, b in zip(windows, bg)])

    def features(self, windows: np.ndarray, background=None) -> np.ndarray:
        return self.cnn.features(windows)

    def __getattr__(self, name):  # model, session, config: what the CNN offers
        if name == "cnn":
            raise AttributeError(name)
        return getattr(self.cnn, name)
