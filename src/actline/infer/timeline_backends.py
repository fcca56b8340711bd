"""What computes a timeline model's three stages: PyTorch (a model directory) or ONNX Runtime (its export).

A backend is three runners: ``encoder`` (raw chunks → one feature vector each; an
:class:`~actline.features.extract.Encoder`), ``stage1(x)`` (features ``[T, D]`` → coarse probabilities
``[T, C]``) and ``stage2(family, x)`` (→ fine probabilities of that family). Everything else (chunking,
decoding, segments, fine labels) is :class:`~actline.infer.timeline_pipeline.TimelinePipeline`'s, written once.
Both encoders prepare their input with :func:`~actline.features.extract.model_input` from the
normalisation saved in the model's config. The ONNX backend imports no torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.core.jsonfile import read_json_object
from actline.features.extract import encoder_window, model_input

REGISTRY_JSON = "stage2_registry.json"


class TorchTimelineBackend:
    """A timeline model directory: ``backbone/``, ``stage1/``, ``stage2/<family>/`` (verified on load)."""

    def __init__(self, path: Path, device: str = "cpu"):
        from actline.features.backbone import load_backbone_dir
        from actline.modeldir.reader import load_model_dir

        self.registry = read_json_object(path / "stage2" / REGISTRY_JSON)
        self.backbone = self.encoder = load_backbone_dir(path / "backbone")
        self.stage1_model, _ = load_model_dir(path / "stage1", pipeline="timeline-stage1")
        self.stage2_models = {fam: load_model_dir(path / e["model"], pipeline="timeline-stage2")[0]
                              for fam, e in self.registry.items() if isinstance(e, dict) and e.get("model")}
        self.device = device
        for m in (self.backbone.model, self.stage1_model, *self.stage2_models.values()):
            m.to(device)

    def stage1(self, x: np.ndarray) -> np.ndarray:
        from actline.models.temporal import predict_sequence

        return predict_sequence(self.stage1_model, x)

    def stage2(self, family: str, x: np.ndarray) -> np.ndarray:
        from actline.models.temporal import predict_sequence

        return predict_sequence(self.stage2_models[family], x)


def _session(path: Path, threads: int = 0):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ActlineError(path, "ONNX models need onnxruntime (pip install 'actline[runtime]')") from None
    if not path.is_file():
        raise ActlineError(path, "missing from the exported timeline model")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the user's input error
        raise ActlineError(path, f"cannot load ONNX model ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


def _run(sess, x: np.ndarray) -> np.ndarray:
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


class OnnxEncoder:
    """``backbone.onnx`` as an encoder; name, kind, background and normalisation from ``config.json``."""

    def __init__(self, session, features: dict):
        self.session = session
        self.name = f"{features.get('backbone')}+onnx"  # its own feature-cache entries (ONNX rounds differently)
        self.digest, self.dim = str(features.get("digest")), int(features["dim"])
        self.kind, self.window = features["kind"], encoder_window(features)
        self.mean, self.std = features.get("mean"), features.get("std")
        if self.kind == "rgb" and not (self.mean and self.std):
            raise ActlineError("config.json", "this export predates saved input normalisation (features mean and "
                                              "std): export the model again with `actline export`")

    def __call__(self, chunks: np.ndarray) -> np.ndarray:
        return _run(self.session, model_input(chunks, self.kind, self.mean, self.std)).astype(np.float32)


class OnnxTimelineBackend:
    """An exported timeline model (``actline export MODEL``): ``backbone.onnx``, ``stage1.onnx``,
    ``stage2/<family>.onnx``, ``stage2_registry.json`` and ``config.json``, each verified against the
    export's ``checksums.json`` before it is read."""

    def __init__(self, path: Path, features: dict, threads: int = 0):
        from actline.modeldir.directory import verify  # each file against the export's checksums.json

        self.registry = read_json_object(verify(path, REGISTRY_JSON))
        self.encoder = OnnxEncoder(_session(verify(path, "backbone.onnx"), threads), features)
        self.stage1_session = _session(verify(path, "stage1.onnx"), threads)
        self.stage2_sessions = {fam: _session(verify(path, f"stage2/{fam}.onnx"), threads)
                                for fam, e in self.registry.items() if isinstance(e, dict) and e.get("model")}

    @staticmethod
    def is_export(path: Path) -> bool:
        return (path / "backbone.onnx").is_file() and (path / "stage1.onnx").is_file()

    def stage1(self, x: np.ndarray) -> np.ndarray:
        return _run(self.stage1_session, np.asarray(x, np.float32)[None])[0]

    def stage2(self, family: str, x: np.ndarray) -> np.ndarray:
        return _run(self.stage2_sessions[family], np.asarray(x, np.float32)[None])[0]
