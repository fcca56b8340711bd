"""The "easy" synthetic preset: what a person does over time, the frames the sensor records, and the
ThermalDataGen directory they are written to (:func:`generate_easy_dataset`).

A recording's person follows a schedule of steady states joined by the transitions they need
(:func:`schedule`), at anchors that suit each state (a bed, a chair, a wall, where they stood);
walking follows piecewise-linear paths. Frames arrive at the recording's own rate with jitter and
gaps (:func:`timestamps`); a visitor sometimes walks through, and some recordings have dead-pixel
sentinel bands. The scene itself (room, sensor, bodies) is :mod:`actline.data.synth.easy_room`.
Every random draw comes from the recording's own generator, in a fixed order: a seed gives the
same data set, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.data.synth.common import (
    BASE_MS,
    SENTINEL_C,
    THERMAL_CLASSES,
    SynthConfig,
    annotation_entry,
    image_entry,
    mac_address,
)
from actline.data.synth.easy_room import Body, EasyRoom, lerp_body, pose_at, upright_body
from actline.data.thermal_h5 import write_recording_h5

Schedule = list[tuple[str, float, float]]


def _transition(rng: np.random.Generator, prev: str, state: str) -> tuple[str, float] | None:
    """The transition (class, duration s) from ``prev`` into ``state``, if it needs one."""
    if state == "lying down-lying with risk":
        return "transition-lying with risk transition", rng.uniform(1.0, 2.0)  # a fall is fast
    if state == "lying down-lying on the bed/couch":
        return "transition-lying on the bed transition", rng.uniform(2.5, 4.5)
    if prev in ("standing", "walking") and state in ("sitting", "lower position-kneeling",
                                                     "lower position-crouching") or \
            prev in ("sitting", "lying down-lying on the bed/couch") and state in ("standing", "walking"):
        return "transition-normal transition", rng.uniform(2.0, 4.0)
    return None


def schedule(rng: np.random.Generator, cfg: SynthConfig) -> Schedule:
    """A sequence of (class, start_s, end_s): steady states joined by the transitions they need."""
    states = list(cfg.state_weights)
    p = np.array([cfg.state_weights[s] for s in states], dtype=float)
    p /= p.sum()
    out, t, prev = [], 0.0, "standing"
    while t < cfg.duration_s:
        state = states[rng.choice(len(states), p=p)]
        if state == prev and state != "walking":
            continue
        trans = _transition(rng, prev, state)
        if trans:
            out.append((trans[0], t, t + trans[1]))
            t += trans[1]
        dur = rng.uniform(6.0, 20.0) if state != "lying down-lying with risk" else rng.uniform(10.0, 30.0)
        out.append((state, t, min(t + dur, cfg.duration_s)))
        t += dur
        prev = state
    return [seg for seg in out if seg[2] - seg[1] > 0.5]


def timestamps(rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """Frame times (s): the recording's own rate with jitter, and now and then a gap of 1-5 s."""
    fps = rng.uniform(*cfg.fps_range)
    n_max = int(cfg.duration_s * fps * 1.2) + 10
    dt_s = (1.0 / fps) * rng.lognormal(0.0, 0.15, size=n_max)
    gaps = rng.random(n_max) < 0.004
    dt_s[gaps] += rng.uniform(1.0, 5.0, size=int(gaps.sum()))  # dropped frames, network hiccups
    t = np.concatenate([[0.0], np.cumsum(dt_s)])
    return t[t < cfg.duration_s]


def _anchor(rng: np.random.Generator, cfg: SynthConfig, room: EasyRoom, state: str,
            pos: tuple[float, float]) -> tuple[tuple[float, float], float]:
    """Where a steady state happens and which way the body points, given where the last one was."""
    if state == "lying down-lying on the bed/couch":
        by, bx, bh, bw = room.bed
        return (by + bh / 2, bx + bw / 2), 0.0
    if state == "sitting":
        return room.chairs[int(rng.integers(len(room.chairs)))], rng.uniform(0, np.pi)
    if state == "leaning":
        side = int(rng.integers(4))
        # all four walls are drawn, then one is picked (the order of draws is part of the seed's data set)
        pos = room.inside(*[(3, rng.uniform(0, cfg.width)), (cfg.height - 3, rng.uniform(0, cfg.width)),
                            (rng.uniform(0, cfg.height), 3), (rng.uniform(0, cfg.height), cfg.width - 3)][side])
        return pos, 0.0 if side < 2 else np.pi / 2
    if state == "walking":
        return pos, 0.0
    # stays near where the previous state ended: people fall or kneel where they stand
    pos = room.inside(pos[0] + rng.normal(0, 2), pos[1] + rng.normal(0, 2), margin=6)
    return pos, rng.uniform(0, np.pi)


