"""Build what a model directory holds, verified, without unpickling and without trusting its config.

- :func:`load_model_dir`: a torch model (``model.safetensors``); :func:`build_torch` builds any
  torch model from its ``arch`` and weights file (a room gate's fallback CNN too). The architecture
  is first built on PyTorch's meta device and its shapes compared with the weights file, so a config
  cannot ask for an unbounded model and no memory is allocated before the check.
- :func:`load_classifier`: any clip classifier as a :class:`~actline.models.contract.WindowClassifier`:
  a torch model directory, a tree model directory (``model.onnx``), or an exported ``.onnx`` file.
"""

from __future__ import annotations

from pathlib import Path

from actline.core.errors import ActlineError
from actline.core.extras import installed
from actline.core.hashing import sha256_file
from actline.data.dataset import BACKGROUNDS
from actline.modeldir.directory import (
    CONFIG,
    FALLBACK,
    FALLBACK_ONNX,
    ONNX,
    ROOMS,
    TREES,
    WEIGHTS,
    listed,
    read_config,
    read_rooms,
    verify,
    verify_file,
)

CLIP_CLASSIFIER = "clip-classifier"


def load_model_dir(path: str | Path, pipeline: str | None = None, device: str = "cpu"):
    """(torch model in eval mode, config). ``pipeline`` refuses a directory made by another pipeline."""
    path = Path(path)
    cfg = read_config(path)
    _check_pipeline(path, cfg, pipeline)
    model = build_torch(verify(path, WEIGHTS), cfg.get("arch"), path / CONFIG)
    return model.to(device).eval(), cfg


def build_torch(weights: Path, arch, where: Path):
    """The torch model ``arch`` describes (``{"name": ..., **arguments}``, from ``where``) with the verified
    safetensors ``weights``: built first on the meta device and compared shape by shape, so that a config
    cannot ask for an unbounded model and no memory is allocated before the check."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from actline.models import create_model
    from actline.models.thermal import upgrade_state_dict

    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ActlineError(weights, f"cannot read safetensors weights: {exc}") from None
    name, arch = _arch(where, arch)
    try:
        with torch.device("meta"):
            skeleton = create_model(name, **arch)
    except ActlineError:
        raise
    except Exception as exc:  # noqa: BLE001 - any config the factory cannot build is a bad model directory
        raise ActlineError(where, f"cannot build {name!r} from its arguments ({type(exc).__name__}: {exc})") from None
    state = upgrade_state_dict(skeleton, state)
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        diff = sorted(set(want) ^ set(got)) or [k for k in want if want[k] != got[k]]
        raise ActlineError(weights, f"weights do not fit {name}: {len(diff)} tensor(s) differ, e.g. {diff[0]}")
    model = create_model(name, **arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ActlineError(weights, f"weights do not fit {name}: {str(exc).splitlines()[0]}") from None
    return model.eval()


def load_classifier(path: str | Path, device: str = "cpu", backend: str | None = None, threads: int = 0):
    """(WindowClassifier, config) for a model directory or an exported ``.onnx`` file.

    ``backend``: ``"torch"`` or ``"onnx"``; by default a ``.onnx`` path (or a directory holding only
    ``model.onnx``, as a tree model does) runs on ONNX Runtime and anything else on PyTorch, except
    where torch is not installed and the directory holds its ``model.onnx`` export: ONNX Runtime.
    """
    from actline.models.contract import OnnxClassifier, TorchClassifier, guarded

    path = Path(path)
    if path.suffix == ".onnx":
        return _onnx_file(path, threads)
    cfg = read_config(path)
    _check_pipeline(path, cfg, CLIP_CLASSIFIER)
    backend = backend or _default_backend(path)
    if backend == "torch" and not installed("torch"):
        raise ActlineError(path, "PyTorch weights need torch: pip install 'actline[train]', or run its ONNX "
                                 f"export (`actline export {path}` where torch is installed)")
    if (cfg.get("arch") or {}).get("name") == "fusion":
        return guarded(_fusion(path, cfg, device, backend, threads), cfg), cfg
    if backend == "onnx":
        if not (path / ONNX).is_file():
            raise ActlineError(path, f"no {ONNX} (make one with `actline export {path}`)")
        clf = OnnxClassifier(verify(path, ONNX), threads)
    elif backend != "torch":
        raise ActlineError(path, f"unknown backend {backend!r} (torch or onnx)")
    else:
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ActlineError(path, f"device {device!r} requested but no GPU is available")
        clf = TorchClassifier(load_model_dir(path, CLIP_CLASSIFIER, device)[0], device)
    fallback = path / (FALLBACK_ONNX if backend == "onnx" else FALLBACK)
    return guarded(_room_gate(clf, cfg, path / TREES, path / ROOMS, path / CONFIG, threads, fallback, device), cfg), cfg


def _default_backend(path: Path) -> str:
    """PyTorch for a directory with weights, unless torch is not installed (``actline[runtime]``) and the
    directory holds its ONNX export too; ONNX Runtime for one without weights (a tree model)."""
    if not (path / WEIGHTS).is_file():
        return "onnx"
    return "torch" if installed("torch") or not (path / ONNX).is_file() else "onnx"


def _fusion(path: Path, cfg: dict, device: str, backend: str, threads: int):
    """A fusion model directory: its CNN (``model.safetensors``, or ``model.onnx`` once exported) and its
    tree model on window statistics (``trees.onnx``), fused as the config's weights say."""
    from actline.models.contract import OnnxClassifier, TorchClassifier

    if backend == "onnx":
        cnn = OnnxClassifier(verify(path, ONNX), threads)
    else:
        cnn = TorchClassifier(load_model_dir(path, CLIP_CLASSIFIER, device)[0], device)
    return _with_trees(cnn, path / TREES, cfg["arch"], threads)


