"""The ``features`` model: window statistics into a scikit-learn classifier, saved as ONNX (no pickle).

Training needs scikit-learn and skl2onnx; running the saved model needs only NumPy and ONNX
Runtime (:class:`~actline.models.contract.OnnxClassifier` computes the statistics and feeds the
trees). The same builders make the classical baseline that every run reports.

Estimators: ``gbm`` (scikit-learn's ``GradientBoostingClassifier``; its histogram variant does not
convert with the skl2onnx and scikit-learn versions we support), ``forest`` (extremely randomised
trees) and ``logistic`` (standardised logistic regression). Class weights enter as sample weights,
tempered by ``power`` (see :func:`actline.train.clip_fit.class_weights`).
"""

from __future__ import annotations

import json

import numpy as np

from actline.models.window_stats import STATISTICS, WINDOW_STATS_INPUT

ESTIMATORS = ("gbm", "forest", "logistic")


def make_estimator(kind: str, seed: int = 0):
    from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "gbm":
        return GradientBoostingClassifier(n_estimators=150, learning_rate=0.1, max_depth=3, subsample=0.8,
                                          random_state=seed)
    if kind == "forest":
        return ExtraTreesClassifier(n_estimators=300, min_samples_leaf=2, max_features="sqrt", random_state=seed, n_jobs=1)
    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0))
    raise ValueError(f"unknown estimator {kind!r} (known: {', '.join(ESTIMATORS)})")


def sample_weights(y: np.ndarray, power: float) -> np.ndarray:
    counts = np.bincount(y).astype(float)
    w = (len(y) / (np.count_nonzero(counts) * counts[y])) ** power
    return w / w.mean()


def fit_estimator(kind: str, x: np.ndarray, y: np.ndarray, power: float = 1.0, seed: int = 0):
    est = make_estimator(kind, seed)
    key = est.steps[-1][0] + "__sample_weight" if hasattr(est, "steps") else "sample_weight"
    return est.fit(x.astype(np.float32), y, **{key: sample_weights(y, power)})


def estimator_probs(est, x: np.ndarray, n_classes: int) -> np.ndarray:
    """[N, n_classes]; classes absent from the training part get 0."""
    out = np.zeros((len(x), n_classes))
    out[:, est.classes_] = est.predict_proba(x.astype(np.float32))
    return out


def to_onnx(est, n_classes: int, config: dict, statistics: str = WINDOW_STATS_INPUT) -> bytes:
    """The estimator as ONNX: input ``[N, D]`` window statistics of the kind ``statistics`` names
    (:data:`~actline.models.window_stats.STATISTICS`), output ``[N, n_classes]`` probabilities (classes absent
    from training padded with zeros), ``config`` in the metadata."""
    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx as skl_to_onnx

    proto = skl_to_onnx(est, np.zeros((1, STATISTICS[statistics][1]), np.float32), options={id(est): {"zipmap": False}},
                        target_opset={"": 17, "ai.onnx.ml": 3})
    graph = proto.graph
    probs = graph.output[1].name
    # scatter the trained classes' columns into all n_classes: probs @ one-hot [n_trained, n_classes]
    scatter = np.zeros((len(est.classes_), n_classes), np.float32)
    scatter[np.arange(len(est.classes_)), est.classes_] = 1.0
    graph.initializer.append(helper.make_tensor("actline_scatter", TensorProto.FLOAT, scatter.shape, scatter.ravel()))
    graph.node.append(helper.make_node("MatMul", [probs, "actline_scatter"], ["class_probabilities"]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("class_probabilities", TensorProto.FLOAT, [None, n_classes]))
    meta = {**config, "input": statistics, "output": "[batch, K] class probabilities"}
    entry = proto.metadata_props.add()
    entry.key, entry.value = "actline_config", json.dumps(meta)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()
