"""Fusion models: a CNN and window-statistics trees, fused by the normalised weighted geometric mean.

``fusion`` models pair a CNN with the ``features`` model (window statistics into trees), trained on the
same windows: where a room is unlike the training rooms the two fail in different ways, and a class must
convince both. The model directory holds the CNN's weights as its main weights (``model.safetensors``,
or ``model.onnx`` once exported) and the trees as ``trees.onnx``; ``config.json`` says
``arch: {name: fusion, cnn: {...}, trees: {...}, weights: [cnn, trees]}``.
"""

from __future__ import annotations

import numpy as np

from actline.modeldir.parts import Part, register, trees
from actline.models.contract import fuse_probs

NAME = "fusion"


class FusionClassifier:
    """Late fusion of its members' probabilities (weighted geometric mean); ``features`` concatenates the
    members' features. The first member is the one it wraps (``inner``): the CNN of a fusion model."""

    def __init__(self, members: list, weights: list[float]):
        self.members, self.weights = list(members), [float(w) for w in weights]
        self.inner = self.members[0]
        self.num_classes = self.inner.num_classes
        self.feature_dim = sum(m.feature_dim for m in self.members)

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        return fuse_probs([m.probs(windows, rooms) for m in self.members], self.weights)

    def features(self, windows: np.ndarray) -> np.ndarray:
        return np.concatenate([m.features(windows) for m in self.members], axis=1)

    @property
    def model(self):  # the torch member, when there is one (what ``Recognizer.model`` shows)
        return next((m.model for m in self.members if hasattr(m, "model")), None)


def _applies(config: dict) -> bool:
    return (config.get("arch") or {}).get("name") == NAME


def _load(cnn, source):
    return FusionClassifier([cnn, trees.load(source)], (source.config.get("arch") or {}).get("weights", [0.5, 0.5]))


def _save(fusion: FusionClassifier) -> tuple[dict, dict]:
    return {}, {trees.TREES: trees.writer(fusion.members[1])}


PART = register(Part(NAME, _applies, _load, order=10, kind=FusionClassifier,
                     files=lambda config, backend: [trees.TREES], save=_save,
                     export=lambda job: trees.export(job), main_arch=lambda config: config["arch"]["cnn"]))
