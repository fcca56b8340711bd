"""The room gate: in a room unlike every training room, lean on the trees as well as the CNN.

A CNN trained on a few rooms reads a new room's floor, furniture and sensor placement as evidence and
can put a whole recording into one class. The trees on background-subtracted window statistics fail
differently there. The gate compares the room seen by the sensor with the training recordings' rooms
and fuses the two only where it is new:

- a room's **fingerprint** is its empty-room image minus its median, scaled to unit length
  (:func:`room_fingerprint`); its **familiarity** is the cosine similarity to the nearest training
  recording's fingerprint (1: the same room);
- below ``threshold`` the probabilities are the fusion (normalised weighted geometric mean) of a
  **fallback CNN** (:mod:`.fallback`) and the trees (:mod:`.trees`) on windows minus the empty room;
  elsewhere they are the CNN's, unchanged.

Files: ``rooms.safetensors`` (the training fingerprints, [rooms, H*W] float32), ``trees.onnx`` and the
fallback's; config ``room_gate: {threshold, weights, background, rooms, fallback}``. The gate needs the
empty room of each window's recording, which callers pass as ``rooms`` (``Recording.empty_room()``, or
the stream's running estimate); without it, each window's own frames give an estimate
(:func:`~actline.data.background.estimate_window_background`).
"""

from __future__ import annotations

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import estimate_window_background
from actline.data.rooms import room_fingerprint
from actline.data.window import BACKGROUNDS, remove_background
from actline.modeldir.parts import Part, fallback, find, register, trees
from actline.models.contract import fuse_probs

NAME = "room_gate"
ROOMS = "rooms.safetensors"
MAX_ROOMS_BYTES = 64 << 20  # ~7000 rooms of 40x60: far more than any training set has recordings
DEFAULT_THRESHOLD = 0.3


def room_gate_of(classifier) -> RoomGate | None:
    """The :class:`RoomGate` a classifier is, or wraps (behind the rare-class guard); None without one."""
    return find(classifier, RoomGate)


