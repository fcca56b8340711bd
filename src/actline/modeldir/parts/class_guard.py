"""The rare-class guard: keeps a model off the classes it barely knows (``class_guard`` in its config).

A class seen ``n`` < ``min_examples`` times in training has its probability scaled by
``n / min_examples``; with ``prior_power`` every class is also weighed by its training frequency to that
power (then renormalised). A handful of windows cannot tell a model where a class ends, so in a room
unlike its training rooms a model may put most windows into such a class; with the guard it falls back
on the classes it knows well unless the evidence for the rare one is strong. The prior leans every
decision back towards the training frequencies, which the tempered class weights of training move away
from (off by default). In a room taught by ``actline adapt`` the guard stands aside: the room's session
showed the model every activity of that room, and on ten tuning sets the guard there cost macro-F1 (29.2
without it, 24.5 with it; the design notes). The factors ride in the model's config, so every backend
and every export applies the same ones. It holds no files.
"""

from __future__ import annotations

import numpy as np

from actline.modeldir.parts import Part, register

NAME = "class_guard"


class RareClassGuard:
    def __init__(self, inner, factors, min_examples: int | None = None, prior_power: float = 0.0):
        self.inner, self.factors = inner, np.asarray(factors, dtype=np.float32)
        self.min_examples, self.prior_power = min_examples, prior_power
        self.num_classes, self.feature_dim = inner.num_classes, inner.feature_dim

    @staticmethod
    def factors_for(train_counts, min_examples: int, prior_power: float = 0.0) -> list[float]:
        counts = np.asarray(train_counts, dtype=np.float64)
        f = np.clip(counts / max(min_examples, 1), 0.0, 1.0) if min_examples > 0 else np.ones(len(counts))
        if prior_power > 0:
            f = f * (counts / max(float(counts.max()), 1.0)) ** prior_power
        return [round(float(x), 4) for x in f]

    @classmethod
    def for_counts(cls, inner, train_counts, min_examples: int, prior_power: float = 0.0) -> RareClassGuard:
        return cls(inner, cls.factors_for(train_counts, min_examples, prior_power), min_examples, prior_power)

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        taught = None
        if hasattr(self.inner, "probs_and_taught"):  # a room gate: rooms taught by a session keep their answer
            raw, taught = self.inner.probs_and_taught(windows, rooms)
        else:
            raw = self.inner.probs(windows, rooms)
        p = raw * self.factors
        p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
        if taught is not None and taught.any():
            p[taught] = raw[taught]
        return p

    def features(self, windows: np.ndarray) -> np.ndarray:
        return self.inner.features(windows)

    def settings(self) -> dict:
        return {"min_examples": self.min_examples, "prior_power": self.prior_power,
                "factors": [round(float(x), 4) for x in self.factors]}

    def __getattr__(self, name):  # model, session, config: whatever the wrapped classifier offers
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def guarded(classifier, config: dict):
    """``classifier`` wrapped in the RareClassGuard its config names (unchanged when it names none)."""
    guard = (config or {}).get(NAME)
    if not (guard and guard.get("factors")):
        return classifier
    return RareClassGuard(classifier, guard["factors"], guard.get("min_examples"), guard.get("prior_power", 0.0))


PART = register(Part(NAME, lambda config: bool((config.get(NAME) or {}).get("factors")),
                     lambda clf, source: guarded(clf, source.config), order=100, kind=RareClassGuard,
                     save=lambda guard: ({NAME: guard.settings()}, {}), keys=(NAME,)))
