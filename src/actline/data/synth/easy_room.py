"""The "easy" synthetic preset's scene: a room seen by a ceiling sensor, and the bodies in it.

A room (:class:`EasyRoom`) has a cooler, slightly uneven floor, a (slightly warm) bed, two chairs,
sometimes a heater that clips the sensor at 45 °C, and its own sensor placement (height -> body
size, mirror and flip), contrast and noise. A person seen from above is a warm anisotropic
Gaussian blob (:class:`Body`) whose shape follows the posture (:data:`POSE`, :func:`pose_at`).
What the person does over time is :mod:`actline.data.synth.easy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actline.data.synth.common import CLIP_MAX_C, SynthConfig, centre_box

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
class Body:
    x: float
    y: float
    major: float
    minor: float
    angle: float
    contrast: float


class EasyRoom:
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

    def render(self, bodies: list[Body], rng: np.random.Generator) -> np.ndarray:
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

    def bbox(self, b: Body) -> list[float]:
        """Normalised ThermalDataGen box [centre x, centre y, w, h] around a body, after the sensor flips."""
        ext = 2.0 * max(b.major, b.minor) * self.scale
        ry = abs(np.sin(b.angle)) * ext + abs(np.cos(b.angle)) * b.minor * 2 * self.scale
        rx = abs(np.cos(b.angle)) * ext + abs(np.sin(b.angle)) * b.minor * 2 * self.scale
        return centre_box(b.y - ry / 2, b.y + ry / 2, b.x - rx / 2, b.x + rx / 2, self.h, self.w, self.flip)


def pose_at(state: str, t: float, pos: tuple[float, float], angle: float, rng_phase: float) -> Body:
    """The body of a steady ``state`` at time ``t`` (s): the posture's shape, with its typical motion."""
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
    return Body(x, y, major, minor, angle, contrast)


def lerp_body(a: Body, b: Body, f: float) -> Body:
    """The body a fraction ``f`` of the way from ``a`` to ``b`` (a smooth step: transitions ease in and out)."""
    f = float(np.clip(f, 0, 1))
    f = f * f * (3 - 2 * f)  # smooth step
    da = (b.angle - a.angle + np.pi / 2) % np.pi - np.pi / 2  # ellipses are symmetric under pi
    return Body(*(getattr(a, k) + f * (getattr(b, k) - getattr(a, k)) for k in ("x", "y", "major", "minor")),
                a.angle + f * da, a.contrast + f * (b.contrast - a.contrast))


def upright_body(x: float, y: float, state: str = "standing") -> Body:
    """An upright body (``standing`` or ``walking`` shape) at (x, y), pointing along x."""
    return Body(x, y, *POSE[state][:2], 0.0, POSE[state][2])
