"""What every hub of live sensors shares, with a model (:class:`~actline.apps.stream.hub.StreamHub`) or
without one (:class:`~actline.apps.stream.record_only.RecordingHub`).

:class:`SensorIntake` takes ``(sensor, payload bytes)`` (or already decoded ``(sensor, t, frame)``)
items: it keeps the sensors of its shard (``--shard K/N``), decodes payloads, refuses bad ones
(counted per sensor and reason, logged, never raised), counts what the intake dropped before
(``count_drop``), keeps per-sensor statistics (last frame time, frames per second) and reports them
with the recorder's state in ``status()``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from actline.apps.stream.payloads import decode
from actline.core.errors import ActlineError

log = logging.getLogger("actline.stream")


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """``"K/N"`` (0 <= K < N) -> (K, N)."""
    if not spec:
        return None
    try:
        k, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ActlineError("--shard", f"expected K/N, got {spec!r}") from None
    if not 0 <= k < n:
        raise ActlineError("--shard", f"need 0 <= K < N, got {spec!r}")
    return k, n


def shard_of(sensor: str, n: int) -> int:
    """A stable shard for a sensor id: the same in every process and every run (not Python's hash)."""
    return int.from_bytes(hashlib.sha256(sensor.encode()).digest()[:8], "big") % n


@dataclass
class SensorStats:
    frames: int = 0
    runs: int = 0
    errors: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    last_t: float | None = None
    last_wall: float | None = None
    fps: float = 0.0

    def took(self, t: float) -> None:
        """Count a frame taken at sensor time ``t``, and the recent frames per second."""
        now = time.time()
        if self.last_wall is not None and now > self.last_wall:
            gap = max(now - self.last_wall, 1e-3)
            self.fps = 0.9 * self.fps + 0.1 / gap if self.fps else 1 / gap
        self.frames, self.last_t, self.last_wall = self.frames + 1, float(t), now


class SensorIntake:
    """The shared part of a hub; a subclass defines ``process(items)`` and ``self.sensors`` (sensor -> its state)."""

    def __init__(self, shard: tuple[int, int] | None = None, max_sensors: int = 10_000, recorder=None):
        self.shard, self.max_sensors, self.recorder = shard, max_sensors, recorder
        self.emit = None  # events go here (a hub with a model); set by whoever runs the hub
        self.dropped: Counter = Counter()  # reason -> frames the intake dropped before the hub saw them
        self.drop_lock = threading.Lock()
        self.sensors: dict = {}
        self.stats: dict[str, SensorStats] = {}
        self.errors: Counter = Counter()  # reason -> count, over all sensors
        self.skipped = 0  # frames of sensors another shard serves
        self.lock = threading.Lock()  # status() may be called from another thread

    def takes(self, sensor: str) -> bool:
        return self.shard is None or shard_of(sensor, self.shard[1]) == self.shard[0]

    def count_drop(self, reason: str, n: int = 1) -> int:
        """Count frames the intake dropped (called from the intake's thread): the total for ``reason``."""
        with self.drop_lock:
            self.dropped[reason] += n
            return self.dropped[reason]

    def _refuse(self, sensor: str, reason: str, why) -> None:
        self.errors[reason] += 1
        if sensor in self.stats or len(self.stats) < 2 * self.max_sensors:
            self.stats.setdefault(sensor, SensorStats()).errors[reason] += 1
        n = self.errors[reason]
        if n <= 10 or n % 1000 == 0:  # every error is counted; the log says the first ones and then every 1000th
            log.warning("%s: %s refused (%d so far): %s", sensor, reason, n, why)

    def _decoded(self, items) -> dict[str, deque]:
        """The items of this shard, decoded, queued per sensor in arrival order; bad payloads refused."""
        queues: dict[str, deque] = {}
        for item in items:
            sensor = item[0]
            if not self.takes(sensor):
                self.skipped += 1
                continue
            if len(item) == 2:
                try:
                    t, frame = decode(item[1])
                except ActlineError as exc:
                    self._refuse(sensor, "payload", exc)
                    continue
            else:
                t, frame = item[1], item[2]
            queues.setdefault(sensor, deque()).append((t, frame))
        return queues

    def _sensor_status(self, sensor: str, st: SensorStats) -> dict:
        return {"last_frame_t": st.last_t, "last_frame_age_s": None if st.last_wall is None
                else round(time.time() - st.last_wall, 3), "fps": round(st.fps, 2), "frames": st.frames,
                "errors": dict(st.errors)}

    def status(self) -> dict:
        with self.lock:
            sensors = {s: self._sensor_status(s, st) for s, st in self.stats.items()}
            with self.drop_lock:
                dropped = dict(self.dropped)
            st = {"sensors": sensors, "errors": dict(self.errors), "dropped": dropped,
                  "skipped_other_shards": self.skipped}
        if self.recorder is not None:
            st["recording"] = self.recorder.status()
        return st
