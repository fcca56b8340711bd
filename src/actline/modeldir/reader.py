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
from actline.modeldir import parts
from actline.modeldir.directory import CONFIG, ONNX, WEIGHTS, listed, read_config, verify, verify_file
from actline.modeldir.parts import Source, companion

CLIP_CLASSIFIER = "clip-classifier"


def load_model_dir(path: str | Path, pipeline: str | None = None, device: str = "cpu"):
    """(torch model in eval mode, config). ``pipeline`` refuses a directory made by another pipeline."""
    path = Path(path)
    cfg = read_config(path)
    _check_pipeline(path, cfg, pipeline)
    model = build_torch(verify(path, WEIGHTS), parts.main_arch(cfg), path / CONFIG)
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


def torch_runtime(device: str, threads: int, where) -> str:
    """The torch device to run on (``auto``: a GPU when torch sees one, else the CPU; a GPU asked for that
    is not there is refused, naming ``where``), with torch's CPU threads set to ``threads`` (0: unchanged)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ActlineError(where, f"device {device!r} requested but no GPU is available")
    return device


def load_classifier(path: str | Path, device: str = "cpu", backend: str | None = None, threads: int = 0):
    """(WindowClassifier, config) for a model directory or an exported ``.onnx`` file: the main weights,
    wrapped by the composite parts its config names (:mod:`actline.modeldir.parts`).

    ``backend``: ``"torch"`` or ``"onnx"``; by default a ``.onnx`` path (or a directory holding only
    ``model.onnx``, as a tree model does) runs on ONNX Runtime and anything else on PyTorch, except
    where torch is not installed and the directory holds its ``model.onnx`` export: ONNX Runtime.
    """
    from actline.models.contract import OnnxClassifier, TorchClassifier

    path = Path(path)
    if path.suffix == ".onnx":
        return _onnx_file(path, threads)
    cfg = read_config(path)
    _check_pipeline(path, cfg, CLIP_CLASSIFIER)
    backend = backend or _default_backend(path)
    if backend == "torch" and not installed("torch"):
        raise ActlineError(path, "PyTorch weights need torch: pip install 'actline[train]', or run its ONNX "
                                 f"export (`actline export {path}` where torch is installed)")
    if backend == "onnx":
        if not (path / ONNX).is_file():
            raise ActlineError(path, f"no {ONNX} (make one with `actline export {path}`)")
        clf = OnnxClassifier(verify(path, ONNX), threads)
        device = "cpu" if device == "auto" else device
    elif backend != "torch":
        raise ActlineError(path, f"unknown backend {backend!r} (torch or onnx)")
    else:
        device = torch_runtime(device, threads, path)
        clf = TorchClassifier(load_model_dir(path, CLIP_CLASSIFIER, device)[0], device)
    return parts.wrap(clf, Source(cfg, path / CONFIG, backend, device, threads, directory=path)), cfg


def _default_backend(path: Path) -> str:
    """PyTorch for a directory with weights, unless torch is not installed (``actline[runtime]``) and the
    directory holds its ONNX export too; ONNX Runtime for one without weights (a tree model)."""
    if not (path / WEIGHTS).is_file():
        return "onnx"
    return "torch" if installed("torch") or not (path / ONNX).is_file() else "onnx"


def _onnx_file(path: Path, threads: int):
    """An ``.onnx`` file, verified first: against its directory's ``checksums.json`` when that lists it,
    else against the ``<file>.sha256`` that export writes beside it. Its parts lie in its directory (its
    model directory's own export) or beside it (``<stem>.<part>``, tied to it by their checksums)."""
    from actline.models.contract import OnnxClassifier

    if not path.is_file():
        raise ActlineError(path, "ONNX model not found (make one with `actline export MODEL --format onnx`)")
    verify_file(path)
    clf = OnnxClassifier(path, threads)
    _check_pipeline(path, clf.config, CLIP_CLASSIFIER)
    own = (path.parent / CONFIG).is_file() and listed(path)
    if not own:
        _check_companions(path, clf.config)
    source = Source(clf.config, path, "onnx", threads=threads, directory=path.parent if own else None,
                    export=None if own else path)
    return parts.wrap(clf, source), clf.config


def _check_companions(path: Path, cfg: dict) -> None:
    """An export's parts must be the very files it was exported with (their SHA-256 in its metadata)."""
    for name, want in (cfg.get("companions") or {}).items():
        f = companion(path, name)
        if f.is_file() and sha256_file(f) != want:
            raise ActlineError(f, f"not the {name} that {path.name} was exported with (checksum differs)")


def _check_pipeline(path: Path, cfg: dict, pipeline: str | None) -> None:
    if pipeline and cfg.get("pipeline") != pipeline:
        raise ActlineError(path, f"this is a {cfg.get('pipeline')!r} model, not a {pipeline!r} model")


def _arch(where: Path, arch) -> tuple[str, dict]:
    if not isinstance(arch, dict) or not isinstance(arch.get("name"), str):
        raise ActlineError(where, "'arch' must be an object with the model's 'name'")
    arch = dict(arch)
    name = arch.pop("name")
    arch.pop("weights", None)  # pretrained weights are already in the state dict
    return name, arch
