"""Temporal models over feature sequences ``[B, T, D]`` with a validity mask ``[B, T]``.

- ``temporal_mlp``: the earlier system's per-timestep MLP (LayerNorm, D→256→256→C, ReLU, dropout 0.2): no context.
- ``ms_tcn``: a multi-stage temporal convolution network after Farha & Gall (CVPR 2019): each stage
  is a 1x1 projection, dilated residual layers (dilation 1, 2, 4, ...) and a 1x1 classifier; later
  stages refine the softmax of the one before. Trained with cross-entropy on every stage plus the
  truncated smoothing loss (``smoothing_loss``).

Both return logits ``[B, T, C]``; ``forward_stages`` returns every stage (one for the MLP).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.models.registry import register


class TemporalMLP(nn.Module):
    def __init__(self, num_classes: int, in_chans: int = 512, hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(in_chans), nn.Linear(in_chans, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward_stages(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        return [self.net(x)]

    def forward(self, x, mask=None):
        return self.forward_stages(x, mask)[-1]


class DilatedResidual(nn.Module):
    def __init__(self, dilation: int, channels: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.out = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, m):  # x [B, C, T], m [B, 1, T]
        return (x + self.drop(self.out(F.relu(self.conv(x))))) * m


class Stage(nn.Module):
    def __init__(self, layers: int, channels: int, in_dim: int, num_classes: int, dropout: float):
        super().__init__()
        self.inp = nn.Conv1d(in_dim, channels, 1)
        self.layers = nn.ModuleList([DilatedResidual(2 ** i, channels, dropout) for i in range(layers)])
        self.out = nn.Conv1d(channels, num_classes, 1)

    def forward(self, x, m):
        h = self.inp(x) * m  # padded steps stay zero, so they never leak into valid ones
        for layer in self.layers:
            h = layer(h, m)
        return self.out(h) * m


class MSTCN(nn.Module):
    def __init__(self, num_classes: int, in_chans: int = 512, stages: int = 4, layers: int = 10, channels: int = 64,
                 dropout: float = 0.5, input_dropout: float = 0.3):
        super().__init__()
        self.in_drop = nn.Dropout1d(input_dropout)  # drops whole feature channels: regularises small data sets
        self.norm = nn.LayerNorm(in_chans)
        self.stages = nn.ModuleList([Stage(layers, channels, in_chans, num_classes, dropout)] +
                                    [Stage(layers, channels, num_classes, num_classes, dropout) for _ in range(stages - 1)])

    def forward_stages(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        b, t, _ = x.shape
        m = (torch.ones(b, t, device=x.device) if mask is None else mask.float()).unsqueeze(1)  # [B, 1, T]
        h = self.in_drop(self.norm(x).transpose(1, 2))  # [B, D, T]
        out = self.stages[0](h, m)
        outs = [out]
        for stage in self.stages[1:]:
            out = stage(F.softmax(out, dim=1) * m, m)
            outs.append(out)
        return [o.transpose(1, 2) for o in outs]

    def forward(self, x, mask=None):
        return self.forward_stages(x, mask)[-1]


def smoothing_loss(logits: torch.Tensor, mask: torch.Tensor, tau: float = 4.0) -> torch.Tensor:
    """MS-TCN's truncated mean squared error between log-probabilities of neighbouring steps."""
    lp = F.log_softmax(logits, dim=-1)
    d = (lp[:, 1:] - lp[:, :-1].detach()) ** 2
    d = torch.clamp(d, 0, tau * tau).mean(dim=-1)
    pair = (mask[:, 1:] & mask[:, :-1]).float()
    return (d * pair).sum() / pair.sum().clamp(min=1)


@register(kind="sequence", head="net", input="features")
def temporal_mlp(num_classes: int, in_chans: int = 512, **kw) -> nn.Module:
    return TemporalMLP(num_classes, in_chans, **kw)


@register(kind="sequence", head="stages", input="features")
def ms_tcn(num_classes: int, in_chans: int = 512, **kw) -> nn.Module:
    return MSTCN(num_classes, in_chans, **kw)


@torch.inference_mode()
def predict_sequence(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Class probabilities ``[T, C]`` of a temporal model for one whole sequence ``[T, D]``."""
    model.eval()
    device = next(model.parameters()).device
    logits = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(device))
    return torch.softmax(logits[0].float(), dim=-1).cpu().numpy()
