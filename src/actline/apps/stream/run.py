"""``actline stream``: one library call behind the command, for a replayed file or live MQTT sensors.

Options are checked, empty rooms read and recordings left by a crash recovered before any frame is
taken, so a mistake stops the command at once (one line, non-zero exit), never mid-stream. Without a
model, the stream only records (:mod:`actline.apps.stream.record_only`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from actline.core.errors import ActlineError


@dataclass
class StreamOptions:
    replay: Path | None = None  # a recording file replayed as one live sensor
    mqtt: str | None = None  # mqtt[s]://[user@]host:port/pattern (password: $ACTLINE_MQTT_PASSWORD)
    speed: float = 1.0  # replay speed (0: as fast as possible)
    events: Path | None = None  # append events as JSON lines here
    collect: Path | None = None  # save windows for relabelling here
    alerts: list[str] = field(default_factory=list)  # CLASS=SECONDS
    every: int | None = None
    ema: float | None = None  # None: the model's alerts.json, else StreamConfig's (as are enter and exit)
    enter: float | None = None
    exit: float | None = None
    webhook: str | None = None
    status_port: int | None = None
    status_host: str = "127.0.0.1"
    shard: str | None = None  # K/N
    state_dir: Path | None = None  # save and restore per-sensor stream state here
    empty_room: list = field(default_factory=list)  # --empty-room values: FILE, SENSOR=FILE or a folder
    max_seconds: float | None = None  # stop MQTT intake after this long (default: until interrupted)
    record: Path | None = None  # record every sensor's frames here (frames/<sensor>_<start>.h5)
    record_minutes: float = 10.0  # a recorded file spans at most this much sensor time
    record_flush_s: float = 5.0  # open recordings reach the disk this often
    record_max_gb: float | None = None  # stop recording (not the stream) beyond this
    queue_bytes: int = 256 << 20  # the MQTT intake queue's cap in bytes (beside its 20,000 messages)
    backend: str | None = None  # onnx | torch; None: ONNX where a model directory holds its export (apps/model_backend.py)
    device: str | None = None  # where a torch model runs (None: auto, a GPU when there is one)
    threads: int = 0  # CPU threads of the model (0: the runtime's default)


def stream_config(recognizer, opts: StreamOptions, model: str | Path | None = None):
    """(the stream's settings, where they came from): the model's ``alerts.json`` (if ``model`` has one), each
    option given replacing its part; the source is None without one."""
    from actline.infer.alert_settings import stream_setting
    from actline.infer.stream_config import StreamConfig

    s = stream_setting(model, recognizer.classes, opts.alerts, opts.ema, opts.enter, opts.exit)
    return StreamConfig.given(every_frames=opts.every, ema=s["ema"], enter=s["enter"], exit=s["exit"],
                              alerts=s["alerts"]), s["source"]


def open_empty_rooms(recognizer, cfg, opts: StreamOptions):
    """The ``--empty-room`` backgrounds, checked against the model's frame size (None without the option)."""
    from actline.apps.stream.empty_room import EmptyRooms

    values = opts.empty_room if isinstance(opts.empty_room, (list, tuple)) else [opts.empty_room]
    values = [v for v in values if v]
    return EmptyRooms(values, recognizer.frame_shape, cfg.background) if values else None


def open_recorder(opts: StreamOptions):
    """The ``--record`` recorder (journals a crash left behind recovered first), or None."""
    if opts.record is None:
        return None
    from actline.data.recordings.recorder import RecordConfig, Recorder

    cap = None if opts.record_max_gb is None else int(opts.record_max_gb * 1e9)
    return Recorder(opts.record, RecordConfig(minutes=opts.record_minutes, flush_s=opts.record_flush_s, max_bytes=cap))


def run_stream(model: str | Path | None, opts: StreamOptions, on_event=None) -> dict:
    """Replay a file (``opts.replay``) or follow MQTT sensors (``opts.mqtt``); events go to ``on_event``
    and the sinks the options name. Returns a summary (frames, model runs, events, ...). Without a model,
    only records (``opts.record``; :func:`~actline.apps.stream.record_only.record_only`). SIGTERM stops it as
    Ctrl-C does: MQTT intake ends, open recordings close whole, states are saved, the summary returned."""
    from actline.core.signals import stop_on_sigterm

    with stop_on_sigterm():
        return _run_stream(model, opts, on_event)


def _run_stream(model: str | Path | None, opts: StreamOptions, on_event=None) -> dict:
    from actline.apps.model_backend import resolve
    from actline.infer import Recognizer

    if (opts.replay is None) == (opts.mqtt is None):
        raise ActlineError("stream", "give exactly one of --replay FILE or --mqtt URL")
    if opts.queue_bytes < 1:
        raise ActlineError("--queue-bytes", f"must be at least 1, got {opts.queue_bytes}")
    if model is None:
        from actline.apps.stream.record_only import record_only

        return record_only(opts)
    path, backend = resolve(model, opts.backend)
    recog = Recognizer.load(path, backend=backend, device=opts.device or "auto", threads=opts.threads)
    cfg, source = stream_config(recog, opts, path)
    rooms = open_empty_rooms(recog, cfg, opts)
    if opts.mqtt:
        from actline.apps.stream.mqtt import parse_broker_url, run_mqtt

        parse_broker_url(opts.mqtt)  # a bad URL is refused before anything is opened
    recorder = open_recorder(opts)
    try:
        summary = run_mqtt(recog, cfg, opts, on_event, rooms, recorder) if opts.mqtt else \
            _run_replay(recog, cfg, opts, on_event, rooms, recorder)
        return {**summary, "alerts_from": source}
    finally:
        if recorder is not None:
            recorder.close()


def _run_replay(recog, cfg, opts: StreamOptions, on_event, rooms, recorder) -> dict:
    from actline.apps.stream.collector import FailureCollector
    from actline.apps.stream.replay import replay_frames
    from actline.apps.stream.sinks import emit_all, open_sinks
    from actline.apps.stream.state import load_state, save_state
    from actline.data.formats import load_recording
    from actline.infer.streaming import StreamingRecognizer

    rec = load_recording(Path(opts.replay))
    collector = FailureCollector(opts.collect, recog.classes, clock=float(rec.timestamps[0])) if opts.collect else None
    sr = StreamingRecognizer(recog, cfg, collector, sensor=rec.id)
    restored = load_state(opts.state_dir, sr) if opts.state_dir else None
    if rooms is not None and sr.bg is None:  # a background the saved state restored is newer than any file
        sr.bg = rooms.for_sensor(rec.id)
        if sr.bg is None:
            raise ActlineError("--empty-room", f"no empty room for sensor {rec.id!r} (the recording {opts.replay})")
        if sr.bg.shape != rec.frames.shape[1:]:
            raise ActlineError("--empty-room", f"the empty room is {sr.bg.shape[0]}x{sr.bg.shape[1]}, the frames of "
                               f"{opts.replay} {rec.frames.shape[1]}x{rec.frames.shape[2]}")
    record = (lambda t, frame: recorder.add(rec.id, t, frame)) if recorder is not None else None
    sinks = open_sinks(opts.events, opts.webhook, on_event)
    try:
        events = replay_frames(sr, rec.frames, rec.timestamps, opts.speed, lambda evs: emit_all(sinks, evs), record)
    finally:
        for s in sinks:
            s.close()
        if recorder is not None:
            recorder.close()
    if opts.state_dir:
        save_state(opts.state_dir, sr)
    return {"frames": rec.n_frames, "runs": sr.runs, "events": len(events), "restored": restored,
            "collected": len(collector) if collector else None, "collect_dir": opts.collect,
            "recording": recorder.status() if recorder is not None else None}
