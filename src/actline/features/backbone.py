"""Frozen feature extractors (backbones): one vector per chunk ``[B, C, T, H, W]``.

- a torchvision video model (``r3d_18`` by default, 512-D after global pooling) with weights from
  its enum (``KINETICS400_V1``: torchvision downloads it into ``$TORCH_HOME`` when online), from a
  local file (``--weights PATH``), or random (``none``, for tests and synthetic data);
- the encoder of a trained actline thermal model (``--backbone path/to/run/model``);
- any registered model that has a ``features`` method (random weights, seeded).

``precision``: ``fp32`` (the default), ``bf16`` (an RGB video backbone under bfloat16 autocast, channels-last:
about 4x faster on CPUs that compute bfloat16 natively, AMX or AVX-512 BF16, and slower elsewhere), or ``auto``
(bf16 on such CPUs, fp32 elsewhere). bfloat16 changes features by about 0.3 % of their size: small where
features differ a lot between chunks (the tour's backbone: 26 %, identical timelines), not where they barely
do (random R3D-18 weights: 3 %, timelines near chance either way). Float32 stays the default until bfloat16 is
measured with trained weights. Thermal encoders always run in float32, so that their head over extracted
features gives their own window predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from actline.core.errors import ActlineError
from actline.core.hashing import state_digest
from actline.data.window import WindowRule
from actline.features.extract import encoder_window, model_input
from actline.models.registry import KINETICS_MEAN, KINETICS_STD, model_info


@dataclass
class Backbone:
    model: nn.Module
    dim: int
    kind: str  # "rgb" (uint8 video) or "thermal" (°C frames)
    digest: str
    window: WindowRule | None = None  # for thermal encoders: the window rule they were trained with
    frame_shape: tuple[int, int] | None = None  # for thermal encoders: the sensor's H, W
    mean: tuple[float, ...] | None = None  # rgb: per-channel input normalisation (saved in config.json)
    std: tuple[float, ...] | None = None
    precision: str = "fp32"  # fp32, bf16 or auto (see the module doc); saved as given, resolved where it runs

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ActlineError("precision", f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def name(self) -> str:
        return self.model.arch["name"]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def effective_precision(self) -> str:
        """What runs here: bf16 for an RGB backbone set to bf16, or set to auto on a CPU with native bfloat16."""
        if self.kind != "rgb" or self.precision == "fp32":
            return "fp32"
        return "bf16" if self.precision == "bf16" or (self.device.type == "cpu" and native_bf16()) else "fp32"

    @torch.inference_mode()
    def __call__(self, chunks: np.ndarray) -> np.ndarray:
        """[N, T, H, W, 3] uint8 (rgb) or [N, T, H, W] °C (thermal) -> [N, D] float32."""
        x = torch.from_numpy(model_input(chunks, self.kind, self.mean, self.std)).to(self.device)
        if self.effective_precision == "fp32":
            return self.model.features(x).float().cpu().numpy()
        if not getattr(self.model, "_channels_last", False):  # once: oneDNN's fast bfloat16 kernels want it
            self.model.to(memory_format=torch.channels_last_3d)
            self.model._channels_last = True
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            y = self.model.features(x.contiguous(memory_format=torch.channels_last_3d))
        return y.float().cpu().numpy()

    def config(self) -> dict:
        return {"dim": self.dim, "kind": self.kind, "digest": self.digest,
                "window": self.window.to_dict() if self.window else None, "frame_shape": self.frame_shape,
                "mean": list(self.mean) if self.mean else None, "std": list(self.std) if self.std else None,
                "precision": self.precision}


PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX tiles or AVX-512 BF16), where oneDNN runs it fast."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # a torch without these probes: float32, the safe choice
        return False


def build_backbone(name: str = "r3d_18", weights: str | None = "KINETICS400_V1", seed: int = 0,
                   precision: str = "fp32") -> Backbone:
    """A frozen feature extractor by name (see the module doc)."""
    from actline.modeldir.directory import read_config
    from actline.modeldir.reader import load_model_dir
    from actline.models import create_model

    path = Path(name)
    if path.is_dir():  # a trained actline model: its encoder
        cfg = read_config(path)
        model, _ = load_model_dir(path)
        shape = cfg.get("preprocessing", {}).get("frame_shape")
        return Backbone(model, int(model.feature_dim), "thermal" if model.arch.get("in_chans", 1) == 1 else "rgb",
                        state_digest(model.state_dict()), WindowRule.from_dict(cfg.get("window") or {}, path / "config.json"),
                        tuple(shape) if shape else None, precision=precision)
    torch.manual_seed(seed)  # random weights (tests, synthetic data) must be the same at every call
    info = model_info(name)
    if info.pretrained == "torchvision":
        try:
            model = create_model(name, num_classes=1, in_chans=3, weights=weights)
        except (OSError, RuntimeError) as exc:  # e.g. no network for the enum's download
            raise ActlineError(None, f"{name}: cannot get weights {weights!r} ({type(exc).__name__}: {exc}); "
                               "when offline pass --weights PATH to a local .pth file or --weights none") from None
        dim = int(model.feature_dim)
    else:
        if weights not in (None, "", "none"):
            raise ActlineError(None, f"{name}: only torchvision video models take --weights; "
                               "use --backbone path/to/model for a trained actline model")
        model = create_model(name, num_classes=1, in_chans=3)
        if not hasattr(model, "feature_dim"):
            raise ActlineError(None, f"{name} has no feature extractor")
        dim = int(model.feature_dim)
    model.eval()
    mean, std = rgb_normalisation(name)
    return Backbone(model, dim, "rgb", state_digest(model.state_dict()), mean=mean, std=std, precision=precision)


def rgb_normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) an RGB backbone's weights were trained with: the registry's, Kinetics' by default.
    Read when a backbone is built; from then on they travel in its ``config.json``."""
    info = model_info(name)
    return (info.mean, info.std) if info.mean else (KINETICS_MEAN, KINETICS_STD)


def load_backbone_dir(path: Path) -> Backbone:
    """The backbone saved inside a timeline model directory."""
    from actline.modeldir.reader import load_model_dir

    model, cfg = load_model_dir(path)
    fb = cfg.get("feature_backbone", {})
    shape = fb.get("frame_shape")
    mean, std = fb.get("mean"), fb.get("std")
    if fb["kind"] == "rgb" and not (mean and std):  # written before the normalisation was saved with it
        mean, std = rgb_normalisation(model.arch["name"])
    return Backbone(model, int(fb["dim"]), fb["kind"], fb["digest"], encoder_window(fb, path / "config.json"),
                    tuple(shape) if shape else None, tuple(mean) if mean else None, tuple(std) if std else None,
                    fb.get("precision", "fp32"))


def save_backbone_dir(path: Path, bb: Backbone) -> None:
    from actline.modeldir.directory import save_model_dir

    save_model_dir(path, bb.model, {"pipeline": "feature-backbone", "arch": bb.model.arch,
                                    "feature_backbone": bb.config()})


