"""Fitting the two-stage timeline model (``actline train-timeline``; the run around it: :mod:`actline.runs.timeline_run`).

Stage 1 learns coarse classes over chunk features with a temporal model (MS-TCN by default). On
clips, each of which holds one action, training sequences chain several random clips (``chain``),
so the temporal model sees transitions the way it will in a long video (``chain=0`` trains on
single clips, as the earlier system did); annotated recordings are whole sequences already. Stage 2 learns
one fine classifier per family with two or more fine labels (clips only; recordings have flat
labels). Both train through the one engine (:mod:`actline.train.engine`): device, mixed precision,
the learning-rate schedule (``schedule``: constant or cosine, after ``warmup_epochs``), and a
checkpoint after every epoch under ``OUT/checkpoints/`` from which a resumed run continues (the
checkpoints go when the model directory is written). A held-out part of the data picks the best
epoch and gives the figures the run reports, beside the majority and chance baselines.

Written::

    OUT/config.json                 pipeline "timeline": features (and their input normalisation), label rule,
                                    classes, decoding
    OUT/backbone/                   the frozen feature extractor (so inference needs no download)
    OUT/stage1/                     model.safetensors, config.json, label_map.json
    OUT/stage2/stage2_registry.json families -> fine labels, model dir or direct mapping
    OUT/stage2/<family>/            model.safetensors, config.json, label_map.json
    OUT/split.json                  what trained and what was held out (recordings or clips, sample ids)
    OUT/metrics.json, OUT/history.json, OUT/train_config.yaml
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import yaml

from actline.core.atomic import atomic_dir, write_json, write_text
from actline.core.errors import ActlineError
from actline.core.progress import Progress
from actline.data.clips import LabelRule
from actline.data.splits import write_split
from actline.data.video import VideoSpec
from actline.features.backbone import Backbone, save_backbone_dir
from actline.modeldir.directory import FORMAT, save_model_dir, write_checksums
from actline.models import create_model
from actline.train.engine import EngineConfig, FitResult
from actline.train.sequence import ChainSampler, fit_sequences
from actline.train.timeline_data import TimelineData

PIPELINE = "timeline"


@dataclass
class TimelineConfig:
    NAMED_NONE: ClassVar[tuple] = ("weights", "background_class")  # "none" is a value of theirs, not "unset"

    temporal_model: str = "ms_tcn"  # or temporal_mlp (the earlier system's)
    temporal_args: dict = field(default_factory=dict)  # e.g. {stages: 4, layers: 10, channels: 64}
    backbone: str = "r3d_18"  # torchvision video model, registered model, or a trained actline model dir
    weights: str | None = "KINETICS400_V1"  # enum name, DEFAULT, local .pth, or none (random)
    precision: str = "fp32"  # the backbone's: fp32, bf16 (about 4x faster on CPUs with AMX), auto (bf16 there)
    fps: float = 8.0
    size: int = 112
    chunk: int = 16
    stride: int = 16
    separator: str = "_"
    coarse_token: int = 0
    epochs: int = 40  # stage 1
    stage2_epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "constant"  # learning rate after the warm-up: constant or cosine (decay to zero)
    warmup_epochs: int = 0
    fixed_length: int | None = None  # the earlier system's 64 chunks (pad/crop); None: variable length with masks
    chain: int = 6  # clips chained per training sequence; 0: one clip per sequence
    sequences_per_epoch: int = 32
    val_fraction: float = 0.25
    patience: int = 10  # epochs without a better held-out step accuracy before stopping (0: never)
    smooth_weight: float = 0.15
    seed: int = 0
    num_threads: int = 0
    grad_clip: float = EngineConfig.grad_clip
    device: str = EngineConfig.device  # auto (a GPU when there is one), cpu, cuda, cuda:1, ...
    amp: bool = EngineConfig.amp  # mixed precision on a GPU
    cache_dir: str | None = None  # default: $XDG_CACHE_HOME/actline/features
    background_class: str | None = "none"  # recordings with frame labels: the class of unannotated frames
    # decoding at inference (saved with the model; `actline timeline` can override)
    median: int = 3  # median filter over this many steps (1 = off)
    switch_penalty: float = 2.0  # Viterbi cost of a label change, in nats (0 = off)
    min_segment_s: float = 2.0  # shorter segments merge into a neighbour

    def validate(self) -> "TimelineConfig":
        checks = [(self.fps > 0, "fps must be > 0"), (self.size > 0, "size must be > 0"),
                  (self.chunk > 0 and self.stride > 0, "chunk and stride must be > 0"),
                  (0 <= self.val_fraction < 1, "val_fraction must be in [0, 1)"),
                  (self.epochs > 0 and self.stage2_epochs >= 0, "epochs must be > 0"),
                  (self.schedule in ("constant", "cosine"), "schedule must be constant or cosine"),
                  (self.median >= 1, "median must be >= 1"), (self.chain >= 0, "chain must be >= 0"),
                  (self.precision in ("auto", "fp32", "bf16"), "precision must be auto, fp32 or bf16")]
        for ok, msg in checks:
            if not ok:
                raise ActlineError("config", msg)
        return self

    def spec(self) -> VideoSpec:
        return VideoSpec(self.fps, self.size, self.chunk, self.stride)

    def rule(self) -> LabelRule:
        return LabelRule(self.separator, self.coarse_token)

    def engine(self, epochs: int) -> EngineConfig:
        return EngineConfig(epochs=epochs, lr=self.lr, weight_decay=self.weight_decay, warmup_epochs=self.warmup_epochs,
                            schedule=self.schedule, grad_clip=self.grad_clip, patience=self.patience, amp=self.amp,
                            device=self.device)


def _on_epoch(progress: Progress | None, task: str, total: int):
    return (lambda row: progress(task, row["epoch"], total)) if progress else None


def fit_stage1(td: TimelineData, cfg: TimelineConfig, dim: int, checkpoint: Path, progress=None) -> FitResult:
    tr, va = [td.seqs[i] for i in td.train], [td.seqs[i] for i in td.held]
    if td.kind == "clips":  # clips hold one action each: chain them into sequences with transitions
        train = ChainSampler(tr, cfg.chain, cfg.sequences_per_epoch) if cfg.chain else tr
        va = ChainSampler(va, max(cfg.chain, 1), max(8, len(va)))(np.random.default_rng(cfg.seed + 1)) if va else va
    else:
        train = tr
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.temporal_model, num_classes=len(td.classes), in_chans=dim, **cfg.temporal_args)
    return fit_sequences(model, train, va or None, cfg.engine(cfg.epochs), cfg.seed, cfg.batch_size, cfg.smooth_weight,
                         cfg.fixed_length, checkpoint, _on_epoch(progress, "stage 1", cfg.epochs))


def fit_stage2(td: TimelineData, cfg: TimelineConfig, dim: int, checkpoints: Path, progress=None):
    """The stage-2 registry, and per family with two or more fine labels: (fit, train sequences, held-out ones)."""
    registry, fits = {}, {}
    for fam, fines in td.families.items():
        if len(fines) < 2:
            registry[fam] = {"fine_labels": fines, "model": None, "direct": fines[0]}
            continue

        def seqs(idx, fines=fines):
            return [(td.seqs[i][0], np.full(len(td.seqs[i][0]), fines.index(td.fine[i]), np.int64))
                    for i in idx if td.fine[i] in fines]

        tr, ho = seqs(td.train), seqs(td.held)
        torch.manual_seed(cfg.seed)
        model = create_model("temporal_mlp", num_classes=len(fines), in_chans=dim)
        fit = fit_sequences(model, tr, ho or None, cfg.engine(cfg.stage2_epochs), cfg.seed, cfg.batch_size, 0.0,
                            cfg.fixed_length, checkpoints / fam, _on_epoch(progress, f"stage 2 {fam}", cfg.stage2_epochs))
        fits[fam] = (fit, tr, ho)
        registry[fam] = {"fine_labels": fines, "model": f"stage2/{fam}", "direct": None}
    return registry, fits


def save_timeline_model(out, cfg: TimelineConfig, backbone: Backbone, stage1, coarse: list[str], registry: dict,
                        models2: dict, fine_to_value: dict, labels: dict, metrics: dict, history: dict,
                        split: dict | None = None) -> None:
    """Write the whole model directory at once (a temporary directory renamed into place); ``split``:
    its ``split.json`` (:attr:`TimelineData.split`)."""
    with atomic_dir(out, overwrite=True) as tmp:
        save_backbone_dir(tmp / "backbone", backbone)
        save_model_dir(tmp / "stage1", stage1, {"pipeline": "timeline-stage1", "arch": stage1.arch, "classes": coarse})
        write_json(tmp / "stage1" / "label_map.json", {c: i for i, c in enumerate(coarse)})
        for fam, m2 in models2.items():
            fines = registry[fam]["fine_labels"]
            save_model_dir(tmp / "stage2" / fam, m2, {"pipeline": "timeline-stage2", "arch": m2.arch, "classes": fines})
            write_json(tmp / "stage2" / fam / "label_map.json", {c: i for i, c in enumerate(fines)})
        write_json(tmp / "stage2" / "stage2_registry.json", registry)
        write_json(tmp / "config.json", {
            "format": FORMAT, "pipeline": PIPELINE, "classes": coarse, "fine_to_value": fine_to_value,
            "label_rule": cfg.rule().as_dict(),
            "features": {"backbone": cfg.backbone, "weights": cfg.weights, **backbone.config(), **cfg.spec().as_dict()},
            "decoding": {"median": cfg.median, "switch_penalty": cfg.switch_penalty, "min_segment_s": cfg.min_segment_s},
            "labels": labels, "metrics": metrics})
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "history.json", history)
        if split is not None:
            write_split(tmp, split)
        write_text(tmp / "train_config.yaml", yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
        write_checksums(tmp)
