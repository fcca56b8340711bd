"""Fitting a clip classifier on windows: batches with augmentation, the loss, class weights, the engine.

``fit_classifier`` trains one torch model on cached windows ``[N, 1, T + 2*jitter, H, W]`` (the
jitter margin lets each epoch shift every window in time); the engine (``actline.train.engine``)
runs the epochs, picks the best epoch on the inner validation windows and saves checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.core.distributed import rank_and_world
from actline.metrics.classification import summary_metrics
from actline.models import create_model
from actline.models.contract import TorchClassifier
from actline.models.registry import model_info
from actline.train.augment import augment_batch
from actline.train.config import TrainConfig
from actline.train.engine import EngineConfig, FitResult, fit


def class_weights(y: np.ndarray, n_classes: int, power: float = 1.0) -> torch.Tensor:
    """Inverse class frequency to the power ``power`` (1: balanced, 0: none, 0.5: tempered), mean 1 over
    the classes present. Tempering keeps a handful of examples from outweighing the majority class."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, (counts.sum() / (n_classes * np.maximum(counts, 1))) ** power, 0.0)
    return torch.tensor(w / w[counts > 0].mean(), dtype=torch.float32)


def classification_loss(cfg: TrainConfig, weight: torch.Tensor | None):
    def loss(net: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        logits = net(xb)
        if cfg.loss == "focal":
            logpt = F.log_softmax(logits, dim=1).gather(1, yb[:, None]).squeeze(1)
            w = weight[yb] if weight is not None else 1.0
            return (-(1 - logpt.exp()) ** cfg.focal_gamma * logpt * w).mean()
        return F.cross_entropy(logits, yb, weight=weight, label_smoothing=cfg.label_smoothing)

    return loss


def param_groups(model: nn.Module, cfg: TrainConfig, lr: float) -> list[dict]:
    """The head learns at ``lr``; a pretrained backbone at ``lr * backbone_lr_mult``."""
    if not cfg.pretrained:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]
    head = model_info(model.arch["name"]).head
    groups: dict[bool, list] = {True: [], False: []}
    for name, p in model.named_parameters():
        groups[name.split(".")[0] == head].append(p)
    return [{"params": groups[False], "lr": lr * cfg.backbone_lr_mult}, {"params": groups[True], "lr": lr}]


def make_model(cfg: TrainConfig, n_classes: int, in_chans: int = 1) -> nn.Module:
    """A registered model, with pretrained weights read the way its registry entry says."""
    info = model_info(cfg.model)
    kwargs = dict(cfg.model_kwargs)
    if cfg.pretrained and info.pretrained == "torchvision":
        kwargs["weights"] = cfg.pretrained
    model = create_model(cfg.model, num_classes=n_classes, in_chans=in_chans, **kwargs)
    if cfg.pretrained and info.pretrained == "slowfast":
        from actline.models.import_checkpoint import load_foreign_checkpoint
        from actline.models.slowfast import load_slowfast_checkpoint

        fmt = cfg.pretrained_format or ("pytorchvideo" if cfg.model.endswith("_ptv") else "mmaction")
        load_slowfast_checkpoint(model, load_foreign_checkpoint(cfg.pretrained), fmt, cfg.pretrained)
    return model


def window_batches(x: torch.Tensor, y: np.ndarray, cfg: TrainConfig, n_classes: int):
    """Draws one epoch: order (shuffled or class-balanced), this rank's shard, jittered crops, augmentation."""
    rank, world = rank_and_world()
    jitter = (x.shape[2] - cfg.window.length) // 2
    y_t = torch.as_tensor(y, dtype=torch.long)

    def draw(rng: np.random.Generator, gen: torch.Generator):
        if cfg.sampler == "balanced":
            p = 1.0 / np.bincount(y, minlength=n_classes)[y]
            order = rng.choice(len(y), size=len(y), p=p / p.sum())
        else:
            order = rng.permutation(len(y))
        if world > 1:  # equal shards, so every rank takes the same number of steps (DDP would hang otherwise)
            order = order[: len(order) - len(order) % world]
        order = order[rank::world]
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2 and len(order) > 2:
                continue  # BatchNorm needs more than one sample
            shifts = rng.integers(0, 2 * jitter + 1, size=len(idx)) if jitter else np.zeros(len(idx), int)
            xb = torch.stack([x[k, :, s:s + cfg.window.length] for k, s in zip(idx, shifts)])
            yield augment_batch(xb, cfg.augment, gen), y_t[idx]

    steps = -(-len(y) // (cfg.batch_size * world))
    return draw, steps


def centre_crop_time(x: torch.Tensor, length: int) -> torch.Tensor:
    j = (x.shape[2] - length) // 2
    return x[:, :, j:j + length]


def predict_probs(model: nn.Module, x: torch.Tensor, length: int, device: str | torch.device = "cpu") -> np.ndarray:
    """Probabilities of cached windows ``[N, 1, T', H, W]``, centre-cropped to ``length`` frames."""
    return TorchClassifier(model, str(device)).probs(centre_crop_time(x, length)[:, 0].numpy())


def engine_config(cfg: TrainConfig) -> EngineConfig:
    world = rank_and_world()[1]
    return EngineConfig(epochs=cfg.epochs, lr=cfg.lr * cfg.batch_size * world / 16,  # linear scaling rule
                        weight_decay=cfg.weight_decay, optimizer=cfg.optimizer, momentum=cfg.momentum,
                        warmup_epochs=cfg.warmup_epochs, grad_clip=cfg.grad_clip, patience=cfg.patience,
                        amp=cfg.amp, device=cfg.device)


def fit_classifier(model: nn.Module, x_train: torch.Tensor, y_train: np.ndarray, x_val: torch.Tensor | None,
                   y_val: np.ndarray | None, cfg: TrainConfig, n_classes: int, seed: int, on_epoch=None,
                   checkpoint: Path | None = None) -> FitResult:
    """Train on windows ``x_train``; with validation windows, keep the best epoch by ``early_stop_metric``."""
    ecfg = engine_config(cfg)
    weight = class_weights(y_train, n_classes, cfg.class_weight_power) if cfg.class_weights == "balanced" else None
    if weight is not None:
        from actline.train.engine import pick_device

        weight = weight.to(pick_device(cfg.device))
    draw, steps = window_batches(x_train, y_train, cfg, n_classes)
    validate = None
    if x_val is not None and len(x_val):
        def validate(m: nn.Module) -> dict:
            prob = predict_probs(m, x_val, cfg.window.length, device=next(m.parameters()).device)
            row = {"val_loss": float(F.nll_loss(torch.log(torch.as_tensor(prob) + 1e-8), torch.as_tensor(y_val)))}
            row.update({f"val_{k}": v for k, v in summary_metrics(y_val, prob).items()})
            row["score"] = -row["val_loss"] if cfg.early_stop_metric == "loss" else row[f"val_{cfg.early_stop_metric}"]
            return row

    return fit(model, draw, steps, classification_loss(cfg, weight), ecfg, seed, validate=validate,
               param_groups=param_groups(model, cfg, ecfg.lr), checkpoint=checkpoint, on_epoch=on_epoch)
