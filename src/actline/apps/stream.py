"""Live streaming: one sensor frame at a time in, state changes and alerts out.

``StreamingRecognizer(recognizer).push(frame, timestamp)`` keeps a ring buffer of the latest frames,
runs the model every ``every_frames`` frames or ``every_s`` seconds, smooths the class
probabilities (exponential moving average), decides the state with hysteresis (a state is entered
when its smoothed probability reaches ``enter``, and left only when it falls below ``exit``), and
returns events:

- ``state``: the stream's state changed (``label`` is the new state, or ``None`` for "uncertain");
- ``alert``: an alert class has been the state for at least its minimum time (once per episode);
- ``reset``: a gap longer than ``max_gap_s`` emptied the buffer (old and new frames never mix).

Windows the model is unsure about (top probability below ``collect_below``), or whose prediction
the stream's settled state contradicts a few runs later, are saved for relabelling when a
:class:`FailureCollector` is attached, in the ThermalDataGen layout the readers take.

Works with either backend of :class:`~actline.infer.recognizer.Recognizer`; with ONNX Runtime it
never imports torch.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import estimate_background, fill_invalid, subtract_background


@dataclass
class StreamConfig:
    every_frames: int | None = None  # run the model every N frames (default: a quarter window)
    every_s: float | None = None  # ... or every S seconds of sensor time (overrides every_frames)
    ema: float = 0.5  # weight of the newest probabilities
    enter: float = 0.6
    exit: float = 0.4
    alerts: dict[str, float] = field(default_factory=lambda: {"lying down-lying with risk": 10.0})
    max_gap_s: float | None = None  # default: the window's duration
    background_frames: int = 600  # history kept for the empty-room estimate (every 4th frame)
    collect_below: float = 0.5  # save windows whose top probability is below this
    disagree_after: int = 3  # compare a window's prediction with the state this many runs later

    def validate(self) -> "StreamConfig":
        if not 0 < self.ema <= 1:
            raise ActlineError("stream", f"ema must be in (0, 1], got {self.ema}")
        if not 0 <= self.exit <= self.enter <= 1:
            raise ActlineError("stream", f"need 0 <= exit <= enter <= 1, got exit={self.exit}, enter={self.enter}")
        return self


@dataclass
class Event:
    kind: str  # "state" | "alert" | "reset"
    t: float
    label: str | None
    confidence: float
    detail: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()})


class StreamingRecognizer:
    def __init__(self, recognizer, cfg: StreamConfig | None = None, collector: "FailureCollector | None" = None):
        self.r = recognizer
        self.cfg = (cfg or StreamConfig()).validate()
        unknown = set(self.cfg.alerts) - set(recognizer.classes)
        if unknown:
            raise ActlineError("stream", f"alert classes {sorted(unknown)} are not classes of this model")
        spec = recognizer.spec
        self.length = spec.length
        self.window_s = spec.length / spec.fps if spec.mode == "time" else None
        self.every = self.cfg.every_frames or max(1, self.length // 4)
        self.collector = collector
        self.runs = 0
        self.reset()

    def reset(self) -> None:
        span = self.length if self.r.spec.mode == "index" else 4 * self.length
        self.frames: deque = deque(maxlen=span)
        self.times: deque = deque(maxlen=span)
        self.bg_hist: deque = deque(maxlen=self.cfg.background_frames)
        self.n_seen = 0
        self.since_run = 0
        self.last_run_t: float | None = None
        self.smoothed: np.ndarray | None = None
        self.state: str | None = None
        self.state_since: float | None = None
        self.alerted = False
        self.pending: deque = deque()  # (run index, t, window, probs) awaiting the later state

    def _max_gap(self, dt_median: float) -> float:
        if self.cfg.max_gap_s is not None:
            return self.cfg.max_gap_s
        return self.window_s or max(self.length * dt_median, 1.0)

    def push(self, frame, timestamp: float) -> list[Event]:
        x = np.asarray(frame, dtype=np.float32)
        if x.ndim != 2:
            raise ActlineError("stream", f"expected one [H, W] frame, got shape {x.shape}")
        t = float(timestamp)
        events: list[Event] = []
        if self.times:
            dt = t - self.times[-1]
            if dt < 0:
                raise ActlineError("stream", f"timestamp {t} goes back in time (last {self.times[-1]})")
            med = float(np.median(np.diff(self.times))) if len(self.times) > 1 else dt
            if dt > self._max_gap(med):
                events.append(Event("reset", t, None, 0.0, {"gap_s": round(dt, 3)}))
                self.reset()
        self.frames.append(x)
        self.times.append(t)
        self.n_seen += 1
        self.since_run += 1
        if self.n_seen % 4 == 0:
            self.bg_hist.append(x)
        if len(self.frames) < self.length:
            return events
        due = (t - self.last_run_t >= self.cfg.every_s) if (self.cfg.every_s and self.last_run_t is not None) \
            else self.since_run >= self.every or self.last_run_t is None
        if due:
            events += self._run(t)
        return events

    def _window(self) -> np.ndarray:
        """The latest window, sentinels filled, the empty room removed when the model was trained so."""
        frames, times = np.stack(self.frames), np.asarray(self.times)
        bg = None
        if getattr(self.r, "background", "none") == "recording-median":
            # the buffer alone is too short to show the empty room: use the longer, sparser history
            bg = estimate_background(np.stack(self.bg_hist) if len(self.bg_hist) >= self.length else frames)
        if self.r.spec.mode == "index":
            win = fill_invalid(frames[-self.length:])
            return subtract_background(win, bg) if bg is not None else win
        keep = times >= times[-1] - self.window_s
        return self.r.window(frames[keep], times[keep], where="stream", background=bg)

    def _run(self, t: float) -> list[Event]:
        self.since_run, self.last_run_t = 0, t
        win = self._window()
        p = self.r.probs(win[None])[0]
        self.runs += 1
        a = self.cfg.ema
        self.smoothed = p if self.smoothed is None else a * p + (1 - a) * self.smoothed
        events = self._update_state(t)
        if self.collector is not None:
            self._collect(t, win, p)
        return events

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
            events.append(Event("state", t, new, float(s[best] if new else s.max())))
        hold = self.cfg.alerts.get(self.state) if self.state else None
        if hold is not None and not self.alerted and t - self.state_since >= hold:
            self.alerted = True
            events.append(Event("alert", t, self.state, float(s[classes.index(self.state)]),
                                {"held_s": round(t - self.state_since, 3)}))
        return events

    def _collect(self, t: float, win: np.ndarray, p: np.ndarray) -> None:
        k = int(p.argmax())
        if p[k] < self.cfg.collect_below:
            self.collector.add(win, np.asarray(self.times)[-len(win):], self.r.classes[k], float(p[k]), "low_confidence")
        self.pending.append((self.runs, t, win, p))
        while self.pending and self.runs - self.pending[0][0] >= self.cfg.disagree_after:
            _, t0, w0, p0 = self.pending.popleft()
            k0 = int(p0.argmax())
            if self.state is not None and self.r.classes[k0] != self.state and p0[k0] >= self.cfg.collect_below:
                self.collector.add(w0, None, self.r.classes[k0], float(p0[k0]), f"disagrees_with_later:{self.state}")


class FailureCollector:
    """Saves windows for relabelling as a ThermalDataGen data set: ``frames/<id>.h5`` + COCO keyframes.

    Each window is one short recording with one keyframe at its middle, labelled with the model's
    prediction (to be corrected), the reason and the confidence; ``actline data inspect DIR`` reads it.
    """

    def __init__(self, root: str | Path, classes: list[str], max_items: int = 1000):
        self.root, self.classes, self.max_items = Path(root), list(classes), max_items
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        ann = self.root / "annotations" / "train.json"
        if ann.is_file():  # append to an earlier collection
            old = json.loads(ann.read_text(encoding="utf-8"))
            self.images, self.annotations = old.get("images", []), old.get("annotations", [])

    def add(self, win: np.ndarray, times, label: str, confidence: float, reason: str) -> None:
        from actline.core.atomic import write_json
        from actline.data.thermal_h5 import write_recording_h5

        if len(self.images) >= self.max_items:
            return
        n = len(win)
        sensor = f"collected{len(self.images):05d}"
        ts = np.asarray(times, dtype=np.float64) if times is not None else np.arange(n) * 0.1
        ts_ms = np.round((ts - ts[0]) * 1000).astype(np.int64) + 1_700_000_000_000
        write_recording_h5(self.root / "frames" / f"{sensor}.h5", win.astype(np.float32), ts_ms, sensor)
        image_id = f"{sensor}_{int(ts_ms[n // 2])}"
        self.images.append({"id": image_id, "sensor_id": sensor, "timestamp": int(ts_ms[n // 2]),
                            "width": int(win.shape[2]), "height": int(win.shape[1]), "frame_idx": n // 2,
                            "actline_reason": reason, "actline_confidence": round(confidence, 4)})
        self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id, "bbox": [0, 0, 1, 1],
                                 "category_id": self.classes.index(label), "category_name": label})
        cats = [{"id": i, "name": c} for i, c in enumerate(self.classes)]
        write_json(self.root / "annotations" / "class_mapping.json",
                   {"classes": self.classes, "class_to_id": {c: i for i, c in enumerate(self.classes)}})
        write_json(self.root / "annotations" / "train.json",
                   {"info": {"description": "windows collected by actline stream for relabelling"},
                    "images": self.images, "annotations": self.annotations, "categories": cats})

    def __len__(self) -> int:
        return len(self.images)
