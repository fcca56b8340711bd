"""Models: one factory over a plain dict registry, as timm's ``create_model``.

``create_model(name, num_classes=..., in_chans=1, **kwargs)`` builds any registered model;
every model takes ``[B, C, T, H, W]`` float32 (°C for thermal models) and returns logits.
Each model file registers its small factory functions at its end.
"""

from actline.models.registry import REGISTRY, create_model, list_models, register  # noqa: F401
