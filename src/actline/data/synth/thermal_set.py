"""Synthetic thermal recordings written in the ThermalDataGen format (frames/*.h5 + COCO keyframes).

Two presets, chosen with ``SynthConfig(preset=...)`` and written by :func:`generate_thermal_dataset`::

    generate_thermal_dataset(out, SynthConfig(seed=3))                        # "easy" (the default)
    generate_thermal_dataset(out, SynthConfig(preset="realistic", seed=101))  # like real recordings

- ``"easy"`` (:mod:`actline.data.synth.easy`, its scene :mod:`actline.data.synth.easy_room`): fast
  and forgiving, for tests. Warm bodies (anisotropic Gaussian blobs) on a cooler, slightly uneven
  floor perform the 14 classes over time with plausible motion: walking paths, sitting on chairs,
  lying on a (slightly warm) bed or on the floor, falls as fast transitions. Each recording has
  its own room, sensor placement (height -> body size, mirror and flip), temperature range, noise
  level, frame rate with jitter and gaps, and some have dead-pixel sentinel bands (-273.2 °C) or a
  heater that clips at 45.0 °C. Defaults: 8 recordings of 150 s, a keyframe every 3 s.
- ``"realistic"`` (:mod:`actline.data.synth.realistic`): reproduces the measured properties of real
  40x60 ceiling recordings (``thermal-40x60-facts.md``): ~84 s and ~500 frames per recording
  arriving in bursts with gaps, ~18 °C floors, hot furniture, 50-100-pixel people, sentinels,
  two orders of magnitude of class imbalance, and rooms (``<LOCATION>_R<k>`` sensor ids) that
  are each nearly one scenario. Defaults: 12 recordings from 5 locations, a keyframe every ~1.45 s.

Settings left as ``None`` take the preset's default (:data:`PRESETS`); any other value overrides
it. ``state_weights`` only applies to "easy" (the realistic preset draws each room's scenario);
``n_locations`` only to "realistic". Both presets are deterministic for a seed, and both write
``bbox`` as ``[centre x, centre y, width, height]`` normalised to 0-1 (the ThermalDataGen convention).

The output directory is indistinguishable, to the reader, from a real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir
from actline.data.synth.common import (
    CLIP_MAX_C,
    PRESETS,
    SENTINEL_C,
    THERMAL_CLASSES,
    SynthConfig,
    write_annotations,
)
from actline.data.synth.easy import simulate_recording, write_easy_recording
from actline.data.synth.realistic import generate_realistic_dataset

__all__ = ["THERMAL_CLASSES", "SENTINEL_C", "CLIP_MAX_C", "PRESETS", "SynthConfig", "generate_thermal_dataset",
           "simulate_recording"]


def generate_thermal_dataset(out: str | Path, cfg: SynthConfig | None = None, overwrite: bool = False) -> Path:
    """Write a synthetic ThermalDataGen directory at ``out`` (atomically) and return its path.

    ``cfg.preset`` picks the generator: "easy" (synth_easy) or "realistic" (synth_realistic).
    """
    cfg = cfg or SynthConfig()
    if cfg.preset == "realistic":
        return generate_realistic_dataset(out, cfg, overwrite=overwrite)
    out = Path(out)
    root_rng = np.random.default_rng(cfg.seed)
    images, annotations = [], []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / "frames").mkdir()
        (tmp / "annotations").mkdir()
        for r in range(cfg.n_recordings):
            write_easy_recording(tmp / "frames", cfg, r, images, annotations)
        # the generator named in the annotations' info stays this module: the file format is unchanged
        write_annotations(tmp / "annotations", images, annotations, cfg, root_rng, "actline.data.synth.thermal_set")
    return out
