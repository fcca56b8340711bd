"""Alert settings searched on recorded model outputs, exactly as a live stream would decide.

A recording is replayed through :class:`~actline.infer.streaming.StreamingRecognizer` once
(:func:`trace_recording`): which frames the model runs on does not depend on the alert setting, so the
windows are cut as live, run through the model in batches, and kept as a :class:`Trace` (run times,
probabilities, gaps). Every setting then replays the trace through the same recognizer's decisions
(:meth:`~actline.infer.streaming.StreamingRecognizer.decide`, :meth:`~...gap`): smoothing (``ema``) and
hysteresis (``enter``/``exit``) once per (ema, enter, exit), and the alerts of every class set and hold
time from the states that gives (an alert fires at the first model run of a state's episode held at
least the hold time: the live rule). A test compares the alerts with a plain live replay.

:func:`search` scores every setting with the event rules of ``evaluate-stream`` and :func:`pick` applies
the user's trade-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations, product

import numpy as np

from actline.core.errors import ActlineError
from actline.metrics.events import pool, rate_interval, score_recording

HOLDS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
ENTERS = (0.5, 0.6, 0.7, 0.8, 0.9)
EXIT_GAPS = (0.1, 0.2, 0.3)  # exit = enter - gap
EMAS = (0.3, 0.5, 1.0)


@dataclass
class Trace:
    recording: str
    duration: float  # seconds, first frame to last
    times: np.ndarray  # [R] model runs, seconds from the first frame
    probs: np.ndarray  # [R, K]
    gaps: dict[int, tuple[float, float]] = field(default_factory=dict)  # run index -> (t, last frame before)
    events: dict[str, list] = field(default_factory=dict)  # kind -> annotated [(onset, end)]


def trace_recording(recog, rec, every: int | None = None, batch: int = 256) -> Trace:
    """``rec`` replayed as live: the windows the stream runs the model on, their probabilities, the gaps."""
    from actline.infer.stream_config import StreamConfig
    from actline.infer.streaming import StreamingRecognizer

    sr = StreamingRecognizer(recog, StreamConfig(every_frames=every, alerts={}), sensor=rec.id)
    t0 = float(rec.timestamps[0])
    wins, rooms, times, gaps = [], [], [], {}
    for frame, ts in zip(rec.frames, rec.timestamps):
        last = sr.last_t
        events, due = sr.feed(frame, float(ts) - t0)
        if any(e.kind == "reset" for e in events):
            gaps[len(times)] = (float(ts) - t0, last)
        if due:
            wins.append(sr.window())
            rooms.append(sr.room())
            times.append(sr.ran())
    probs = np.zeros((0, len(recog.classes)))
    if wins:
        gated = rooms[0] is not None
        probs = np.concatenate([recog.probs(np.stack(wins[i:i + batch]),
                                            np.stack(rooms[i:i + batch]) if gated else None)
                                for i in range(0, len(wins), batch)])
    return Trace(rec.id, float(rec.timestamps[-1]) - t0, np.asarray(times, np.float64), probs.astype(np.float64), gaps)


def states(recog, trace: Trace, ema: float, enter: float, exit: float) -> tuple[np.ndarray, np.ndarray]:
    """(state index per run, -1 uncertain; when that state began) under one smoothing and hysteresis."""
    from actline.infer.stream_config import StreamConfig
    from actline.infer.streaming import StreamingRecognizer

    sr = StreamingRecognizer(recog, StreamConfig(ema=ema, enter=enter, exit=exit, alerts={}))
    index = {c: i for i, c in enumerate(recog.classes)}
    state, since = np.full(len(trace.times), -1), np.zeros(len(trace.times))
    for i, (t, p) in enumerate(zip(trace.times, trace.probs)):
        if i in trace.gaps:
            sr.gap(*trace.gaps[i])
        sr.decide(p, float(t))
        state[i] = index.get(sr.state, -1)
        since[i] = sr.state_since if sr.state_since is not None else np.nan
    return state, since


def alert_times(trace: Trace, state: np.ndarray, since: np.ndarray, classes: list[int], hold: float) -> np.ndarray:
    """When alerts of ``classes`` held ``hold`` s fire: the first run of each episode held that long."""
    if not len(state):
        return np.zeros(0)
    ok = np.isin(state, classes) & (trace.times - since >= hold)
    episode = np.cumsum(np.r_[True, (state[1:] != state[:-1]) | (since[1:] != since[:-1])])
    _, first = np.unique(episode[ok], return_index=True)
    return trace.times[ok][first]


def candidates(kind: str, model_classes: list[str], event_kind) -> list[tuple[str, ...]]:
    """Every non-empty set of the model's classes whose alerts count for events of ``kind``."""
    mine = [c for c in model_classes if event_kind(c) == kind]
    return [s for n in range(1, len(mine) + 1) for s in combinations(mine, n)]


