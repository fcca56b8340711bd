"""Fine-tuning a trained clip classifier on a new room's few labelled windows (``actline adapt``).

What learns (``layers``): ``head`` (the classifier layer only), ``last`` (the head and the last block
before it) or ``all`` (the whole network, at the small learning rate of fine-tuning). Windows of the
model's original training data can be replayed beside the room's (``replay`` of them per room window),
so that the rooms the model knew are not forgotten. The engine is training's own: checkpoints after every
epoch, so ``--resume`` continues an interrupted adaptation to the same result.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from actline.core.errors import ActlineError
from actline.train.clip_fit import fit_classifier
from actline.train.config import TrainConfig

LAYERS = ("head", "last", "all")


@dataclass
class AdaptConfig:
    """How a model learns a new room. The defaults were chosen on tuning sets of the realistic preset (the
    design notes give the comparison)."""

    layers: str = "all"  # what learns: head | last | all
    epochs: int = 30
    lr: float = 2e-3  # at batch 16
    replay: float = 2.0  # replayed training windows per room window (0: none)
    batch_size: int = 16
    seed: int = 0
    num_threads: int = 0
    device: str = "auto"

    def validate(self) -> AdaptConfig:
        checks = [(self.layers in LAYERS, f"layers must be one of {', '.join(LAYERS)}, got {self.layers!r}"),
                  (self.epochs >= 1, "epochs must be >= 1"), (self.lr > 0, "lr must be > 0"),
                  (0 <= self.replay <= 20, "replay must be in [0, 20]"), (self.batch_size >= 2, "batch_size must be >= 2")]
        for ok, msg in checks:
            if not ok:
                raise ActlineError("adapt", msg)
        return self


def blocks(model: torch.nn.Module) -> list[str]:
    """The model's blocks in order, by parameter-name prefix: its top-level modules, with a sequence of blocks
    (``layers``) counted block by block."""
    out = []
    for name, child in model.named_children():
        if not any(True for _ in child.parameters()):
            continue
        if isinstance(child, torch.nn.Sequential):
            out += [f"{name}.{n}" for n, c in child.named_children() if any(True for _ in c.parameters())]
        else:
            out.append(name)
    return out


def trainable(model: torch.nn.Module, layers: str) -> list[str]:
    """Freeze what ``layers`` leaves fixed; returns the blocks that learn."""
    names = blocks(model)
    if not names:
        raise ActlineError("adapt", "this model has no trainable layers")
    learn = {"head": names[-1:], "last": names[-2:], "all": names}[layers]
    for name, p in model.named_parameters():
        p.requires_grad = any(name == b or name.startswith(b + ".") for b in learn)
    return learn


def fit_room(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray, train_cfg: TrainConfig, cfg: AdaptConfig,
             n_classes: int, checkpoint: Path | None = None, on_epoch=None):
    """A copy of ``model`` fine-tuned on windows ``x`` [N, 1, T', H, W] (room and replayed ones) with labels ``y``.
    Batch-norm statistics follow the mix of room and replayed windows in every layer, also where the weights
    stay fixed (a per-room normalisation). Returns (model, the engine's FitResult)."""
    model = copy.deepcopy(model)
    learn = trainable(model, cfg.layers)
    tcfg = replace(train_cfg, epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, warmup_epochs=min(1, cfg.epochs - 1),
                   patience=0, inner_val_fraction=0.0, pretrained=None, device=cfg.device)
    res = fit_classifier(model, x, y, None, None, tcfg, n_classes, cfg.seed, on_epoch=on_epoch, checkpoint=checkpoint)
    res.learned = learn
    return res.model.eval(), res
