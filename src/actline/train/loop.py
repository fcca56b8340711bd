"""A plain training loop (as torchvision's references/video_classification): readable, DDP-ready.

Under ``torchrun`` (``torch.distributed`` initialised) the model is wrapped in
DistributedDataParallel and each rank draws its own shard of every epoch; nothing else changes.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.evaluate.classification import summary_metrics
from actline.train.augment import augment_batch
from actline.train.config import TrainConfig


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w / w[counts > 0].mean(), dtype=torch.float32)


def loss_fn(logits, target, weight, cfg: TrainConfig):
    if cfg.loss == "focal":
        logp = F.log_softmax(logits, dim=1)
        logpt = logp.gather(1, target[:, None]).squeeze(1)
        w = weight[target] if weight is not None else 1.0
        return (-(1 - logpt.exp()) ** cfg.focal_gamma * logpt * w).mean()
    return F.cross_entropy(logits, target, weight=weight, label_smoothing=cfg.label_smoothing)


def param_groups(model: nn.Module, cfg: TrainConfig, lr: float):
    """The head learns at ``lr``; a pretrained backbone at ``lr * backbone_lr_mult``."""
    if not cfg.pretrained:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]
    head, body = [], []
    for name, p in model.named_parameters():
        (head if name.startswith(("fc", "head.", "classifier")) else body).append(p)
    return [{"params": body, "lr": lr * cfg.backbone_lr_mult}, {"params": head, "lr": lr}]


def centre_crop_time(x: torch.Tensor, length: int) -> torch.Tensor:
    j = (x.shape[2] - length) // 2
    return x[:, :, j:j + length]


@torch.no_grad()
def predict_probs(model: nn.Module, x: torch.Tensor, length: int, batch_size: int = 32,
                  device: torch.device | None = None) -> np.ndarray:
    device = device or next(model.parameters()).device
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = centre_crop_time(x[i:i + batch_size], length).to(device)
        out.append(torch.softmax(model(xb).float(), dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0))


def fit(model: nn.Module, x_train: torch.Tensor, y_train: np.ndarray, x_val: torch.Tensor | None,
        y_val: np.ndarray | None, cfg: TrainConfig, n_classes: int, seed: int, progress=None) -> FitResult:
    """Train on windows ``x_train`` [N, C, T + 2*jitter, H, W]; pick the best epoch on ``x_val``."""
    device = pick_device(cfg.device)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    rank, world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed else (0, 1)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1000 * rank)
    rng = np.random.default_rng(seed)
    model = model.to(device)
    net = nn.parallel.DistributedDataParallel(model) if distributed else model
    lr = cfg.lr * cfg.batch_size * world / 16  # linear scaling rule
    groups = param_groups(model, cfg, lr)
    opt = (torch.optim.AdamW(groups, weight_decay=cfg.weight_decay) if cfg.optimizer == "adamw" else
           torch.optim.SGD(groups, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True))
    steps_per_epoch = max(1, math.ceil(len(x_train) / (cfg.batch_size * world)))
    total, warm = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch

    def schedule(step):  # linear warm-up, then cosine decay to zero
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    weight = class_weights(y_train, n_classes).to(device) if cfg.class_weights == "balanced" else None
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    y_t = torch.as_tensor(y_train, dtype=torch.long)
    jitter = (x_train.shape[2] - cfg.window) // 2
    result = FitResult(model=model)
    best_score, best_state, bad_epochs = -math.inf, None, 0
    task = progress.add_task(f"seed {seed}", total=cfg.epochs) if progress else None
    for epoch in range(cfg.epochs):
        net.train()
        if cfg.sampler == "balanced":
            p = 1.0 / np.bincount(y_train, minlength=n_classes)[y_train]
            order = rng.choice(len(y_train), size=len(y_train), p=p / p.sum())
        else:
            order = rng.permutation(len(y_train))
        order = order[rank::world]
        losses = []
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2 and len(order) > 2:
                continue  # BatchNorm needs more than one sample
            shifts = rng.integers(0, 2 * jitter + 1, size=len(idx)) if jitter else np.zeros(len(idx), int)
            xb = torch.stack([x_train[k, :, s:s + cfg.window] for k, s in zip(idx, shifts)]).to(device)
            xb = augment_batch(xb, cfg.augment, gen)
            yb = y_t[idx].to(device)
            with torch.autocast(device.type, enabled=use_amp):
                loss = loss_fn(net(xb), yb, weight, cfg)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            sched.step()
            losses.append(float(loss.detach()))
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else float("nan"),
               "lr": opt.param_groups[-1]["lr"]}
        if x_val is not None and len(x_val):
            prob = predict_probs(model, x_val, cfg.window, device=device)
            yv = torch.as_tensor(y_val)
            row["val_loss"] = float(F.nll_loss(torch.log(torch.as_tensor(prob) + 1e-8), yv))
            row.update({f"val_{k}": v for k, v in summary_metrics(y_val, prob).items()})
            score = -row["val_loss"] if cfg.early_stop_metric == "loss" else row[f"val_{cfg.early_stop_metric}"]
            if score > best_score:
                best_score, best_state, bad_epochs = score, copy.deepcopy(model.state_dict()), 0
                result.best_epoch = epoch + 1
            else:
                bad_epochs += 1
        result.history.append(row)
        if progress:
            desc = f"seed {seed} loss {row['train_loss']:.3f}"
            if "val_macro_f1" in row:
                desc += f" inner-val F1 {row['val_macro_f1']:.1f}"
            progress.update(task, advance=1, description=desc)
        if best_state is not None and bad_epochs >= cfg.patience:
            result.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = len(result.history)
    model.eval()
    return result
