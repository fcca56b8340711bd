"""What a live stream is told and what it says: its settings (:class:`StreamConfig`: smoothing,
thresholds, alert classes and hold times), the events it emits (:class:`Event`), and the model
version they carry. Each default is written here once; the command line and the service read it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from actline.core.errors import ActlineError, unknown_value
from actline.data.background import BackgroundConfig
from actline.metrics.events import is_alarm_class

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

    @classmethod
    def given(cls, **settings) -> StreamConfig:
        """The settings given (None: this class's default, the one place each is written)."""
        return cls(**{k: v for k, v in settings.items() if v is not None})

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
    return {c: DEFAULT_ALERT_S for c in classes if is_alarm_class(c)}


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
    bad = [c for c in out if classes is not None and c not in classes]
    if bad:
        raise ActlineError("--alert", unknown_value(bad[0], classes, "class"))
    return out or None


def model_version(config: dict, chars: int | None = 12) -> str:
    """A short id of the model (all of it if ``chars`` is None): its weights' SHA-256, else its config's."""
    sha = config.get("weights_sha256") if isinstance(config, dict) else None
    if not isinstance(sha, str):
        sha = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return sha[:chars]


@dataclass
class Event:
    kind: str  # "state" | "alert" | "cleared" | "reset"
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
