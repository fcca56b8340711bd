"""A sensor's latest frames and their times, in preallocated arrays: what a live stream cuts its windows from."""

from __future__ import annotations

import numpy as np


class FrameRing:
    """The latest ``n`` frames and times in preallocated arrays (no per-frame allocation)."""

    def __init__(self, n: int, shape: tuple[int, int]):
        self.frames = np.zeros((n, *shape), np.float32)
        self.times = np.zeros(n, np.float64)
        self.n, self.count, self.head = n, 0, 0

    def append(self, x: np.ndarray, t: float) -> None:
        self.frames[self.head], self.times[self.head] = x, t
        self.head = (self.head + 1) % self.n
        self.count = min(self.count + 1, self.n)

    def last(self, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        k = self.count if k is None else min(k, self.count)
        idx = (self.head - k + np.arange(k)) % self.n
        return self.frames[idx], self.times[idx]

    def oldest(self) -> float:
        return float(self.times[(self.head - self.count) % self.n])
