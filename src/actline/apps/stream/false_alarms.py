"""False alarms (and misses) you can act on, for ``actline evaluate-stream``.

:class:`AlarmLog` takes each replayed recording's scores and keeps:

- every false alarm: its recording, location (the recording id up to its first underscore: the room; the
  day on Nagoya), time, class, the state the stream was in before the alerted state began, and what the
  annotation says was going on;
- false alarms per location (:meth:`by_location`), so that one bad room shows;
- with ``collect``, each false alarm and each missed event as a review-queue item (sources ``false-alarm``
  and ``miss``; :func:`actline.data.review_queue.add_item`): the frames from one window before the alerted
  state began (or the event's onset) to the alert (or the event's end plus the grace), with the stream's
  smoothed probabilities there as its top 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.data.labels.review_queue import MAX_FRAMES, add_item
from actline.data.recordings.thermal_h5_file import location_of
from actline.metrics.events import rate_interval


def state_before(events: list, t: float) -> str | None:
    """The state the stream was in before the episode that holds time ``t`` began (None: uncertain or reset)."""
    cur = before = None
    for e in events:
        if e.t > t:
            break
        if e.kind == "state":
            before, cur = cur, e.label
        elif e.kind == "reset":
            before = cur = None
    return before


def episode_start(events: list, t: float) -> float:
    """When the state the stream was in at ``t`` began (0 if it never changed)."""
    return max((e.t for e in events if e.kind in ("state", "reset") and e.t <= t), default=0.0)


class AlarmLog:
    def __init__(self, classes: list[str], model_classes: list[str], model_id: str, collect: Path | None = None,
                 data: str | Path | None = None, window_s: float = 2.0, grace_s: float = 5.0):
        self.classes, self.model_classes, self.model_id = classes, model_classes, model_id
        self.collect, self.data, self.window_s, self.grace_s = collect, data, window_s, grace_s
        self.alarms: list[dict] = []
        self.hours: dict[tuple[str, str], float] = {}  # (kind, location) -> hours outside events
        self.recordings: dict[tuple[str, str], int] = {}
        self.collected = {"false-alarm": 0, "miss": 0}

    def add(self, rec, kind: str, score: dict, events: list, labels: np.ndarray, runs: list) -> None:
        """One recording's score for ``kind`` (:func:`~actline.metrics.events.score_recording`), its stream
        events, frame labels and model runs ``[(t, smoothed probabilities)]``."""
        loc = location_of(rec.id)
        self.hours[kind, loc] = self.hours.get((kind, loc), 0.0) + score["hours_outside"]
        self.recordings[kind, loc] = self.recordings.get((kind, loc), 0) + 1
        t = rec.timestamps - rec.timestamps[0]
        alerts = {e.t: e for e in events if e.kind == "alert"}
        for ta in score["false_alarm_times"]:
            i = min(int(np.searchsorted(t, ta)), len(t) - 1)
            lab = int(labels[i])
            alarm = {"recording": rec.id, "location": loc, "event": kind, "t": round(ta, 3),
                     "alert": alerts[ta].label if ta in alerts else None, "state_before": state_before(events, ta),
                     "annotated": self.classes[lab] if lab >= 0 else None}
            self.alarms.append(alarm)
            if self.collect:
                start = episode_start(events, ta) - self.window_s
                self._item(rec, t, start, ta, runs, "false-alarm")
        if self.collect:
            for onset, end in score["missed"]:
                self._item(rec, t, onset - self.window_s, end + self.grace_s, runs, "miss", mean_from=onset)

    def _item(self, rec, t: np.ndarray, start: float, end: float, runs: list, source: str,
              mean_from: float | None = None) -> None:
        lo, hi = int(np.searchsorted(t, max(start, 0.0))), int(np.searchsorted(t, end, "right"))
        lo = max(lo, hi - MAX_FRAMES)
        if hi <= lo:
            return
        if mean_from is None:  # a false alarm: the smoothed probabilities at the alert
            sel = [p for rt, p in runs if rt <= end + 1e-9][-1:]
        else:  # a miss: their mean over the event
            sel = [p for rt, p in runs if mean_from - 1e-9 <= rt <= end + 1e-9]
        p = np.mean(sel, axis=0) if sel else np.zeros(len(self.model_classes))
        top3 = [(self.model_classes[i], float(p[i])) for i in np.argsort(-p)[:3]]
        add_item(self.collect, rec.frames[lo:hi], rec.timestamps[lo:hi], recording=rec.id, start_s=float(t[lo]),
                 end_s=float(t[hi - 1]), top3=top3, model=self.model_id, source=source, data=self.data)
        self.collected[source] += 1

    def by_location(self, kind: str) -> list[dict]:
        """False alarms of ``kind`` per location, the highest rate first."""
        rows = []
        for (k, loc), hours in self.hours.items():
            if k != kind:
                continue
            n = sum(1 for a in self.alarms if a["event"] == kind and a["location"] == loc)
            rows.append({"location": loc, "recordings": self.recordings[k, loc], "hours_outside": hours,
                         "false_alarms": n, "false_alarms_per_hour": n / hours if hours > 0 else None,
                         "false_alarms_per_hour_95": rate_interval(n, hours)})
        return sorted(rows, key=lambda r: (-(r["false_alarms_per_hour"] or 0), r["location"]))

    def report(self, kinds: list[str]) -> dict:
        """What ``evaluate-stream`` reports: every false alarm, false alarms by location, what was collected."""
        out = {"false_alarms": self.alarms, "false_alarms_by_location": {k: self.by_location(k) for k in kinds}}
        if self.collect:
            out["collected"] = {"dir": str(self.collect), **self.collected}
        return out