def _walk_path(rng: np.random.Generator, cfg: SynthConfig, room: EasyRoom, start: tuple[float, float],
               t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """(times [K], points [K, 2]): piecewise-linear towards random targets at ~5 px/s."""
    pts, ts_, cur, tc = [start], [t0], start, t0
    while tc < t1:
        tgt = room.inside(rng.uniform(0, cfg.height), rng.uniform(0, cfg.width), margin=4)
        d = float(np.hypot(tgt[0] - cur[0], tgt[1] - cur[1]))
        tc += max(d / rng.uniform(4.0, 7.0), 0.5)
        pts.append(tgt)
        ts_.append(tc)
        cur = tgt
    return np.array(ts_), np.array(pts)


class _Motion:
    """The person's body at any time of a schedule: anchors, walking paths, transitions between them."""

    def __init__(self, rng: np.random.Generator, cfg: SynthConfig, room: EasyRoom, sched: Schedule):
        self.cfg, self.room, self.sched = cfg, room, sched
        self.anchors: list[tuple | None] = []
        pos = room.inside(rng.uniform(0, cfg.height), rng.uniform(0, cfg.width))
        for state, _, _ in sched:
            if state.startswith("transition"):
                self.anchors.append(None)
                continue
            pos, angle = _anchor(rng, cfg, room, state, pos)
            self.anchors.append((pos, angle, rng.uniform(0, 2 * np.pi)))
        self.walks = {i: _walk_path(rng, cfg, room, self.anchors[i][0], t0, t1)
                      for i, (state, t0, t1) in enumerate(sched) if state == "walking"}
        self.starts = np.array([s[1] for s in sched])

    def segment(self, t: float) -> int:
        return max(int(np.searchsorted(self.starts, t, side="right")) - 1, 0)

    def body_at(self, i: int, t: float) -> Body:
        state, t0, t1 = self.sched[i]
        if state.startswith("transition"):
            a = self.body_at(i - 1, t0) if i > 0 else upright_body(self.cfg.width / 2, self.cfg.height / 2)
            b = self.body_at(i + 1, t1) if i + 1 < len(self.sched) else a
            return lerp_body(a, b, (t - t0) / max(t1 - t0, 1e-6))
        pos, angle, phase = self.anchors[i]
        if state == "walking":
            pts_t, pts = self.walks[i]
            pos = (float(np.interp(t, pts_t, pts[:, 0])), float(np.interp(t, pts_t, pts[:, 1])))
            k = max(min(int(np.searchsorted(pts_t, t, side="right")), len(pts) - 1), 1)
            angle = float(np.arctan2(pts[k, 0] - pts[k - 1, 0], pts[k, 1] - pts[k - 1, 1]))
        return pose_at(state, t, pos, angle, phase)


def _record(rng: np.random.Generator, cfg: SynthConfig, room: EasyRoom, motion: _Motion, times: np.ndarray):
    """(frames [N,H,W], class per frame [N], (body, class) per frame); a visitor walks through now and then."""
    classes = np.empty(len(times), dtype=np.int64)
    frames = np.empty((len(times), cfg.height, cfg.width), dtype=np.float32)
    bodies = []
    visitor_on = rng.random() < 0.5  # a second person (carer) walks through now and then
    for n, t in enumerate(times):
        i = motion.segment(t)
        frame_bodies = [(motion.body_at(i, float(t)), motion.sched[i][0])]
        if visitor_on and (t % 60.0) < 4.0:
            f = (t % 60.0) / 4.0
            frame_bodies.append((upright_body(-3 + f * (cfg.width + 6), cfg.height * 0.15, "walking"), "walking"))
        frames[n] = room.render([b for b, _ in frame_bodies], rng)
        classes[n] = THERMAL_CLASSES.index(motion.sched[i][0])
        bodies.append(frame_bodies)
    return frames, classes, bodies


def _add_sentinels(rng: np.random.Generator, cfg: SynthConfig, frames: np.ndarray) -> None:
    """Dead-pixel sentinel bands (rows or columns) in 10-25 % of the frames of some recordings, in place."""
    if rng.random() < 0.4:
        hit = rng.random(len(frames)) < rng.uniform(0.10, 0.25)
        for n in np.flatnonzero(hit):
            if rng.random() < 0.5:
                r0 = int(rng.integers(0, cfg.height - 2))
                frames[n, r0:r0 + int(rng.integers(1, 4))] = SENTINEL_C
            else:
                c0 = int(rng.integers(0, cfg.width - 2))
                frames[n, :, c0:c0 + int(rng.integers(1, 4))] = SENTINEL_C


def simulate_recording(rng: np.random.Generator, cfg: SynthConfig):
    """(frames [N,H,W], times [N] s, frame-wise class [N], schedule, bodies per frame, room)."""
    room = EasyRoom(rng, cfg)
    sched = schedule(rng, cfg)
    times = timestamps(rng, cfg)
    motion = _Motion(rng, cfg, room, sched)
    frames, classes, bodies = _record(rng, cfg, room, motion, times)
    _add_sentinels(rng, cfg, frames)
    return frames, times, classes, sched, bodies, room


def write_easy_recording(frames_dir: Path, cfg: SynthConfig, r: int, images: list[dict],
                         annotations: list[dict]) -> None:
    """Recording ``r``: its ``<sensor_id>.h5`` under ``frames_dir``, its keyframes and boxes appended to
    ``images`` and ``annotations`` (a keyframe every ~``keyframe_every_s`` inside each state and transition)."""
    rng = np.random.default_rng([cfg.seed, r])
    frames, times, _, sched, bodies, room = simulate_recording(rng, cfg)
    sensor_id = f"TS{cfg.seed % 100:02d}{r:03d}"
    mac = mac_address(rng)
    ts_ms = BASE_MS + r * 86_400_000 + np.round(times * 1000).astype(np.int64)
    write_recording_h5(frames_dir / f"{sensor_id}.h5", frames, ts_ms, sensor_id, mac)
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
                annotations.append(annotation_entry(len(annotations) + 1, image["id"], room.bbox(body), label, obj_id))
