"""Runs: what `actline train`, `cv` and `evaluate` do from start to end (split, fit, evaluate, write)."""
