"""Temporal models on feature sequences (per-step labels, -1 = ignore), trained by the one engine."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.models.temporal import predict_sequence, smoothing_loss
from actline.train.engine import EngineConfig, FitResult, fit

Seq = tuple[np.ndarray, np.ndarray]  # features [T, D] float32, labels [T] int64 (-1 = no label)


def pad_batch(seqs: Sequence[Seq], fixed_length: int | None = None, rng: np.random.Generator | None = None):
    """Stack sequences into ``x [B, T, D]``, ``y [B, T]`` (-1 where padded) and ``mask [B, T]``.

    ``fixed_length`` reproduces the earlier system: longer sequences are cropped (at a random start when
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


class ChainSampler:
    """Draws ``n`` training sequences of ``chain`` random clips each (no clip twice in a row): each clip
    holds one action, so chaining them shows a temporal model transitions as a long video would."""

    def __init__(self, seqs: Sequence[Seq], chain: int, n: int):
        self.seqs, self.chain, self.n = list(seqs), chain, n

    def __len__(self) -> int:
        return self.n

    def __call__(self, rng: np.random.Generator) -> list[Seq]:
        out = []
        for _ in range(self.n):
            picks, prev = [], -1
            for _ in range(self.chain):
                j = int(rng.integers(len(self.seqs)))
                if j == prev and len(self.seqs) > 1:
                    j = (j + 1) % len(self.seqs)
                picks.append(self.seqs[j])
                prev = j
            out.append((np.concatenate([x for x, _ in picks]), np.concatenate([y for _, y in picks])))
        return out


Train = Sequence[Seq] | ChainSampler  # fixed sequences, or a sampler drawing fresh ones every epoch


def sequence_batches(train: Train, batch_size: int, fixed_length: int | None = None):
    """The engine's ``batches``: one epoch of ``((x, mask), y)`` in a random order."""
    def draw(rng: np.random.Generator, gen: torch.Generator):
        seqs = train(rng) if callable(train) else list(train)
        order = rng.permutation(len(seqs))
        for i in range(0, len(order), batch_size):
            x, y, m = pad_batch([seqs[j] for j in order[i:i + batch_size]], fixed_length, rng)
            yield (x, m), y

    return draw


def fit_sequences(model: nn.Module, train: Train, val: Sequence[Seq] | None, engine: EngineConfig, seed: int = 0,
                  batch_size: int = 4, smooth_weight: float = 0.15, fixed_length: int | None = None,
                  checkpoint: Path | None = None, on_epoch=None) -> FitResult:
    """Per-step cross-entropy (plus MS-TCN's smoothing loss) through the one engine
    (:func:`actline.train.engine.fit`: optimiser, schedule, device, AMP, checkpoints); keeps the epoch
    with the best step accuracy on ``val`` (the last epoch without ``val``)."""
    def loss(net: nn.Module, xm, y) -> torch.Tensor:
        return sequence_loss(net, xm[0], y, xm[1], smooth_weight)

    validate = (lambda m: {"val_step_accuracy": step_accuracy(m, val)}) if val else None
    steps = -(-len(train) // batch_size)
    return fit(model, sequence_batches(train, batch_size, fixed_length), steps, loss, engine, seed, validate=validate,
               score_key="val_step_accuracy", checkpoint=checkpoint, on_epoch=on_epoch)
