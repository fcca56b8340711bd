"""The room gate: in a room unlike every training room, lean on more than the CNN.

A CNN trained on a few rooms reads a new room's floor, furniture and sensor placement as evidence and
can put a whole recording into one class. Other models fail differently there: a CNN on windows minus
the room's static heat, and trees on the person's shape alone. The gate compares the room seen by the
sensor with the training recordings' rooms and fuses them only where it is new:

- a room's **familiarity** is its similarity to the nearest training recording's room, by the measure of
  :class:`~actline.data.rooms.KnownRooms` (1: the same room; a room is new below the threshold, 0.5);
- below ``threshold`` the probabilities are the fusion (normalised geometric mean, equal weights) of the
  CNN, a **fallback CNN** (:mod:`.fallback`) and the **shape trees** (``shape.onnx``: trees on
  :func:`~actline.models.window_stats.shape_stats` of windows minus the room's static heat); elsewhere they
  are the CNN's, unchanged. Models saved before the shape trees (0.6) fuse the fallback CNN with the
  trees (:mod:`.trees`) on windows minus the empty room, by ``weights``;
- in a room **taught** by ``actline adapt`` (``taught``: indices into the known rooms), the adapted CNN is fused
  with the trees and the shape trees, which adapt refits with the room's session: a few minutes of a room
  teach window statistics more than they teach a network (the design notes give the comparison).

Files: ``rooms.safetensors`` (the training recordings' empty rooms, [rooms, H, W] float32; the fingerprints
[rooms, H*W] in models made before 0.6), ``trees.onnx``, ``shape.onnx`` and the fallback's; config
``room_gate: {threshold, measure, weights, background, rooms, taught, fallback, shape: {background}}``. The gate needs the
empty room of each window's recording, which callers pass as ``rooms`` (``Recording.empty_room()``, or
the stream's running estimate); without it, each window's own frames give an estimate
(:func:`~actline.data.background.estimate_window_background`).
"""

from __future__ import annotations

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import estimate_window_background
from actline.data.rooms import DEFAULT_MEASURE, MEASURES, NEW_ROOM_BELOW, KnownRooms
from actline.data.window import BACKGROUNDS, remove_background
from actline.modeldir.parts import Part, fallback, find, register, trees
from actline.models.contract import fuse_probs

NAME = "room_gate"
ROOMS = "rooms.safetensors"
SHAPE = "shape.onnx"
MAX_ROOMS_BYTES = 64 << 20  # ~7000 rooms of 40x60: far more than any training set has recordings
DEFAULT_THRESHOLD = NEW_ROOM_BELOW


def room_gate_of(classifier) -> RoomGate | None:
    """The :class:`RoomGate` a classifier is, or wraps (behind the rare-class guard); None without one."""
    return find(classifier, RoomGate)


