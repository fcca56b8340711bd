"""Which runtime a long-running command (``serve``, ``stream``) opens a model on: ``--backend``.

- ``None`` (the default): a model directory that holds its ONNX export (``model.onnx`` and every part's
  export: ``fallback.onnx``, ``shape.onnx``, ``trees.onnx``; ``MODEL/onnx/`` for a timeline model) runs on ONNX Runtime,
  without importing torch or scikit-learn (a service at rest then holds about a sixth of the memory);
  one without runs on PyTorch;
- ``"onnx"``: ONNX Runtime; a directory without its export is exported first, into the directory, and
  checked against PyTorch as ``actline export`` does (that needs torch, once);
- ``"torch"``: PyTorch, from the directory's weights.

An exported ``.onnx`` file always runs on ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path

from actline.core.errors import ActlineError
from actline.core.extras import installed

BACKENDS = ("onnx", "torch")


def has_export(path: Path) -> bool:
    """Whether the model directory ``path`` holds its complete ONNX export."""
    from actline.modeldir import parts
    from actline.modeldir.directory import ONNX, read_config

    if _is_timeline(path):
        return (path / "onnx" / "config.json").is_file()
    if not (path / ONNX).is_file():
        return False
    return all((path / name).is_file() for name in parts.part_files(read_config(path), "onnx"))


def _is_timeline(path: Path) -> bool:
    from actline.infer.loader import TIMELINE, model_kind

    return model_kind(path) == TIMELINE


def _is_timeline_export(path: Path) -> bool:
    from actline.infer.timeline_backends import OnnxTimelineBackend

    return OnnxTimelineBackend.is_export(path)


def open_model(path: str | Path, backend: str | None = None, device: str = "cpu", threads: int = 0):
    """``actline.load`` of ``path`` on the backend ``--backend`` names (see the module doc), on ``device``
    (``auto``: a GPU when there is one) with ``threads`` CPU threads."""
    from actline.infer.loader import load

    path, backend = resolve(path, backend)
    return load(path, device=device, backend=backend, threads=threads)


def resolve(path: str | Path, backend: str | None) -> tuple[Path, str | None]:
    """(path, backend) to open with ``actline.load`` (backend None: the loader's own choice, as for ``.onnx``
    files), after exporting the directory where ``backend`` is ``"onnx"`` and it holds no export."""
    path = Path(path)
    if backend is not None and backend not in BACKENDS:
        raise ActlineError("--backend", f"unknown backend {backend!r} (onnx or torch)")
    if path.suffix == ".onnx" or not path.is_dir() or _is_timeline_export(path):
        if backend == "torch":
            raise ActlineError(path, "an exported model runs on ONNX Runtime: pass its model directory for torch")
        return path, None
    if backend == "torch":
        return path, "torch"
    if not has_export(path):
        if backend is None:
            return path, "torch" if installed("torch") else None  # the loader names what to install
        if not installed("torch"):
            raise ActlineError(path, "no ONNX export in this model directory, and making one needs torch: run "
                                     f"`actline export {path}` where torch is installed (pip install 'actline[train]')")
        from actline.apps.onnx_export import export_model

        export_model(path)  # checked against PyTorch before anything is written
    return (path / "onnx", "onnx") if _is_timeline(path) else (path, "onnx")
