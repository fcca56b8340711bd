"""Long recordings → two-level timelines: chunk features, coarse probabilities, smoothing, fine labels.

Smoothing (``actline.infer.decoding``): a median filter, Viterbi decoding with a switch penalty,
and a minimum segment duration. Then each coarse segment gets a fine label from its family's classifier (mean probability over the
segment's chunks), and the fine label's value category.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.segments import Segment
from actline.data.video import VideoSpec
from actline.features.backbone import Backbone, load_backbone_dir
from actline.features.cache import FeatureCache, Features, extract
from actline.infer.decoding import Decoding, decode, runs, step_bounds
from actline.modeldir.directory import read_config
from actline.modeldir.load import load_model_dir
from actline.models.temporal import predict_sequence


class TimelineModel:
    """A trained two-stage timeline model directory (``actline train-timeline``)."""

    def __init__(self, path: Path, cfg: dict, backbone: Backbone, stage1, stage2: dict, registry: dict):
        self.path, self.cfg, self.backbone, self.stage1, self.stage2, self.registry = \
            path, cfg, backbone, stage1, stage2, registry
        self.classes: list[str] = cfg["classes"]
        self.fine_to_value: dict = cfg.get("fine_to_value", {})
        f = cfg["features"]
        self.spec = VideoSpec(f["fps"], f["size"], f["chunk"], f["stride"])
        self.decoding = Decoding(**cfg.get("decoding", {}))

    @classmethod
    def load(cls, path: str | Path) -> "TimelineModel":
        from actline.infer.load import TIMELINE as PIPELINE

        path = Path(path)
        cfg = read_config(path)
        if cfg.get("pipeline") != PIPELINE:
            raise ActlineError(path, f"this is a {cfg.get('pipeline')!r} model, not a {PIPELINE!r} model "
                                     "(train one with `actline train-timeline`)")
        backbone = load_backbone_dir(path / "backbone")
        stage1, _ = load_model_dir(path / "stage1", pipeline="timeline-stage1")
        reg_path = path / "stage2" / "stage2_registry.json"
        try:
            registry = json.loads(reg_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ActlineError(reg_path, f"cannot read the stage-2 registry ({exc})") from None
        stage2 = {fam: load_model_dir(path / e["model"], pipeline="timeline-stage2")[0]
                  for fam, e in registry.items() if e.get("model")}
        missing = set(cfg["classes"]) - set(registry)
        if missing:
            raise ActlineError(reg_path, f"no entry for families {sorted(missing)}")
        return cls(path, cfg, backbone, stage1, stage2, registry)

    def features(self, source, cache: FeatureCache | None = None, progress=None) -> Features:
        if cache is not None and not hasattr(source, "frames"):
            return cache.get(source, self.backbone, self.spec, progress=progress)
        return extract(source, self.backbone, self.spec, progress=progress)

    def coarse_probs(self, feats: Features) -> np.ndarray:
        if len(feats) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return predict_sequence(self.stage1, feats.x)

    def fine_label(self, family: str, x: np.ndarray) -> tuple[str, float]:
        entry = self.registry[family]
        if entry.get("direct"):
            return entry["direct"], 1.0
        p = predict_sequence(self.stage2[family], x).mean(0)
        k = int(p.argmax())
        return entry["fine_labels"][k], float(p[k])

    def timeline(self, feats: Features, decoding: Decoding | None = None) -> tuple[list[Segment], np.ndarray]:
        """(segments, per-step coarse probabilities)."""
        d = decoding or self.decoding
        prob = self.coarse_probs(feats)
        if len(prob) == 0:
            return [], prob
        labels = decode(prob, feats.times, d)
        bounds = step_bounds(feats.times)
        segs = []
        for s, e, k in runs(labels):
            fam = self.classes[k]
            fine, fine_conf = self.fine_label(fam, feats.x[s:e])
            conf = float(prob[s:e, k].mean()) * fine_conf
            segs.append(Segment(float(bounds[s]), float(bounds[e]), fam, fine, self.fine_to_value.get(fine), round(conf, 4)))
        return segs, prob

    def with_decoding(self, **kw) -> Decoding:
        return replace(self.decoding, **{k: v for k, v in kw.items() if v is not None})
