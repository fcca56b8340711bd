"""torchvision video models (r3d_18, r2plus1d_18, mc3_18, s3d) through their weight enums.

Weights come from the enum (downloaded by torchvision only when the user is online and asks:
``weights="DEFAULT"`` or an enum name such as ``"KINETICS400_V1"``), or from a local file
(``weights="/path/to/r3d_18.pth"``), read with ``torch.load(weights_only=True)``. Nothing is
fetched on import. A one-channel (thermal) input sums the RGB stem over its input channels;
the classifier is replaced by one of ``num_classes`` outputs.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torchvision.models.video as tvv
from torchvision.models import get_model_weights

from actline.core.errors import ActlineError
from actline.models.registry import KINETICS_MEAN, KINETICS_STD, register

TV_MODELS = ("r3d_18", "r2plus1d_18", "mc3_18", "s3d")


def resolve_weights(name: str, weights: str | None):
    """None -> no weights; an enum name or 'DEFAULT' -> the enum; an existing path -> the file path."""
    if weights in (None, "", "none"):
        return None
    if Path(weights).suffix in (".pth", ".pt", ".bin") or Path(weights).exists():
        if not Path(weights).is_file():
            raise ActlineError(weights, "weights file not found")
        return Path(weights)
    enum = get_model_weights(name)
    try:
        return enum[weights] if weights != "DEFAULT" else enum.DEFAULT
    except KeyError:
        raise ActlineError(None, f"{name}: unknown weights {weights!r} (known: DEFAULT, "
                           f"{', '.join(w.name for w in enum)}, or a local .pth file)") from None


def build_tv_video(name: str, num_classes: int, in_chans: int = 3, weights: str | None = None,
                   dropout: float = 0.0) -> nn.Module:
    if name not in TV_MODELS:
        raise ActlineError(None, f"unknown torchvision video model {name!r} (known: {', '.join(TV_MODELS)})")
    w = resolve_weights(name, weights)
    ctor = getattr(tvv, name)
    if isinstance(w, Path):
        model = ctor(weights=None)
        try:
            state = torch.load(w, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input error
            raise ActlineError(w, f"cannot read weights ({type(exc).__name__}: {exc})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ActlineError(w, f"weights do not fit {name}: {str(exc).splitlines()[0]}") from None
    else:
        model = ctor(weights=w)  # the enum downloads into torch.hub's cache dir when first asked
    stem = model.features[0][0][0] if name == "s3d" else model.stem[0]
    if in_chans != stem.in_channels:
        new = nn.Conv3d(in_chans, stem.out_channels, stem.kernel_size, stem.stride, stem.padding, bias=False)
        with torch.no_grad():
            summed = stem.weight.sum(dim=1, keepdim=True)
            new.weight.copy_(summed if in_chans == 1 else summed.expand(-1, in_chans, -1, -1, -1) / in_chans)
        if name == "s3d":
            model.features[0][0][0] = new
        else:
            model.stem[0] = new
    return TVS3D(model, num_classes, dropout) if name == "s3d" else TVVideoResNet(model, num_classes, dropout)


class TVVideoResNet(nn.Module):
    """torchvision's VideoResNet (r3d_18, r2plus1d_18, mc3_18) with the model contract: ``features``,
    ``feature_dim``, ``fc``. Its children keep torchvision's names, so state dicts are torchvision's."""

    def __init__(self, m: tvv.VideoResNet, num_classes: int, dropout: float):
        super().__init__()
        self.stem, self.layer1, self.layer2, self.layer3, self.layer4 = m.stem, m.layer1, m.layer2, m.layer3, m.layer4
        self.avgpool = m.avgpool
        self.feature_dim = m.fc.in_features
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.feature_dim, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.avgpool(x).flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


class TVS3D(nn.Module):
    """torchvision's S3D with the model contract. Its convolutions live in ``body`` (torchvision calls
    them ``features``, the contract's method name); state dicts keep torchvision's key names."""

    def __init__(self, m: tvv.S3D, num_classes: int, dropout: float):
        super().__init__()
        self.body = m.features
        self.avgpool = nn.AdaptiveAvgPool3d(1)  # the fixed (2,7,7) pool fails on 40x60 thermal input
        self.feature_dim = m.classifier[1].in_channels
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Conv3d(self.feature_dim, num_classes, 1, bias=True))
        self._register_state_dict_hook(lambda mod, sd, prefix, local: _rename(sd, prefix + "body.", prefix + "features."))
        self.register_load_state_dict_pre_hook(lambda mod, sd, prefix, *a: _rename(sd, prefix + "features.", prefix + "body."))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.body(x)).flatten(1)

    def forward(self, x):
        return self.classifier(self.avgpool(self.body(x))).flatten(1)


def _rename(sd: dict, old: str, new: str) -> dict:
    for k in [k for k in sd if k.startswith(old)]:
        sd[new + k[len(old):]] = sd.pop(k)
    return sd


def _factory(name):
    def make(num_classes: int, in_chans: int = 3, **kw) -> nn.Module:
        return build_tv_video(name, num_classes, in_chans, **kw)

    make.__name__ = name
    return make


for _name in TV_MODELS:
    register(_factory(_name), head="classifier" if _name == "s3d" else "fc", input="kinetics-rgb",
             mean=KINETICS_MEAN, std=KINETICS_STD, pretrained="torchvision")
