"""Many sensors, one model: per-sensor stream state, the model batched across sensors due together.

``StreamHub.process(items)`` takes ``(sensor, payload bytes)`` (or already decoded ``(sensor, t,
frame)``) in arrival order. Each sensor gets its own :class:`StreamingRecognizer` (created on its
first frame, restored from ``state_dir`` when it has a saved state). Within a call, frames are fed
sensor by sensor until each sensor is due for a model run or has no frame left; the due windows go
through the model in one batch; then feeding goes on. So every sensor sees exactly what it would
alone (the same windows, the same events), whatever the batching, and one model call serves many
sensors.

A bad payload or frame (undecodable, wrong size, time going backwards) is refused: counted per
sensor and reason, logged, never raised. ``status()`` and ``metrics()`` report per sensor (last
frame time, frames per second, state, counts) for a status endpoint or the service to mount, with
the frames the intake dropped (``count_drop``) and the recorder's state.

With ``empty_rooms`` (:class:`~actline.apps.stream.empty_room.EmptyRooms`), a new sensor's background
is seeded from its own empty room (unless its saved state restored one); with ``recorder``
(:class:`~actline.data.recordings.recorder.Recorder`), every frame a sensor takes is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from actline.apps.stream.payloads import decode
from actline.core.errors import ActlineError
from actline.infer.streaming import StreamingRecognizer

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


class StreamHub:
    def __init__(self, recognizer, cfg, emit=None, shard: tuple[int, int] | None = None, state_dir=None,
                 max_sensors: int = 10_000, collector=None, empty_rooms=None, recorder=None):
        self.r, self.cfg, self.emit, self.shard = recognizer, cfg, emit, shard
        self.state_dir, self.max_sensors, self.collector = state_dir, max_sensors, collector
        self.empty_rooms, self.recorder = empty_rooms, recorder
        self.dropped: Counter = Counter()  # reason -> frames the intake dropped before the hub saw them
        self.drop_lock = threading.Lock()
        self.sensors: dict[str, StreamingRecognizer] = {}
        self.stats: dict[str, SensorStats] = {}
        self.errors: Counter = Counter()  # reason -> count, over all sensors
        self.batches: Counter = Counter()  # batch size -> count
        self.skipped = 0  # frames of sensors another shard serves
        self.lock = threading.Lock()  # status() may be called from another thread

    def takes(self, sensor: str) -> bool:
        return self.shard is None or shard_of(sensor, self.shard[1]) == self.shard[0]

    def _sensor(self, sensor: str, shape=None) -> StreamingRecognizer | None:
        sr = self.sensors.get(sensor)
        if sr is None:
            if len(self.sensors) >= self.max_sensors:
                self._refuse(sensor, "too_many_sensors", f"more than {self.max_sensors} sensors")
                return None
            sr = StreamingRecognizer(self.r, self.cfg, self.collector, sensor=sensor)
            if self.state_dir:
                from actline.apps.stream.state import load_state

                try:
                    said = load_state(self.state_dir, sr)
                    if said:
                        log.info("%s: %s", sensor, said)
                except ActlineError as exc:
                    log.error("%s: saved state not used: %s", sensor, exc)
            self.stats.setdefault(sensor, SensorStats())
            self._seed(sensor, sr, None if shape is None else tuple(shape))
            self.sensors[sensor] = sr
        return sr

    def _seed(self, sensor: str, sr: StreamingRecognizer, shape: tuple | None) -> None:
        bg = self.empty_rooms.for_sensor(sensor) if self.empty_rooms is not None and sr.bg is None else None
        if bg is None:
            return
        if shape is not None and bg.shape != shape:  # a model without a fixed frame size: the sensor's frames decide
            self._refuse(sensor, "empty_room", f"its empty room is {bg.shape[0]}x{bg.shape[1]}, its frames "
                         f"{'x'.join(map(str, shape))}: not used")
            return
        sr.bg = bg

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

    def _emit(self, events) -> None:
        for ev in events:
            self.stats[ev.sensor].events[ev.kind] += 1
        if self.emit is not None and events:
            self.emit(events)

    def process(self, items) -> None:
        """Feed ``(sensor, payload)`` or ``(sensor, t, frame)`` items, in order, running the model batched."""
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
        with self.lock:
            while queues:
                due = []
                for sensor in list(queues):
                    q = queues[sensor]
                    sr = self._sensor(sensor, np.shape(q[0][1]))
                    while q and sr is not None:
                        if self._feed_one(sensor, sr, *q.popleft()):
                            due.append(sr)
                            break
                    if not q or sr is None:
                        del queues[sensor]
                if due:
                    self._run(due)

    def _feed_one(self, sensor: str, sr: StreamingRecognizer, t: float, frame) -> bool:
        try:
            events, is_due = sr.feed(frame, t)
        except ActlineError as exc:
            self._refuse(sensor, "frame", exc)
            return False
        st, now = self.stats[sensor], time.time()
        if st.last_wall is not None and now > st.last_wall:
            st.fps = 0.9 * st.fps + 0.1 / max(now - st.last_wall, 1e-3) if st.fps else 1 / max(now - st.last_wall, 1e-3)
        st.frames, st.last_t, st.last_wall = st.frames + 1, float(t), now
        if self.recorder is not None:
            self.recorder.add(sensor, t, frame)
        self._emit(events)
        return is_due

    def _run(self, due: list[StreamingRecognizer]) -> None:
        ready = []
        for sr in due:
            try:
                ready.append((sr, sr.window()))
            except ActlineError as exc:  # one sensor's window that cannot be cut must not stop the others
                self._refuse(sr.sensor, "window", exc)
        if not ready:
            return
        due, wins = [sr for sr, _ in ready], [w for _, w in ready]
        rooms = [sr.room() for sr in due]
        probs = self.r.probs(np.stack(wins), None if any(r is None for r in rooms) else np.stack(rooms))
        self.batches[len(due)] += 1
        for sr, p, w in zip(due, probs, wins):
            self.stats[sr.sensor].runs += 1
            self._emit(sr.apply(p, w))

    # ------------------------------------------------------------------ health
    def status(self) -> dict:
        with self.lock:
            sensors = {s: {"last_frame_t": st.last_t, "last_frame_age_s": None if st.last_wall is None
                           else round(time.time() - st.last_wall, 3), "fps": round(st.fps, 2),
                           "state": getattr(self.sensors.get(s), "state", None), "frames": st.frames, "model_runs": st.runs,
                           "errors": dict(st.errors), "events": dict(st.events),
                           "room": getattr(self.sensors.get(s), "room_status", None)}
                       for s, st in self.stats.items()}
            with self.drop_lock:
                dropped = dict(self.dropped)
            st = {"sensors": sensors, "errors": dict(self.errors), "dropped": dropped, "skipped_other_shards": self.skipped,
                  "batches": {str(k): v for k, v in sorted(self.batches.items())}}
        if self.recorder is not None:
            st["recording"] = self.recorder.status()
        return st

    def save_states(self) -> int:
        from actline.apps.stream.state import save_state

        with self.lock:
            for sr in self.sensors.values():
                save_state(self.state_dir, sr)
            return len(self.sensors)
