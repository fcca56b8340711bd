"""The one training engine, for clip classifiers and temporal models alike.

As in torchvision's ``references/video_classification``, the steps are kept apart:
``train_one_epoch`` (one pass over the batches a caller draws), ``fit`` (epochs, validation,
best-epoch selection with patience, checkpoints) and the checkpoint itself (``save_state`` /
``load_state``: weights, optimizer, schedule, every random generator, history; safetensors +
JSON, never a pickle). What differs between models (how batches are drawn, the loss, what
"better" means on validation) is passed in.

The schedule is PyTorch's own: ``SequentialLR`` of a linear warm-up and a cosine decay to zero,
stepped once per batch. Under ``torch.distributed`` the model is wrapped in
DistributedDataParallel, rank 0 decides which epoch is best and when to stop, and only rank 0
writes checkpoints.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn as nn

from actline.core.distributed import rank_and_world
from actline.train.config import EngineConfig  # noqa: F401  (its home: the settings; re-exported)

STATE_JSON, STATE_TENSORS = "state.json", "state.safetensors"


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


# Callbacks: draw one epoch of (inputs, target) batches (inputs: a tensor or a tuple of tensors); compute a
# loss; score the model on validation.
Batches = Callable[[np.random.Generator, torch.Generator], Iterable[tuple[torch.Tensor, torch.Tensor]]]
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
Validate = Callable[[nn.Module], dict]


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_optimizer(groups, cfg: EngineConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True)
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def make_schedule(opt: torch.optim.Optimizer, cfg: EngineConfig, steps_per_epoch: int):
    """Linear warm-up over ``warmup_epochs``, then cosine decay to zero (or a constant rate), stepped per batch."""
    total, warm = cfg.epochs * steps_per_epoch, min(cfg.warmup_epochs * steps_per_epoch, cfg.epochs * steps_per_epoch - 1)
    lr = torch.optim.lr_scheduler
    after = lr.ConstantLR(opt, factor=1.0, total_iters=0) if cfg.schedule == "constant" else \
        lr.CosineAnnealingLR(opt, T_max=max(1, total - warm))
    if warm <= 0:
        return after
    warmup = lr.LinearLR(opt, start_factor=1.0 / warm, end_factor=1.0, total_iters=warm)
    return lr.SequentialLR(opt, [warmup, after], milestones=[warm])


def to_device(x, device: torch.device):
    """A tensor, or a tuple of tensors (e.g. features and their mask), on ``device``."""
    return tuple(t.to(device) for t in x) if isinstance(x, (tuple, list)) else x.to(device)


def train_one_epoch(net: nn.Module, batches: Iterable, loss_fn: LossFn, opt, sched, scaler, device: torch.device,
                    grad_clip: float, use_amp: bool) -> float:
    """One pass over ``batches``; returns the mean training loss."""
    net.train()
    losses = []
    for xb, yb in batches:
        xb, yb = to_device(xb, device), yb.to(device)
        with torch.autocast(device.type, enabled=use_amp):
            loss = loss_fn(net, xb, yb)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if grad_clip:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
        scaler.step(opt)
        scaler.update()
        sched.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else float("nan")


@dataclass
class _Progress:
    """What the engine carries from epoch to epoch (and saves in a checkpoint)."""

    epoch: int = 0
    best_score: float = -math.inf
    bad_epochs: int = 0
    best_state: dict | None = None


def fit(model: nn.Module, batches: Batches, steps_per_epoch: int, loss_fn: LossFn, cfg: EngineConfig, seed: int,
        validate: Validate | None = None, score_key: str = "score", param_groups=None,
        checkpoint: Path | None = None, on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``model``; with ``validate``, keep the epoch whose ``row[score_key]`` is highest.

    ``batches(rng, gen)`` draws one epoch of batches (already sharded for this rank under DDP).
    With ``checkpoint``, the whole training state is saved there after each epoch and training
    continues from it when it exists: an interrupted run resumes to the same result.
    """
    device = pick_device(cfg.device)
    rank, world = rank_and_world()
    distributed = world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1000 * rank)
    rng = np.random.default_rng(seed)
    model = model.to(device)
    net = nn.parallel.DistributedDataParallel(model) if distributed else model
    opt = make_optimizer(param_groups if param_groups is not None else
                         [{"params": [p for p in model.parameters() if p.requires_grad], "lr": cfg.lr}], cfg)
    sched = make_schedule(opt, cfg, max(1, steps_per_epoch))
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    result, prog = FitResult(model=model), _Progress()
    if checkpoint is not None and (checkpoint / STATE_JSON).is_file():
        prog = load_state(checkpoint, model, opt, sched, scaler, gen, rng, result)
    while prog.epoch < cfg.epochs and not result.stopped_early:
        loss = train_one_epoch(net, batches(rng, gen), loss_fn, opt, sched, scaler, device, cfg.grad_clip, use_amp)
        prog.epoch += 1
        row = {"epoch": prog.epoch, "train_loss": loss, "lr": opt.param_groups[-1]["lr"]}
        if validate is not None:
            model.eval()
            row.update(validate(model))
            _keep_if_best(model, row[score_key], prog, result, distributed, device)
            result.stopped_early = bool(cfg.patience) and prog.best_state is not None and prog.bad_epochs >= cfg.patience
        result.history.append(row)
        if on_epoch:
            on_epoch(row)
        if checkpoint is not None and rank == 0:
            save_state(checkpoint, model, opt, sched, scaler, gen, rng, result, prog)
    if prog.best_state is not None:
        model.load_state_dict(prog.best_state)
    else:
        result.best_epoch = len(result.history)
    return FitResult(model.eval(), result.history, result.best_epoch, result.stopped_early)


