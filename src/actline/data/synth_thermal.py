"""Synthetic thermal recordings written in the ThermalDataGen format (frames/*.h5 + COCO keyframes).

Two presets, chosen with ``SynthConfig(preset=...)`` and written by :func:`generate_thermal_dataset`::

    generate_thermal_dataset(out, SynthConfig(seed=3))                        # "easy" (the default)
    generate_thermal_dataset(out, SynthConfig(preset="realistic", seed=101))  # like real recordings

- ``"easy"`` (this module): fast and forgiving, for tests. Warm bodies (anisotropic Gaussian blobs)
  on a cooler, slightly uneven floor perform the 14 classes over time with plausible motion:
  walking paths, sitting on chairs, lying on a (slightly warm) bed or on the floor, falls as fast
  transitions. Each recording has its own room, sensor placement (height -> body size, mirror
  and flip), temperature range, noise level, frame rate with jitter and gaps, and some have
  dead-pixel sentinel bands (-273.2 °C) or a heater that clips at 45.0 °C. Defaults: 8 recordings
  of 150 s, a keyframe every 3 s.
- ``"realistic"`` (:mod:`actline.data.synth_realistic`): reproduces the measured properties of real
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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir
from actline.data.synth_common import (
    BASE_MS,
    CLIP_MAX_C,
    PRESETS,
    SENTINEL_C,
    THERMAL_CLASSES,
    SynthConfig,
    annotation_entry,
    centre_box,
    image_entry,
    mac_address,
    write_annotations,
)
from actline.data.synth_realistic import generate_realistic_dataset
from actline.data.thermal_h5 import write_recording_h5

__all__ = ["THERMAL_CLASSES", "SENTINEL_C", "CLIP_MAX_C", "PRESETS", "SynthConfig", "generate_thermal_dataset",
           "simulate_recording"]

# Body shape seen from above: (major, minor) semi-axes in pixels at nominal height, and
# temperature contrast over the floor in °C (a standing head is nearer the sensor: warmer).
POSE = {
    "standing": (2.4, 2.1, 8.0),
    "walking": (3.0, 2.1, 7.5),
    "sitting": (3.4, 2.8, 6.5),
    "lying down-lying with risk": (7.0, 2.4, 4.5),
    "lying down-lying on the bed/couch": (7.0, 2.5, 5.0),
    "leaning": (4.2, 2.2, 7.0),
    "lower position-other": (3.2, 3.0, 6.0),
    "lower position-kneeling": (3.9, 2.4, 6.0),
    "lower position-bending": (4.6, 2.5, 7.0),
    "lower position-crouching": (2.8, 2.6, 5.5),
    "other": (3.5, 2.5, 6.0),
}


@dataclass
class _Body:
    x: float
    y: float
    major: float
    minor: float
    angle: float
    contrast: float


def _schedule(rng: np.random.Generator, cfg: SynthConfig) -> list[tuple[str, float, float]]:
    """A sequence of (class, start_s, end_s): steady states joined by the transitions they need."""
    states = list(cfg.state_weights)
    p = np.array([cfg.state_weights[s] for s in states], dtype=float)
    p /= p.sum()
    out, t, prev = [], 0.0, "standing"
    while t < cfg.duration_s:
        state = states[rng.choice(len(states), p=p)]
        if state == prev and state != "walking":
            continue
        trans = None
        if state == "lying down-lying with risk":
            trans = ("transition-lying with risk transition", rng.uniform(1.0, 2.0))  # a fall is fast
        elif state == "lying down-lying on the bed/couch":
            trans = ("transition-lying on the bed transition", rng.uniform(2.5, 4.5))
        elif prev in ("standing", "walking") and state in ("sitting", "lower position-kneeling",
                                                           "lower position-crouching") or \
                prev in ("sitting", "lying down-lying on the bed/couch") and state in ("standing", "walking"):
            trans = ("transition-normal transition", rng.uniform(2.0, 4.0))
        if trans:
            out.append((trans[0], t, t + trans[1]))
            t += trans[1]
        dur = rng.uniform(6.0, 20.0) if state != "lying down-lying with risk" else rng.uniform(10.0, 30.0)
        out.append((state, t, min(t + dur, cfg.duration_s)))
        t += dur
        prev = state
    return [seg for seg in out if seg[2] - seg[1] > 0.5]


class _Room:
    def __init__(self, rng: np.random.Generator, cfg: SynthConfig):
        h, w = cfg.height, cfg.width
        self.h, self.w = h, w
        self.floor_c = rng.uniform(18.0, 27.0)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.yy, self.xx = yy, xx
        tilt = rng.normal(0, 1.0, size=2)
        self.background = (self.floor_c + tilt[0] * (yy / h - 0.5) + tilt[1] * (xx / w - 0.5)).astype(np.float32)
        bh, bw = int(rng.integers(9, 13)), int(rng.integers(18, 24))
        by, bx = int(rng.integers(1, h - bh - 1)), int(rng.integers(1, w - bw - 1))
        self.bed = (by, bx, bh, bw)
        self.background[by:by + bh, bx:bx + bw] += 1.0  # a bed keeps some warmth
        self.chairs = [(float(rng.uniform(5, h - 5)), float(rng.uniform(5, w - 5))) for _ in range(2)]
        self.heater = None
        if rng.random() < 0.35:  # a radiator hot enough to clip the sensor at 45 °C
            hy, hx = int(rng.integers(0, h - 3)), int(rng.choice([0, w - 3]))
            self.heater = (hy, hx)
        self.scale = rng.uniform(0.8, 1.25)  # sensor height: body size in pixels
        self.contrast = rng.uniform(0.75, 1.25)  # clothing, room temperature
        self.noise = rng.uniform(0.1, 0.35)
        self.flip = (bool(rng.random() < 0.5), bool(rng.random() < 0.5))

    def inside(self, y: float, x: float, margin: float = 3.0) -> tuple[float, float]:
        return float(np.clip(y, margin, self.h - margin)), float(np.clip(x, margin, self.w - margin))

    def render(self, bodies: list[_Body], rng: np.random.Generator) -> np.ndarray:
        img = self.background.copy()
        for b in bodies:
            c, s = np.cos(b.angle), np.sin(b.angle)
            dy, dx = self.yy - b.y, self.xx - b.x
            u = (dx * c + dy * s) / (b.major * self.scale)
            v = (-dx * s + dy * c) / (b.minor * self.scale)
            img += b.contrast * self.contrast * np.exp(-0.5 * (u * u + v * v) * 2.2)
        if self.heater:
            hy, hx = self.heater
            img[hy:hy + 3, hx:hx + 3] = 52.0
        img += rng.normal(0.0, self.noise, size=img.shape).astype(np.float32)
        if self.flip[0]:
            img = img[::-1]
        if self.flip[1]:
            img = img[:, ::-1]
        return np.minimum(img, CLIP_MAX_C)

    def bbox(self, b: _Body) -> list[float]:
        """Normalised ThermalDataGen box [centre x, centre y, w, h] around a body, after the sensor flips."""
        ext = 2.0 * max(b.major, b.minor) * self.scale
        ry = abs(np.sin(b.angle)) * ext + abs(np.cos(b.angle)) * b.minor * 2 * self.scale
        rx = abs(np.cos(b.angle)) * ext + abs(np.sin(b.angle)) * b.minor * 2 * self.scale
        return centre_box(b.y - ry / 2, b.y + ry / 2, b.x - rx / 2, b.x + rx / 2, self.h, self.w, self.flip)


def _pose_at(state: str, t: float, pos: tuple[float, float], angle: float, room: _Room,
             rng_phase: float) -> _Body:
    major, minor, contrast = POSE[state]
    y, x = pos
    if state in ("lower position-bending", "leaning"):
        major += 0.6 * np.sin(2 * np.pi * 0.3 * t + rng_phase)
    elif state == "lower position-other":
        y += 1.5 * np.sin(2 * np.pi * 0.2 * t + rng_phase)
        x += 1.5 * np.cos(2 * np.pi * 0.13 * t + rng_phase)
    elif state == "other":
        major += 1.0 * np.sin(2 * np.pi * 0.5 * t + rng_phase)
        angle += 0.8 * np.sin(2 * np.pi * 0.07 * t)
    elif state == "walking":
        minor += 0.25 * np.sin(2 * np.pi * 1.8 * t)  # stride
    return _Body(x, y, major, minor, angle, contrast)


def _lerp_body(a: _Body, b: _Body, f: float) -> _Body:
    f = float(np.clip(f, 0, 1))
    f = f * f * (3 - 2 * f)  # smooth step
    da = (b.angle - a.angle + np.pi / 2) % np.pi - np.pi / 2  # ellipses are symmetric under pi
    return _Body(*(getattr(a, k) + f * (getattr(b, k) - getattr(a, k)) for k in ("x", "y", "major", "minor")),
                 a.angle + f * da, a.contrast + f * (b.contrast - a.contrast))


def _timestamps(rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    fps = rng.uniform(*cfg.fps_range)
    n_max = int(cfg.duration_s * fps * 1.2) + 10
    dt_s = (1.0 / fps) * rng.lognormal(0.0, 0.15, size=n_max)
    gaps = rng.random(n_max) < 0.004
    dt_s[gaps] += rng.uniform(1.0, 5.0, size=int(gaps.sum()))  # dropped frames, network hiccups
    t = np.concatenate([[0.0], np.cumsum(dt_s)])
    return t[t < cfg.duration_s]


def simulate_recording(rng: np.random.Generator, cfg: SynthConfig):
    """(frames [N,H,W], times [N] s, frame-wise class [N], schedule, bodies per frame)."""
    room = _Room(rng, cfg)
    sched = _schedule(rng, cfg)
    times = _timestamps(rng, cfg)
    # Where each steady state happens and which way the body points.
    anchors = []
    pos = room.inside(rng.uniform(0, cfg.height), rng.uniform(0, cfg.width))
    for state, t0, t1 in sched:
        if state.startswith("transition"):
            anchors.append(None)
            continue
        if state == "lying down-lying on the bed/couch":
            by, bx, bh, bw = room.bed
            pos, angle = (by + bh / 2, bx + bw / 2), 0.0
        elif state == "sitting":
            pos, angle = room.chairs[int(rng.integers(len(room.chairs)))], rng.uniform(0, np.pi)
        elif state == "leaning":
            side = int(rng.integers(4))
            pos = room.inside(*[(3, rng.uniform(0, cfg.width)), (cfg.height - 3, rng.uniform(0, cfg.width)),
                                (rng.uniform(0, cfg.height), 3), (rng.uniform(0, cfg.height), cfg.width - 3)][side])
            angle = 0.0 if side < 2 else np.pi / 2
        elif state == "walking":
            angle = 0.0
        else:
            # stays near where the previous state ended: people fall or kneel where they stand
            pos = room.inside(pos[0] + rng.normal(0, 2), pos[1] + rng.normal(0, 2), margin=6)
            angle = rng.uniform(0, np.pi)
        anchors.append((pos, angle, rng.uniform(0, 2 * np.pi)))
    # Walking paths: piecewise-linear towards random targets at ~5 px/s.
    walk_paths = {}
    for i, (state, t0, t1) in enumerate(sched):
        if state != "walking":
            continue
        start = anchors[i][0]
        pts, ts_, cur, tc = [start], [t0], start, t0
        while tc < t1:
            tgt = room.inside(rng.uniform(0, cfg.height), rng.uniform(0, cfg.width), margin=4)
            d = float(np.hypot(tgt[0] - cur[0], tgt[1] - cur[1]))
            tc += max(d / rng.uniform(4.0, 7.0), 0.5)
            pts.append(tgt)
            ts_.append(tc)
            cur = tgt
        walk_paths[i] = (np.array(ts_), np.array(pts))
    seg_starts = np.array([s[1] for s in sched])

    def body_at(i: int, t: float) -> _Body:
        state, t0, t1 = sched[i]
        if state.startswith("transition"):
            a = body_at(i - 1, t0) if i > 0 else _Body(cfg.width / 2, cfg.height / 2, *POSE["standing"][:2], 0.0,
                                                        POSE["standing"][2])
            b = body_at(i + 1, t1) if i + 1 < len(sched) else a
            return _lerp_body(a, b, (t - t0) / max(t1 - t0, 1e-6))
        pos, angle, phase = anchors[i]
        if state == "walking":
            pts_t, pts = walk_paths[i]
            y = float(np.interp(t, pts_t, pts[:, 0]))
            x = float(np.interp(t, pts_t, pts[:, 1]))
            k = min(int(np.searchsorted(pts_t, t, side="right")), len(pts) - 1)
            k = max(k, 1)
            angle = float(np.arctan2(pts[k, 0] - pts[k - 1, 0], pts[k, 1] - pts[k - 1, 1]))
            pos = (y, x)
        return _pose_at(state, t, pos, angle, room, phase)

    classes = np.empty(len(times), dtype=np.int64)
    frames = np.empty((len(times), cfg.height, cfg.width), dtype=np.float32)
    bodies = []
    visitor_on = rng.random() < 0.5  # a second person (carer) walks through now and then
    for n, t in enumerate(times):
        i = max(int(np.searchsorted(seg_starts, t, side="right")) - 1, 0)
        main = body_at(i, float(t))
        frame_bodies = [(main, sched[i][0])]
        if visitor_on and (t % 60.0) < 4.0:
            f = (t % 60.0) / 4.0
            visitor = _Body(-3 + f * (cfg.width + 6), cfg.height * 0.15, *POSE["walking"][:2], 0.0, POSE["walking"][2])
            frame_bodies.append((visitor, "walking"))
        frames[n] = room.render([b for b, _ in frame_bodies], rng)
        classes[n] = THERMAL_CLASSES.index(sched[i][0])
        bodies.append(frame_bodies)
    # Dead-pixel sentinel bands in 10-25 % of frames of some recordings.
    if rng.random() < 0.4:
        hit = rng.random(len(frames)) < rng.uniform(0.10, 0.25)
        for n in np.flatnonzero(hit):
            if rng.random() < 0.5:
                r0 = int(rng.integers(0, cfg.height - 2))
                frames[n, r0:r0 + int(rng.integers(1, 4))] = SENTINEL_C
            else:
                c0 = int(rng.integers(0, cfg.width - 2))
                frames[n, :, c0:c0 + int(rng.integers(1, 4))] = SENTINEL_C
    return frames, times, classes, sched, bodies, room


def generate_thermal_dataset(out: str | Path, cfg: SynthConfig | None = None, overwrite: bool = False) -> Path:
    """Write a synthetic ThermalDataGen directory at ``out`` (atomically) and return its path.

    ``cfg.preset`` picks the generator: "easy" (this module) or "realistic" (synth_realistic).
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
            rng = np.random.default_rng([cfg.seed, r])
            frames, times, classes, sched, bodies, room = simulate_recording(rng, cfg)
            sensor_id = f"TS{cfg.seed % 100:02d}{r:03d}"
            mac = mac_address(rng)
            ts_ms = BASE_MS + r * 86_400_000 + np.round(times * 1000).astype(np.int64)
            write_recording_h5(tmp / "frames" / f"{sensor_id}.h5", frames, ts_ms, sensor_id, mac)
            # Keyframes: every ~keyframe_every_s inside steady states and transitions.
            for state, t0, t1 in sched:
                n_k = max(int((t1 - t0) // cfg.keyframe_every_s), 1 if t1 - t0 > 1.0 else 0)
                for k in range(n_k):
                    t = t0 + (k + 0.5) * (t1 - t0) / n_k + rng.uniform(-0.2, 0.2)
                    idx = int(np.clip(np.searchsorted(times, t), 0, len(times) - 1))
                    image = image_entry(sensor_id, mac, int(ts_ms[idx]), idx, cfg.height, cfg.width)
                    if images and images[-1]["id"] == image["id"]:
                        continue
                    images.append(image)
                    for obj_id, (body, label) in enumerate(bodies[idx]):
                        annotations.append(annotation_entry(len(annotations) + 1, image["id"], room.bbox(body), label,
                                                            obj_id))
        write_annotations(tmp / "annotations", images, annotations, cfg, root_rng, "actline.data.synth_thermal")
    return out
