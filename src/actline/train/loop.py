"""A plain training loop (as torchvision's references/video_classification): readable, DDP-ready.

Under ``torch.distributed`` (``actline train --devices N`` or ``torchrun``) the model is wrapped in
DistributedDataParallel, each rank trains on an equal shard of every epoch, rank 0 decides early
stopping for all, and only rank 0 writes checkpoints.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

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
        y_val: np.ndarray | None, cfg: TrainConfig, n_classes: int, seed: int, progress=None,
        checkpoint: Path | None = None) -> FitResult:
    """Train on windows ``x_train`` [N, C, T + 2*jitter, H, W]; pick the best epoch on ``x_val``.

    With ``checkpoint``, the whole training state (weights, optimizer, schedule, every random
    generator, history, best epoch) is saved there after each epoch, and training continues from
    it when it exists: an interrupted run resumes to the same result as an uninterrupted one.
    """
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
    start = 0
    if checkpoint is not None and (checkpoint / STATE_JSON).is_file():
        start, best_score, bad_epochs, best_state = load_state(checkpoint, model, opt, sched, scaler, gen, rng, result)
        if progress:
            progress.update(task, completed=start)
    for epoch in range(start, cfg.epochs if not result.stopped_early else start):
        net.train()
        if cfg.sampler == "balanced":
            p = 1.0 / np.bincount(y_train, minlength=n_classes)[y_train]
            order = rng.choice(len(y_train), size=len(y_train), p=p / p.sum())
        else:
            order = rng.permutation(len(y_train))
        if world > 1:  # equal shards, so every rank takes the same number of steps (DDP would hang otherwise)
            order = order[: len(order) - len(order) % world]
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
            improved = score > best_score
            if distributed:  # rank 0 decides, so all ranks keep the same epoch and stop together
                flag = torch.tensor([int(improved)], device=device if device.type == "cuda" else "cpu")
                torch.distributed.broadcast(flag, 0)
                improved = bool(flag.item())
            if improved:
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
        if checkpoint is not None and rank == 0:
            save_state(checkpoint, epoch + 1, model, opt, sched, scaler, gen, rng, result, best_score, bad_epochs,
                       best_state)
        if result.stopped_early:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = len(result.history)
    model.eval()
    return result


# ----------------------------------------------------------------------------- resumable state
STATE_JSON, STATE_TENSORS = "state.json", "state.safetensors"


def save_state(path: Path, epoch: int, model, opt, sched, scaler, gen, rng, result: FitResult, best_score: float,
               bad_epochs: int, best_state) -> None:
    """Everything needed to continue after ``epoch``: tensors in safetensors, the rest in JSON (no pickle)."""
    from safetensors.torch import save_file

    from actline.atomic import atomic_dir, write_json

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if best_state is not None:
        tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in best_state.items()})
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous() if torch.is_tensor(v) else torch.tensor(v)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.gen"] = gen.get_state()
    meta = {"epoch": epoch, "history": result.history, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "best_score": best_score if math.isfinite(best_score) else None,
            "bad_epochs": bad_epochs, "has_best": best_state is not None,
            "opt_param_groups": osd["param_groups"], "opt_state_keys": {str(k): list(v) for k, v in osd["state"].items()},
            "sched": {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"},
            "scaler": scaler.state_dict(), "numpy_rng": rng.bit_generator.state}
    with atomic_dir(path, overwrite=True) as tmp:
        save_file(tensors, str(tmp / STATE_TENSORS))
        write_json(tmp / STATE_JSON, meta)


def load_state(path: Path, model, opt, sched, scaler, gen, rng, result: FitResult):
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from actline.errors import ActlineError

    try:
        meta = json.loads((path / STATE_JSON).read_text(encoding="utf-8"))
        t = load_file(str(path / STATE_TENSORS))
        model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
        state = {int(pid): {k: t[f"opt.{pid}.{k}"] for k in keys} for pid, keys in meta["opt_state_keys"].items()}
        opt.load_state_dict({"state": state, "param_groups": meta["opt_param_groups"]})
        sched.load_state_dict({**meta["sched"], "lr_lambdas": [None] * len(opt.param_groups)})
        scaler.load_state_dict(meta["scaler"])
        torch.set_rng_state(t["rng.torch"])
        gen.set_state(t["rng.gen"])
        rng.bit_generator.state = meta["numpy_rng"]
        best = {k[5:]: v for k, v in t.items() if k.startswith("best.")} if meta["has_best"] else None
    except (OSError, KeyError, ValueError, RuntimeError, SafetensorError, json.JSONDecodeError) as exc:
        raise ActlineError(path, f"cannot resume from this checkpoint ({type(exc).__name__}: {exc}); "
                                 "delete it to start over") from None
    result.history, result.best_epoch, result.stopped_early = meta["history"], meta["best_epoch"], meta["stopped_early"]
    best_score = meta["best_score"] if meta["best_score"] is not None else -math.inf
    return meta["epoch"], best_score, meta["bad_epochs"], best
