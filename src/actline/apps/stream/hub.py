"""Many sensors, one model: per-sensor stream state, the model batched across sensors due together.

``StreamHub.process(items)`` takes ``(sensor, payload bytes)`` (or already decoded ``(sensor, t,
frame)``) in arrival order. Each sensor gets its own :class:`StreamingRecognizer` (created on its
first frame, restored from ``state_dir`` when it has a saved state). Within a call, frames are fed
sensor by sensor until each sensor is due for a model run or has no frame left; the due windows go
through the model in one batch; then feeding goes on. So every sensor sees exactly what it would
alone (the same windows, the same events), whatever the batching, and one model call serves many
sensors.

A bad payload or frame (undecodable, wrong size, time going backwards) is refused: counted per
sensor and reason, logged, never raised. ``status()`` reports per sensor (last frame time, frames
per second, state, counts) for a status endpoint or the service to mount, with the frames the intake
dropped (``count_drop``) and the recorder's state. Sharding, decoding, refusing and those counts are
:class:`~actline.apps.stream.intake.SensorIntake`'s, shared with the hub that records without a model.

With ``empty_rooms`` (:class:`~actline.apps.stream.empty_room.EmptyRooms`), a new sensor's background
is seeded from its own empty room (unless its saved state restored one); with ``recorder``
(:class:`~actline.data.recordings.recorder.Recorder`), every frame a sensor takes is recorded.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from actline.apps.stream.intake import SensorIntake, SensorStats
from actline.core.errors import ActlineError
from actline.infer.streaming import StreamingRecognizer

log = logging.getLogger("actline.stream")


class StreamHub(SensorIntake):
    def __init__(self, recognizer, cfg, emit=None, shard: tuple[int, int] | None = None, state_dir=None,
                 max_sensors: int = 10_000, collector=None, empty_rooms=None, recorder=None):
        super().__init__(shard, max_sensors, recorder)
        self.r, self.cfg, self.emit = recognizer, cfg, emit
        self.state_dir, self.collector, self.empty_rooms = state_dir, collector, empty_rooms
        self.sensors: dict[str, StreamingRecognizer] = {}
        self.batches: Counter = Counter()  # batch size -> count

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

    def _emit(self, events) -> None:
        for ev in events:
            self.stats[ev.sensor].events[ev.kind] += 1
        if self.emit is not None and events:
            self.emit(events)

    def process(self, items) -> None:
        """Feed ``(sensor, payload)`` or ``(sensor, t, frame)`` items, in order, running the model batched."""
        queues = self._decoded(items)
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
        self.stats[sensor].took(t)
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
    def _sensor_status(self, sensor: str, st: SensorStats) -> dict:
        sr = self.sensors.get(sensor)
        return {**super()._sensor_status(sensor, st), "state": getattr(sr, "state", None), "model_runs": st.runs,
                "events": dict(st.events), "room": getattr(sr, "room_status", None)}

    def status(self) -> dict:
        st = super().status()
        with self.lock:
            st["batches"] = {str(k): v for k, v in sorted(self.batches.items())}
        return st

    def save_states(self) -> int:
        from actline.apps.stream.state import save_state

        with self.lock:
            for sr in self.sensors.values():
                save_state(self.state_dir, sr)
            return len(self.sensors)
