"""One sensor, live: frames in one at a time, state changes and alerts out.

``StreamingRecognizer(recognizer).push(frame, t)`` keeps a ring buffer of the latest frames and the
sensor's empty room (:class:`~actline.data.background.BackgroundModel`, learnt only where nobody is,
so a person lying still never fades into it), runs the model every ``every_frames`` frames or
``every_s`` seconds on the window the :class:`~actline.infer.recognizer.Recognizer` cuts, smooths
the class probabilities (exponential moving average), decides the state with hysteresis (enter a
state at ``enter``, leave it only below ``exit``) and returns events:

- ``state``: the state changed (``label`` is the new state, or ``None`` for "uncertain");
- ``alert``: an alert class has been the state for at least its hold time (once per episode);
- ``cleared``: the state (or a gap's reset) left an alerted class; ``detail.duration_s``: since the alert;
- ``reset``: a gap longer than ``max_gap_s`` emptied the buffer (old and new frames never mix).

Many sensors share one model through :class:`~actline.apps.stream.hub.StreamHub`, which calls the
three steps separately (:meth:`feed`, :meth:`window`, :meth:`apply`) to batch the model across
sensors; :meth:`push` is the three in a row, with identical results.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import BackgroundModel
from actline.data.window import WindowRule
from actline.infer.frame_ring import FrameRing
from actline.infer.stream_config import Event, StreamConfig, default_alerts, model_version

log = logging.getLogger("actline.stream")
ROOM_EVERY_S = 30.0  # how often a stream looks again at whether its room is new (the empty room moves slowly)


class StreamingRecognizer:
    def __init__(self, recognizer, cfg: StreamConfig | None = None, collector=None, sensor: str | None = None):
        self.r = recognizer
        self.cfg = (cfg or StreamConfig()).validate()
        self.alerts = default_alerts(recognizer.classes) if self.cfg.alerts is None else dict(self.cfg.alerts)
        unknown = set(self.alerts) - set(recognizer.classes)
        if unknown:
            raise ActlineError("stream", f"alert classes {sorted(unknown)} are not classes of this model")
        rule: WindowRule = recognizer.rule
        self.length = rule.length
        self.window_s = rule.length / rule.fps if rule.mode == "time" else None
        # a time window is due once its seconds are covered, whatever the frame rate (32 frames span 3 s
        # at 10 fps and 16 s at 2 fps); an index window once it has its frames
        self.need_s = rule.seconds
        # a time window needs every frame of its seconds: room for sensors up to 40 fps
        self.span = self.length if rule.mode == "index" else max(4 * self.length, int(self.window_s * 40) + 1)
        self.every = self.cfg.every_frames or max(1, self.length // 4)
        self.collector, self.sensor, self.model = collector, sensor, model_version(recognizer.config)
        # the running empty room: for models that subtract it, and for a room gate, which compares it with
        # the training rooms
        self.uses_background = getattr(recognizer, "background", "none") != "none" or getattr(recognizer, "gated", False)
        self.bg: BackgroundModel | None = None
        self.ring: FrameRing | None = None
        self.runs, self.n_frames, self.first_t = 0, 0, None  # first_t: the first frame's time, for the collector
        # whether the sensor's room is new to the model (Recognizer.room_report), looked at every ROOM_EVERY_S
        self.room_status: dict | None = None
        self._room_checked: float | None = None
        self.reset()

    def reset(self) -> None:
        """Forget the frames and the state (after a gap); the empty room is kept: the room did not move."""
        if self.ring is not None:
            self.ring.count = self.ring.head = 0
        self.n_seen = self.since_run = 0
        self.last_run_t: float | None = None
        self.smoothed: np.ndarray | None = None
        self.state: str | None = None
        self.state_since: float | None = None
        self.alerted = False
        self.alert_t: float | None = None  # when the episode's alert was raised
        self.pending: list = []  # (run index, frames, times, probs) awaiting the later state (collector)

    @property
    def last_t(self) -> float | None:
        return float(self.ring.times[(self.ring.head - 1) % self.ring.n]) if self.ring and self.ring.count else None

    def _event(self, kind: str, t: float, label, confidence: float, detail: dict | None = None) -> Event:
        return Event(kind, t, label, float(confidence), detail or {}, self.sensor, self.model)

    def seed_background(self, frames) -> None:
        """Seed the empty room from frames [N, H, W] of a period when nobody was in view."""
        x = np.asarray(frames, dtype=np.float32)
        self.bg = BackgroundModel(x.shape[1:], self.cfg.background)
        self.bg.seed(x, empty=True)

    # ------------------------------------------------------------------ the three steps
    def feed(self, frame, timestamp: float) -> tuple[list[Event], bool]:
        """Take one frame: (events, whether the model is due now). Bad frames raise ActlineError."""
        x = np.asarray(frame, dtype=np.float32)
        if x.ndim != 2:
            raise ActlineError("stream", f"expected one [H, W] frame, got shape {x.shape}")
        want = self.r.frame_shape or (self.ring.frames.shape[1:] if self.ring else x.shape)
        if tuple(x.shape) != tuple(want):
            raise ActlineError("stream", f"expected a {want[0]}x{want[1]} frame, got {x.shape[0]}x{x.shape[1]}")
        if not np.isfinite(x).all():
            raise ActlineError("stream", "the frame contains NaN or inf")
        t = float(timestamp)
        if not math.isfinite(t):
            raise ActlineError("stream", f"timestamp must be finite, got {timestamp!r}")
        events = []
        last = self.last_t
        if last is not None:
            dt = t - last
            if dt < 0:
                raise ActlineError("stream", f"timestamp {t} goes back in time (last {last})")
            if dt > self._max_gap():
                events += self.gap(t, last)
        if self.ring is None:
            self.ring = FrameRing(self.span, x.shape)
        if self.uses_background:
            if self.bg is None:
                self.bg = BackgroundModel(x.shape, self.cfg.background)
            self.bg.update(x, t)
        self.ring.append(x, t)
        self.first_t = t if self.first_t is None else self.first_t
        self.n_seen += 1
        self.n_frames += 1
        self.since_run += 1
        return events, self._due(t)

    def gap(self, t: float, last: float) -> list[Event]:
        """A gap from ``last`` to ``t``: the alert of the episode is cleared, then the buffer and state reset."""
        events = self._cleared(last) + [self._event("reset", t, None, 0.0, {"gap_s": round(t - last, 3)})]
        self.reset()
        return events

    def _max_gap(self) -> float:
        if self.cfg.max_gap_s is not None:
            return self.cfg.max_gap_s
        if self.window_s:
            return self.window_s
        times = self.ring.last()[1]
        med = float(np.median(np.diff(times))) if len(times) > 1 else 0.1
        return max(self.length * med, 1.0)

    def _due(self, t: float) -> bool:
        if self.need_s is None:
            if self.ring.count < self.length:
                return False
        elif self.ring.count < self.ring.n and (self.ring.count < 2 or t - self.ring.oldest() < self.need_s):
            return False  # a full ring is as much as the window can get (sensors over 40 fps)
        if self.last_run_t is None:
            return True
        if self.cfg.every_s:
            return t - self.last_run_t >= self.cfg.every_s
        return self.since_run >= self.every

    def window(self) -> np.ndarray:
        """The model's window over the latest frames, by the Recognizer's rule (the empty room removed if trained so)."""
        frames, times = self._raw_window()
        room = self.bg.room if self.uses_background else None
        return self.r.window(frames, times, where="stream", room=room)

    def _raw_window(self) -> tuple[np.ndarray, np.ndarray]:  # the frames the window covers, as received
        if self.window_s is None:
            return self.ring.last(self.length)
        frames, times = self.ring.last()
        keep = times >= times[-1] - self.window_s
        return frames[keep], times[keep]

    def room(self) -> np.ndarray | None:
        """The running empty room, for a model with a room gate (None otherwise)."""
        return self.bg.room if getattr(self.r, "gated", False) and self.bg is not None else None

    def apply(self, p: np.ndarray, win: np.ndarray | None = None) -> list[Event]:
        """Take the model's probabilities for the latest window: smoothing, state, alerts."""
        t = self.ran()
        events = self.decide(p, t)
        if self.collector is not None and win is not None:
            self._collect(p)
        self._check_room(t)
        return events

    def ran(self) -> float:
        """Count a model run on the latest window (the schedule of the next one); its time."""
        self.since_run, self.last_run_t = 0, self.last_t
        self.runs += 1
        return self.last_run_t

    def decide(self, p: np.ndarray, t: float) -> list[Event]:
        """The model's probabilities ``p`` at ``t``: smoothed, then the state and alerts (no frames needed:
        ``actline alerts choose`` replays recorded probabilities through this under many settings)."""
        a = self.cfg.ema
        p = np.asarray(p, dtype=np.float64)
        self.smoothed = p if self.smoothed is None else a * p + (1 - a) * self.smoothed
        return self._update_state(t)

    def _check_room(self, t: float) -> None:
        """Every ROOM_EVERY_S of sensor time, whether the running empty room is new to the model (its gate's
        measure); a sensor whose room turns new says so once, in one log line."""
        room = self.room()
        if room is None or (self._room_checked is not None and t - self._room_checked < ROOM_EVERY_S):
            return
        was_new = (self.room_status or {}).get("new")
        self.room_status, self._room_checked = self.r.room_report(room), t
        if self.room_status["new"] and not was_new:
            log.warning("sensor %s: new room (similarity %.2f to the nearest training room, new below %g): %s",
                        self.sensor, self.room_status["similarity"], self.room_status["new_below"],
                        self.room_status["advice"])

    def push(self, frame, timestamp: float) -> list[Event]:
        events, due = self.feed(frame, timestamp)
        if due:
            win = self.window()
            events += self.apply(self.r.probs(win[None], self.room())[0], win)
        return events

    # ------------------------------------------------------------------ saved state
    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able values, arrays) that :meth:`load_state_dict` restores exactly: the frame buffer, the
        smoothed probabilities, the state with its start and alert flag, and the empty room."""
        meta = {"sensor": self.sensor, "model": self.model, "classes": self.r.classes, "window": self.r.rule.to_dict(),
                "n_seen": self.n_seen, "since_run": self.since_run, "last_run_t": self.last_run_t, "runs": self.runs,
                "smoothed": None if self.smoothed is None else [float(v) for v in self.smoothed],
                "state": self.state, "state_since": self.state_since, "alerted": self.alerted, "alert_t": self.alert_t}
        arrays = {}
        if self.ring is not None:
            meta["ring"] = {"count": self.ring.count, "head": self.ring.head}
            arrays.update(frames=self.ring.frames, times=self.ring.times)
        if self.bg is not None:
            meta["background"], bg_arrays = self.bg.state()
            arrays.update({f"bg.{k}": np.ascontiguousarray(v) for k, v in bg_arrays.items()})
        return meta, arrays

    def load_state_dict(self, meta: dict, arrays: dict[str, np.ndarray], where="stream state") -> str:
        """Restore what :meth:`state_dict` saved. The empty room is always taken; the rest only when the model
        has the same classes and window rule (else the stream starts fresh). Returns what was restored."""
        if "background" in meta:
            self.bg = BackgroundModel.from_state(meta["background"], {k[3:]: v for k, v in arrays.items()
                                                                      if k.startswith("bg.")}, str(where))
        try:
            same = meta.get("classes") == self.r.classes and WindowRule.from_dict(meta["window"], where) == self.r.rule
        except (ActlineError, KeyError, TypeError):
            same = False
        if not same or "frames" not in arrays:
            return "background restored (the model's classes or window differ: the state starts fresh)"
        frames, times = arrays["frames"], arrays["times"]
        if frames.ndim != 3 or len(frames) != self.span or times.shape != (self.span,):
            raise ActlineError(where, f"frame buffer of shape {frames.shape} does not fit this model")
        try:
            ring = FrameRing(self.span, frames.shape[1:])
            ring.frames[:], ring.times[:] = frames, times
            ring.count, ring.head = int(meta["ring"]["count"]), int(meta["ring"]["head"])
            self.ring = ring
            self.n_seen, self.since_run, self.runs = int(meta["n_seen"]), int(meta["since_run"]), int(meta["runs"])
            self.last_run_t, self.state, self.state_since = meta["last_run_t"], meta["state"], meta["state_since"]
            self.alerted = bool(meta["alerted"])
            # states saved before the cleared event: the alert was raised after the state began
            self.alert_t = meta.get("alert_t", self.state_since if self.alerted else None)
            self.smoothed = None if meta["smoothed"] is None else np.asarray(meta["smoothed"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ActlineError(where, f"incomplete stream state ({type(exc).__name__}: {exc})") from None
        if self.state is not None and self.state not in self.r.classes:
            raise ActlineError(where, f"state {self.state!r} is not a class of this model")
        return f"restored at t={self.last_t} (state {self.state!r})"

    # ------------------------------------------------------------------ decisions
    def _update_state(self, t: float) -> list[Event]:
        s, classes = self.smoothed, self.r.classes
        events = []
        cur = classes.index(self.state) if self.state is not None else None
        best = int(s.argmax())
        new = self.state
        if cur is None or s[cur] < self.cfg.exit:
            new = classes[best] if s[best] >= self.cfg.enter else None
        elif best != cur and s[best] >= self.cfg.enter:
            new = classes[best]
        if new != self.state:
            events += self._cleared(t)
            self.state, self.state_since, self.alerted = new, t, False
            events.append(self._event("state", t, new, s[best] if new else s.max()))
        hold = self.alerts.get(self.state) if self.state else None
        if hold is not None and not self.alerted and t - self.state_since >= hold:
            self.alerted, self.alert_t = True, t
            events.append(self._event("alert", t, self.state, s[classes.index(self.state)],
                                      {"held_s": round(t - self.state_since, 3)}))
        return events

    def _cleared(self, t: float) -> list[Event]:  # the state leaves the class of this episode's alert
        if not (self.alerted and self.state and self.smoothed is not None):
            return []
        conf = self.smoothed[self.r.classes.index(self.state)]
        return [self._event("cleared", t, self.state, conf, {"duration_s": round(t - self.alert_t, 3)})]

    def _collect(self, p: np.ndarray) -> None:  # the frames as received, not the model's (resampled) input
        frames, times = self._raw_window()
        about = {"recording": self.sensor, "t0": self.first_t, "model": model_version(self.r.config, None)}
        if p.max() < self.cfg.collect_below:
            self.collector.add(frames, times, p, "low_confidence", **about)
        self.pending.append((self.runs, frames, times, p))
        while self.pending and self.runs - self.pending[0][0] >= self.cfg.disagree_after:
            _, f0, t0, p0 = self.pending.pop(0)
            if self.state not in (None, self.r.classes[int(p0.argmax())]) and p0.max() >= self.cfg.collect_below:
                self.collector.add(f0, t0, p0, f"disagrees_with_later:{self.state}", **about)
