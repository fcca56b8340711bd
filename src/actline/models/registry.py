"""The model registry: a dict from name to factory and what the rest of actline needs to know about it.

As in timm, one contract for every model: ``create_model(name, num_classes, in_chans, **kwargs)``
builds it, and every clip model has ``features(x) -> [B, D]`` (the pooled embedding before its
classifier), ``feature_dim`` and a classifier attribute named in its metadata. The metadata
replaces guessing by type or by parameter name:

- ``kind``: ``"clip"`` (windows ``[B, C, T, H, W]`` → logits), ``"sequence"`` (features
  ``[B, T, D]`` → per-step logits) or ``"ensemble"``;
- ``head``: the attribute holding the classifier (a pretrained backbone learns more slowly than it);
- ``input``: what the model expects: ``"thermal"`` (°C, normalised inside the model) or
  ``"kinetics-rgb"`` (RGB in 0-1, normalised with ``mean``/``std`` by the caller);
- ``pretrained``: how ``--weights`` is read (``"torchvision"`` enum or file, ``"slowfast"``
  checkpoint import), or absent;
- ``default_recipe``: training settings this model needs that differ from the defaults
  (e.g. a gentler learning rate for SlowFast from scratch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the registry itself imports no torch, so the ONNX path stays torch-free
    import torch.nn as nn

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)  # torchvision's Kinetics-400 video weights were trained on these
KINETICS_STD = (0.22803, 0.22145, 0.216989)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    factory: Callable[..., "nn.Module"]
    kind: str = "clip"
    head: str = "fc"
    input: str = "thermal"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pretrained: str | None = None
    default_recipe: dict = field(default_factory=dict)

    def normalisation(self) -> dict:
        """What goes into a model directory's ``config.json`` (``preprocessing.normalisation``)."""
        out = {"input": self.input}
        if self.mean is not None:
            out.update(mean=list(self.mean), std=list(self.std))
        return out


REGISTRY: dict[str, ModelInfo] = {}


def register(fn: Callable[..., "nn.Module"] | None = None, **meta):
    """``@register`` or ``@register(kind=..., head=..., input=..., ...)`` on a factory function."""

    def add(f: Callable[..., "nn.Module"]) -> Callable[..., "nn.Module"]:
        REGISTRY[f.__name__] = ModelInfo(f.__name__, f, **meta)
        return f

    return add(fn) if fn is not None else add


def _load_all() -> None:
    # importing the model modules fills the registry
    from actline.models import ensemble, slowfast, temporal, thermal, tv_video  # noqa: F401


def list_models(kind: str | None = None) -> list[str]:
    """Registered model names, sorted; ``kind`` ("clip", "sequence", "ensemble") keeps one kind."""
    _load_all()
    return sorted(n for n, i in REGISTRY.items() if kind is None or i.kind == kind)


def model_info(name: str) -> ModelInfo:
    _load_all()
    if name not in REGISTRY:
        from actline.core.errors import ActlineError

        raise ActlineError(None, f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def create_model(name: str, num_classes: int, in_chans: int = 1, **kwargs) -> "nn.Module":
    """Build a registered model; unknown names list the known ones."""
    model = model_info(name).factory(num_classes=num_classes, in_chans=in_chans, **kwargs)
    model.arch = {"name": name, "num_classes": num_classes, "in_chans": in_chans, **kwargs}
    return model
