"""``actline stream --record DIR`` without a model: live sensors (or a replayed file) recorded, nothing recognised.

A new team has no model yet, and a model made for another frame size would refuse its sensors' frames;
so without a model every sensor is recorded at the frame size it sends. :class:`RecordingHub` takes
the place of the model's hub behind the same MQTT intake, status port and recorder
(:class:`~actline.apps.stream.intake.SensorIntake`): each sensor's frame size is fixed by its first
frame (checked against the read limits, :mod:`actline.data.limits`, so every recording reads back); a
frame of another size, or one going back in time, is refused with a line naming the sensor and why,
and counted per sensor and reason in ``/status``. No events, no alerts: options that only mean
something with a model are refused before anything starts (:func:`check_record_only`).
"""

from __future__ import annotations

import logging

from actline.apps.stream.intake import SensorIntake, SensorStats
from actline.core.errors import ActlineError
from actline.data.limits import current_limits

log = logging.getLogger("actline.stream")

# StreamOptions fields that need a model, and the option that sets each
MODEL_OPTIONS = {"alerts": "--alert", "collect": "--collect", "every": "--every", "ema": "--ema", "enter": "--enter",
                 "exit": "--exit", "state_dir": "--state", "empty_room": "--empty-room", "events": "--events",
                 "webhook": "--webhook", "backend": "--backend", "device": "--device", "threads": "--threads"}


class RecordingHub(SensorIntake):
    """Every sensor's frames to ``recorder``, at the size of the sensor's first frame; sensor -> (H, W) in ``sensors``."""

    def __init__(self, recorder, shard: tuple[int, int] | None = None, max_sensors: int = 10_000, limits=None):
        super().__init__(shard, max_sensors, recorder)
        self.limits = current_limits(limits)
        self.sensors: dict[str, tuple[int, int]] = {}

    def process(self, items) -> None:
        """Record ``(sensor, payload)`` or ``(sensor, t, frame)`` items, in order; bad ones refused and counted."""
        queues = self._decoded(items)
        with self.lock:
            for sensor, q in queues.items():
                for t, frame in q:
                    self._record_one(sensor, t, frame)

    def _record_one(self, sensor: str, t: float, frame) -> None:
        shape = self._size_of(sensor, frame.shape)
        if shape is None:
            return
        if frame.shape != shape:
            return self._refuse(sensor, "frame_size", f"a {_size(frame.shape)} frame; this sensor's frames are "
                                f"{_size(shape)} (its first frame's size)")
        st = self.stats.setdefault(sensor, SensorStats())
        if st.last_t is not None and t < st.last_t:
            return self._refuse(sensor, "time", f"time {t} goes back (last {st.last_t})")
        st.took(t)
        self.recorder.add(sensor, t, frame)

    def _size_of(self, sensor: str, shape: tuple) -> tuple | None:
        """The sensor's frame size: its first frame's, checked against the limits (None: refused)."""
        known = self.sensors.get(sensor)
        if known is not None:
            return known
        if len(self.sensors) >= self.max_sensors:
            self._refuse(sensor, "too_many_sensors", f"more than {self.max_sensors} sensors")
            return None
        try:
            self.limits.check_values(sensor, (1, *shape))
        except ActlineError as exc:
            self._refuse(sensor, "frame_size", exc)
            return None
        self.sensors[sensor] = tuple(shape)
        log.info("%s: recording %s frames", sensor, _size(shape))
        return self.sensors[sensor]

    def _sensor_status(self, sensor: str, st) -> dict:
        shape = self.sensors.get(sensor)
        return {**super()._sensor_status(sensor, st), "frame_size": None if shape is None else _size(shape)}


def _size(shape) -> str:
    return "x".join(str(int(v)) for v in shape)


def check_record_only(opts) -> None:
    """Refuse, in one line, what cannot be done without a model: no ``--record``, or an option only a model uses."""
    from actline.apps.stream.run import StreamOptions

    defaults = StreamOptions()
    given = [flag for name, flag in MODEL_OPTIONS.items() if getattr(opts, name) != getattr(defaults, name)]
    if given:
        raise ActlineError("stream", f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} a MODEL; without "
                           "one, stream only records (--record DIR)")
    if opts.record is None:
        raise ActlineError("stream", "give a MODEL to recognise actions, or --record DIR to record without one")


def record_only(opts) -> dict:
    """Record ``opts.mqtt``'s sensors, or replay ``opts.replay``, into ``opts.record`` without a model: a summary."""
    from actline.apps.stream.intake import parse_shard
    from actline.apps.stream.mqtt import follow_mqtt, intake_summary, parse_broker_url
    from actline.apps.stream.run import open_recorder

    check_record_only(opts)
    shard = parse_shard(opts.shard) if opts.mqtt else None  # a replay is one sensor, as with a model
    if opts.mqtt:
        parse_broker_url(opts.mqtt)  # a bad URL is refused before anything is opened
    recorder = open_recorder(opts)
    hub = RecordingHub(recorder, shard)
    try:
        st = follow_mqtt(hub, opts, recorder) if opts.mqtt else _replay(hub, opts)
    finally:
        recorder.close()
    return {**intake_summary(st), "frame_sizes": {s: _size(v) for s, v in sorted(hub.sensors.items())}}


def _replay(hub: RecordingHub, opts) -> dict:
    from pathlib import Path

    from actline.apps.stream.replay import paced
    from actline.data.formats import load_recording

    rec = load_recording(Path(opts.replay))
    try:
        for frame, t in paced(rec.frames, rec.timestamps, opts.speed):
            hub.process([(rec.id, t, frame)])
    except KeyboardInterrupt:
        pass
    hub.recorder.close()
    return hub.status()
