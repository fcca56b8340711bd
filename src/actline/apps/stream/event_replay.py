"""``actline evaluate-stream``: every recording of a data set replayed through the streaming recognizer,
exactly as live, and judged as events (:mod:`actline.metrics.events`).

Per alert class: event recall, delay from onset (median, 90th percentile) and false alarms per hour
outside events, beside the simple ceiling baseline (:mod:`.baseline`); per state (every class): the
same with the state's entries as the "alerts". Events are the runs of a class in the frame labels;
on Nagoya a fall is a ``falling1``/``falling2`` segment together with the ``lie`` segment after it,
and alerts of any of these three classes count as fall alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from actline.core.errors import ActlineError
from actline.metrics.events import pool, runs, score_recording

FALL_PARTS, LIE = ("falling1", "falling2"), "lie"
FALL_GAP_S = 3.0  # a lie segment starting this soon after a fall segment belongs to that fall


@dataclass
class EvaluateOptions:
    alerts: list[str] = field(default_factory=list)  # CLASS=SECONDS
    group: str | None = None  # only recordings of this group (a Nagoya day, a room)
    every: int | None = None
    ema: float | None = None  # None: the model's alerts.json, else 0.5 (as enter 0.6, exit 0.4)
    enter: float | None = None
    exit: float | None = None
    grace_s: float = 5.0
    collect: Path | None = None  # false alarms and misses into this review queue
    held_out: bool = False  # only the recordings the model's run held out (its split)
    plot: Path | None = None  # a timeline picture of one recording
    plot_recording: str | None = None  # which (default: the first with an alert-class event)
    device: str = "cpu"  # where a torch model runs (auto: a GPU when there is one)
    threads: int = 0  # CPU threads of the model (0: the runtime's default)
    progress: Callable[[str, float, float | None], None] | None = None  # (task, recordings done, total)


def frame_labels(ds, rec) -> np.ndarray:
    """Per-frame class index (-1 unlabelled): the data set's own, or each keyframe's label held to the
    midpoints between keyframes (ThermalDataGen sets label keyframes only)."""
    if rec.frame_labels is not None:
        return rec.frame_labels
    keys = sorted((s.frame_idx, s.label) for s in ds.samples if s.recording_id == rec.id)
    out = np.full(rec.n_frames, -1, np.int64)
    for k, (idx, lab) in enumerate(keys):
        lo = (keys[k - 1][0] + idx) // 2 + 1 if k else idx
        hi = (idx + keys[k + 1][0]) // 2 if k + 1 < len(keys) else idx
        out[lo:hi + 1] = lab
    return out


def event_kind(alert_class: str, classes: list[str]) -> str:
    return "fall" if alert_class in (*FALL_PARTS, LIE) and LIE in classes else alert_class


def is_event(kind: str, classes: list[str]) -> bool:
    """An event kind this data set annotates: one of its classes, or a fall on Nagoya."""
    return kind in classes or (kind == "fall" and LIE in classes)


def annotated_events(kind: str, labels: np.ndarray, times: np.ndarray, classes: list[str]) -> list[tuple[float, float]]:
    if kind != "fall":
        return runs(labels, times, classes.index(kind))
    falls = runs(np.isin(labels, [classes.index(c) for c in FALL_PARTS if c in classes]), times, None)
    lies = runs(labels, times, classes.index(LIE))
    out = []
    for a, b in falls:
        after = [lb for la, lb in lies if b <= la <= b + FALL_GAP_S]
        out.append((a, after[0] if after else b))
    return out


def evaluate_stream(model: str | Path, data: str | Path, opts: EvaluateOptions) -> dict:
    from actline.apps.stream.baseline import baseline_alerts
    from actline.apps.stream.false_alarms import AlarmLog
    from actline.apps.stream.replay import replay_frames
    from actline.infer import Recognizer
    from actline.infer.alert_settings import stream_setting
    from actline.infer.stream_config import StreamConfig, default_alerts, model_version
    from actline.infer.streaming import StreamingRecognizer

    recog = Recognizer.load(model, device=opts.device, threads=opts.threads)
    setting = stream_setting(model, recog.classes, opts.alerts, opts.ema, opts.enter, opts.exit)
    alerts = default_alerts(recog.classes) if setting["alerts"] is None else setting["alerts"]
    if not alerts:
        raise ActlineError("--alert", f"no alert class: name one with --alert CLASS=SECONDS ({recog.classes})")
    cfg = StreamConfig.given(every_frames=opts.every, ema=setting["ema"], enter=setting["enter"], exit=setting["exit"],
                             alerts=alerts)
    ds, recs = replay_set(data, opts.group)
    if opts.held_out:
        held = set((recog.config.get("split") or {}).get("eval_recordings") or [])
        recs = [r for r in recs if r.id in held]
        if not recs:
            raise ActlineError("--held-out", f"none of the recordings {model} was held out from is in {data}"
                               + (f" (group {opts.group})" if opts.group else ""))
    unknown = set(recog.classes) - set(ds.classes)
    kinds = sorted({event_kind(c, ds.classes) for c in alerts} | {k for k in setting["events"] if is_event(k, ds.classes)})
    scores = {k: {"model": [], "baseline": []} for k in kinds}
    states = {c: [] for c in recog.classes if c not in unknown}
    log = AlarmLog(ds.classes, recog.classes, model_version(recog.config, None), opts.collect, data,
                   grace_s=opts.grace_s)
    timelines = {}
    for i, rec in enumerate(recs, start=1):
        t = rec.timestamps - rec.timestamps[0]
        labels, duration = frame_labels(ds, rec), float(t[-1])
        sr = StreamingRecognizer(recog, cfg, sensor=rec.id)
        log.window_s = sr.window_s or sr.length * (float(np.median(np.diff(t))) if len(t) > 1 else 0.1)
        probes: list = []  # (t, smoothed probabilities) of every model run, for the review items
        events = replay_frames(sr, rec.frames, rec.timestamps, record=lambda _t, _f: _probe(sr, probes))
        base = baseline_alerts(rec.frames, t)
        for k in kinds:
            ann = annotated_events(k, labels, t, ds.classes)
            starts = [e.t for e in events if e.kind == "alert" and event_kind(e.label, ds.classes) == k]
            scores[k]["model"].append(score_recording(ann, starts, duration, opts.grace_s))
            scores[k]["baseline"].append(score_recording(ann, base, duration, opts.grace_s))
            log.add(rec, k, scores[k]["model"][-1], events, labels, probes)
        for c in states:
            entries = [e.t for e in events if e.kind == "state" and e.label == c]
            states[c].append(score_recording(runs(labels, t, ds.classes.index(c)), entries, duration, opts.grace_s))
        timelines[rec.id] = (t, labels, events, base)
        if opts.progress:
            opts.progress("recordings replayed", i, len(recs))
    report = {"model": str(model), "data": str(data), "group": opts.group, "recordings": len(recs),
              "hours": sum(float(tl[0][-1]) for tl in timelines.values()) / 3600, "alerts": alerts,
              "alerts_from": setting["source"],
              "stream": {"every": sr.every, "ema": cfg.ema, "enter": cfg.enter, "exit": cfg.exit},
              "events": {k: {"model": pool(v["model"]), "baseline": pool(v["baseline"])} for k, v in scores.items()},
              "states": {c: pool(v) for c, v in states.items()}, **log.report(kinds)}
    if opts.plot:
        report["plot"] = _plot(opts, timelines, kinds, ds, data)
    return report


def _probe(sr, probes: list) -> None:  # after each frame: a new model run's smoothed probabilities
    if sr.smoothed is not None and (not probes or probes[-1][0] != sr.last_run_t):
        probes.append((sr.last_run_t, sr.smoothed.copy()))


def replay_set(data: str | Path, group: str | None):
    """(data set, its recordings of ``group``, or all): a Nagoya day is read alone."""
    from actline.data.formats import detect_format, load_dataset

    nagoya_day = group is not None and detect_format(data) == "nagoya-csv"
    ds = load_dataset(data, days=[group]) if nagoya_day else load_dataset(data)  # read only that day
    recs = [r for r in ds.recordings.values() if group is None or r.group == group]
    if not recs:
        raise ActlineError(data, f"no recordings{f' of group {group!r}' if group else ''}")
    return ds, recs


def _plot(opts: EvaluateOptions, timelines: dict, kinds: list[str], ds, data) -> str:
    from actline.apps.stream.event_plots import plot_timeline

    rid = opts.plot_recording or next((r for r, tl in timelines.items() if any(
        annotated_events(kinds[0], tl[1], tl[0], ds.classes))), next(iter(timelines)))
    if rid not in timelines:
        raise ActlineError("--plot-recording", f"no recording {rid!r} in {data}")
    return str(plot_timeline(opts.plot, rid, *timelines[rid], ds.classes, kinds))
