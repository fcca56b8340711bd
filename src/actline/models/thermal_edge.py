"""The thermal (2+1)D networks in two-dimensional operations only, for microcontrollers.

TensorFlow Lite for Microcontrollers has no three-dimensional kernels (no ``CONV_3D``, no 3-D pooling;
its kernel list is the ``Register_*`` functions of its interpreter), so a window's network cannot run
there as trained. :func:`edge_form` rewrites a trained :class:`~actline.models.thermal.ThermalR2Plus1D`
into :class:`EdgeR2Plus1D`, which computes the same function with 2-D operations on a window laid out
as ``[T, 1, H, W]`` (time on the batch axis):

- a per-frame ``1x3x3`` convolution is a 2-D convolution over the batch of frames;
- a ``k x ...`` convolution along time (the stem's ``3x3x3``, the blocks' ``3x1x1``) stacks the ``k``
  frames it reads, zero-padded at both ends as the 3-D convolution pads them, on the channel axis
  (``[T', k*C, H, W]``) and runs one 2-D convolution with the kernel's time taps as input channels;
- batch norms are folded into the convolutions before them;
- the global mean and max run over time and space at once.

Only the ``temporal="strided"`` design (the default) is rewritten; the result matches the original
to float rounding (:func:`edge_form` checks it on an example window).

The default 40x60 network (``thermal_r2plus1d_lite`` on 32-step windows) fits a microcontroller in int8
as it is: about 80 kB of weights and 205 kB of tensor arena (``actline export --int8``, docs/deployment.md).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.core.errors import ActlineError
from actline.models.thermal import Block2p1d, ThermalR2Plus1D


def _fold(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of ``conv`` followed by ``bn`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * scale.reshape(-1, *([1] * (conv.weight.dim() - 1)))
    b = bn.bias - bn.running_mean * scale
    return w.detach().clone(), b.detach().clone()


class TimeConv(nn.Module):
    """A convolution over ``[T, C, H, W]`` whose kernel spans ``k`` steps of time (stride ``st``, ``k // 2``
    zero steps padded each side) and ``kh x kw`` pixels (stride ``ss``): the ``k`` frames each output step
    reads, stacked on the channel axis, into one 2-D convolution."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride_t: int, stride_s: int, pad_s: int):
        super().__init__()
        cout, cin, k = weight.shape[:3]
        self.k, self.stride_t, self.cin = k, stride_t, cin
        self.conv = nn.Conv2d(k * cin, cout, tuple(weight.shape[3:]), stride_s, pad_s)
        with torch.no_grad():  # channel kt*cin + c of the stacked input is frame offset kt, channel c
            self.conv.weight.copy_(weight.permute(0, 2, 1, 3, 4).reshape(cout, k * cin, *weight.shape[3:]))
            self.conv.bias.copy_(bias)

    def forward(self, x):
        if self.k == 1:
            return self.conv(x[::self.stride_t] if self.stride_t > 1 else x)
        pad = self.k // 2
        n_out = (x.shape[0] + 2 * pad - self.k) // self.stride_t + 1
        zeros = torch.zeros((pad, *x.shape[1:]), dtype=x.dtype)
        xp = torch.cat([zeros, x, zeros], dim=0)
        span = self.stride_t * (n_out - 1) + 1
        taps = [xp[kt:kt + span:self.stride_t] for kt in range(self.k)]
        return self.conv(torch.cat(taps, dim=1))


