"""One sensor, live: frames in one at a time, state changes and alerts out.

``StreamingRecognizer(recognizer).push(frame, t)`` keeps a ring buffer of the latest frames and the
sensor's empty room (:class:`~actline.data.background.BackgroundModel`, learnt only where nobody is,
so a person lying still never fades into it), runs the model every ``every_frames`` frames or
``every_s`` seconds on the window the :class:`~actline.infer.recognizer.Recognizer` cuts, smooths
the class probabilities (exponential moving average), decides the state with hysteresis (enter a
state at ``enter``, leave it only below ``exit``) and returns events:

- ``state``: the state changed (``label`` is the new state, or ``None`` for "uncertain");
- ``alert``: an alert class has been the state for at least its hold time (once per episode);
- ``reset``: a gap longer than ``max_gap_s`` emptied the buffer (old and new frames never mix).

Many sensors share one model through :class:`~actline.apps.stream.hub.StreamHub`, which calls the
three steps separately (:meth:`feed`, :meth:`window`, :meth:`apply`) to batch the model across
sensors; :meth:`push` is the three in a row, with identical results.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from actline.core.errors import ActlineError
from actline.data.background import BackgroundConfig, BackgroundModel

DEFAULT_ALERT_S = 10.0


@dataclass
class StreamConfig:
    every_frames: int | None = None  # run the model every N frames (default: a quarter window)
    every_s: float | None = None  # ... or every S seconds of sensor time (overrides every_frames)
    ema: float = 0.5  # weight of the newest probabilities
    enter: float = 0.6
    exit: float = 0.4
    alerts: dict[str, float] | None = None  # class -> hold seconds; None: `...risk` and `fall...` classes, 10 s
    max_gap_s: float | None = None  # default: the window's duration
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    collect_below: float = 0.5  # save windows whose top probability is below this
    disagree_after: int = 3  # compare a window's prediction with the state this many runs later

    def validate(self) -> StreamConfig:
        if not 0 < self.ema <= 1:
            raise ActlineError("stream", f"ema must be in (0, 1], got {self.ema}")
        if not 0 <= self.exit <= self.enter <= 1:
            raise ActlineError("stream", f"need 0 <= exit <= enter <= 1, got exit={self.exit}, enter={self.enter}")
        if any(not (isinstance(v, (int, float)) and v >= 0) for v in (self.alerts or {}).values()):
            raise ActlineError("stream", "alert hold times must be seconds >= 0")
        self.background.validate()
        return self


def default_alerts(classes: list[str]) -> dict[str, float]:
    return {c: DEFAULT_ALERT_S for c in classes if "risk" in c or c.startswith("fall")}


def parse_alerts(specs: list[str], classes: list[str] | None = None) -> dict[str, float] | None:
    """``["CLASS=SECONDS", ...]`` -> {class: seconds}; None for an empty list (the default alerts)."""
    out = {}
    for a in specs:
        name, _, secs = a.rpartition("=")
        try:
            out[name] = float(secs)
        except ValueError:
            raise ActlineError("--alert", f"expected CLASS=SECONDS, got {a!r}") from None
        if not name or not math.isfinite(out[name]) or out[name] < 0:
            raise ActlineError("--alert", f"expected CLASS=SECONDS with SECONDS >= 0, got {a!r}")
    if classes is not None and set(out) - set(classes):
        raise ActlineError("--alert", f"{sorted(set(out) - set(classes))} are not classes of this model ({classes})")
    return out or None


def model_version(config: dict, chars: int | None = 12) -> str:
    """A short id of the model (all of it if ``chars`` is None): its weights' SHA-256, else its config's."""
    sha = config.get("weights_sha256") if isinstance(config, dict) else None
    if not isinstance(sha, str):
        sha = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return sha[:chars]


@dataclass
class Event:
    kind: str  # "state" | "alert" | "reset"
    t: float
    label: str | None
    confidence: float
    detail: dict = field(default_factory=dict)
    sensor: str | None = None
    model: str | None = None

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


class _Ring:
    """The latest ``n`` frames and times in preallocated arrays (no per-frame allocation)."""

    def __init__(self, n: int, shape: tuple[int, int]):
        self.frames = np.zeros((n, *shape), np.float32)
        self.times = np.zeros(n, np.float64)
        self.n, self.count, self.head = n, 0, 0

    def append(self, x: np.ndarray, t: float) -> None:
        self.frames[self.head], self.times[self.head] = x, t
        self.head = (self.head + 1) % self.n
        self.count = min(self.count + 1, self.n)

    def last(self, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        k = self.count if k is None else min(k, self.count)
        idx = (self.head - k + np.arange(k)) % self.n
        return self.frames[idx], self.times[idx]

    def oldest(self) -> float:
        return float(self.times[(self.head - self.count) % self.n])


class StreamingRecognizer:
    def __init__(self, recognizer, cfg: StreamConfig | None = None, collector=None, sensor: str | None = None):
        self.r = recognizer
        self.cfg = (cfg or StreamConfig()).validate()
        self.alerts = default_alerts(recognizer.classes) if self.cfg.alerts is None else dict(self.cfg.alerts)
        unknown = set(self.alerts) - set(recognizer.classes)
        if unknown:
            raise ActlineError("stream", f"alert classes {sorted(unknown)} are not classes of this model")
        spec = recognizer.spec
        self.length = spec.length
        self.window_s = spec.length / spec.fps if spec.mode == "time" else None
        # a time window is due once its seconds are covered, whatever the frame rate (32 frames span 3 s
        # at 10 fps and 16 s at 2 fps); an index window once it has its frames
        self.need_s = (spec.length - 1) / spec.fps if spec.mode == "time" else None
        # a time window needs every frame of its seconds: room for sensors up to 40 fps
        self.span = self.length if spec.mode == "index" else max(4 * self.length, int(self.window_s * 40) + 1)
        self.every = self.cfg.every_frames or max(1, self.length // 4)
        self.collector, self.sensor, self.model = collector, sensor, model_version(recognizer.config)
        # the running empty room: for models that subtract it, and for a room gate, which compares it with
        # the training rooms
        self.uses_background = getattr(recognizer, "background", "none") != "none" or getattr(recognizer, "gated", False)
        self.bg: BackgroundModel | None = None
        self.ring: _Ring | None = None
        self.runs, self.n_frames, self.first_t = 0, 0, None  # first_t: the first frame's time, for the collector
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
                events.append(self._event("reset", t, None, 0.0, {"gap_s": round(dt, 3)}))
                self.reset()
        if self.ring is None:
            self.ring = _Ring(self.span, x.shape)
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
        bg = self.bg.background if self.uses_background else None
        return self.r.window(frames, times, where="stream", background=bg)

    def _raw_window(self) -> tuple[np.ndarray, np.ndarray]:  # the frames the window covers, as received
        if self.window_s is None:
            return self.ring.last(self.length)
        frames, times = self.ring.last()
        keep = times >= times[-1] - self.window_s
        return frames[keep], times[keep]

    def room(self) -> np.ndarray | None:
        """The running empty room, for a model with a room gate (None otherwise)."""
        return self.bg.background if getattr(self.r, "gated", False) and self.bg is not None else None

    def apply(self, p: np.ndarray, win: np.ndarray | None = None) -> list[Event]:
        """Take the model's probabilities for the latest window: smoothing, state, alerts."""
        t = self.last_t
        self.since_run, self.last_run_t = 0, t
        self.runs += 1
        a = self.cfg.ema
        p = np.asarray(p, dtype=np.float64)
        self.smoothed = p if self.smoothed is None else a * p + (1 - a) * self.smoothed
        events = self._update_state(t)
        if self.collector is not None and win is not None:
            self._collect(p)
        return events

    def push(self, frame, timestamp: float) -> list[Event]:
        events, due = self.feed(frame, timestamp)
        if due:
            win = self.window()
            events += self.apply(self.r.probs(win[None], self.room())[0], win)
        return events

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
            self.state, self.state_since, self.alerted = new, t, False
            events.append(self._event("state", t, new, s[best] if new else s.max()))
        hold = self.alerts.get(self.state) if self.state else None
        if hold is not None and not self.alerted and t - self.state_since >= hold:
            self.alerted = True
            events.append(self._event("alert", t, self.state, s[classes.index(self.state)],
                                      {"held_s": round(t - self.state_since, 3)}))
        return events

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
