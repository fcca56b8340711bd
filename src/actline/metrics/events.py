"""Alerts judged as events, the way a care home judges a fall detector.

The rules (``CONVENTIONS.md``, "Events"):

- an annotated event is **detected** when an alert for its class starts between the event's onset
  and ``grace_s`` (5 s) after its end; the **delay** is that alert's start minus the onset;
- every other alert start is a **false alarm**; false alarms per hour divide by the time outside
  annotated events of that class.

Alerts are matched in time order: each alert detects at most one event, the earliest undetected
one whose window holds it. :func:`score_recording` scores one recording; :func:`pool` adds
recordings up into recall, median and 90th-percentile delay and false alarms per hour with its interval
(:func:`rate_interval`, the one place SciPy is used).
"""

from __future__ import annotations

import numpy as np

GRACE_S = 5.0


def runs(labels: np.ndarray, times: np.ndarray, value) -> list[tuple[float, float]]:
    """(start s, end s) of each run of frames where ``labels == value`` (a boolean mask when value is None)."""
    on = np.asarray(labels if value is None else labels == value, dtype=bool)
    if not on.any():
        return []
    edges = np.flatnonzero(np.diff(np.r_[0, on.astype(np.int8), 0]))
    return [(float(times[s]), float(times[e - 1])) for s, e in zip(edges[::2], edges[1::2])]


def score_recording(events: list[tuple[float, float]], alerts, duration_s: float, grace_s: float = GRACE_S) -> dict:
    """Match alert start times to events [(onset, end), ...] of one class in one recording."""
    events = sorted((float(a), float(b)) for a, b in events)
    alerts = np.sort(np.asarray(list(alerts), dtype=np.float64))
    delays: list[float | None] = [None] * len(events)
    false = []
    for t in alerts:
        hit = next((i for i, (a, b) in enumerate(events) if delays[i] is None and a <= t <= b + grace_s), None)
        if hit is None:
            false.append(float(t))
        else:
            delays[hit] = float(t - events[hit][0])
    inside = _union_length(events)
    return {"events": len(events), "detected": sum(d is not None for d in delays),
            "delays_s": [d for d in delays if d is not None], "false_alarms": len(false),
            "hours_outside": max(float(duration_s) - inside, 0.0) / 3600.0,
            "false_alarm_times": false, "missed": [e for e, d in zip(events, delays) if d is None]}


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def pool(scores: list[dict]) -> dict:
    """Recall (%), delay median and 90th percentile (s), false alarms per hour, over recordings."""
    n = sum(s["events"] for s in scores)
    det = sum(s["detected"] for s in scores)
    delays = np.asarray([d for s in scores for d in s["delays_s"]], dtype=np.float64)
    false = sum(s["false_alarms"] for s in scores)
    hours = sum(s["hours_outside"] for s in scores)
    return {"events": n, "detected": det, "recall": 100.0 * det / n if n else None,
            "delay_median_s": float(np.median(delays)) if len(delays) else None,
            "delay_p90_s": float(np.percentile(delays, 90)) if len(delays) else None,
            "false_alarms": false, "hours_outside": hours,
            "false_alarms_per_hour": false / hours if hours > 0 else None,
            "false_alarms_per_hour_95": rate_interval(false, hours)}


def rate_interval(count: int, hours: float, level: float = 0.95) -> list[float] | None:
    """The exact (Garwood) ``level`` interval of a Poisson rate: ``count`` events in ``hours``, per hour. Its
    bounds are quantiles of the gamma distribution, lower ``P^-1(count, a/2)`` (0 for no events) and upper
    ``P^-1(count + 1, 1 - a/2)``, with ``P^-1`` SciPy's ``special.gammaincinv`` (the inverse of the regularized
    lower incomplete gamma function, https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.gammaincinv.html)."""
    if hours <= 0:
        return None
    from scipy.special import gammaincinv

    a = 1.0 - level
    lo = float(gammaincinv(count, a / 2)) if count > 0 else 0.0
    return [lo / hours, float(gammaincinv(count + 1, 1 - a / 2)) / hours]


def is_alarm_class(name: str) -> bool:
    """Whether a fall detector alerts on class ``name`` by default: a fall (``fall...``) or a state with risk
    (``lying down-lying with risk`` and its transition)."""
    return "risk" in name or name.startswith("fall")


def false_fall_windows(y: np.ndarray, pred: np.ndarray, classes: list[str], locations, baselines=None) -> dict | None:
    """How often windows of the other classes are read as an alarm class (:func:`is_alarm_class`): the share
    overall and in each location (room), the costly error of a fall detector in a room it does not know.
    ``y`` and ``pred`` are class indices, ``locations`` one name per window; ``baselines`` maps a name to its
    predicted indices on the same windows (their overall share only). None when no class alarms or every
    window is of an alarm class."""
    alarm = np.array([is_alarm_class(c) for c in classes], dtype=bool)
    y, pred, loc = np.asarray(y), np.asarray(pred), np.asarray(locations)
    calm = ~alarm[y]
    if not alarm.any() or not calm.any():
        return None

    def share(p: np.ndarray, mask: np.ndarray) -> float:
        return round(100.0 * float(alarm[p[mask]].mean()), 2)

    by_loc = {str(g): {"share": share(pred, calm & (loc == g)), "windows": int((calm & (loc == g)).sum())}
              for g in sorted(set(loc[calm].tolist()))}
    worst = max(by_loc, key=lambda g: by_loc[g]["share"])
    return {"alarm_classes": [c for c, a in zip(classes, alarm) if a], "windows": int(calm.sum()),
            "share": share(pred, calm), "worst_location": worst, "by_location": by_loc,
            "baselines": {n: share(np.asarray(p), calm) for n, p in (baselines or {}).items()}}
