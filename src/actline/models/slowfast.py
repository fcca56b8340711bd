"""SlowFast R50 in plain PyTorch, with loaders for the checkpoints users already have.

Module names follow MMAction2's ``ResNet3dSlowFast`` (``slow_path.layer1.0.conv1.conv`` ...), so
an MMAction2 checkpoint maps by stripping prefixes; PyTorchVideo's ``slowfast_r50``
(``blocks.N.multipathway_blocks.P.res_blocks.J.branch2.conv_a`` ...) maps by an explicit table.
Written by hand because mmcv and pytorchvideo do not install or import with current torch.

Frames are sampled inside the model: the slow pathway takes every ``tau``-th frame, the fast
pathway every ``tau // alpha``-th. ``beta_inv`` is the fast pathway's channel reduction.
Pooling is adaptive, so 40x60 thermal windows work as well as 224x224 video.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from actline.core.errors import ActlineError
from actline.models.registry import register
from actline.models.thermal import ThermalNorm

STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class ConvBN(nn.Module):
    """Conv3d + optional BatchNorm3d + optional ReLU, named ``conv``/``bn`` as MMAction2's ConvModule."""

    def __init__(self, cin, cout, k, stride=1, padding=0, norm=True, act=True):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, k, stride, padding, bias=False)
        self.bn = nn.BatchNorm3d(cout) if norm else None
        self.act = act

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.act else x


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride_s=1, inflate=True, downsample=None):
        super().__init__()
        kt = 3 if inflate else 1
        self.conv1 = ConvBN(cin, planes, (kt, 1, 1), 1, (kt // 2, 0, 0))
        self.conv2 = ConvBN(planes, planes, (1, 3, 3), (1, stride_s, stride_s), (0, 1, 1))
        self.conv3 = ConvBN(planes, planes * 4, 1, act=False)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class Pathway(nn.Module):
    def __init__(self, in_chans, base, stem_kt, inflate, lateral, beta_inv, alpha, fusion_kernel, lateral_norm,
                 depth=50):
        super().__init__()
        self.conv1 = ConvBN(in_chans, base, (stem_kt, 7, 7), (1, 2, 2), (stem_kt // 2, 3, 3))
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.lateral = lateral

        def lat(c):
            return ConvBN(c // beta_inv, c * 2 // beta_inv, (fusion_kernel, 1, 1), (alpha, 1, 1),
                          ((fusion_kernel - 1) // 2, 0, 0), norm=lateral_norm, act=lateral_norm)

        if lateral:
            self.conv1_lateral = lat(base)
        inplanes = base
        for i, n in enumerate(STAGE_BLOCKS[depth]):
            planes = base * 2 ** i
            extra = inplanes * 2 // beta_inv if lateral else 0
            stride = 1 if i == 0 else 2
            down = ConvBN(inplanes + extra, planes * 4, 1, (1, stride, stride), act=False)
            blocks = [Bottleneck(inplanes + extra, planes, stride, inflate[i], down)]
            blocks += [Bottleneck(planes * 4, planes, 1, inflate[i]) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            inplanes = planes * 4
            if lateral and i < 3:
                setattr(self, f"layer{i + 1}_lateral", lat(inplanes))
        self.out_channels = inplanes


class SlowFastHead(nn.Module):
    def __init__(self, in_channels, num_classes, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        return self.fc_cls(self.dropout(x))


class SlowFast(nn.Module):
    def __init__(self, num_classes: int, in_chans: int = 3, alpha: int = 8, beta_inv: int = 8, tau: int = 8,
                 fusion_kernel: int = 5, lateral_norm: bool = False, head_order: str = "fast_slow",
                 dropout: float = 0.5, depth: int = 50, norm: str | None = "auto"):
        super().__init__()
        # one-channel input is thermal °C: normalise as the native models do; RGB stays as given
        if norm == "auto":
            norm = "frame-mean" if in_chans == 1 else None
        self.norm = ThermalNorm(norm) if norm else nn.Identity()
        if tau % alpha:
            raise ValueError(f"tau ({tau}) must be a multiple of alpha ({alpha})")
        if head_order not in ("fast_slow", "slow_fast"):
            raise ValueError("head_order must be 'fast_slow' (MMAction2) or 'slow_fast' (PyTorchVideo)")
        self.alpha, self.tau, self.head_order = alpha, tau, head_order
        common = dict(beta_inv=beta_inv, alpha=alpha, fusion_kernel=fusion_kernel, lateral_norm=lateral_norm,
                      depth=depth)
        self.slow_path = Pathway(in_chans, 64, 1, (False, False, True, True), True, **common)
        self.fast_path = Pathway(in_chans, 64 // beta_inv, 5, (True,) * 4, False, **common)
        self.feature_dim = self.slow_path.out_channels + self.fast_path.out_channels
        self.head = SlowFastHead(self.feature_dim, num_classes, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        xs = self.slow_path.maxpool(self.slow_path.conv1(x[:, :, :: self.tau]))
        xf = self.fast_path.maxpool(self.fast_path.conv1(x[:, :, :: self.tau // self.alpha]))
        xs = torch.cat([xs, self.slow_path.conv1_lateral(xf)], dim=1)
        for i in range(1, 5):
            xs = getattr(self.slow_path, f"layer{i}")(xs)
            xf = getattr(self.fast_path, f"layer{i}")(xf)
            if i < 4:
                xs = torch.cat([xs, getattr(self.slow_path, f"layer{i}_lateral")(xf)], dim=1)
        ps, pf = xs.mean(dim=(2, 3, 4)), xf.mean(dim=(2, 3, 4))  # adaptive average pooling
        return torch.cat([pf, ps] if self.head_order == "fast_slow" else [ps, pf], dim=1)

    def forward(self, x):
        return self.head(self.features(x))


# ---------------------------------------------------------------- checkpoint key mapping

_PTV_BRANCH = {"branch1_conv": "downsample.conv", "branch1_norm": "downsample.bn", "branch2.conv_a": "conv1.conv",
               "branch2.norm_a": "conv1.bn", "branch2.conv_b": "conv2.conv", "branch2.norm_b": "conv2.bn",
               "branch2.conv_c": "conv3.conv", "branch2.norm_c": "conv3.bn"}


def map_mmaction_key(key: str) -> str | None:
    """MMAction2 ``backbone.*`` / ``cls_head.fc_cls.*`` -> our names; None for keys we do not use."""
    if key.startswith("backbone."):
        return key[len("backbone."):]
    if key.startswith("cls_head.fc_cls."):
        return "head.fc_cls." + key[len("cls_head.fc_cls."):]
    return None


def map_pytorchvideo_key(key: str) -> str | None:
    """PyTorchVideo ``slowfast_r50`` keys -> our names; None for keys we do not use."""
    path = {"0": "slow_path", "1": "fast_path"}
    m = re.match(r"blocks\.0\.multipathway_blocks\.([01])\.(conv|norm)\.(.+)$", key)
    if m:
        return f"{path[m[1]]}.conv1.{'conv' if m[2] == 'conv' else 'bn'}.{m[3]}"
    m = re.match(r"blocks\.([0-4])\.multipathway_fusion\.(conv_fast_to_slow|norm)\.(.+)$", key)
    if m:
        name = "conv1_lateral" if m[1] == "0" else f"layer{m[1]}_lateral"
        return f"slow_path.{name}.{'conv' if m[2] == 'conv_fast_to_slow' else 'bn'}.{m[3]}"
    m = re.match(r"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\.(branch1_conv|branch1_norm|"
                 r"branch2\.conv_[abc]|branch2\.norm_[abc])\.(.+)$", key)
    if m:
        return f"{path[m[2]]}.layer{m[1]}.{m[3]}.{_PTV_BRANCH[m[4]]}.{m[5]}"
    m = re.match(r"blocks\.6\.proj\.(weight|bias)$", key)
    if m:
        return f"head.fc_cls.{m[1]}"
    return None


def _unwrap(ckpt: dict, source: str) -> dict:
    for key in ("state_dict", "model_state", "model"):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    if all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise ActlineError(source, f"no state dict found (top-level keys: {sorted(ckpt)[:8]})")


def load_slowfast_checkpoint(model: SlowFast, ckpt: dict, fmt: str, source: str = "checkpoint") -> dict:
    """Load an MMAction2 (``fmt='mmaction'``) or PyTorchVideo (``fmt='pytorchvideo'``) state dict.

    RGB stems are adapted to the model's input channels by summing over the input-channel axis;
    a head of another size is left at its fresh initialisation. Every other key must match
    exactly in name and shape (strict). Returns a report of what was adapted and skipped.
    """
    mapper = {"mmaction": map_mmaction_key, "pytorchvideo": map_pytorchvideo_key}.get(fmt)
    if mapper is None:
        raise ActlineError(source, f"unknown checkpoint format {fmt!r} (mmaction or pytorchvideo)")
    state = _unwrap(ckpt, source)
    own = model.state_dict()
    mapped, unused, adapted, head_skipped = {}, [], [], []
    for key, value in state.items():
        new = mapper(key)
        if new is None:
            unused.append(key)
            continue
        if new not in own:
            raise ActlineError(source, f"key {key!r} maps to {new!r}, which this SlowFast does not have "
                               "(check alpha, beta_inv, fusion_kernel, lateral_norm and depth)")
        if new.endswith("conv1.conv.weight") and new.count(".") == 3 and value.shape[1] != own[new].shape[1]:
            c = own[new].shape[1]
            summed = value.sum(dim=1, keepdim=True)
            value = summed if c == 1 else summed.expand(-1, c, *value.shape[2:]) / c
            adapted.append(new)
        if new.startswith("head.") and value.shape != own[new].shape:
            head_skipped.append(new)
            continue
        if value.shape != own[new].shape:
            raise ActlineError(source, f"{key!r}: shape {tuple(value.shape)} does not fit {new!r} {tuple(own[new].shape)}")
        mapped[new] = value
    missing = [k for k in own if k not in mapped and k not in head_skipped]
    if missing:
        raise ActlineError(source, f"{len(missing)} parameter(s) missing from the checkpoint, e.g. {missing[:3]}")
    leftover = [k for k in unused if not k.endswith("num_batches_tracked") and not k.startswith(("data_preprocessor",))]
    if leftover:
        raise ActlineError(source, f"{len(leftover)} checkpoint key(s) not used, e.g. {leftover[:3]}")
    model.load_state_dict({**own, **mapped}, strict=True)
    return {"adapted_stems": adapted, "head_reinitialised": head_skipped, "ignored": unused}


# 34 M parameters from scratch on a few hundred windows: a gentler rate than the small native models
_SLOWFAST = dict(head="head", pretrained="slowfast", default_recipe={"lr": 5e-4})


@register(**_SLOWFAST)
def slowfast_r50(num_classes: int, in_chans: int = 1, **kw) -> nn.Module:
    """MMAction2 ``slowfast_r50_8x8`` geometry by default: alpha=8, beta_inv=8, tau=8, fusion kernel 5."""
    return SlowFast(num_classes, in_chans, **kw)


@register(**_SLOWFAST)
def slowfast_r50_ptv(num_classes: int, in_chans: int = 1, **kw) -> nn.Module:
    """PyTorchVideo ``slowfast_r50`` geometry: alpha=4, tau=4, fusion kernel 7 with BN+ReLU, slow-first head."""
    kw = {"alpha": 4, "tau": 4, "fusion_kernel": 7, "lateral_norm": True, "head_order": "slow_fast", **kw}
    return SlowFast(num_classes, in_chans, **kw)