def search(recog, traces: list[Trace], kinds: dict[str, list[tuple[str, ...]]], grace_s: float = 5.0,
           grid: dict | None = None, progress=None) -> list[dict]:
    """Every setting of the grid (ema x enter x exit, and per event kind a class set and a hold time), scored
    over all ``traces``; per kind only settings no other beats on both detections and false alarms are
    combined."""
    g = {"ema": EMAS, "enter": ENTERS, "exit_gap": EXIT_GAPS, "hold": HOLDS, **(grid or {})}
    index = {c: i for i, c in enumerate(recog.classes)}
    rows, globals_ = [], [(e, n, round(n - d, 3)) for e in g["ema"] for n in g["enter"] for d in g["exit_gap"] if n - d >= 0]
    for j, (ema, enter, exit) in enumerate(globals_):
        sims = [states(recog, tr, ema, enter, exit) for tr in traces]
        per_kind = []
        for kind, sets in kinds.items():
            opts = []
            for classes, hold in product(sets, g["hold"]):
                idx = [index[c] for c in classes]
                scores = [score_recording(tr.events[kind], alert_times(tr, s, since, idx, hold), tr.duration, grace_s)
                          for tr, (s, since) in zip(traces, sims)]
                opts.append({"alerts": {c: float(hold) for c in classes}, "scores": scores, **pool(scores)})
            if len(kinds) > 1:  # with several kinds of events, one may go without alerts (its events missed)
                scores = [score_recording(tr.events[kind], [], tr.duration, grace_s) for tr in traces]
                opts.append({"alerts": {}, "scores": scores, **pool(scores)})
            per_kind.append(_front(opts))
        rows += [_combine(combo, ema, enter, exit) for combo in product(*per_kind) if any(o["alerts"] for o in combo)]
        if progress:
            progress("alert settings searched", j + 1, len(globals_))
    return rows


def _front(opts: list[dict]) -> list[dict]:
    """The options no other beats on detections and false alarms (ties: the shorter delay, then the first)."""
    best: dict[tuple, dict] = {}
    for o in opts:
        key = (o["detected"], o["false_alarms"])
        if key not in best or (o["delay_median_s"] or 1e9) < (best[key]["delay_median_s"] or 1e9):
            best[key] = o
    return [o for k, o in best.items() if not any(d >= k[0] and f <= k[1] and (d, f) != k for d, f in best)]


def _combine(combo, ema: float, enter: float, exit: float) -> dict:
    """One setting over several kinds of events: detections add up; false alarms too, over the shortest of
    their times outside events (exact for one kind)."""
    n, det = sum(o["events"] for o in combo), sum(o["detected"] for o in combo)
    fa, hours = sum(o["false_alarms"] for o in combo), min(o["hours_outside"] for o in combo)
    delays = [d for o in combo for s in o["scores"] for d in s["delays_s"]]
    return {"alerts": {c: h for o in combo for c, h in o["alerts"].items()}, "ema": ema, "enter": enter, "exit": exit,
            "events": n, "detected": det, "recall": 100.0 * det / n if n else None,
            "false_alarms": fa, "hours_outside": hours, "false_alarms_per_hour": fa / hours if hours > 0 else None,
            "false_alarms_per_hour_95": rate_interval(fa, hours),
            "delay_median_s": float(np.median(delays)) if delays else None}


def describe(row: dict) -> str:
    alerts = ", ".join(f"{c}={h:g}" for c, h in row["alerts"].items())
    return f"{alerts}; enter {row['enter']:g}, exit {row['exit']:g}, ema {row['ema']:g}"


def curve(rows: list[dict]) -> list[dict]:
    """The recall / false-alarms-per-hour front: for each rate, the best recall no lower rate reaches."""
    order = sorted(rows, key=lambda r: (r["false_alarms_per_hour"], -(r["recall"] or 0), r["delay_median_s"] or 1e9))
    out, best = [], -1.0
    for r in order:
        if (r["recall"] or 0) > best:
            out.append(r)
            best = r["recall"] or 0
    return out


def pick(rows: list[dict], max_fa: float | None = None, min_recall: float | None = None) -> dict:
    """The setting the trade-off asks for: the best recall at or under ``max_fa`` false alarms per hour, or the
    fewest false alarms at or over ``min_recall`` % recall. None meets it: one line saying what is closest."""
    rows = [r for r in rows if r["recall"] is not None and r["false_alarms_per_hour"] is not None]
    if not rows:
        raise ActlineError("alerts choose", "no annotated events (or no time outside them) in the held-out "
                                            "recordings: nothing to choose a setting on")
    delay = lambda r: r["delay_median_s"] if r["delay_median_s"] is not None else 1e9  # noqa: E731
    if min_recall is not None:
        ok = [r for r in rows if r["recall"] >= min_recall - 1e-9]
        if not ok:
            near = max(rows, key=lambda r: (r["recall"], -r["false_alarms_per_hour"]))
            raise ActlineError("--min-recall", f"no setting reaches {min_recall:g} % recall on the held-out recordings; "
                               f"closest: {near['recall']:.1f} % at {near['false_alarms_per_hour']:.2f} false alarms "
                               f"per hour ({describe(near)})")
        return min(ok, key=lambda r: (r["false_alarms_per_hour"], -r["recall"], delay(r)))
    ok = [r for r in rows if r["false_alarms_per_hour"] <= max_fa + 1e-9]
    if not ok:
        near = min(rows, key=lambda r: (r["false_alarms_per_hour"], -r["recall"]))
        raise ActlineError("--max-false-alarms-per-hour", f"no setting keeps false alarms at or under {max_fa:g} per "
                           f"hour on the held-out recordings; closest: {near['false_alarms_per_hour']:.2f} per hour at "
                           f"{near['recall']:.1f} % recall ({describe(near)})")
    return max(ok, key=lambda r: (r["recall"], -r["false_alarms_per_hour"], -delay(r)))