class RoomGate:
    """A WindowClassifier: ``inner`` (the CNN) where the room is familiar, the CNN, ``fallback`` and ``shape``
    fused where it is not.

    ``known``: the training recordings' rooms (:class:`~actline.data.rooms.KnownRooms`; an array [R, H*W] of
    fingerprints is read as the measure of models made before 0.6); ``windows`` reach :meth:`probs` as the CNN
    takes them (background ``none``); the trees get them minus the empty room (``trees_background``,
    ``recording-median`` by default, as they were trained) and the fallback CNN minus what its
    ``fallback_background`` removes (``static-heat``), the shape trees minus what ``shape_background`` removes.
    Without shape trees (model directories saved before them) the fallback is fused with ``trees`` by
    ``weights``, and without a fallback the CNN itself takes its place.
    """

    def __init__(self, cnn, trees, known, threshold: float = DEFAULT_THRESHOLD,
                 weights=(0.5, 0.5), trees_background: str = "recording-median", fallback=None,
                 fallback_background: str = "static-heat", taught=(), shape=None, shape_background: str = "static-heat"):
        self.inner, self.trees, self.threshold = cnn, trees, float(threshold)
        self.shape, self.shape_background = shape, shape_background
        self.taught = sorted(int(i) for i in taught)
        self.fallback, self.fallback_background = fallback, fallback_background
        try:
            self.known = known if isinstance(known, KnownRooms) else KnownRooms(None, "fingerprint", known)
        except ValueError as exc:
            raise ActlineError("room gate", str(exc)) from None
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
        """[..., H, W] empty-room image(s) -> similarity to the nearest training room (:class:`KnownRooms`)."""
        try:
            return self.known.similarity(room)
        except ValueError as exc:
            raise ActlineError("room", str(exc)) from None

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        return self.probs_and_taught(windows, rooms)[0]

    def probs_and_taught(self, windows: np.ndarray, rooms=None) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities [N, K], which windows are in a room taught by ``actline adapt`` [N] bool). The
        rare-class guard leaves the taught rooms' windows as they are: their session taught the classes the
        training data held few of."""
        p = np.asarray(self.inner.probs(windows), dtype=np.float32)
        if not len(windows):
            return p, np.zeros(0, bool)
        bg = self.room_of_each(windows, rooms)
        try:
            sim, nearest = self.known.nearest(bg)
        except ValueError as exc:
            raise ActlineError("room", str(exc)) from None
        new = sim < self.threshold
        taught = ~new & np.isin(nearest, self.taught)
        if new.any():
            p[new] = self._new_room(p[new], windows[new], bg[new])
        if taught.any():
            p[taught] = self._taught_room(p[taught], windows[taught], bg[taught])
        return p, taught

    def new_room_answer(self) -> str:
        """In words, what answers in a room the gate finds new."""
        fb = f"the CNN on {self.fallback_background} windows" if self.fallback is not None else "the CNN"
        if self.shape is None:
            return f"{fb} fused with the trees"
        return f"the CNN, {fb} and the shape trees ({self.shape_background} windows), fused"

    def _new_room(self, cnn_p: np.ndarray, windows: np.ndarray, rooms: np.ndarray) -> np.ndarray:
        own = cnn_p if self.fallback is None else self.fallback.probs(_minus(windows, rooms, self.fallback_background))
        if self.shape is None:
            return fuse_probs([own, self._trees(windows, rooms)], self.weights)
        return self._with_shape(cnn_p, own, windows, rooms)

    def _taught_room(self, cnn_p: np.ndarray, windows: np.ndarray, rooms: np.ndarray) -> np.ndarray:
        if self.shape is None:
            return fuse_probs([cnn_p, self._trees(windows, rooms)], self.weights)
        return self._with_shape(cnn_p, self._trees(windows, rooms), windows, rooms)

    def _trees(self, windows: np.ndarray, rooms: np.ndarray) -> np.ndarray:
        return self.trees.probs(_minus(windows, rooms, self.trees_background))

    def _with_shape(self, a: np.ndarray, b: np.ndarray, windows: np.ndarray, rooms: np.ndarray) -> np.ndarray:
        """``a`` and ``b`` fused with the shape trees' probabilities, equal weights."""
        shape_p = self.shape.probs(_minus(windows, rooms, self.shape_background))
        return fuse_probs([np.asarray(a, np.float32), np.asarray(b, np.float32), shape_p], [1 / 3] * 3)

    def features(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        return self.inner.features(windows)

    def __getattr__(self, name):  # model, session, config: what the CNN offers
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _minus(windows: np.ndarray, rooms: np.ndarray, mode: str) -> np.ndarray:
    return np.stack([remove_background(w, b, mode) for w, b in zip(windows, rooms)])


# ----------------------------------------------------------------------------- the format
def rooms_writer(known):
    """What writes the known rooms as safetensors (no torch needed to read them): their empty-room images
    [rooms, H, W], or, for a model made before 0.6 (only fingerprints known), its fingerprints [rooms, H*W]."""
    from safetensors.numpy import save_file

    from actline.modeldir.directory import FORMAT

    if not isinstance(known, KnownRooms):
        known = KnownRooms(None, "fingerprint", known)
    arrays = {"rooms": known.images} if known.images is not None else {"fingerprints": known.signatures}
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
    return lambda p: save_file(arrays, str(p), metadata={"format": FORMAT, "measure": known.measure})


def read_rooms(path, shape, measure: str | None = None) -> KnownRooms:
    """Verified known rooms at ``path`` for a sensor of ``shape`` (H, W): size capped before reading, then
    shape and values checked. ``measure``: the one the model's config names (none: ``fingerprint``)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if path.stat().st_size > MAX_ROOMS_BYTES:
        raise ActlineError(path, f"too large for room fingerprints ({path.stat().st_size} bytes)")
    try:
        arrays = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ActlineError(path, f"cannot read room fingerprints: {exc}") from None
    h, w = shape
    rooms, fp = arrays.get("rooms"), arrays.get("fingerprints")
    want, got = ((rooms, (h, w)), "rooms") if rooms is not None else ((fp, (h * w,)), "fingerprints")
    a, tail = want
    if a is None or a.ndim != 1 + len(tail) or a.shape[0] < 1 or tuple(a.shape[1:]) != tail or a.dtype != np.float32 \
            or not np.isfinite(a).all():
        raise ActlineError(path, f"expected finite float32 '{got}' of shape [rooms, {', '.join(map(str, tail))}], "
                                 f"got {None if a is None else (a.dtype, a.shape)}")
    if rooms is not None:
        return KnownRooms(rooms, measure or DEFAULT_MEASURE)
    return KnownRooms(None, "fingerprint", fp)


def _settings(source) -> tuple:
    """(threshold, weights, trees background, rooms count, frame shape, fallback, taught) of a gate's config, checked."""
    gate, cfg = source.config[NAME], source.config
    try:
        threshold, weights = float(gate["threshold"]), [float(w) for w in gate.get("weights", [0.5, 0.5])]
        if gate.get("measure", "fingerprint") not in MEASURES:
            raise ValueError(f"unknown measure {gate.get('measure')!r}")
        background, n_rooms, taught = str(gate.get("background", "recording-median")), gate.get("rooms"), gate.get("taught", [])
        if not isinstance(taught, list) or not all(isinstance(i, int) and 0 <= i < (n_rooms or 1 << 20) for i in taught):
            raise ValueError(f"taught must be a list of indices of known rooms, got {taught!r}")
        shape = [int(v) for v in cfg["preprocessing"]["frame_shape"]]
        if not 0.0 <= threshold <= 1.0 or len(weights) != 2 or len(shape) != 2 or min(shape) < 1:
            raise ValueError("threshold in [0, 1], two weights and a frame_shape [H, W] expected")
        if not all(0.0 <= w < float("inf") for w in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not both 0, got {weights}")
        if background not in BACKGROUNDS:
            raise ValueError(f"unknown background {background!r}")
        fallback.check(gate.get("fallback"))  # absent in model directories made before the fallback CNN
        trees_of_shape = gate.get("shape")
        if trees_of_shape is not None and (not isinstance(trees_of_shape, dict)
                                           or trees_of_shape.get("background") not in BACKGROUNDS):
            bad = trees_of_shape.get("background") if isinstance(trees_of_shape, dict) else trees_of_shape
            raise ValueError(f"unknown shape background {bad!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ActlineError(source.where, f"bad 'room_gate' ({type(exc).__name__}: {exc})") from None
    return threshold, weights, background, n_rooms, shape, gate.get("fallback"), taught


def _load(cnn, source):
    threshold, weights, background, n_rooms, shape, fb, taught = _settings(source)
    for name in _files(source.config, source.backend):  # every file present before any is read
        if not source.has(name):
            raise ActlineError(source.path(name), "missing: the model's room gate needs it")
    known = read_rooms(source.file(ROOMS), shape, source.config[NAME].get("measure"))
    if n_rooms is not None and n_rooms != len(known):
        raise ActlineError(source.path(ROOMS), f"holds {len(known)} rooms, the model's config says {n_rooms}")
    of_shape = source.config[NAME].get("shape")  # {background}; absent in model directories made before 0.6
    return RoomGate(cnn, trees.load(source), known, threshold, weights, background,
                    fallback=fallback.load(source, fb), fallback_background=fb["background"] if fb else "static-heat",
                    taught=[i for i in taught if i < len(known)], shape=source.onnx(SHAPE) if of_shape else None,
                    shape_background=of_shape["background"] if of_shape else "static-heat")


def _files(config: dict, backend: str) -> list[str]:
    gate = config.get(NAME) or {}
    return [trees.TREES, ROOMS] + ([fallback.file_name(backend)] if gate.get("fallback") else []) \
        + ([SHAPE] if gate.get("shape") else [])


def _save(gate: RoomGate) -> tuple[dict, dict]:
    cfg = {"threshold": gate.threshold, "measure": gate.known.measure, "weights": gate.weights,
           "background": gate.trees_background, "rooms": len(gate.known), "taught": gate.taught}
    files = {trees.TREES: trees.writer(gate.trees), ROOMS: rooms_writer(gate.known)}
    if gate.fallback is not None:
        cfg["fallback"] = {"arch": _plain(gate.fallback.model.arch), "background": gate.fallback_background}
        files[fallback.FALLBACK] = fallback.writer(gate.fallback)
    if gate.shape is not None:
        cfg["shape"] = {"background": gate.shape_background}
        files[SHAPE] = trees.writer(gate.shape)
    return {NAME: cfg}, files


def _plain(obj):
    import json

    return json.loads(json.dumps(obj, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))


def _export(job) -> None:
    trees.export(job)
    job.copy(ROOMS)
    if job.config[NAME].get("shape"):
        job.copy(SHAPE)
    fb = job.config[NAME].get("fallback")
    if fb:
        fallback.export(job, fb)


PART = register(Part(NAME, lambda config: bool(config.get(NAME)), _load, order=20, kind=RoomGate,
                     files=_files, save=_save, export=_export, keys=(NAME,)))
