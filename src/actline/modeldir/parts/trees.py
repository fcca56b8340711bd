"""Window-statistics trees as a part of a composite model: ``trees.onnx`` beside the main weights.

The trees are a tree model on window statistics (``--model features``, or the classical baseline a run
fits), as ONNX, window statistics in and probabilities out. Fusion models and room gates fuse them with
a CNN. They travel as the same bytes everywhere: in the model directory, and as ``<stem>.trees.onnx``
beside an outside export.
"""

from __future__ import annotations

TREES = "trees.onnx"


def load(source):
    """The trees of the model at ``source`` (verified first), on ONNX Runtime."""
    return source.onnx(TREES)


def writer(trees):
    """What writes a trained tree classifier's ONNX bytes (an in-memory :class:`OnnxClassifier`) to a path."""
    blob = trees.blob
    if blob is None:
        raise ValueError("the trees were loaded from a file: copy that file instead")
    return lambda path: path.write_bytes(blob)


def export(job) -> None:
    """Beside an export, the trees travel as they are."""
    job.copy(TREES)
