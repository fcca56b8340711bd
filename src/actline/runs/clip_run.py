"""``actline train``: split, fit, evaluate beside baselines, and write the run directory.

A run directory holds ``config.yaml`` (the resolved config), ``run.json``, ``split.json`` (the
recordings and samples on each side), ``model/`` (the model directory), ``baselines/classical/``
(the classical baseline fitted on the same training data, so that ``actline evaluate`` scores it
beside the model on new data),
``history.json``, ``predictions.csv``, ``curves.png``, ``confusion.png`` and, last, ``metrics.json``.
Model selection uses training data only; the evaluation part is touched once, at the end. With
``split: none`` everything trains and the run says plainly that no held-out figure exists.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from actline.core.atomic import write_json
from actline.core.distributed import is_main_process
from actline.data import ClipDataset, WindowRule, load_dataset
from actline.data.background_class import add_background_class
from actline.data.splits import Split, make_split
from actline.evaluate import baselines as bl
from actline.evaluate.run_plots import plot_confusion, plot_curves
from actline.evaluate.steps import evaluate_with_baselines
from actline.metrics.classification import confusion
from actline.modeldir import parts
from actline.modeldir.directory import ONNX, write_model_dir
from actline.modeldir.parts.class_guard import RareClassGuard
from actline.data.rooms import KnownRooms, room_fingerprint
from actline.modeldir.parts.room_gate import RoomGate
from actline.models.contract import OnnxClassifier
from actline.runs.fitting import (
    Fitted,
    WindowBank,
    false_falls,
    fit_fallback,
    fit_model,
    gate_report,
    gated_cnn,
    majority_recall,
    recording_backgrounds,
    shape_trees,
)
from actline.runs.rundir import CLIP, RunDir, fingerprint, plain, write_predictions
from actline.train.config import LoadedConfig, TrainConfig, resolve_defaults, room_gate_applies
from actline.models.window_stats import SHAPE_INPUT
from actline.train.features_model import to_onnx

log = logging.getLogger(__name__)
PIPELINE = "clip-classifier"
CLASSICAL_DIR = "baselines/classical"  # in the run directory, beside model/


def train_run(data: str | Path | ClipDataset, out: str | Path, cfg: TrainConfig | LoadedConfig, progress=None,
              resume: bool = False, overwrite: bool = False) -> dict:
    """Split, fit, evaluate beside baselines, write the run. Returns the metrics. ``cfg``: a config, or one
    with the settings the user gave (:func:`~actline.train.config.load_config`), which the model's own recipe
    never overrides."""
    t_start, out = time.time(), Path(out)
    run, main = RunDir(out, CLIP), is_main_process()
    if main:
        run.prepare(resume, overwrite)
    _barrier()
    ds, cfg = training_data(data, cfg)
    if main:  # what --resume needs
        run.start({"data": str(ds.root), "data_format": ds.format}, config=cfg.to_dict(), resume=resume)
    for w in ds.warnings:
        log.warning(w)
    split = make_split(ds, cfg.split, spec=cfg.rule(), fold=cfg.fold, n_folds=cfg.n_folds, seed=cfg.seed,
                       group_by=cfg.group_by, holdout=cfg.holdout)
    if split.warning:
        log.warning(split.warning)
    if cfg.num_threads:
        import torch

        torch.set_num_threads(cfg.num_threads)
    bank = WindowBank(ds)
    fitted = fit_model(ds, split.train, cfg, bank, progress if main else None, out / "checkpoints")
    fallback = fit_fallback(ds, split.train, cfg, fitted, bank, progress if main else None, out / "checkpoints")
    if not main:
        return {}
    baseline = fit_classical_baseline(ds, split.train, cfg, bank) if split.train else None  # (model, which, scores)
    trees = baseline[0] if baseline else None
    gate = room_gate(ds, split, cfg, fitted, trees, fallback, fit_shape_trees(ds, split.train, cfg, fitted, bank))
    fitted.classifier = class_guard(gate or fitted.classifier, ds, split, cfg)
    metrics = evaluate_run(ds, split, fitted, cfg, bank, baseline)
    metrics.update({"model": cfg.model, "seeds": cfg.seeds, "data": str(ds.root), "data_format": ds.format,
                    "selection": fitted.selection, "train_time_s": round(time.time() - t_start, 1)})
    if fallback is not None:
        metrics["selection"] = {**fitted.selection, "gate_fallback": {"background": cfg.room_gate.fallback,
                                                                      **fallback.selection}}
    write_run(out, ds, split, fitted, cfg, metrics, trees, fallback)
    return metrics


def training_data(data: str | Path | ClipDataset, cfg: TrainConfig | LoadedConfig) -> tuple[ClipDataset, TrainConfig]:
    """The data set as training sees it (with the ``background_class``, if set) and the config resolved for it
    (:func:`~actline.train.config.resolve_defaults`: what depends on the data is filled in, a new config)."""
    ds = data if isinstance(data, ClipDataset) else load_dataset(data)
    frame_shape = next(iter(ds.recordings.values())).frames.shape[1:] if ds.recordings else None
    cfg = resolve_defaults(cfg, tuple(frame_shape) if frame_shape else None).validate()
    return add_background_class(ds, cfg.background_class, cfg.rule()), cfg


def room_gate(ds: ClipDataset, split: Split, cfg: TrainConfig, fitted: Fitted, classical,
              fallback: Fitted | None = None, shape: OnnxClassifier | None = None) -> RoomGate | None:
    """The room gate of a CNN on raw temperatures (``cfg.room_gate.threshold`` > 0): its trees are the classical
    baseline's (already fitted, on the same training windows), its rooms the training recordings', its
    fallback CNN ``fallback`` (:func:`~actline.runs.fitting.fit_fallback`; None: the CNN itself), its shape
    trees ``shape`` (:func:`fit_shape_trees`; None: none, the fallback is fused with the trees)."""
    gate = cfg.room_gate
    if not gate.threshold or classical is None \
            or not room_gate_applies((fitted.arch or {}).get("name"), cfg.window.background):
        return None
    rooms = recording_backgrounds(ds, sorted({s.recording_id for s in split.train}))
    known = KnownRooms(rooms, gate.measure) if gate.measure != "fingerprint" else \
        KnownRooms(None, "fingerprint", room_fingerprint(rooms))
    return RoomGate(fitted.classifier, classical, known, gate.threshold,
                    fallback=fallback.classifier if fallback else None, fallback_background=gate.fallback,
                    shape=shape, shape_background=gate.shape)


def class_guard(classifier, ds: ClipDataset, split: Split, cfg: TrainConfig) -> RareClassGuard:
    """``classifier`` behind the rare-class guard and decision prior of the run's config (see
    :class:`~actline.modeldir.parts.class_guard.RareClassGuard`)."""
    counts = np.bincount(ds.labels(split.train), minlength=len(ds.classes))
    return RareClassGuard.for_counts(classifier, counts, cfg.rare_class_min, cfg.prior_power)


def evaluate_run(ds: ClipDataset, split: Split, fitted: Fitted, cfg: TrainConfig, bank: WindowBank,
                 baseline: tuple | None) -> dict:
    """The model and every baseline on the split's evaluation windows (or a plain note when there are none)."""
    k, y_tr = len(ds.classes), ds.labels(split.train)
    majority = int(np.bincount(y_tr, minlength=k).argmax())
    info = {"split": {**split.summary(), "warning": split.warning}, "majority_class": ds.classes[majority]}
    if not split.eval:
        return {**info, "held_out": None,
                "note": "trained on every sample (split none): no held-out figure exists for this model; "
                        "estimate one with `actline cv` on the same data and recipe"}
    y_ev = ds.labels(split.eval)
    prob = fitted.classifier.probs(bank.get(split.eval, cfg.rule()), bank.rooms_for(fitted.classifier, split.eval))
    base = {"majority": bl.majority_probs(y_tr, len(y_ev), k), "chance": bl.chance_metrics(y_ev, k, seed=cfg.seed)}
    classical, which, inner = baseline
    base["classical"] = classical.probs(bank.get(split.eval, classical_rule(cfg)))
    if split.overlapping_eval:
        times = lambda s: float(ds.recordings[s.recording_id].timestamps[s.frame_idx])  # noqa: E731
        base["nearest_in_time"] = bl.nearest_in_time_probs([(s.recording_id, times(s), s.label) for s in split.train],
                                                           [(s.recording_id, times(s)) for s in split.eval], y_tr, k)
    m = evaluate_with_baselines(y_ev, prob, ds.classes, base, seed=cfg.seed, extra=info)
    m["baselines"]["classical"].update({"model": which, "inner_val_macro_f1": {n: round(v, 2) for n, v in inner.items()}})
    m["majority_class_recall"] = majority_recall(y_ev, prob, majority)
    if (falls := false_falls(ds, split.eval, y_ev, prob, base)) is not None:
        m["false_falls"] = falls
    if (gate := gate_report(fitted.classifier, bank, split.eval)) is not None:
        m["room_gate"] = gate
    for name, n in zip(ds.classes, np.bincount(y_tr, minlength=k)):  # a class's training support beside its scores
        m["per_class"][name]["train"] = int(n)
    m["_prob"] = prob
    m["_baseline_pred"] = {name: b.argmax(1) for name, b in base.items() if name in ("majority", "classical")}
    return m


