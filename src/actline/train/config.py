"""Training configuration: a dataclass, loaded from YAML, with command-line overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from actline.core.errors import ActlineError
from actline.data.rooms import MEASURES
from actline.data.splits import GROUPINGS, SPLITS
from actline.data.window import BACKGROUNDS, WindowRule
from actline.modeldir.parts.room_gate import DEFAULT_THRESHOLD

NON_TORCH_MODELS = ("features", "fusion", "auto")  # recipes rather than registered torch models


@dataclass
class AugmentConfig:
    crop_scale: tuple[float, float] = (1.0, 1.0)  # random resized crop: area fraction kept (off: body size is a cue)
    hflip: float = 0.5
    vflip: float = 0.5  # a ceiling sensor has no "up": both flips are valid
    temp_offset_c: float = 2.0  # ± uniform offset added to the whole window
    temp_gain: tuple[float, float] = (0.9, 1.1)  # contrast of the body over the floor
    noise_c: float = 0.1  # extra sensor noise (max sigma)
    erase_p: float = 0.0  # random erasing of a rectangle (set to the floor temperature)
    temporal_jitter: int = 4  # frames the window centre moves
    # new rooms made from old ones (0: off): the chance that a window gets 1-3 hot objects of its own (small
    # spots 4-20 °C over the floor, still over the window's time), and the amplitude (°C) of a smooth field
    # added over the frame (floor unevenness, a window, a wall)
    room_spots: float = 0.0
    room_field_c: float = 0.0


@dataclass
class TrainConfig:
    model: str = "thermal_r2plus1d_lite"  # chosen on held-out rooms and days (README, "Results")
    model_kwargs: dict = field(default_factory=dict)
    pretrained: str | None = None  # torchvision weights enum name or local file; MMAction2/PTV checkpoint
    pretrained_format: str | None = None  # "mmaction" or "pytorchvideo" for SlowFast checkpoints
    window: int | None = None  # steps; None: from the data (see resolve_defaults)
    window_mode: str | None = None  # "index" (consecutive frames) or "time" (resampled); None: from the data
    window_fps: float | None = None  # steps per second of time windows; None: from the data
    background: str | None = None  # none | recording-median | static-heat; None: from the data (see resolve_defaults)
    split: str = "by-recording"  # given | by-recording | by-location | kfold | holdout | none
    fold: int = 0
    n_folds: int = 5
    group_by: str = "recording"  # or "location" (room; the day for Nagoya)
    holdout: list = field(default_factory=list)  # split=holdout: recordings, locations or days held out
    epochs: int = 30
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float = 2e-3  # at batch 16; scaled linearly with batch size
    backbone_lr_mult: float = 0.1  # for pretrained backbones: lower than the head
    weight_decay: float = 0.05
    momentum: float = 0.9
    warmup_epochs: int = 3
    grad_clip: float = 5.0
    loss: str = "ce"  # "ce" or "focal"
    focal_gamma: float = 2.0
    class_weights: str = "balanced"  # "balanced" or "none"
    class_weight_power: float = 0.5  # inverse frequency to this power: 1 balanced, 0.5 tempered (keeps the majority class)
    # classes with fewer training windows are down-weighted at prediction (0: off); 60, not 10: the
    # smallest value that kept the training majority class at 85% by recording on the realistic tuning
    # sets (seeds 100-108, benchmarks/rare_class_guard.py, docs/results.md), mean class accuracy kept
    rare_class_min: int = 60
    # at prediction, every class also weighed by its training frequency to this power (0: off). Off by
    # default: at 1 it won on tuning sets 100-108 but lost by recording on 109-114; over all fifteen no
    # power beat the guard alone with rooms held out and by recording at once (docs/results.md)
    prior_power: float = 0.0
    # the room gate (modeldir/parts/room_gate.py): where a recording's empty room is less like every training room
    # than this (cosine similarity of fingerprints), fuse the CNN with the trees; 0: off. None: 0.3 for
    # CNNs on raw temperatures (chosen on tuning sets 100-114, docs/results.md), off otherwise
    room_gate: float | None = None
    # the room gate's fallback CNN: a second network of the same recipe trained on windows with this
    # background removed, fused with the trees in unfamiliar rooms. None: static-heat wherever the gate
    # is on (it beat the CNN itself there with rooms held out, tuning sets 103-120, docs/results.md);
    # "none": the CNN itself, no second network (half the training time)
    gate_fallback: str | None = None
    # how the room gate tells a new room (actline.data.rooms.KnownRooms): highpass-residual since 0.6;
    # fingerprint, the measure before it (its threshold 0.3)
    room_measure: str = "highpass-residual"
    # the class of time outside every annotated action (actline.data.background_class; the same setting as timeline
    # training's): frames outside every segment, or farther than half a window from every keyframe, with window
    # samples there. None: no such class
    background_class: str | None = None
    sampler: str = "shuffle"  # "shuffle" or "balanced"
    label_smoothing: float = 0.05
    early_stop_metric: str = "macro_f1"
    patience: int = 12
    inner_val_fraction: float = 0.0  # >0: hold out this share of training recordings to pick the best epoch and stop early
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    seeds: int = 1  # train this many models with seeds seed..seed+k-1 and average their probabilities
    amp: bool = True  # mixed precision where a GPU is used
    device: str = "auto"
    num_threads: int = 0  # 0: torch's default
    estimator: str = "gbm"  # model=features (and fusion's tree member): gbm | forest | logistic
    fusion_cnn: str = "thermal_r2plus1d_lite"  # model=fusion: the CNN fused with the features model
    fusion_cnn_weight: float = 0.5  # its weight in the geometric mean (the features model gets the rest)
    explicit: list = field(default_factory=list)  # settings the user gave (file or --set): per-model defaults never override them

    def validate(self) -> "TrainConfig":
        checks = [
            (self.optimizer in ("adamw", "sgd"), f"optimizer must be adamw or sgd, got {self.optimizer!r}"),
            (self.loss in ("ce", "focal"), f"loss must be ce or focal, got {self.loss!r}"),
            (self.class_weights in ("balanced", "none"), "class_weights must be balanced or none"),
            (self.sampler in ("shuffle", "balanced"), "sampler must be shuffle or balanced"),
            (self.window is None or self.window >= 4, "window must be at least 4 frames"),
            (self.window_mode in (None, "index", "time"), "window_mode must be index or time"),
            (self.split in SPLITS, f"split must be one of {', '.join(SPLITS)}"),
            (self.split != "holdout" or bool(self.holdout), "split holdout needs the held-out names (--holdout A,B)"),
            (self.group_by in GROUPINGS, f"group_by must be one of {', '.join(GROUPINGS)}"),
            (0.0 <= self.class_weight_power <= 2.0, "class_weight_power must be in [0, 2]"),
            (self.rare_class_min >= 0, "rare_class_min must be >= 0"),
            (0.0 <= self.prior_power <= 2.0, "prior_power must be in [0, 2]"),
            (self.room_gate is None or 0.0 <= self.room_gate <= 1.0, "room_gate must be in [0, 1]"),
            (not self.room_gate or room_gate_applies(self.model, self.background),
             "room_gate applies to CNNs on raw temperatures (background none; features and fusion use the "
             "trees everywhere): set room_gate=0"),
            (self.background is None or self.background in BACKGROUNDS, f"background must be one of {', '.join(BACKGROUNDS)}"),
            (self.background_class is None or (isinstance(self.background_class, str) and self.background_class.strip()),
             "background_class must be a class name (or null: no such class)"),
            (self.room_measure in MEASURES, f"room_measure must be one of {', '.join(MEASURES)}"),
            (self.gate_fallback is None or self.gate_fallback in BACKGROUNDS,
             f"gate_fallback must be one of {', '.join(BACKGROUNDS)}"),
            (self.epochs >= 1 and self.batch_size >= 1, "epochs and batch_size must be >= 1"),
            (self.lr > 0, "lr must be > 0"),
            (self.seeds >= 1, "seeds must be >= 1"),
            (0.0 <= self.inner_val_fraction < 0.9, "inner_val_fraction must be in [0, 0.9)"),
            (self.early_stop_metric in ("top1", "mean_class_accuracy", "macro_f1", "loss"),
             "early_stop_metric must be top1, mean_class_accuracy, macro_f1 or loss"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ActlineError("config", msg)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def rule(self) -> WindowRule:
        """The window rule of a resolved config (:func:`resolve_defaults` fills what the data decides)."""
        return WindowRule(length=self.window, mode=self.window_mode, fps=self.window_fps, background=self.background)


def room_gate_applies(model: str, background: str | None) -> bool:
    """The room gate (modeldir/parts/room_gate.py) reads the raw room and falls back on trees: it is for CNNs on
    raw temperatures (``model`` may be a training recipe or a fitted model's arch name)."""
    return background in (None, "none") and model not in ("features", "fusion")


# settings where "none" is a value (no background removed; a class named "none"), not "unset" (null is)
NAMED_NONE = ("background", "gate_fallback", "background_class")


def _coerce(value, current):
    if isinstance(current, bool):
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(current, int) and not isinstance(current, bool):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        vals = value if isinstance(value, (list, tuple)) else yaml.safe_load(str(value))
        return tuple(float(v) for v in vals)
    if isinstance(current, list):
        vals = value if isinstance(value, (list, tuple)) else str(value).split(",")
        return [str(v).strip() for v in vals if str(v).strip()]
    if isinstance(current, dict) and isinstance(value, str):
        return yaml.safe_load(value) or {}
    if current is None and isinstance(value, str):
        return None if value.lower() in ("none", "null", "") else value
    return value


def apply(cfg, values: dict, where: str = "config"):
    """Set fields from a (nested) dict; unknown keys are an error naming ``where``."""
    names = {f.name for f in dataclasses.fields(cfg)}
    for key, value in values.items():
        if key not in names:
            raise ActlineError(where, f"unknown setting {key!r} (known: {', '.join(sorted(names))})")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ActlineError(where, f"{key!r} must be a mapping")
            apply(current, value, where)
        elif key in NAMED_NONE and isinstance(value, str):  # "none" is one of their values, not "unset"
            setattr(cfg, key, value)
        else:
            try:
                setattr(cfg, key, _coerce(value, current))
            except (TypeError, ValueError) as exc:
                raise ActlineError(where, f"{key}: {exc}") from None
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then a YAML file, then ``key=value`` overrides (dotted keys for nested fields)."""
    return load_settings(TrainConfig(), path, overrides).validate()


def load_settings(cfg, path: str | Path | None = None, overrides: list[str] | None = None):
    """Fill any settings dataclass from a YAML file, then ``key=value`` overrides."""
    if path:
        path = Path(path)
        if not path.is_file():
            raise ActlineError(path, "config file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ActlineError(path, f"not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ActlineError(path, "a config file must be a mapping of settings")
        apply(cfg, data, str(path))
        for key in data:
            _mark(cfg, key)
    for item in overrides or []:
        if "=" not in item:
            raise ActlineError("--set", f"expected key=value, got {item!r}")
        key, value = item.split("=", 1)
        nested: dict = {}
        node = nested
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else value
        apply(cfg, nested, "--set")
        _mark(cfg, parts[0])
    return cfg


def _mark(cfg, key: str) -> None:
    if hasattr(cfg, "explicit") and key not in cfg.explicit:
        cfg.explicit.append(key)


# (window, window_mode, window_fps, background) chosen by sensor size on tuning data only (EVALUATION.md):
# 16x16 arrays at a steady ~10 fps (Nagoya): 16 frames, 1.6 s, heat sources and floor pattern removed
# (static-heat; as good as the recording median on inner leave-one-day-out, and a still person survives);
# 40x60 arrays at 6-30 fps in bursts: 8 s resampled at 4 steps/s, raw temperatures (on held-out
# recordings of the realistic preset, seeds 100-102, no subtraction beat both kinds on mean class accuracy
# and macro-F1; on held-out rooms the three were mixed, and the recording median erases a still person).
SMALL_SENSOR_WINDOW = (16, "index", 10.0, "static-heat")
LARGE_SENSOR_WINDOW = (32, "time", 4.0, "none")


def resolve_defaults(cfg: TrainConfig, frame_shape: tuple[int, int] | None) -> TrainConfig:
    """Fill what depends on the data and the model, without overriding anything the user set.

    The window: 16 consecutive frames for 16x16 sensors; for larger ones 8 s resampled by time at
    4 steps per second (their frame rates differ 5x between recordings, so 64 frames by index span
    anything from 2 to 20 s). A window length given without a mode counts consecutive frames. The
    background: static-heat for 16x16 sensors, none for larger ones (see the note above). The room gate:
    on for CNNs on raw temperatures, with a static-heat fallback CNN.
    Then the model's own recipe (a registry entry's ``default_recipe``,
    e.g. a gentler learning rate for SlowFast)."""
    from actline.models.registry import model_info

    small = frame_shape is not None and max(frame_shape) <= 16
    window = SMALL_SENSOR_WINDOW if small else LARGE_SENSOR_WINDOW
    if cfg.window is not None and cfg.window_mode is None:
        window = (cfg.window, "index", 10.0, window[3])  # a window given alone counts frames, as it always has
    for key, value in zip(("window", "window_mode", "window_fps", "background"), window):
        if getattr(cfg, key) is None:
            setattr(cfg, key, value)
    if cfg.room_gate is None:
        cfg.room_gate = DEFAULT_THRESHOLD if room_gate_applies(cfg.model, cfg.background) else 0.0
    if cfg.gate_fallback is None:
        cfg.gate_fallback = "static-heat" if cfg.room_gate else "none"
    name = cfg.fusion_cnn if cfg.model == "fusion" else cfg.model
    recipe = {} if name in NON_TORCH_MODELS else model_info(name).default_recipe
    for key, value in recipe.items():
        if key not in cfg.explicit:
            setattr(cfg, key, value)
    return cfg
