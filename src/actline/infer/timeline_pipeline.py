"""Long recordings → two-level timelines: chunk features, coarse probabilities, smoothing, fine labels.

One :class:`TimelinePipeline`, whatever computes it: a timeline model directory runs on PyTorch, its
ONNX export (``actline export MODEL``) on ONNX Runtime alone (no torch import); the backends
(:mod:`actline.infer.timeline_backends`) only run the three stages. Here, once for both:

1. chunks of the video (resampled to the model's fps and size) or of the thermal recording (its own
   frames), one feature vector per chunk (with the feature cache when one is given);
2. coarse probabilities per chunk (stage 1), smoothed and decoded (:mod:`actline.infer.decoding`:
   median filter, Viterbi with a switch penalty, minimum segment duration);
3. runs of equal labels become segments (a boundary halfway between chunk centres); each gets the
   fine label its family's stage-2 classifier gives the segment's chunks on average
   (:func:`~actline.data.segments.vote`), and that fine label's value category.

``pipeline.run(path)`` does all of it: file → segments.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.core.extras import installed
from actline.core.progress import Progress
from actline.core.rle import runs
from actline.data.segments import Segment, segments_to_frames, steps_to_segments, vote
from actline.data.video import VideoSpec
from actline.features.cache import FeatureCache
from actline.features.extract import Features, extract, frame_times
from actline.infer.decoding import Decoding, decode

PIPELINE = "timeline"


class TimelinePipeline:
    def __init__(self, cfg: dict, backend, path: Path | None = None):
        self.cfg, self.backend, self.path = cfg, backend, path
        self.registry: dict = backend.registry
        try:
            self.classes: list[str] = list(cfg["classes"])
            f = cfg["features"]
            self.spec = VideoSpec(float(f["fps"]), int(f["size"]), int(f["chunk"]), int(f["stride"]))
            self.decoding = Decoding(**cfg.get("decoding", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ActlineError(path, f"incomplete timeline config ({type(exc).__name__}: {exc})") from None
        self.fine_to_value: dict = cfg.get("fine_to_value", {})
        missing = set(self.classes) - set(self.registry)
        if missing:
            raise ActlineError(path, f"the stage-2 registry has no entry for families {sorted(missing)}")

    @classmethod
    def load(cls, path: str | Path, backend: str | None = None, device: str = "cpu",
             threads: int = 0) -> "TimelinePipeline":
        """A timeline model directory (PyTorch) or its ONNX export (ONNX Runtime); ``backend`` may insist.
        Without torch installed, a model directory runs its export in ``MODEL/onnx`` when there is one."""
        from actline.core.jsonfile import read_json_object
        from actline.infer.timeline_backends import OnnxTimelineBackend

        path = Path(path)
        if backend is None and not OnnxTimelineBackend.is_export(path) and not installed("torch"):
            if not OnnxTimelineBackend.is_export(path / "onnx"):
                raise ActlineError(path, "a PyTorch timeline model needs torch: pip install 'actline[train]', or run "
                                         f"its ONNX export (`actline export {path}` where torch is installed)")
            path = path / "onnx"  # its export, where `actline export MODEL` writes it (runtime-only install)
        export = OnnxTimelineBackend.is_export(path)
        if (backend or ("onnx" if export else "torch")) == "onnx":
            if not export:
                raise ActlineError(path, "not an exported timeline model (run `actline export MODEL` first)")
            from actline.modeldir.directory import verify

            cfg = read_json_object(verify(path, "config.json"))
            _check_pipeline(path, cfg)
            features = {"background": cfg.get("onnx", {}).get("background"), **cfg.get("features", {})}  # older exports
            return cls(cfg, OnnxTimelineBackend(path, features, threads), path)
        from actline.infer.timeline_backends import TorchTimelineBackend
        from actline.modeldir.directory import read_config
        from actline.modeldir.reader import torch_runtime

        cfg = read_config(path)
        _check_pipeline(path, cfg)
        return cls(cfg, TorchTimelineBackend(path, torch_runtime(device, threads, path)), path)

    @property
    def encoder(self):
        return self.backend.encoder

    @property
    def kind(self) -> str:
        """``"rgb"`` (the model reads videos) or ``"thermal"`` (thermal recordings)."""
        return self.encoder.kind

    def with_decoding(self, **kw) -> Decoding:
        """The model's decoding with the given settings replaced (``None`` keeps the model's)."""
        return replace(self.decoding, **{k: v for k, v in kw.items() if v is not None})

    # ------------------------------------------------------------------ the stages
    def features(self, source, cache: FeatureCache | None = None, progress: Progress | None = None) -> Features:
        if cache is not None and not hasattr(source, "frames"):
            return cache.get(source, self.encoder, self.spec, progress=progress)
        return extract(source, self.encoder, self.spec, progress=progress)

    def coarse_probs(self, feats: Features) -> np.ndarray:
        if len(feats) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self.backend.stage1(feats.x)

    def fine_label(self, family: str, x: np.ndarray) -> tuple[str, float]:
        entry = self.registry[family]
        if entry.get("direct"):
            return entry["direct"], 1.0
        k, conf = vote(self.backend.stage2(family, x))
        return entry["fine_labels"][k], conf

    def timeline(self, feats: Features, decoding: Decoding | None = None) -> tuple[list[Segment], np.ndarray]:
        """(segments, per-step coarse probabilities)."""
        prob = self.coarse_probs(feats)
        if len(prob) == 0:
            return [], prob
        labels = decode(prob, feats.times, decoding or self.decoding)
        segs = steps_to_segments(labels, feats.times, self.classes)
        for seg, (s, e, k) in zip(segs, runs(labels)):
            seg.fine, fine_conf = self.fine_label(seg.label, feats.x[s:e])
            seg.value_category = self.fine_to_value.get(seg.fine)
            seg.confidence = round(float(prob[s:e, k].mean()) * fine_conf, 4)
        return segs, prob

    # ------------------------------------------------------------------ file in, timeline out
    def run(self, source: str | Path, decoding: Decoding | None = None, cache: FeatureCache | None = None,
            progress: Progress | None = None) -> list[Segment]:
        """The timeline of one video or thermal recording."""
        return self.timeline(self.features(source, cache, progress), decoding)[0]

    def frame_labels(self, source: str | Path, segs: list[Segment]) -> np.ndarray:
        """Frame-wise labels of a timeline of ``source``: one per frame of a thermal recording, one per
        frame at the model's fps for a video (:func:`~actline.data.segments.segments_to_frames`)."""
        end = segs[-1].end_s if segs else 0.0
        return segments_to_frames(segs, times=frame_times(source, self.kind, self.spec, end))


def _check_pipeline(path: Path, cfg: dict) -> None:
    if cfg.get("pipeline") != PIPELINE:
        raise ActlineError(path, f"this is a {cfg.get('pipeline')!r} model, not a {PIPELINE!r} model "
                                 "(train one with `actline train-timeline`)")