def fit_classical_baseline(ds: ClipDataset, train, cfg: TrainConfig, bank: WindowBank):
    """What a practitioner tries first, on background-subtracted windows; returned as the deployable ONNX model."""
    rule = classical_rule(cfg)
    which, est, inner = bl.fit_classical(bank.stats(train, rule), ds.labels(train),
                                         ds.groups(train, by=cfg.group_by), len(ds.classes), cfg.seed)
    config = {"pipeline": PIPELINE, "classes": ds.classes, "arch": {"name": "features", "estimator": which},
              "window": rule.to_dict()}
    return OnnxClassifier(to_onnx(est, len(ds.classes), config)), which, inner  # its bytes: the room gate's trees


def fit_shape_trees(ds: ClipDataset, train, cfg: TrainConfig, fitted: Fitted, bank: WindowBank) -> OnnxClassifier | None:
    """The room gate's shape trees: gradient boosting on the person's shape
    (:func:`~actline.models.window_stats.shape_stats`) in windows minus ``cfg.room_gate.shape`` (static-heat),
    as ONNX. None where the run has no gate or the gate has no shape trees."""
    if gated_cnn(cfg, fitted) is None or cfg.room_gate.shape in (None, "none") or not train:
        return None
    rule = replace(cfg.rule(), background=cfg.room_gate.shape)
    return shape_trees(bank.stats(train, rule, SHAPE_INPUT), ds.labels(train), ds.classes, rule, cfg.seed)


