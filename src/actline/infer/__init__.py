"""Inference: load a model directory and predict on windows, recordings and streams."""

from actline.infer.recognizer import Prediction, Recognizer  # noqa: F401
