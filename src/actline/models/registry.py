"""The model registry: a dict from name to factory."""

from __future__ import annotations

from typing import Callable

import torch.nn as nn

REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    REGISTRY[fn.__name__] = fn
    return fn


def _load_all() -> None:
    # importing the model modules fills the registry
    from actline.models import ensemble, slowfast, temporal, thermal, tv_video  # noqa: F401


def list_models() -> list[str]:
    _load_all()
    return sorted(REGISTRY)


def create_model(name: str, num_classes: int, in_chans: int = 1, **kwargs) -> nn.Module:
    """Build a registered model; unknown names list the known ones."""
    _load_all()
    if name not in REGISTRY:
        from actline.errors import ActlineError

        raise ActlineError(None, f"unknown model {name!r}; known models: {', '.join(sorted(REGISTRY))}")
    model = REGISTRY[name](num_classes=num_classes, in_chans=in_chans, **kwargs)
    model.arch = {"name": name, "num_classes": num_classes, "in_chans": in_chans, **kwargs}
    return model
