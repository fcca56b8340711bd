"""Training loop for temporal models on feature sequences (per-step labels, -1 = ignore)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.models.temporal import predict_sequence, smoothing_loss

Seq = tuple[np.ndarray, np.ndarray]  # features [T, D] float32, labels [T] int64 (-1 = no label)


def pad_batch(seqs: Sequence[Seq], fixed_length: int | None = None, rng: np.random.Generator | None = None):
    """Stack sequences into ``x [B, T, D]``, ``y [B, T]`` (-1 where padded) and ``mask [B, T]``.

    ``fixed_length`` reproduces the seed: longer sequences are cropped (at a random start when
    ``rng`` is given), shorter ones padded by repeating the last step, which then counts as data.
    """
    if fixed_length:
        out = []
        for x, y in seqs:
            if len(x) > fixed_length:
                s = int(rng.integers(0, len(x) - fixed_length + 1)) if rng is not None else 0
                x, y = x[s:s + fixed_length], y[s:s + fixed_length]
            elif len(x) < fixed_length:
                rep = fixed_length - len(x)
                x, y = np.concatenate([x, np.repeat(x[-1:], rep, 0)]), np.concatenate([y, np.repeat(y[-1:], rep)])
            out.append((x, y))
        seqs = out
    t = max(len(x) for x, _ in seqs)
    d = seqs[0][0].shape[1]
    xb = np.zeros((len(seqs), t, d), np.float32)
    yb = np.full((len(seqs), t), -1, np.int64)
    mb = np.zeros((len(seqs), t), bool)
    for i, (x, y) in enumerate(seqs):
        xb[i, :len(x)], yb[i, :len(y)], mb[i, :len(x)] = x, y, True
    return torch.from_numpy(xb), torch.from_numpy(yb), torch.from_numpy(mb)


def sequence_loss(model: nn.Module, x, y, mask, smooth_weight: float) -> torch.Tensor:
    loss = 0.0
    stages = model.forward_stages(x, mask)
    for logits in stages:
        loss = loss + F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)
        if smooth_weight and len(stages) > 1:  # the smoothing loss belongs to the multi-stage model
            loss = loss + smooth_weight * smoothing_loss(logits, mask)
    return loss


def step_accuracy(model: nn.Module, seqs: Sequence[Seq]) -> float:
    hit = tot = 0
    for x, y in seqs:
        p = predict_sequence(model, x).argmax(1)
        ok = y >= 0
        hit += int((p[ok] == y[ok]).sum())
        tot += int(ok.sum())
    return 100.0 * hit / max(tot, 1)


@dataclass
class SeqFit:
    model: nn.Module
    best_epoch: int
    history: list[dict] = field(default_factory=list)


def fit_sequences(model: nn.Module, train: Sequence[Seq] | Callable[[np.random.Generator], Sequence[Seq]],
                  val: Sequence[Seq] | None, epochs: int, lr: float = 1e-3, weight_decay: float = 1e-4,
                  batch_size: int = 4, smooth_weight: float = 0.15, patience: int = 10,
                  fixed_length: int | None = None, seed: int = 0, progress=None) -> SeqFit:
    """AdamW on per-step cross-entropy; keeps the epoch with the best step accuracy on ``val``.

    ``train`` is a list of sequences or a function drawing a fresh list each epoch (chained clips).
    Without ``val`` the last epoch is kept.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, best_epoch, since = -1.0, None, 0, 0
    history = []
    for epoch in range(1, epochs + 1):
        seqs = list(train(rng) if callable(train) else train)
        order = rng.permutation(len(seqs))
        model.train()
        total = 0.0
        for i in range(0, len(order), batch_size):
            x, y, m = pad_batch([seqs[j] for j in order[i:i + batch_size]], fixed_length, rng)
            loss = sequence_loss(model, x, y, m, smooth_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += float(loss.detach()) * len(x)
        row = {"epoch": epoch, "train_loss": total / max(len(seqs), 1)}
        if val:
            row["val_step_accuracy"] = step_accuracy(model, val)
            if row["val_step_accuracy"] > best:
                best, best_state, best_epoch, since = row["val_step_accuracy"], copy.deepcopy(model.state_dict()), epoch, 0
            else:
                since += 1
        history.append(row)
        if progress:
            progress(row)
        if val and patience and since >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = history[-1]["epoch"] if history else 0
    return SeqFit(model.eval(), best_epoch, history)
