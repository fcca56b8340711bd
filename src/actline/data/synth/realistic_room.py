"""Rooms, people and the sensor of the realistic synthetic preset (driven by :mod:`.realistic`).

A :class:`Room` is one location: its floor temperature, furniture (a bed keeps warmth, a table
hides what is under it), hot objects far warmer than a person (lamps, heaters, screens: small, a few
pixels each), the sensor's placement (height -> body size in pixels, mirroring), its noise and its
flaky pixels. A :class:`SensorUnit` is one physical sensor, moved from room to room: its optics
darken the image towards the corners and its pixels carry fixed offsets of their own. Real rooms seen
by such sensors look alike by their empty-room fingerprints (nearest other-room similarity 0.57-0.96,
median 0.86), because the sensor's own pattern outweighs what differs between rooms; rooms of the
preset do too.
A person seen from the ceiling is three soft-edged warm parts (head, torso, legs) whose layout
depends on the posture; :func:`render` draws a whole recording at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actline.data.synth.common import CLIP_MAX_C, SENTINEL_C, centre_box

# Head, torso, legs as (offset along the body axis, semi-axis along, semi-axis across, °C over
# the floor), in pixels at the nominal sensor height. Postures overlap on purpose: seen from
# above, sitting, kneeling and standing differ by a few pixels of length.
POSES = {
    "standing": ((0.0, 1.8, 1.6, 8.2), (0.3, 4.1, 3.2, 4.6), (0.2, 2.2, 2.0, 3.4)),
    "walking": ((0.0, 1.8, 1.6, 8.0), (0.3, 4.1, 3.1, 4.5), (0.6, 2.6, 2.1, 3.4)),
    "sitting": ((-2.0, 1.7, 1.5, 8.0), (-0.8, 3.6, 2.9, 4.6), (2.8, 3.0, 2.2, 3.6)),
    "lying down-lying with risk": ((-5.8, 1.7, 1.5, 8.0), (-2.0, 3.6, 2.4, 4.6), (3.6, 3.6, 2.0, 3.6)),
    "lying down-lying on the bed/couch": ((-5.8, 1.7, 1.5, 7.8), (-2.0, 3.6, 2.6, 3.0), (3.6, 3.6, 2.2, 2.4)),
    "lower position-kneeling": ((-1.4, 1.7, 1.6, 8.0), (-0.6, 3.5, 2.9, 4.6), (3.0, 2.6, 2.1, 3.4)),
    "lower position-crouching": ((-0.4, 1.8, 1.6, 7.9), (0.0, 3.6, 3.3, 4.6), (0.9, 2.4, 2.3, 3.5)),
    "lower position-bending": ((-3.0, 1.7, 1.5, 7.9), (-1.0, 4.1, 2.8, 4.6), (0.8, 2.2, 2.0, 3.4)),
    "lower position-other": ((-1.8, 1.7, 1.5, 7.9), (-0.6, 3.5, 2.8, 4.5), (3.4, 3.4, 2.2, 3.6)),
    "leaning": ((-1.0, 1.8, 1.6, 8.0), (0.0, 3.8, 2.9, 4.6), (1.0, 2.2, 2.0, 3.4)),
    "other": ((-1.0, 1.8, 1.6, 7.9), (0.0, 3.7, 2.9, 4.5), (1.0, 2.6, 2.2, 3.4)),
}
EDGE = 0.18  # softness of a part's edge, in units of its radius


@dataclass
class HotObject:
    y: int
    x: int
    kind: str  # "lamp", "heater", "screen"
    delta_c: float  # hottest pixel over the floor
    switches: bool  # may be off for part of a recording


class SensorUnit:
    """One physical sensor: what it adds to every frame, whichever room it looks at ([H, W] °C, in the
    sensor's own pixel order): the optics' fall-off towards the corners and fixed per-pixel and
    per-column offsets."""

    def __init__(self, rng: np.random.Generator, h: int, w: int):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((yy - (h - 1) / 2) / (h / 2)) ** 2 + ((xx - (w - 1) / 2) / (w / 2)) ** 2  # 0 centre, 2 corners
        self.falloff_c = float(rng.uniform(VIGNETTE_C[0], VIGNETTE_C[1]))  # centre to corner
        self.pattern = (-self.falloff_c * (r2 / 2) ** 3 + rng.normal(0, 0.12, size=(1, w)) + rng.normal(0, 0.1, size=(h, 1))
                        + rng.normal(0, 0.15, size=(h, w))).astype(np.float32)
        self.pattern -= np.median(self.pattern)  # the floor reads its own temperature at the image's median


# how much colder a corner pixel reads than the centre; the fall-off is steep, so the middle of an edge reads
# only an eighth of it colder. Calibrated so that the preset's rooms are as alike as real ones by their
# empty-room fingerprints, while the person's size and warmth over the floor keep their measured values.
VIGNETTE_C = (8.0, 11.0)


class Room:
    """One location. Each recording there gets :meth:`background` with small changes of its own."""

    def __init__(self, rng: np.random.Generator, h: int, w: int, scenario: str, sensor: SensorUnit | None = None):
        self.h, self.w, self.scenario, self.sensor = h, w, scenario, sensor
        self.floor_c = float(np.clip(rng.normal(18.0, 0.55), 16.5, 19.5))
        self.warm = rng.uniform(0.93, 1.07)  # clothing, how warm the room keeps people
        self.scale = rng.uniform(0.94, 1.1)  # sensor height -> body size
        self.flip = (bool(rng.random() < 0.5), bool(rng.random() < 0.5))
        self.noise = rng.uniform(0.155, 0.185)  # plus heavy tails: ~0.21 °C robust sd in all
        vertical = rng.random() < 0.5  # which way the bed lies in the image
        bh, bw = (int(rng.integers(18, 22)), int(rng.integers(10, 13))) if vertical else \
            (int(rng.integers(10, 13)), int(rng.integers(19, 24)))
        self.bed = (int(rng.integers(1, h - bh - 1)), int(rng.integers(1, w - bw - 1)), bh, bw)
        self.bed_warm = rng.uniform(0.2, 0.6)
        self.table = None
        if rng.random() < 0.6:
            th, tw = int(rng.integers(5, 9)), int(rng.integers(7, 12))
            self.table = (int(rng.integers(2, h - th - 2)), int(rng.integers(2, w - tw - 2)), th, tw)
        self.hot = [self._hot_object(rng, first=i == 0) for i in range(int(rng.integers(1, 4)))]
        self.seats = [self.free_spot(rng, 6) for _ in range(2)]
        if self.table is not None:  # a chair at the table: who sits there is partly hidden
            ty, tx, th, tw = self.table
            self.seats[1] = (ty + th + 1.0, tx + tw / 2) if ty + th + 4 < h else (ty - 1.0, tx + tw / 2)
        self.dead = rng.integers(0, [h, w], size=(int(rng.integers(1, 5)), 2))  # flaky pixels of this sensor
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.yy, self.xx = yy, xx
        self.fixed = (rng.normal(0, 0.06, size=(h, w)) + rng.normal(0, 0.25) * (yy / h - 0.5)
                      + rng.normal(0, 0.25) * (xx / w - 0.5) - 0.3 * ((yy / h - 0.5) ** 2 + (xx / w - 0.5) ** 2))
        if rng.random() < 0.5:  # a window or an outside wall: a cold band along one edge
            band = int(rng.integers(2, 5))
            edge = int(rng.integers(4))
            sl = [np.s_[:band, :], np.s_[-band:, :], np.s_[:, :band], np.s_[:, -band:]][edge]
            self.fixed[sl] -= rng.uniform(0.8, 2.2)

    def free_spot(self, rng, margin: float) -> tuple[float, float]:
        """A random place on the floor, clear of the bed and of hot objects (where nobody stands)."""
        by, bx, bh, bw = self.bed
        for _ in range(50):
            y, x = rng.uniform(margin, self.h - margin), rng.uniform(margin, self.w - margin)
            near_hot = any(o.y - 4 < y < o.y + 7 and o.x - 4 < x < o.x + 12 for o in self.hot)
            if not (by - 3 < y < by + bh + 3 and bx - 3 < x < bx + bw + 3) and not near_hot:
                break
        return float(y), float(x)

    def _hot_object(self, rng, first: bool) -> HotObject:
        kind = str(rng.choice(["lamp", "heater", "screen"]))
        by, bx, bh, bw = self.bed
        for _ in range(20):  # not on the bed
            y, x = int(rng.integers(0, self.h - 3)), int(rng.integers(0, self.w - 8))
            if kind == "heater":  # along a wall
                y = int(rng.choice([0, self.h - 3]))
            if not (by - 3 < y < by + bh and bx - 8 < x < bx + bw):
                break
        delta = rng.uniform(10.5, 20.0) if first else rng.uniform(4.0, 12.0)
        return HotObject(y, x, kind, float(delta), switches=bool(rng.random() < 0.2))

    def lying_spot(self, rng) -> tuple[float, float, float]:
        """Where one lies on the bed: centre and angle along the bed (head at either end)."""
        by, bx, bh, bw = self.bed
        along = 0.5 * np.pi if bh > bw else 0.0
        return by + bh / 2 + rng.normal(0, 0.6), bx + bw / 2 + rng.normal(0, 0.6), along + np.pi * (rng.random() < 0.3)

    def on_bed(self, y: float, x: float) -> bool:
        by, bx, bh, bw = self.bed
        return by <= y <= by + bh and bx <= x <= bx + bw

    def background(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Static image [H, W] and per-frame hot-object layer [N, H, W] of one recording, °C."""
        floor = self.floor_c + rng.normal(0, 0.25)
        img = (floor + self.fixed).astype(np.float32)
        by, bx, bh, bw = self.bed
        img[by:by + bh, bx:bx + bw] += self.bed_warm
        if self.scenario == "bed":  # where someone lay all night: a warm imprint even when empty
            cy, cx, ang = self.lying_spot(rng)
            u = ((self.xx - cx) * np.cos(ang) + (self.yy - cy) * np.sin(ang)) / 7.0
            v = (-(self.xx - cx) * np.sin(ang) + (self.yy - cy) * np.cos(ang)) / 3.0
            img += rng.uniform(0.1, 0.3) * np.exp(-(u * u + v * v) ** 2)
        if self.table is not None:
            ty, tx, th, tw = self.table
            img[ty:ty + th, tx:tx + tw] = floor + 0.3
        hot = np.zeros((n, self.h, self.w), dtype=np.float32)
        for obj in self.hot:
            on = np.ones(n, dtype=np.float32)
            if obj.switches:
                k0 = int(rng.integers(0, n))
                on[k0:k0 + int(rng.integers(n // 4, n))] = rng.uniform(0.1, 0.4)
            flicker = 1.0 + rng.normal(0, 0.01, size=n) + (0.03 * np.sin(np.arange(n) / 7.0) if obj.kind == "screen" else 0)
            patch = hot[:, obj.y:obj.y + 3, obj.x:obj.x + 8]
            np.maximum(patch, (on * flicker)[:, None, None] * _shape(obj)[None], out=patch)
        return img, hot


def _shape(obj: HotObject) -> np.ndarray:
    """A 3x8 patch: the object's temperature over the floor. Hot objects are small: a lamp or a screen's
    glowing corner is one hot pixel with the optics' halo around it, a heater a short line."""
    s = np.zeros((3, 8), dtype=np.float32)
    d = obj.delta_c
    if obj.kind == "heater":
        line = d * np.array([0.7, 0.95, 1.0, 0.95, 0.7])
        s[1, 1:6], s[0, 1:6], s[2, 1:6] = line, 0.25 * line, 0.25 * line
    elif obj.kind == "lamp":
        s[:, :3] = d * np.array([[0.15, 0.35, 0.15], [0.35, 1.0, 0.35], [0.15, 0.35, 0.15]])
    else:  # a screen: a warm edge, hottest at one corner
        s[1, :4] = d * np.array([1.0, 0.6, 0.45, 0.35])
        s[0, :2] = s[2, :2] = 0.3 * d
    return s


def render_people(room: Room, people: list[dict], n: int) -> np.ndarray:
    """Warmth of everyone over the floor, [N, H, W] °C. A person: arrays ``y, x, angle`` [N],
    ``parts`` [N, 3, 4] (pose rows scaled), ``on`` [N] bool (present in the frame)."""
    out = np.zeros((n, room.h, room.w), dtype=np.float32)
    yy, xx = room.yy[None], room.xx[None]
    for p in people:
        c, s = np.cos(p["angle"])[:, None, None], np.sin(p["angle"])[:, None, None]
        for k in range(3):
            off, a, b, temp = (p["parts"][:, k, j][:, None, None] for j in range(4))
            dy, dx = yy - (p["y"][:, None, None] + off * s), xx - (p["x"][:, None, None] + off * c)
            u, v = (dx * c + dy * s) / a, (-dx * s + dy * c) / b
            r = np.sqrt(u * u + v * v)
            layer = temp / (1.0 + np.exp(np.clip((r - 1.0) / EDGE, -30, 30)))
            out = np.maximum(out, np.where(p["on"][:, None, None], layer, 0).astype(np.float32))
    out = 0.5 * out + 0.25 * (np.roll(out, 1, axis=1) + np.roll(out, -1, axis=1))  # the optics blur
    out = 0.5 * out + 0.25 * (np.roll(out, 1, axis=2) + np.roll(out, -1, axis=2))
    if room.table is not None:  # whatever is under the table is hidden
        ty, tx, th, tw = room.table
        out[:, ty:ty + th, tx:tx + tw] = 0
    return out


def person_box(room: Room, y: float, x: float, angle: float, parts: np.ndarray, rng) -> tuple[list[float], str]:
    """The annotator's box (centre format, after the sensor flips) and how much of it is hidden."""
    c, s = np.cos(angle), np.sin(angle)
    ext_y = np.sqrt((parts[:, 1] * s) ** 2 + (parts[:, 2] * c) ** 2)
    ext_x = np.sqrt((parts[:, 1] * c) ** 2 + (parts[:, 2] * s) ** 2)
    cy, cx = y + parts[:, 0] * s, x + parts[:, 0] * c
    m = 1.0 + rng.uniform(-0.4, 0.4, size=4)  # annotators draw a little loosely, and unevenly
    y0, y1 = (cy - ext_y).min() - m[0], (cy + ext_y).max() + m[1]
    x0, x1 = (cx - ext_x).min() - m[2], (cx + ext_x).max() + m[3]
    hidden = 0.0
    if room.table is not None:
        ty, tx, th, tw = room.table
        iy, ix = max(0.0, min(y1, ty + th) - max(y0, ty)), max(0.0, min(x1, tx + tw) - max(x0, tx))
        hidden = iy * ix / max((y1 - y0) * (x1 - x0), 1e-6)
    outside = 1 - (min(y1, room.h) - max(y0, 0)) * (min(x1, room.w) - max(x0, 0)) / max((y1 - y0) * (x1 - x0), 1e-6)
    hidden = min(1.0, hidden + max(outside, 0.0))
    return centre_box(y0, y1, x0, x1, room.h, room.w, room.flip), f"{round(hidden * 4) * 25}%"


def sensor_readout(room: Room, scene: np.ndarray, rng: np.random.Generator, sentinel_share: float,
                   flare: bool) -> np.ndarray:
    """What the sensor sends for a scene [N, H, W] °C: noise, flaky pixels, clipping, flips."""
    n, h, _ = scene.shape
    noise = rng.normal(0, room.noise, size=scene.shape).astype(np.float32)
    spiky = rng.random(scene.shape) < 0.12
    noise[spiky] *= 5.0
    frames = scene + noise + rng.normal(0, 0.04, size=(n, 1, 1)).astype(np.float32)
    frames += np.cumsum(rng.normal(0, 0.01, size=n)).astype(np.float32)[:, None, None]  # slow drift
    if room.sensor is not None:  # in the sensor's own pixel order (the flips below undo these), before it clips
        pattern = room.sensor.pattern
        pattern = pattern[::-1] if room.flip[0] else pattern
        frames += (pattern[:, ::-1] if room.flip[1] else pattern)[None]
    if flare:  # a heater's hottest pixel saturates now and then
        obj = max(room.hot, key=lambda o: o.delta_c)
        cy, cx = obj.y + 1, obj.x + 1
        hits = rng.choice(n, size=max(1, round(n * rng.uniform(0.01, 0.016))), replace=False)
        frames[hits, cy, cx] = CLIP_MAX_C + 1.0
    frames = np.minimum(frames, CLIP_MAX_C)
    hit = np.flatnonzero(rng.random(n) < sentinel_share)
    for i in hit:
        if rng.random() < 0.8:  # the sensor's flaky pixels
            k = rng.integers(1, len(room.dead) + 1)
            frames[i, room.dead[:k, 0], room.dead[:k, 1]] = SENTINEL_C
        else:  # a row lost in transfer
            frames[i, int(rng.integers(0, h))] = SENTINEL_C
    if room.flip[0]:
        frames = frames[:, ::-1]
    if room.flip[1]:
        frames = frames[:, :, ::-1]
    return np.ascontiguousarray(frames, dtype=np.float32)
