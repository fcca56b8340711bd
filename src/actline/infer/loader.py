"""``actline.load(path)``: whatever model lives at ``path``, ready to run, torch or ONNX Runtime.

- a clip classifier's model directory, or a tree model's -> :class:`~actline.infer.recognizer.Recognizer`;
- an exported ``.onnx`` clip classifier -> a Recognizer on ONNX Runtime (no torch import);
- a timeline model directory, or its ONNX export (``MODEL/onnx``) -> a TimelinePipeline (PyTorch, or ONNX
  Runtime with no torch import).

The one place that decides what kind of model a path holds: the command line, the service, export
and the report all call it.
"""

from __future__ import annotations

from pathlib import Path

from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object
from actline.modeldir.directory import MAX_CONFIG_BYTES

CLASSIFIER, TIMELINE = "clip-classifier", "timeline"


def model_kind(path: str | Path) -> str:
    """``"clip-classifier"`` or ``"timeline"``, from the file or the directory's ``config.json``."""
    path = Path(path)
    if path.suffix == ".onnx":
        return CLASSIFIER
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ActlineError(path, "not a model (no config.json, and not an .onnx file)")
    pipeline = read_json_object(cfg_path, MAX_CONFIG_BYTES, "a model config").get("pipeline")
    if pipeline not in (CLASSIFIER, TIMELINE):
        raise ActlineError(path, f"a {pipeline!r} model cannot be run on its own (clip-classifier or timeline)")
    return pipeline


def load(path: str | Path, device: str = "cpu", backend: str | None = None, threads: int = 0):
    """A Recognizer (clip classifiers) or a :class:`~actline.infer.timeline_pipeline.TimelinePipeline` (timeline
    models), by what ``path`` holds; ``backend`` ("torch" or "onnx") may insist on one."""
    if model_kind(path) == CLASSIFIER:
        from actline.infer.recognizer import Recognizer

        return Recognizer.load(path, device=device, backend=backend, threads=threads)
    from actline.infer.timeline_pipeline import TimelinePipeline

    return TimelinePipeline.load(path, backend=backend, device=device, threads=threads)