class EdgeBlock(nn.Module):
    def __init__(self, block: Block2p1d):
        super().__init__()
        sp_conv, sp_bn = block.spatial[0], block.spatial[1]
        t_conv, t_bn = block.temporal[0], block.temporal[1]
        if not isinstance(block.temporal[2], nn.Identity):
            raise ActlineError("int8 export", "only the strided (2+1)D design (temporal='strided') has an edge form")
        self.spatial = TimeConv(*_fold(sp_conv, sp_bn), 1, sp_conv.stride[1], sp_conv.padding[1])
        self.temporal = TimeConv(*_fold(t_conv, t_bn), t_conv.stride[0], 1, 0)
        if isinstance(block.skip, nn.Identity):
            self.skip = None
        else:
            s_conv, s_bn = block.skip[0], block.skip[1]
            self.skip = TimeConv(*_fold(s_conv, s_bn), s_conv.stride[0], s_conv.stride[1], 0)

    def forward(self, x):
        y = self.temporal(F.relu(self.spatial(x)))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class EdgeR2Plus1D(nn.Module):
    """:class:`ThermalR2Plus1D` on ``[T, 1, H, W]`` windows in 2-D operations; ``forward`` gives probabilities."""

    def __init__(self, model: ThermalR2Plus1D, frame_shape: tuple[int, int]):
        super().__init__()
        norm = model.norm
        if norm.mode != "frame-mean" or not isinstance(model.stem[2], nn.Identity):
            raise ActlineError("int8 export", "only the strided (2+1)D design with the frame-mean normalisation "
                                              "has an edge form")
        self.scale_c, self.clip_c = float(norm.scale_c), norm.clip_c
        self.pool = model.input_pool if min(frame_shape) >= 32 and model.input_pool > 1 else 1
        conv, bn = model.stem[0][0], model.stem[0][1]
        w, b = _fold(conv, bn)  # the normalisation's scale (and the clamp's sign) ride in the stem's weights
        sign = -1.0 if self.clip_c is not None else 1.0
        self.stem = TimeConv(w * (sign / self.scale_c), b, conv.stride[0], 1, 1)
        self.layers = nn.Sequential(*(EdgeBlock(b) for b in model.layers))
        self.fc = nn.Linear(model.fc.in_features, model.fc.out_features)
        self.fc.load_state_dict(model.fc.state_dict())

    def forward(self, x):  # [T, 1, H, W] °C -> [1, K] probabilities
        x = x - x.mean(dim=(2, 3), keepdim=True)
        if self.clip_c is not None:  # clamp(x, -c, c) as -max(-max(x, -c), -c): MINIMUM has no int8 quantiser
            c = torch.tensor(-self.clip_c, dtype=x.dtype)
            x = torch.maximum(torch.maximum(x, c) * -1.0, c)  # minus the clamped value
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool, ceil_mode=True)
        x = F.max_pool2d(F.relu(self.stem(x)), 2, ceil_mode=True)  # the stem's weights take the sign and scale
        x = self.layers(x)
        t, c, h, w = x.shape  # global mean and max over time and space: one 2-D pooling window over all of it
        x = x.permute(1, 0, 2, 3).reshape(1, c, t * h, w)
        f = torch.cat([F.avg_pool2d(x, (t * h, w)), F.max_pool2d(x, (t * h, w))], dim=1).reshape(1, 2 * c)
        return torch.softmax(self.fc(f), dim=1)


def edge_form(model: nn.Module, frame_shape: tuple[int, int], length: int, class_factors=None,
              atol: float = 1e-4) -> EdgeR2Plus1D:
    """The trained ``model`` rewritten in 2-D operations, checked against it on a random window.

    ``class_factors``: a rare-class guard's factors (:mod:`actline.modeldir.parts.class_guard`), folded into
    the classifier's bias as their logarithms (softmax(z + log f) is p * f renormalised), so the network's
    output is the guarded model's."""
    if not isinstance(model, ThermalR2Plus1D):
        raise ActlineError("int8 export", f"{type(model).__name__} has no microcontroller form (the thermal "
                                          "(2+1)D networks have: thermal_r2plus1d, thermal_r2plus1d_lite)")
    edge = EdgeR2Plus1D(model.eval(), frame_shape).eval()
    x = 21.0 + torch.randn(1, 1, length, *frame_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = torch.softmax(model(x), dim=1)
        if class_factors is not None:
            f = torch.as_tensor(class_factors, dtype=torch.float32).clamp_min(1e-8)  # a factor 0: never chosen
            want = want * f / (want * f).sum(dim=1, keepdim=True)
            edge.fc.bias += f.log()
        got = edge(x[0].transpose(0, 1))
    diff = float((want - got).abs().max())
    if not diff <= atol:
        raise ActlineError("int8 export", f"the 2-D form disagrees with the network by {diff:.1e}")
    return edge
