"""The room gate's trees and shape trees, refit by ``actline adapt`` on the model's training data and the new
room's session.

A few labelled minutes of a room teach window statistics more than they teach a network: on the realistic
preset's held-out rooms, trees refit with the room's calibration session reached a macro-F1 that the
fine-tuned CNN alone did not, and the two fused did best of all (the design notes give the comparison).
So adapt refits the trees the way training fits them (:func:`actline.evaluate.baselines.fit_classical`:
logistic regression or gradient boosting, whichever scores better on whole held-back locations), on the
windows of the model's training part replayed (all of them, not a sample) and every window of the session,
and the gate fuses them with the adapted CNN in the rooms adapt taught. A gate with shape trees has them refit
the same way (gradient boosting, as training fits them) and fuses all three there: on ten tuning sets that
beat the adapted CNN with the trees alone in the taught room (the design notes give the figures).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from actline.data import ClipDataset, WindowRule
from actline.evaluate import baselines as bl
from actline.models.contract import OnnxClassifier
from actline.models.window_stats import SHAPE_INPUT
from actline.runs.fitting import WindowBank, shape_trees
from actline.train.features_model import to_onnx

PIPELINE = "clip-classifier"


def refit_trees(room: ClipDataset, old: ClipDataset, pool: list, rule: WindowRule, background: str,
                classes: list[str], seed: int = 0) -> tuple[OnnxClassifier, str]:
    """(the trees as an in-memory ONNX classifier, which estimator won): fit on ``pool`` (windows of ``old``, the
    model's training part) and every window of ``room``, their windows by ``rule`` minus ``background``."""
    trees_rule = replace(rule, background=background)
    x = np.concatenate([WindowBank(room).stats(room.samples, trees_rule), WindowBank(old).stats(pool, trees_rule)])
    y = np.concatenate([room.labels(), old.labels(pool)])
    groups = np.concatenate([room.groups(room.samples, by="location"), old.groups(pool, by="location")])
    which, est, _ = bl.fit_classical(x, y, groups, len(classes), seed)
    config = {"pipeline": PIPELINE, "classes": list(classes), "arch": {"name": "features", "estimator": which},
              "window": trees_rule.to_dict()}
    return OnnxClassifier(to_onnx(est, len(classes), config)), which


def refit_shape(room: ClipDataset, old: ClipDataset, pool: list, rule: WindowRule, background: str,
                classes: list[str], seed: int = 0) -> OnnxClassifier:
    """The shape trees (:func:`actline.runs.fitting.shape_trees`) fit on ``pool`` (windows of ``old``,
    the model's training part) and every window of ``room``, their windows by ``rule`` minus ``background``."""
    shape_rule = replace(rule, background=background)
    x = np.concatenate([WindowBank(room).stats(room.samples, shape_rule, SHAPE_INPUT),
                        WindowBank(old).stats(pool, shape_rule, SHAPE_INPUT)])
    return shape_trees(x, np.concatenate([room.labels(), old.labels(pool)]), classes, shape_rule, seed)