def classical_rule(cfg: TrainConfig) -> WindowRule:
    """The classical baseline's windows: the model's, minus the recording's empty room."""
    return replace(cfg.rule(), background="recording-median")


def save_classical(clf: OnnxClassifier, out: Path) -> None:
    """The classical baseline as a model directory (``baselines/classical/``), its ONNX bytes as fitted."""
    write_model_dir(out, clf.config, {ONNX: lambda p: p.write_bytes(clf.blob)})


def write_run(out: Path, ds: ClipDataset, split: Split, fitted: Fitted, cfg: TrainConfig, metrics: dict,
              classical, fallback: Fitted | None = None) -> None:
    """The run directory: the model directory (its main weights, and every composite part's files and config,
    :func:`actline.modeldir.parts.save`), the classical baseline, the split, histories, plots and, last, the
    metrics."""
    prob, baseline_pred = metrics.pop("_prob", None), metrics.pop("_baseline_pred", None)
    k, y_tr = len(ds.classes), ds.labels(split.train)
    frame_shape = list(next(iter(ds.recordings.values())).frames.shape[1:])
    model_config = {
        "pipeline": PIPELINE, "arch": plain(fitted.arch), "classes": ds.classes,
        "window": cfg.rule().to_dict(),
        "preprocessing": {"input": "[B, 1, T, H, W] float32 °C; sentinels (<= -100 °C) filled with the frame median",
                          "frame_shape": frame_shape, "normalisation": "inside the model (ThermalNorm) for thermal "
                          "models; window statistics for the features model"},
        "training": plain(cfg.to_dict()), "data_fingerprint": fingerprint(ds),
        "train_class_counts": np.bincount(y_tr, minlength=k).tolist(),
        "metrics": {key: metrics[key] for key in ("top1", "top5", "mean_class_accuracy", "macro_f1", "n") if key in metrics},
        "split": {"name": split.name, "eval_recordings": sorted({s.recording_id for s in split.eval})},
    }
    part_config, part_files = parts.save(fitted.classifier)
    fitted.save(out / "model", {**model_config, **plain(part_config)}, part_files)
    if classical is not None:
        save_classical(classical, out / CLASSICAL_DIR)
    run = RunDir(out, CLIP)
    run.write_split(split.to_json(ds))
    histories = fitted.histories + [{**h, "fallback": True} for h in (fallback.histories if fallback else [])]
    write_json(out / "history.json", histories)
    plot_curves(histories, out / "curves.png")
    if prob is not None:
        write_predictions(out / "predictions.csv", ds, split.eval, prob, baseline_pred)
        plot_confusion(confusion(ds.labels(split.eval), prob, k), ds.classes, out / "confusion.png",
                       title=f"{cfg.model} on {split.name} evaluation windows (n={len(split.eval)})")
    run.complete(metrics)  # last: the checkpoints go, and a run with metrics.json is complete by definition


def _barrier() -> None:
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.barrier()
