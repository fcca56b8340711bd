"""``actline train-timeline``: a timeline run from start to end, around the fitting in
:mod:`actline.train.timeline_fit`.

The run directory is the model directory (:data:`~actline.runs.rundir.TIMELINE`): a new run refuses
an ``OUT`` that holds anything unless ``overwrite``; ``OUT/checkpoints/run.json`` records the data,
the training recordings and the settings, from which ``resume=True`` continues; the model directory
is written in one rename at the end, and the checkpoints go with it.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from actline.core.progress import Progress
from actline.features.backbone import Backbone, build_backbone
from actline.runs.rundir import TIMELINE, RunDir, run_settings
from actline.train.engine import pick_device
from actline.train.timeline_data import load_timeline_data, open_source
from actline.train.timeline_fit import TimelineConfig, fit_stage1, fit_stage2, save_timeline_model
from actline.train.timeline_metrics import clip_metrics, recording_metrics

__all__ = ["timeline_settings", "train_timeline"]


def timeline_settings(data: Path | None, out: Path | None, config: Path | None = None, overrides: list[str] = (),
                      resume: Path | None = None) -> tuple[Path, Path, TimelineConfig]:
    """(data, out, settings) of a new run, or of the interrupted run at ``resume`` (whose saved settings only
    those in :attr:`TIMELINE.resumable <actline.runs.rundir.Pipeline.resumable>` may change)."""
    data, out, loaded = run_settings(TIMELINE, data, out, config, overrides, resume)
    return data, out, loaded.config


def train_timeline(data, out: str | Path, cfg: TimelineConfig, backbone: Backbone | None = None,
                   train_ids: list[str] | None = None, progress: Progress | None = None, resume: bool = False,
                   overwrite: bool = False) -> dict:
    """Train and write a timeline model; returns its metrics. ``data``: a clip folder, a thermal data set
    directory or a loaded :class:`~actline.data.ClipDataset` (only ``train_ids`` of its recordings).

    ``resume`` continues the interrupted run writing ``out`` from its checkpoints; a new run refuses an
    ``out`` that holds anything unless ``overwrite``."""
    t0, run = time.time(), RunDir(out, TIMELINE)
    cfg.validate()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    run.prepare(resume, overwrite)
    if resume and train_ids is None:
        train_ids = run.record().get("train_ids")
    src = open_source(data, cfg, train_ids)  # OUT and the data are checked before the backbone is built (a download)
    backbone = backbone or build_backbone(cfg.backbone, cfg.weights, seed=cfg.seed, precision=cfg.precision)
    backbone.model.to(pick_device(cfg.device))
    td = load_timeline_data(src, cfg, backbone, progress)
    if not resume:  # nothing is written before the features are in hand: a refused run leaves nothing behind
        run.start({"data": td.source, "train_ids": src.ids if src.kind == "recordings" else None},
                  config=dataclasses.asdict(cfg))
    res1 = fit_stage1(td, cfg, backbone.dim, run.checkpoints / "stage1", progress)
    registry, fits2 = fit_stage2(td, cfg, backbone.dim, run.checkpoints / "stage2", progress)
    metrics = clip_metrics(td, res1, registry, fits2) if td.kind == "clips" else recording_metrics(td, res1)
    metrics["train_time_s"] = round(time.time() - t0, 1)
    models2 = {fam: f.model.cpu() for fam, (f, _, _) in fits2.items()}
    history = {"stage1": res1.history, "stage2": {k: f.history for k, (f, _, _) in fits2.items()}}
    save_timeline_model(out, cfg, backbone, res1.model.cpu(), td.classes, registry, models2, td.fine_to_value,
                        td.labels, metrics, history, td.split)  # the model and its run's files, in one rename
    return metrics