class RoomGate:
    """A WindowClassifier: ``inner`` (the CNN) where the room is familiar, ``fallback`` fused with ``trees``
    where it is not.

    ``fingerprints``: [R, H*W] training recordings' fingerprints; ``windows`` reach :meth:`probs` as the CNN
    takes them (background ``none``); the trees get them minus the empty room (``trees_background``,
    ``recording-median`` by default, as they were trained) and the fallback CNN minus what its
    ``fallback_background`` removes (``static-heat``). Without a fallback the CNN itself is fused with the
    trees (model directories saved before the fallback existed).
    """

    def __init__(self, cnn, trees, fingerprints, threshold: float = DEFAULT_THRESHOLD,
                 weights=(0.5, 0.5), trees_background: str = "recording-median", fallback=None,
                 fallback_background: str = "static-heat"):
        self.inner, self.trees, self.threshold = cnn, trees, float(threshold)
        self.fallback, self.fallback_background = fallback, fallback_background
        self.fingerprints = np.asarray(fingerprints, dtype=np.float32)
        if self.fingerprints.ndim != 2 or not len(self.fingerprints):
            raise ActlineError("room gate", f"fingerprints must be [rooms, pixels], got {self.fingerprints.shape}")
        self.weights, self.trees_background = [float(w) for w in weights], trees_background
        self.num_classes, self.feature_dim = cnn.num_classes, cnn.feature_dim

    @property
    def cnn(self):
        return self.inner

    def room_of_each(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        """[N, H, W]: ``rooms`` broadcast to every window, or each window's own estimate."""
        if rooms is None:
            return np.stack([estimate_window_background(w) for w in windows]) if len(windows) else \
                np.zeros((0, *windows.shape[2:]), np.float32)
        bg = np.asarray(rooms, dtype=np.float32)
        bg = np.broadcast_to(bg, (len(windows), *bg.shape[-2:])) if bg.ndim == 2 else bg
        if bg.shape != (len(windows), *windows.shape[2:]):
            raise ActlineError("room", f"expected one {windows.shape[2]}x{windows.shape[3]} empty-room image "
                                       f"per window, got shape {bg.shape}")
        if not np.isfinite(bg).all():
            raise ActlineError("room", "the empty-room image contains NaN or inf")
        return bg

    def similarity(self, room) -> np.ndarray:
        """[..., H, W] empty-room image(s) -> cosine similarity to the nearest training room."""
        fp = room_fingerprint(room)
        if fp.shape[-1] != self.fingerprints.shape[1]:
            raise ActlineError("room", f"{fp.shape[-1]} pixels, but the training rooms have "
                                       f"{self.fingerprints.shape[1]}")
        # rounded: a training room against itself is 1 whatever order the CPU summed in (0.99999994 in float32)
        return np.round((fp @ self.fingerprints.T).max(axis=-1), 4)

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        p = np.asarray(self.inner.probs(windows), dtype=np.float32)
        if not len(windows):
            return p
        bg = self.room_of_each(windows, rooms)
        new = self.similarity(bg) < self.threshold
        if new.any():
            own = p[new] if self.fallback is None else self.fallback.probs(
                _minus(windows[new], bg[new], self.fallback_background))
            p[new] = fuse_probs([np.asarray(own, dtype=np.float32), self.trees.probs(
                _minus(windows[new], bg[new], self.trees_background))], self.weights)
        return p

    def features(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        return self.inner.features(windows)

    def __getattr__(self, name):  # model, session, config: what the CNN offers
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _minus(windows: np.ndarray, rooms: np.ndarray, mode: str) -> np.ndarray:
    return np.stack([remove_background(w, b, mode) for w, b in zip(windows, rooms)])


# ----------------------------------------------------------------------------- the format
def rooms_writer(fingerprints):
    """What writes the fingerprints [rooms, H*W] as safetensors (no torch needed to read them)."""
    from safetensors.numpy import save_file

    from actline.modeldir.directory import FORMAT

    fp = np.ascontiguousarray(fingerprints, dtype=np.float32)
    return lambda p: save_file({"fingerprints": fp}, str(p), metadata={"format": FORMAT})


def read_rooms(path, pixels: int) -> np.ndarray:
    """Verified fingerprints at ``path``: size capped before reading, then shape and values checked."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if path.stat().st_size > MAX_ROOMS_BYTES:
        raise ActlineError(path, f"too large for room fingerprints ({path.stat().st_size} bytes)")
    try:
        fp = load_file(str(path)).get("fingerprints")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ActlineError(path, f"cannot read room fingerprints: {exc}") from None
    if fp is None or fp.ndim != 2 or fp.shape[0] < 1 or fp.shape[1] != pixels or fp.dtype != np.float32 \
            or not np.isfinite(fp).all():
        raise ActlineError(path, f"expected finite float32 'fingerprints' of shape [rooms, {pixels}], "
                                 f"got {None if fp is None else (fp.dtype, fp.shape)}")
    return fp


def _settings(source) -> tuple:
    """(threshold, weights, trees background, rooms count, frame shape, fallback) of a gate's config, checked."""
    gate, cfg = source.config[NAME], source.config
    try:
        threshold, weights = float(gate["threshold"]), [float(w) for w in gate.get("weights", [0.5, 0.5])]
        background, n_rooms = str(gate.get("background", "recording-median")), gate.get("rooms")
        shape = [int(v) for v in cfg["preprocessing"]["frame_shape"]]
        if not 0.0 <= threshold <= 1.0 or len(weights) != 2 or len(shape) != 2 or min(shape) < 1:
            raise ValueError("threshold in [0, 1], two weights and a frame_shape [H, W] expected")
        if not all(0.0 <= w < float("inf") for w in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not both 0, got {weights}")
        if background not in BACKGROUNDS:
            raise ValueError(f"unknown background {background!r}")
        fallback.check(gate.get("fallback"))  # absent in model directories made before the fallback CNN
    except (KeyError, TypeError, ValueError) as exc:
        raise ActlineError(source.where, f"bad 'room_gate' ({type(exc).__name__}: {exc})") from None
    return threshold, weights, background, n_rooms, shape, gate.get("fallback")


def _load(cnn, source):
    threshold, weights, background, n_rooms, shape, fb = _settings(source)
    for name in _files(source.config, source.backend):  # every file present before any is read
        if not source.has(name):
            raise ActlineError(source.path(name), "missing: the model's room gate needs it")
    fingerprints = read_rooms(source.file(ROOMS), shape[0] * shape[1])
    if n_rooms is not None and n_rooms != len(fingerprints):
        raise ActlineError(source.path(ROOMS), f"holds {len(fingerprints)} rooms, the model's config says {n_rooms}")
    return RoomGate(cnn, trees.load(source), fingerprints, threshold, weights, background,
                    fallback=fallback.load(source, fb), fallback_background=fb["background"] if fb else "static-heat")


def _files(config: dict, backend: str) -> list[str]:
    fb = (config.get(NAME) or {}).get("fallback")
    return [trees.TREES, ROOMS] + ([fallback.file_name(backend)] if fb else [])


def _save(gate: RoomGate) -> tuple[dict, dict]:
    cfg = {"threshold": gate.threshold, "weights": gate.weights, "background": gate.trees_background,
           "rooms": len(gate.fingerprints)}
    files = {trees.TREES: trees.writer(gate.trees), ROOMS: rooms_writer(gate.fingerprints)}
    if gate.fallback is not None:
        cfg["fallback"] = {"arch": _plain(gate.fallback.model.arch), "background": gate.fallback_background}
        files[fallback.FALLBACK] = fallback.writer(gate.fallback)
    return {NAME: cfg}, files


def _plain(obj):
    import json

    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def _export(job) -> None:
    trees.export(job)
    job.copy(ROOMS)
    fb = job.config[NAME].get("fallback")
    if fb:
        fallback.export(job, fb)


PART = register(Part(NAME, lambda config: bool(config.get(NAME)), _load, order=20, kind=RoomGate,
                     files=_files, save=_save, export=_export, keys=(NAME,)))
