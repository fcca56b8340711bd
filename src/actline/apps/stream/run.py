"""``actline stream``: one library call behind the command, for a replayed file or live MQTT sensors."""

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
    ema: float = 0.5
    enter: float = 0.6
    exit: float = 0.4
    webhook: str | None = None
    status_port: int | None = None
    status_host: str = "127.0.0.1"
    shard: str | None = None  # K/N
    state_dir: Path | None = None  # save and restore per-sensor stream state here
    empty_room: Path | None = None  # a recording of the empty room: seeds the background
    max_seconds: float | None = None  # stop MQTT intake after this long (default: until interrupted)


def stream_config(recognizer, opts: StreamOptions):
    from actline.infer.streaming import StreamConfig, parse_alerts

    return StreamConfig(every_frames=opts.every, ema=opts.ema, enter=opts.enter, exit=opts.exit,
                        alerts=parse_alerts(opts.alerts, recognizer.classes))


def open_sinks(opts: StreamOptions, on_event=None) -> list:
    from actline.apps.stream.sinks import CallbackSink, JsonlSink, WebhookSink

    sinks = [CallbackSink(on_event)] if on_event else []
    if opts.events:
        sinks.append(JsonlSink(opts.events))
    if opts.webhook:
        sinks.append(WebhookSink(opts.webhook))
    return sinks


def run_stream(model: str | Path, opts: StreamOptions, on_event=None) -> dict:
    """Replay a file (``opts.replay``) or follow MQTT sensors (``opts.mqtt``); events go to ``on_event``
    and the sinks the options name. Returns a summary (frames, model runs, events, ...)."""
    from actline.infer import Recognizer

    if (opts.replay is None) == (opts.mqtt is None):
        raise ActlineError("stream", "give exactly one of --replay FILE or --mqtt URL")
    recog = Recognizer.load(model)
    cfg = stream_config(recog, opts)
    if opts.mqtt:
        from actline.apps.stream.mqtt import run_mqtt

        return run_mqtt(recog, cfg, opts, on_event)
    return _run_replay(recog, cfg, opts, on_event)


def _run_replay(recog, cfg, opts: StreamOptions, on_event) -> dict:
    from actline.apps.stream.collector import FailureCollector
    from actline.apps.stream.replay import empty_room_frames, replay_frames
    from actline.apps.stream.sinks import emit_all
    from actline.apps.stream.state import load_state, save_state
    from actline.data.formats import load_recording
    from actline.infer.streaming import StreamingRecognizer

    rec = load_recording(Path(opts.replay))
    collector = FailureCollector(opts.collect, recog.classes, clock=float(rec.timestamps[0])) if opts.collect else None
    sr = StreamingRecognizer(recog, cfg, collector, sensor=rec.id)
    restored = load_state(opts.state_dir, sr) if opts.state_dir else None
    if opts.empty_room:
        sr.seed_background(empty_room_frames(opts.empty_room))
    sinks = open_sinks(opts, on_event)
    try:
        events = replay_frames(sr, rec.frames, rec.timestamps, opts.speed, lambda evs: emit_all(sinks, evs))
    finally:
        for s in sinks:
            s.close()
    if opts.state_dir:
        save_state(opts.state_dir, sr)
    return {"frames": rec.n_frames, "runs": sr.runs, "events": len(events), "restored": restored,
            "collected": len(collector) if collector else None, "collect_dir": opts.collect}
