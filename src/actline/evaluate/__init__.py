"""Evaluation: classification metrics with intervals, and the baselines printed beside them."""
