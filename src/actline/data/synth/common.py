"""What both synthetic thermal presets share: classes, sensor constants, the configuration
(:class:`SynthConfig`, :data:`PRESETS`), boxes and the COCO writer.

The presets themselves live in :mod:`actline.data.synth.easy` ("easy") and
:mod:`actline.data.synth.realistic` ("realistic"); :mod:`actline.data.synth.thermal_set` writes either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from actline.data import coco

THERMAL_CLASSES = [
    "sitting",
    "standing",
    "walking",
    "lying down-lying with risk",
    "lying down-lying on the bed/couch",
    "leaning",
    "transition-normal transition",
    "transition-lying with risk transition",
    "transition-lying on the bed transition",
    "lower position-other",
    "lower position-kneeling",
    "lower position-bending",
    "lower position-crouching",
    "other",
]
SENTINEL_C = -273.2
CLIP_MAX_C = 45.0
BASE_MS = int(dt.datetime(2025, 6, 2, 8, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)

# The easy preset's share of time per steady state (imbalanced, "lying with risk" dominant).
DEFAULT_STATE_WEIGHTS = {
    "lying down-lying with risk": 0.45,
    "standing": 0.16,
    "walking": 0.12,
    "sitting": 0.05,
    "lying down-lying on the bed/couch": 0.05,
    "leaning": 0.05,
    "lower position-other": 0.04,
    "lower position-kneeling": 0.06,
    "lower position-bending": 0.05,
    "lower position-crouching": 0.03,
    "other": 0.05,
}

# Per-preset defaults of the SynthConfig fields left as None.
PRESETS = {
    "easy": {"n_recordings": 8, "duration_s": 150.0, "keyframe_every_s": 3.0, "fps_range": (6.0, 30.0)},
    "realistic": {"n_recordings": 12, "duration_s": 84.0, "keyframe_every_s": 1.45, "fps_range": (6.1, 31.0)},
}


@dataclass
class SynthConfig:
    """What to generate. ``None`` means the preset's default (see :data:`PRESETS`)."""

    n_recordings: int | None = None
    duration_s: float | None = None  # seconds per recording (realistic: the median; each varies by a few s)
    seed: int = 0
    height: int = 40
    width: int = 60
    keyframe_every_s: float | None = None
    val_fraction: float = 0.19  # the earlier system's random keyframe split (73 of 387)
    fps_range: tuple[float, float] | None = None  # the sensors' own frame rates (realistic: inside bursts)
    state_weights: dict[str, float] | None = None  # easy only: share of time per steady state
    preset: str = "easy"  # "easy" | "realistic"
    n_locations: int | None = None  # realistic only: rooms (default: one per 2.5 recordings, rounded up)
    # realistic only: instead of the data set, one calibration recording per location named here (all, if
    # empty) of the data set these settings describe: the same rooms and sensors
    calibration: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r} (choose from {', '.join(PRESETS)})")
        for k, v in PRESETS[self.preset].items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        if self.preset == "easy":
            self.state_weights = dict(DEFAULT_STATE_WEIGHTS) if self.state_weights is None else self.state_weights
            if self.n_locations is not None or self.calibration is not None:
                raise ValueError("n_locations and calibration apply to the realistic preset only")
        elif self.state_weights is not None:
            raise ValueError("state_weights applies to the easy preset only (the realistic one draws room scenarios)")
        elif min(self.height, self.width) < 30:
            raise ValueError("the realistic preset draws rooms and bodies in pixels of a 40x60 sensor: "
                             "height and width must be at least 30")
        if self.n_recordings < 1:
            raise ValueError("n_recordings must be >= 1")
        if self.duration_s < 10:
            raise ValueError("duration_s must be >= 10 seconds")
        if self.n_locations is not None and not 1 <= self.n_locations <= self.n_recordings:
            raise ValueError("n_locations must be between 1 and n_recordings")
        unknown = set(self.state_weights or ()) - set(THERMAL_CLASSES)
        if unknown:
            raise ValueError(f"unknown classes in state_weights: {sorted(unknown)}")


def centre_box(y0: float, y1: float, x0: float, x1: float, h: int, w: int,
               flip: tuple[bool, bool] = (False, False)) -> list[float]:
    """ThermalDataGen box ``[centre x, centre y, width, height]`` normalised to 0-1, from pixel
    extents in room coordinates (clipped to the frame), after the sensor's flips (rows, columns)."""
    y0, y1 = max(y0, 0), min(y1, h)
    x0, x1 = max(x0, 0), min(x1, w)
    if flip[0]:
        y0, y1 = h - y1, h - y0
    if flip[1]:
        x0, x1 = w - x1, w - x0
    return [round((x0 + x1) / 2 / w, 4), round((y0 + y1) / 2 / h, 4), round((x1 - x0) / w, 4), round((y1 - y0) / h, 4)]


def image_entry(sensor_id: str, mac: str, ts_ms: int, idx: int, h: int, w: int) -> dict:
    return coco.image_entry(sensor_id, ts_ms, idx, h, w, mac=mac)


def annotation_entry(n: int, image_id: str, bbox: list[float], label: str, obj_id: int, obscured: str = "0%") -> dict:
    return coco.annotation_entry(n, image_id, bbox, label, THERMAL_CLASSES.index(label), obj_id, obscured)


def mac_address(rng: np.random.Generator) -> str:
    return ":".join(f"{b:02x}" for b in rng.integers(0, 256, size=6))


def write_annotations(ann_dir: Path, images: list[dict], annotations: list[dict], cfg, root_rng: np.random.Generator,
                      generator: str) -> None:
    """train.json / val.json (a random keyframe split, blind to recordings: the earlier system's
    protocol, ``cfg.val_fraction`` of the keyframes) and class_mapping.json."""
    val_ids = set(root_rng.choice([im["id"] for im in images], size=max(1, round(len(images) * cfg.val_fraction)),
                                  replace=False).tolist())
    info = {"description": "actline synthetic thermal data", "generator": generator,
            "config": _jsonable(asdict(cfg)), "date_created": dt.datetime.now(dt.timezone.utc).isoformat()}
    for subset, keep in (("train", lambda i: i not in val_ids), ("val", lambda i: i in val_ids)):
        imgs = [im for im in images if keep(im["id"])]
        ids = {im["id"] for im in imgs}
        coco.write_coco(ann_dir / f"{subset}.json", imgs, [a for a in annotations if a["image_id"] in ids],
                        THERMAL_CLASSES, info)
    coco.write_class_mapping(ann_dir / "class_mapping.json", THERMAL_CLASSES)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