def _with_trees(cnn, trees: Path, arch: dict, threads: int):
    """A fusion model's CNN member fused with its tree model (``trees.onnx``, verified first)."""
    from actline.models.contract import FusionClassifier, OnnxClassifier

    verify_file(trees)
    return FusionClassifier([cnn, OnnxClassifier(trees, threads)], arch.get("weights", [0.5, 0.5]))


def _onnx_file(path: Path, threads: int):
    """An ``.onnx`` file, verified first: against its directory's ``checksums.json`` when that lists it,
    else against the ``<file>.sha256`` that export writes beside it."""
    from actline.models.contract import OnnxClassifier, guarded

    if not path.is_file():
        raise ActlineError(path, "ONNX model not found (make one with `actline export MODEL --format onnx`)")
    verify_file(path)
    clf = OnnxClassifier(path, threads)
    _check_pipeline(path, clf.config, CLIP_CLASSIFIER)
    own = (path.parent / CONFIG).is_file() and listed(path)  # its model directory's own export
    trees, rooms, fallback = (path.parent / TREES, path.parent / ROOMS, path.parent / FALLBACK_ONNX) if own else \
        (companion(path, TREES), companion(path, ROOMS), companion(path, FALLBACK_ONNX))
    if not own:
        _check_companions(path, clf.config)
    if (clf.config.get("arch") or {}).get("name") == "fusion":  # an exported fusion CNN: its trees lie beside it
        if not trees.is_file():
            raise ActlineError(trees, "missing: a fusion model's export needs its trees beside it")
        return guarded(_with_trees(clf, trees, clf.config["arch"], threads), clf.config), clf.config
    gated = _room_gate(clf, clf.config, trees, rooms, path, threads, fallback)
    return guarded(gated, clf.config), clf.config


def companion(path: Path, name: str) -> Path:
    """Where a file an exported ``.onnx`` needs (its trees, its room fingerprints) lies: ``<stem>.<name>``
    beside it, as ``actline export`` writes it."""
    return path.with_name(f"{path.stem}.{name}")


def _check_companions(path: Path, cfg: dict) -> None:
    """An export's companions must be the very files it was exported with (their SHA-256 in its metadata)."""
    for name, want in (cfg.get("companions") or {}).items():
        f = companion(path, name)
        if f.is_file() and sha256_file(f) != want:
            raise ActlineError(f, f"not the {name} that {path.name} was exported with (checksum differs)")


def _room_gate(clf, cfg: dict, trees: Path, rooms: Path, where: Path, threads: int, fallback: Path | None = None,
               device: str = "cpu"):
    """``clf`` behind the room gate its config names (``room_gate``), or unchanged when it names none.
    ``fallback``: where its fallback CNN lies (safetensors weights, or an ONNX export), if it names one."""
    from actline.models.contract import OnnxClassifier, TorchClassifier
    from actline.models.room_gate import RoomGate

    gate = cfg.get("room_gate")
    if not gate:
        return clf
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
        fb = gate.get("fallback")  # absent in model directories made before the fallback CNN
        if fb is not None and (not isinstance(fb, dict) or fb.get("background") not in BACKGROUNDS
                               or not isinstance(fb.get("arch"), dict)):
            raise ValueError("'fallback' must hold the fallback CNN's 'arch' and a known 'background'")
    except (KeyError, TypeError, ValueError) as exc:
        raise ActlineError(where, f"bad 'room_gate' ({type(exc).__name__}: {exc})") from None
    for f in (trees, rooms) + ((fallback,) if fb is not None else ()):
        if f is None or not f.is_file():
            raise ActlineError(f or where, "missing: the model's room gate needs it")
    verify_file(trees)
    fingerprints = read_rooms(rooms, shape[0] * shape[1])
    if n_rooms is not None and n_rooms != len(fingerprints):
        raise ActlineError(rooms, f"holds {len(fingerprints)} rooms, the model's config says {n_rooms}")
    if fb is None:
        second = None
    elif fallback.suffix == ".onnx":
        second = OnnxClassifier(verify_file(fallback), threads)
    else:
        second = TorchClassifier(build_torch(verify_file(fallback), fb["arch"], where).to(device), device)
    return RoomGate(clf, OnnxClassifier(trees, threads), fingerprints, threshold, weights, background,
                    fallback=second, fallback_background=fb["background"] if fb else "static-heat")


def _check_pipeline(path: Path, cfg: dict, pipeline: str | None) -> None:
    if pipeline and cfg.get("pipeline") != pipeline:
        raise ActlineError(path, f"this is a {cfg.get('pipeline')!r} model, not a {pipeline!r} model")


def _arch(where: Path, arch) -> tuple[str, dict]:
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str):
        raise ActlineError(where, "'arch' must be an object with the model's 'name'")
    arch = dict(arch)
    if arch.get("name") == "fusion":  # its torch member is the CNN
        arch = dict(arch["cnn"])
    name = arch.pop("name")
    arch.pop("weights", None)  # pretrained weights are already in the state dict
    return name, arch
