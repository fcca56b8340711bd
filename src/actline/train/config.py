"""Training configuration: dataclasses, loaded from YAML, with command-line overrides.

Related settings are grouped: ``window`` (length, mode, fps, background), ``room_gate`` (threshold,
fallback) and ``fusion`` (cnn, cnn_weight). The flat spellings of 0.4 (``window=32``, ``window_mode``,
``background``, ``room_gate=0``, ``gate_fallback``, ``fusion_cnn`` ...) are still read for one release
(:data:`TrainConfig.RENAMED`). Why each default is what it is: docs/design-notes.md.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, NamedTuple

from actline.core.errors import ActlineError
from actline.data.rooms import DEFAULT_MEASURE, MEASURES
from actline.data.splits import GROUPINGS, SPLITS
from actline.data.window import BACKGROUNDS, WindowRule
from actline.modeldir.parts.room_gate import DEFAULT_THRESHOLD
from actline.train.config_io import apply, deprecated, load_settings

__all__ = ["AugmentConfig", "EngineConfig", "FusionConfig", "LoadedConfig", "RoomGateConfig", "TrainConfig",
           "WindowConfig", "apply", "load_config", "load_settings", "resolve_defaults", "room_gate_applies"]

NON_TORCH_MODELS = ("features", "fusion", "auto")  # recipes rather than registered torch models


@dataclass
class EngineConfig:
    """The training engine's settings (:mod:`actline.train.engine`); the pipelines' configs take their defaults
    from here. ``epochs`` has none: each pipeline says how long it trains."""

    epochs: int
    lr: float = 2e-3
    weight_decay: float = 0.05
    optimizer: str = "adamw"  # or "sgd" (Nesterov momentum)
    momentum: float = 0.9
    warmup_epochs: int = 3
    schedule: str = "cosine"  # "cosine" (after the warm-up) or "constant"
    grad_clip: float = 5.0
    patience: int = 12  # epochs without improvement on validation before stopping (0: never stop early)
    amp: bool = True  # mixed precision where a GPU is used
    device: str = "auto"


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
class WindowConfig:
    """The window a model sees (:class:`~actline.data.window.WindowRule`); None: chosen from the data
    (:func:`resolve_defaults`; docs/design-notes.md, "Windows")."""

    BARE: ClassVar[str] = "length"  # ``window=32`` (0.4's spelling) sets the length
    NAMED_NONE: ClassVar[tuple] = ("background",)  # "none" is a value (no background removed), not "unset"
    length: int | None = None  # steps
    mode: str | None = None  # "index" (consecutive frames) or "time" (resampled)
    fps: float | None = None  # steps per second of time windows
    background: str | None = None  # none | recording-median | static-heat


@dataclass
class RoomGateConfig:
    """Where a recording's empty room is less like every training room than ``threshold`` (by ``measure``),
    the CNN, a ``fallback`` CNN and ``shape`` trees are fused (modeldir/parts/room_gate.py); threshold 0:
    off. None: chosen by :func:`resolve_defaults` (docs/design-notes.md, "The room gate")."""

    BARE: ClassVar[str] = "threshold"  # ``room_gate=0`` (0.4's spelling) sets the threshold
    NAMED_NONE: ClassVar[tuple] = ("fallback", "shape")
    threshold: float | None = None
    fallback: str | None = None  # the fallback CNN's background; "none": the CNN itself, no second network
    shape: str | None = None  # the shape trees' background; "none": the fallback fused with the classical trees
    measure: str = DEFAULT_MEASURE  # how a new room is told (actline.data.rooms.KnownRooms); or fingerprint


@dataclass
class FusionConfig:
    """``model=fusion``: the CNN fused with the features model, and its weight in the geometric mean."""

    BARE: ClassVar[str | None] = None
    cnn: str = "thermal_r2plus1d_lite"
    cnn_weight: float = 0.5  # the features model gets the rest


_E = EngineConfig  # the engine's defaults, written once


@dataclass
class TrainConfig:
    # the old flat spellings (0.4), read for one release: old key -> its nested home
    RENAMED: ClassVar[dict] = {"window_mode": "window.mode", "window_fps": "window.fps",
                               "background": "window.background", "gate_fallback": "room_gate.fallback",
                               "fusion_cnn": "fusion.cnn", "fusion_cnn_weight": "fusion.cnn_weight",
                               "room_measure": "room_gate.measure"}
    IGNORED: ClassVar[tuple] = ("explicit",)  # kept in configs saved by 0.4: now beside the config (LoadedConfig)
    NAMED_NONE: ClassVar[tuple] = ("background_class",)  # a class named "none" is a value, not "unset" (null is)

    model: str = "thermal_r2plus1d_lite"  # chosen on held-out rooms and days (README, "Results")
    model_kwargs: dict = field(default_factory=dict)
    pretrained: str | None = None  # torchvision weights enum name or local file; MMAction2/PTV checkpoint
    pretrained_format: str | None = None  # "mmaction" or "pytorchvideo" for SlowFast checkpoints
    window: WindowConfig = field(default_factory=WindowConfig)
    split: str = "by-recording"  # given | by-recording | by-location | kfold | holdout | none
    fold: int = 0
    n_folds: int = 5
    group_by: str = "recording"  # or "location" (room; the day for Nagoya)
    holdout: list = field(default_factory=list)  # split=holdout: recordings, locations or days held out
    epochs: int = 30
    batch_size: int = 16
    optimizer: str = _E.optimizer
    lr: float = _E.lr  # at batch 16; scaled linearly with batch size
    backbone_lr_mult: float = 0.1  # for pretrained backbones: lower than the head
    weight_decay: float = _E.weight_decay
    momentum: float = _E.momentum
    warmup_epochs: int = _E.warmup_epochs
    grad_clip: float = _E.grad_clip
    loss: str = "ce"  # "ce" or "focal"
    focal_gamma: float = 2.0
    class_weights: str = "balanced"  # "balanced" or "none"
    class_weight_power: float = 0.5  # inverse frequency to this power: 1 balanced, 0.5 tempered (keeps the majority class)
    rare_class_min: int = 60  # classes with fewer training windows down-weighted at prediction (0: off); see docs/design-notes.md
    prior_power: float = 0.0  # every class weighed by its training frequency to this power (0: off); see docs/design-notes.md
    room_gate: RoomGateConfig = field(default_factory=RoomGateConfig)
    # the class of time outside every annotated action (actline.data.background_class; the same setting as timeline
    # training's): frames outside every segment, or farther than half a window from every keyframe, with window
    # samples there. None: no such class
    background_class: str | None = None
    sampler: str = "shuffle"  # "shuffle" or "balanced"
    label_smoothing: float = 0.05
    early_stop_metric: str = "macro_f1"
    patience: int = _E.patience
    inner_val_fraction: float = 0.0  # >0: hold out this share of training recordings to pick the best epoch and stop early
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    seeds: int = 1  # train this many models with seeds seed..seed+k-1 and average their probabilities
    amp: bool = _E.amp
    device: str = _E.device
    num_threads: int = 0  # 0: torch's default
    estimator: str = "gbm"  # model=features (and fusion's tree member): gbm | forest | logistic
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def __post_init__(self):  # TrainConfig(window=32, room_gate=0), as 0.4 spelt them
        if not isinstance(self.window, WindowConfig):
            deprecated("TrainConfig", f"window={self.window!r}", f"window=WindowConfig(length={self.window!r})")
            self.window = WindowConfig(length=self.window)
        if not isinstance(self.room_gate, RoomGateConfig):
            deprecated("TrainConfig", f"room_gate={self.room_gate!r}",
                       f"room_gate=RoomGateConfig(threshold={self.room_gate!r})")
            self.room_gate = RoomGateConfig(threshold=self.room_gate)

    def validate(self) -> "TrainConfig":
        w, gate = self.window, self.room_gate
        checks = [
            (self.optimizer in ("adamw", "sgd"), f"optimizer must be adamw or sgd, got {self.optimizer!r}"),
            (self.loss in ("ce", "focal"), f"loss must be ce or focal, got {self.loss!r}"),
            (self.class_weights in ("balanced", "none"), "class_weights must be balanced or none"),
            (self.sampler in ("shuffle", "balanced"), "sampler must be shuffle or balanced"),
            (w.length is None or w.length >= 4, "window.length must be at least 4 frames"),
            (w.mode in (None, "index", "time"), "window.mode must be index or time"),
            (self.split in SPLITS, f"split must be one of {', '.join(SPLITS)}"),
            (self.split != "holdout" or bool(self.holdout), "split holdout needs the held-out names (--holdout A,B)"),
            (self.group_by in GROUPINGS, f"group_by must be one of {', '.join(GROUPINGS)}"),
            (0.0 <= self.class_weight_power <= 2.0, "class_weight_power must be in [0, 2]"),
            (self.rare_class_min >= 0, "rare_class_min must be >= 0"),
            (0.0 <= self.prior_power <= 2.0, "prior_power must be in [0, 2]"),
            (gate.threshold is None or 0.0 <= gate.threshold <= 1.0, "room_gate.threshold must be in [0, 1]"),
            (not gate.threshold or room_gate_applies(self.model, w.background),
             "room_gate applies to CNNs on raw temperatures (background none; features and fusion use the "
             "trees everywhere): set room_gate.threshold=0"),
            (w.background is None or w.background in BACKGROUNDS,
             f"window.background must be one of {', '.join(BACKGROUNDS)}"),
            (gate.fallback is None or gate.fallback in BACKGROUNDS,
             f"room_gate.fallback must be one of {', '.join(BACKGROUNDS)}"),
            (gate.shape is None or gate.shape in BACKGROUNDS,
             f"room_gate.shape must be one of {', '.join(BACKGROUNDS)}"),
            (gate.measure in MEASURES, f"room_gate.measure must be one of {', '.join(MEASURES)}"),
            (self.background_class is None or (isinstance(self.background_class, str) and self.background_class.strip()),
             "background_class must be a class name (or null: no such class)"),
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
        w = self.window
        return WindowRule(length=w.length, mode=w.mode, fps=w.fps, background=w.background)


class LoadedConfig(NamedTuple):
    """A config as the user gave it, and the top-level settings they gave (a file or ``--set``): per-model
    recipes never override those (:func:`resolve_defaults`). ``cfg, given = load_config(...)``; its
    settings also read through it (``load_config(...).epochs``), as when ``load_config`` returned the
    config alone."""

    config: TrainConfig
    given: frozenset

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.config, name)


def room_gate_applies(model: str, background: str | None) -> bool:
    """The room gate (modeldir/parts/room_gate.py) reads the raw room and falls back on trees: it is for CNNs on
    raw temperatures (``model`` may be a training recipe or a fitted model's arch name)."""
    return background in (None, "none") and model not in ("features", "fusion")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> LoadedConfig:
    """Defaults, then a YAML file, then ``key=value`` overrides (dotted keys for nested fields): the config and
    the settings given."""
    given: set = set()
    cfg = load_settings(TrainConfig(), path, overrides, given).validate()
    return LoadedConfig(cfg, frozenset(given))


def read_saved(values: dict, where: str) -> TrainConfig:
    """A config saved by a run (``config.yaml``, a model's ``config.json`` ``training``), in any spelling
    actline wrote, read silently."""
    return apply(TrainConfig(), values, where, quiet=True)


def unpack(cfg: TrainConfig | LoadedConfig) -> LoadedConfig:
    """A :class:`LoadedConfig` of either (a bare config: nothing given)."""
    return cfg if isinstance(cfg, LoadedConfig) else LoadedConfig(cfg, frozenset())


# (window, mode, fps, background) by sensor size, chosen on tuning data only: docs/design-notes.md, "Windows"
SMALL_SENSOR_WINDOW = WindowConfig(16, "index", 10.0, "static-heat")
LARGE_SENSOR_WINDOW = WindowConfig(32, "time", 4.0, "none")


def resolve_defaults(cfg: TrainConfig | LoadedConfig, frame_shape: tuple[int, int] | None) -> TrainConfig:
    """A new config with what depends on the data and the model filled in, never overriding what the user set
    (``cfg`` is left as it is).

    The window: 16 consecutive frames for 16x16 sensors; for larger ones 8 s resampled by time at
    4 steps per second. A window length given without a mode counts consecutive frames. The
    background: static-heat for 16x16 sensors, none for larger ones. The room gate: on for CNNs on raw
    temperatures, with a static-heat fallback CNN and shape trees (docs/design-notes.md). Then the model's own recipe
    (a registry entry's ``default_recipe``, e.g. a gentler learning rate for SlowFast), for settings
    the user did not give."""
    from actline.models.registry import model_info

    cfg, given = unpack(cfg)
    cfg = copy.deepcopy(cfg)
    small = frame_shape is not None and max(frame_shape) <= 16
    default = SMALL_SENSOR_WINDOW if small else LARGE_SENSOR_WINDOW
    if cfg.window.length is not None and cfg.window.mode is None:  # a length given alone counts frames
        default = replace(default, length=cfg.window.length, mode="index", fps=10.0)
    cfg.window = WindowConfig(**{k: v if v is not None else getattr(default, k)
                                 for k, v in dataclasses.asdict(cfg.window).items()})
    gate = cfg.room_gate
    if gate.threshold is None:
        gate.threshold = DEFAULT_THRESHOLD if room_gate_applies(cfg.model, cfg.window.background) else 0.0
    if gate.fallback is None:
        gate.fallback = "static-heat" if gate.threshold else "none"
    if gate.shape is None:
        gate.shape = "static-heat" if gate.threshold else "none"
    name = cfg.fusion.cnn if cfg.model == "fusion" else cfg.model
    recipe = {} if name in NON_TORCH_MODELS else model_info(name).default_recipe
    return replace(cfg, **{key: value for key, value in recipe.items() if key not in given})
