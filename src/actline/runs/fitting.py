"""Fit the model a run asks for: a registered torch model (one or several seeds), the ``features`` model
(window statistics into trees), or ``auto`` (candidates compared on inner validation, winner refitted).

Every branch returns a :class:`Fitted`: the classifier (the model contract), what to write into the
model directory, the training histories and a record of how the model was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from actline.data import ClipDataset, WindowRule
from actline.data.splits import inner_split
from actline.metrics.classification import summary_metrics
from actline.metrics.events import false_fall_windows
from actline.modeldir.directory import ONNX, WEIGHTS, weights_writer, write_model_dir
from actline.modeldir.parts.fusion import FusionClassifier
from actline.modeldir.parts.room_gate import room_gate_of
from actline.models import create_model
from actline.models.contract import OnnxClassifier, TorchClassifier
from actline.models.window_stats import SHAPE_INPUT, WINDOW_STATS_INPUT, statistics_of
from actline.train.clip_fit import fit_classifier, make_model
from actline.train.config import TrainConfig, room_gate_applies
from actline.train.features_model import fit_estimator, to_onnx


@dataclass
class Fitted:
    classifier: object  # a WindowClassifier
    arch: dict
    save: Callable[..., None]  # save(out, config, extra_files=None): writes the model directory
    histories: list[dict] = field(default_factory=list)
    selection: dict = field(default_factory=dict)


class WindowBank:
    """Windows cut once per (sample, window rule) and reused by every model of the run."""

    def __init__(self, ds: ClipDataset):
        self.ds, self.cache = ds, {}

    def get(self, samples, rule: WindowRule) -> np.ndarray:
        """[N, T, H, W] float32 °C, cut and cleaned by ``rule`` (sentinels filled, its background removed)."""
        out = []
        for s in samples:
            key = (s.recording_id, s.frame_idx, rule)
            if key not in self.cache:
                self.cache[key] = self.ds.window(s, rule)
            out.append(self.cache[key])
        return np.stack(out) if out else np.zeros((0, rule.length, 1, 1), np.float32)

    def rooms_for(self, classifier, samples) -> np.ndarray | None:
        """[N, H, W]: the empty-room image of each sample's recording, for a classifier with a room gate
        (None for any other: nothing reads it)."""
        if room_gate_of(classifier) is None:
            return None
        return recording_backgrounds(self.ds, [s.recording_id for s in samples])

    def stats(self, samples, rule: WindowRule, kind: str = WINDOW_STATS_INPUT) -> np.ndarray:
        """[N, D] window statistics of ``kind`` (:data:`~actline.models.window_stats.STATISTICS`)."""
        return statistics_of(self.get(samples, rule), kind)


def fit_torch(ds: ClipDataset, train, cfg: TrainConfig, bank: WindowBank, progress=None,
              checkpoints: Path | None = None) -> Fitted:
    """One model per seed (``cfg.seeds``), averaged as an ensemble; best epoch on inner validation."""
    k = len(ds.classes)
    jitter = cfg.augment.temporal_jitter if cfg.window.mode == "index" else 0
    members, histories = [], []
    for i in range(cfg.seeds):
        seed = cfg.seed + i
        tr, va = inner_split(ds, train, cfg.rule(), cfg.inner_val_fraction, seed, cfg.group_by)
        x_tr = torch.from_numpy(bank.get(tr, cfg.rule().widened(jitter)))[:, None]
        x_va = torch.from_numpy(bank.get(va, cfg.rule()))[:, None] if va else None
        torch.manual_seed(seed)  # the initial weights are part of what a seed fixes
        model = make_model(cfg, k)

        def on_epoch(row, seed=seed):
            if progress:
                desc = f"seed {seed}: loss {row['train_loss']:.3f}"
                progress(desc + (f" inner-val F1 {row['val_macro_f1']:.1f}" if "val_macro_f1" in row else ""),
                         row["epoch"], cfg.epochs)

        res = fit_classifier(model, x_tr, ds.labels(tr), x_va, ds.labels(va) if va else None, cfg, k, seed,
                             on_epoch=on_epoch, checkpoint=checkpoints / f"seed{seed}" if checkpoints else None)
        members.append(res.model)
        histories.append({"seed": seed, "best_epoch": res.best_epoch, "stopped_early": res.stopped_early,
                          "inner_val": {"windows": len(va), "recordings": sorted({s.recording_id for s in va})},
                          "history": res.history})
    model = members[0]
    if len(members) > 1:
        model = create_model("ensemble", num_classes=k, in_chans=1, member=members[0].arch, n=len(members))
        for slot, m in zip(model.members, members):
            slot.load_state_dict(m.state_dict())
    model.eval()
    selection = ("best epoch on an inner validation part of the training data" if histories[0]["inner_val"]["windows"]
                 else "last epoch of a fixed schedule (no inner validation)")
    return Fitted(TorchClassifier(model, "cpu"), model.arch,
                  lambda out, config, extra=None: write_model_dir(out, config, {WEIGHTS: weights_writer(model), **(extra or {})}),
                  histories, {"epochs": selection, "best_epochs": [h["best_epoch"] for h in histories]})


def fit_features(ds: ClipDataset, train, cfg: TrainConfig, bank: WindowBank) -> Fitted:
    """Window statistics into ``cfg.estimator`` (gradient boosting by default); saved as ONNX."""
    from actline.models.contract import OnnxClassifier

    k = len(ds.classes)
    est = fit_estimator(cfg.estimator, bank.stats(train, cfg.rule()), ds.labels(train),
                        power=cfg.class_weight_power, seed=cfg.seed)
    arch = {"name": "features", "estimator": cfg.estimator, "num_classes": k}

    def blob(config: dict) -> bytes:
        return to_onnx(est, k, config)

    def save(out: Path, config: dict, extra: dict | None = None) -> None:
        data = blob({**config, "arch": arch})
        write_model_dir(out, {**config, "arch": arch}, {ONNX: lambda p: p.write_bytes(data), **(extra or {})})

    # score through the ONNX model exactly as it will be deployed
    return Fitted(OnnxClassifier(blob({"pipeline": "clip-classifier", "classes": ds.classes, "arch": arch})),
                  arch, save, [], {"estimator": cfg.estimator})


def fit_fusion(ds: ClipDataset, train, cfg: TrainConfig, bank: WindowBank, progress=None,
               checkpoints: Path | None = None) -> Fitted:
    """A CNN (``cfg.fusion.cnn``) and the features model on the same windows, fused by their geometric mean
    (its trees are saved by the fusion part, :mod:`actline.modeldir.parts.fusion`)."""
    cnn = fit_torch(ds, train, replace(cfg, model=cfg.fusion.cnn), bank, progress, checkpoints)
    trees = fit_features(ds, train, cfg, bank)
    weights = [cfg.fusion.cnn_weight, 1.0 - cfg.fusion.cnn_weight]
    arch = {"name": "fusion", "cnn": cnn.arch, "trees": trees.arch, "weights": weights}

    def save(out: Path, config: dict, extra: dict | None = None) -> None:
        write_model_dir(out, {**config, "arch": arch}, {WEIGHTS: weights_writer(cnn.classifier.model), **(extra or {})})

    return Fitted(FusionClassifier([cnn.classifier, trees.classifier], weights), arch, save, cnn.histories,
                  {**cnn.selection, "fusion": {"members": [cfg.fusion.cnn, f"features ({cfg.estimator})"],
                                               "weights": weights, "rule": "normalised weighted geometric mean"}})


def fit_model(ds: ClipDataset, train, cfg: TrainConfig, bank: WindowBank, progress=None,
              checkpoints: Path | None = None) -> Fitted:
    if cfg.model == "features":
        return fit_features(ds, train, cfg, bank)
    if cfg.model == "fusion":
        return fit_fusion(ds, train, cfg, bank, progress, checkpoints)
    if cfg.model == "auto":
        return fit_auto(ds, train, cfg, bank, progress, checkpoints)
    return fit_torch(ds, train, cfg, bank, progress, checkpoints)


def fit_fallback(ds: ClipDataset, train, cfg: TrainConfig, fitted: Fitted, bank: WindowBank, progress=None,
                 checkpoints: Path | None = None) -> Fitted | None:
    """The room gate's fallback CNN (modeldir/parts/room_gate.py): the fitted CNN's recipe again, on windows minus
    ``cfg.room_gate.fallback`` (static-heat). None where there is no gate or the fallback is the CNN itself."""
    name = gated_cnn(cfg, fitted)
    if name is None or cfg.room_gate.fallback in (None, "none", cfg.window.background):
        return None
    tag = (lambda desc, *a: progress(f"fallback {desc}", *a)) if progress else None  # noqa: E731
    return fit_torch(ds, train, replace(cfg, model=name, window=replace(cfg.window, background=cfg.room_gate.fallback)), bank, tag,
                     checkpoints / "fallback" if checkpoints else None)


def gated_cnn(cfg: TrainConfig, fitted: Fitted) -> str | None:
    """The fitted model's name (``auto``'s winner) when the run gives it a room gate, else None."""
    name = (fitted.selection.get("auto") or {}).get("winner", cfg.model)
    return name if cfg.room_gate.threshold and room_gate_applies(name, cfg.window.background) else None


def shape_trees(x: np.ndarray, y: np.ndarray, classes: list[str], rule: WindowRule, seed: int) -> OnnxClassifier:
    """The room gate's shape trees, one recipe for training and for ``actline adapt``: gradient boosting on the
    shape statistics ``x`` ([N, N_SHAPE], :func:`~actline.models.window_stats.shape_stats`) of windows cut by
    ``rule``, as an in-memory ONNX classifier."""
    config = {"pipeline": "clip-classifier", "classes": list(classes), "arch": {"name": "features", "estimator": "gbm"},
              "window": rule.to_dict()}
    return OnnxClassifier(to_onnx(fit_estimator("gbm", x, y, 1.0, seed), len(classes), config, SHAPE_INPUT))


AUTO_CANDIDATES = ("features", "thermal_r2plus1d_lite", "fusion")


def fit_auto(ds: ClipDataset, train, cfg: TrainConfig, bank: WindowBank, progress=None,
             checkpoints: Path | None = None) -> Fitted:
    """Compare the candidates on an inner validation part of the training data (whole groups, or purged
    time blocks); refit the winner on all training data. The record says what was tried and why.

    ``fusion`` is scored as the fusion rule applied to the other two candidates' probabilities (the
    same members, so no third training)."""
    tr, va = inner_split(ds, train, cfg.rule(), 0.25, cfg.seed, cfg.group_by)
    if not va:
        tr, va = train, []
    y_va, scores, members = ds.labels(va), {}, {}
    cnn = cfg.fusion.cnn
    for name in ("features", cnn):
        sub = replace(cfg, model=name, inner_val_fraction=0.0 if name != "features" else cfg.inner_val_fraction)
        members[name] = fit_model(ds, tr, sub, bank, progress).classifier
    if va:
        w = cfg.fusion.cnn_weight  # the fusion model's own rule over the same two members
        members["fusion"] = FusionClassifier([members[cnn], members["features"]], [w, 1 - w])
        windows = bank.get(va, cfg.rule())
        scores = {n: {key: round(v, 2) for key, v in summary_metrics(y_va, m.probs(windows)).items()}
                  for n, m in members.items()}
    winner = max(scores, key=lambda n: (scores[n]["macro_f1"], scores[n]["top1"])) if scores else "features"
    fitted = fit_model(ds, train, replace(cfg, model=winner), bank, progress, checkpoints)
    fitted.selection = {"auto": {"candidates": ["features", cnn, "fusion"], "inner_val_windows": len(va),
                                 "inner_val_recordings": sorted({s.recording_id for s in va}), "scores": scores,
                                 "winner": winner, "criterion": "macro-F1 on inner validation, then top-1"},
                        **fitted.selection}
    return fitted


def majority_recall(y: np.ndarray, prob: np.ndarray, majority: int) -> float:
    mask = y == majority
    return round(100 * float((prob[mask].argmax(1) == majority).mean()), 2) if mask.any() else float("nan")


def false_falls(ds: ClipDataset, samples, y: np.ndarray, prob: np.ndarray, baselines: dict) -> dict | None:
    """How often the model (and the majority and classical baselines) read windows of other classes as a fall,
    overall and per location (:func:`actline.metrics.events.false_fall_windows`)."""
    base = {n: np.asarray(b).argmax(1) for n, b in baselines.items() if n in ("majority", "classical")}
    return false_fall_windows(y, prob.argmax(1), ds.classes, [ds.recordings[s.recording_id].group for s in samples],
                              base)


def recording_backgrounds(ds: ClipDataset, recording_ids) -> np.ndarray:
    """[N, H, W] float32: the empty-room image (``Recording.empty_room()``, cached) of each recording named."""
    return np.stack([ds.recordings[r].empty_room() for r in recording_ids]).astype(np.float32)


def gate_report(clf, bank: WindowBank, samples) -> dict | None:
    """What the room gate did on ``samples`` (None for a model without one): its threshold, each recording's
    similarity to the nearest training room, what answers in a new room, and on how many windows."""
    gate = room_gate_of(clf)
    if gate is None or not samples:
        return None
    recs = sorted({s.recording_id for s in samples})
    sims = dict(zip(recs, (float(v) for v in gate.similarity(recording_backgrounds(bank.ds, recs)))))
    return {"threshold": gate.threshold, "measure": gate.known.measure, "training_rooms": len(gate.known),
            "fallback": f"CNN on {gate.fallback_background} windows" if gate.fallback is not None else "the CNN itself",
            "new_room_answer": gate.new_room_answer(),
            "similarity": {r: round(v, 3) for r, v in sims.items()},
            "fused_windows": sum(sims[s.recording_id] < gate.threshold for s in samples), "windows": len(samples)}