def _keep_if_best(model, score: float, prog: _Progress, result: FitResult, distributed: bool, device) -> None:
    improved = score > prog.best_score
    if distributed:  # rank 0 decides, so all ranks keep the same epoch and stop together
        flag = torch.tensor([int(improved)], device=device if device.type == "cuda" else "cpu")
        torch.distributed.broadcast(flag, 0)
        improved = bool(flag.item())
    if improved:
        prog.best_score, prog.best_state, prog.bad_epochs = score, copy.deepcopy(model.state_dict()), 0
        result.best_epoch = prog.epoch
    else:
        prog.bad_epochs += 1


# ----------------------------------------------------------------------------- checkpoints
def save_state(path: Path, model, opt, sched, scaler, gen, rng, result: FitResult, prog: _Progress) -> None:
    """Everything needed to continue after ``prog.epoch``: tensors in safetensors, the rest in JSON."""
    from safetensors.torch import save_file

    from actline.core.atomic import atomic_dir, write_json

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if prog.best_state is not None:
        tensors.update({f"best.{k}": v.detach().cpu().contiguous() for k, v in prog.best_state.items()})
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous() if torch.is_tensor(v) else torch.tensor(v)
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.gen"] = gen.get_state()
    meta = {"epoch": prog.epoch, "history": result.history, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early,
            "best_score": prog.best_score if math.isfinite(prog.best_score) else None,
            "bad_epochs": prog.bad_epochs, "has_best": prog.best_state is not None,
            "opt_param_groups": osd["param_groups"], "opt_state_keys": {str(k): list(v) for k, v in osd["state"].items()},
            "sched": sched.state_dict(), "scaler": scaler.state_dict(), "numpy_rng": rng.bit_generator.state}
    with atomic_dir(path, overwrite=True) as tmp:
        save_file(tensors, str(tmp / STATE_TENSORS))
        write_json(tmp / STATE_JSON, meta)


def load_state(path: Path, model, opt, sched, scaler, gen, rng, result: FitResult) -> _Progress:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from actline.core.errors import ActlineError
    from actline.models.thermal import upgrade_state_dict

    try:
        meta = json.loads((path / STATE_JSON).read_text(encoding="utf-8"))
        t = load_file(str(path / STATE_TENSORS))
        model.load_state_dict(upgrade_state_dict(model, {k[6:]: v for k, v in t.items() if k.startswith("model.")}))
        state = {int(pid): {k: t[f"opt.{pid}.{k}"] for k in keys} for pid, keys in meta["opt_state_keys"].items()}
        opt.load_state_dict({"state": state, "param_groups": meta["opt_param_groups"]})
        sched.load_state_dict(meta["sched"])
        scaler.load_state_dict(meta["scaler"])
        torch.set_rng_state(t["rng.torch"])
        gen.set_state(t["rng.gen"])
        rng.bit_generator.state = meta["numpy_rng"]
        best = {k[5:]: v for k, v in t.items() if k.startswith("best.")} if meta["has_best"] else None
    except (OSError, KeyError, ValueError, RuntimeError, TypeError, SafetensorError, json.JSONDecodeError) as exc:
        raise ActlineError(path, f"cannot resume from this checkpoint ({type(exc).__name__}: {exc}); "
                                 "delete it to start over") from None
    result.history, result.best_epoch, result.stopped_early = meta["history"], meta["best_epoch"], meta["stopped_early"]
    best_score = meta["best_score"] if meta["best_score"] is not None else -math.inf
    return _Progress(meta["epoch"], best_score, meta["bad_epochs"], best)
