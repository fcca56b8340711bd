"""Long recordings → two-level timelines: chunk features, coarse probabilities, smoothing, fine labels.

Smoothing, in order (each step can be switched off):
1. a median filter over ``median`` steps of each class's probability (removes single-chunk flicker);
2. Viterbi decoding with a fixed cost per label change (``switch_penalty`` nats): the most probable
   label path that pays for every switch, so a change needs sustained evidence;
3. segments shorter than ``min_segment_s`` are merged into the neighbour whose class they resemble most.
Then each coarse segment gets a fine label from its family's classifier (mean probability over the
segment's chunks), and the fine label's value category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

from actline.checkpoint import load_model_dir, read_config
from actline.errors import ActlineError
from actline.features import Backbone, FeatureCache, Features, extract, load_backbone_dir
from actline.data.video import VideoSpec
from actline.timeline import Segment
from actline.train.sequence import predict_sequence


@dataclass(frozen=True)
class Decoding:
    median: int = 3
    switch_penalty: float = 2.0
    min_segment_s: float = 2.0


def median_smooth(prob: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(prob) < 2:
        return prob
    p = median_filter(prob, size=(k, 1), mode="nearest")
    return p / np.clip(p.sum(1, keepdims=True), 1e-12, None)


def viterbi(prob: np.ndarray, switch_penalty: float) -> np.ndarray:
    """Most probable label path under a constant switch cost (written out: O(T·C), a few lines).

    Every transition to a different label costs the same, so the best predecessor of a label is
    either itself or the best label overall: no C x C matrix is needed.
    """
    t_len, _ = prob.shape
    if t_len == 0:
        return np.zeros(0, np.int64)
    logp = np.log(np.clip(prob, 1e-12, None))
    score = logp[0].copy()
    back = np.zeros(prob.shape, np.int64)
    for t in range(1, t_len):
        best = int(score.argmax())
        switch = score[best] - switch_penalty
        stay = score >= switch
        back[t] = np.where(stay, np.arange(len(score)), best)
        score = np.where(stay, score, switch) + logp[t]
    path = np.empty(t_len, np.int64)
    path[-1] = int(score.argmax())
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, end exclusive, label) of each run of equal labels."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts, ends = np.r_[0, change], np.r_[change, len(labels)]
    return [(int(s), int(e), int(labels[s])) for s, e in zip(starts, ends)]


def merge_short(labels: np.ndarray, prob: np.ndarray, bounds: np.ndarray, min_s: float) -> np.ndarray:
    """Relabel the shortest segment under ``min_s`` to the neighbour its steps favour, until none is left."""
    labels = labels.copy()
    while True:
        rs = runs(labels)
        if len(rs) < 2:
            return labels
        dur = [bounds[e] - bounds[s] for s, e, _ in rs]
        i = int(np.argmin(dur))
        if dur[i] >= min_s:
            return labels
        s, e, _ = rs[i]
        cands = [rs[j][2] for j in (i - 1, i + 1) if 0 <= j < len(rs)]
        labels[s:e] = max(cands, key=lambda c: prob[s:e, c].sum())


def step_bounds(times: np.ndarray) -> np.ndarray:
    """N+1 boundaries for N chunks: midpoints between chunk centres, the first start and the last end."""
    if len(times) == 0:
        return np.zeros(1)
    c = times.mean(1)
    return np.r_[times[0, 0], (c[1:] + c[:-1]) / 2, times[-1, 1]]


def decode(prob: np.ndarray, times: np.ndarray, d: Decoding) -> np.ndarray:
    p = median_smooth(prob, d.median)
    labels = viterbi(p, d.switch_penalty) if d.switch_penalty > 0 else p.argmax(1)
    if d.min_segment_s > 0:
        labels = merge_short(labels, p, step_bounds(times), d.min_segment_s)
    return labels


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
        from actline.train.timeline import PIPELINE

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
