"""What the people do in the realistic synthetic preset: stories, and per-frame body tracks.

A recording's story keeps its room's main posture most of the time: it sometimes opens with the
person arriving (walking in, sitting or lying down, or falling), and now and then leaves the main
posture for a few seconds. Transitions are short (0.8-2.2 s) and only where a posture change
needs one; their label depends on where the person goes (the floor, the bed, or up/down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actline.data.synth.realistic_room import POSES, Room

RISK, BED = "lying down-lying with risk", "lying down-lying on the bed/couch"
NORMAL_T, RISK_T, BED_T = ("transition-normal transition", "transition-lying with risk transition",
                           "transition-lying on the bed transition")
LOWER = ("lower position-other", "lower position-kneeling", "lower position-bending", "lower position-crouching")
# Per room scenario: excursions away from the main posture (class: weight) and how often (per recording).
AWAY = {
    "bed": ({"sitting": 4, "standing": 2, "walking": 1.5, "lower position-bending": 0.5, "lower position-other": 0.4}, 0.6),
    "floor": ({"lower position-kneeling": 1.5, "sitting": 1.2, "lower position-other": 1, "standing": 1,
               "lower position-crouching": 0.5}, 0.5),
    "sitting": ({"standing": 3, "walking": 1.5, "lower position-bending": 1, "lower position-crouching": 0.4}, 0.4),
    "standing": ({"walking": 3, "lower position-bending": 1, "lower position-crouching": 0.7, "sitting": 1,
                  "lower position-kneeling": 0.5}, 1.2),
}
ARRIVAL = {"bed": ["walking", "standing"], "floor": ["standing"], "sitting": ["walking"], "standing": ["walking"]}
# How much each posture moves: position sway (px) and turning (rad).
SWAY = {"standing": (0.35, 0.3), "sitting": (0.25, 0.15), RISK: (0.12, 0.04), BED: (0.1, 0.04), "walking": (0.0, 0.0)}


@dataclass
class Track:
    """One person's body per frame: centre, axis angle, parts [N, 3, 4] (see POSES), presence, label."""

    y: np.ndarray
    x: np.ndarray
    angle: np.ndarray
    parts: np.ndarray
    on: np.ndarray
    labels: list[str]


def _transition(a: str, b: str, rng) -> str | None:
    pair = {a, b}
    if RISK in pair:
        return RISK_T
    if BED in pair:
        return BED_T
    if "sitting" in pair and pair & {"standing", "walking"}:
        return NORMAL_T
    if pair & set(LOWER) and rng.random() < 0.35:
        return NORMAL_T
    return None


def story(rng: np.random.Generator, room: Room, main: str, duration: float) -> list[dict]:
    """Segments {cls, t0, t1} covering [0, duration], then each steady one gets a place."""
    away, rate = AWAY[room.scenario]
    names, w = list(away), np.array(list(away.values()), dtype=float)
    steady = [(s, rng.uniform(1.5, 5.0)) for s in ARRIVAL[room.scenario]] if rng.random() < 0.35 else []
    for _ in range(int(rng.poisson(rate))):
        s = names[int(rng.choice(len(names), p=w / w.sum()))]
        steady += [(main, None), (s, rng.uniform(3.0, 9.0) if s == "walking" else rng.uniform(1.5, 7.0))]
    steady.append((main, None))
    seq = []
    for s, d in steady:
        t = _transition(seq[-1][0], s, rng) if seq else None
        if t:
            seq.append((t, rng.uniform(0.8, 2.2)))
        seq.append((s, d))
    fixed = sum(d for _, d in seq if d is not None)
    free = [i for i, (_, d) in enumerate(seq) if d is None]
    share = rng.dirichlet(np.ones(len(free)) * 2.0) * max(duration - fixed, 0.3 * duration)
    for i, d in zip(free, share):
        seq[i] = (seq[i][0], float(d))
    d = np.array([x for _, x in seq]) * duration / sum(x for _, x in seq)
    segs = [{"cls": c, "t0": float(e - di), "t1": float(e)} for (c, _), di, e in zip(seq, d, np.cumsum(d))]
    segs[0]["t0"], segs[-1]["t1"] = 0.0, duration  # exactly, whatever the rounding
    _place(rng, room, segs)
    return segs


def calibration_story(rng: np.random.Generator, room: Room, duration: float) -> list[dict]:
    """A calibration session: the person performs each of the room's activities once, for a few seconds
    each (walking in, standing, sitting, the room's main posture, each posture it is left for, lying on the
    floor as a staged fall), with the transitions between them."""
    main = {"bed": BED, "floor": RISK, "sitting": "sitting", "standing": "standing"}[room.scenario]
    order = ["walking", "standing", "sitting", main, *AWAY[room.scenario][0], RISK, "standing"]
    steady = [c for i, c in enumerate(order) if c not in order[:i] or (c == "standing" and i == len(order) - 1)]
    seq = []
    for s in steady:
        t = _transition(seq[-1][0], s, rng) if seq else None
        if t:
            seq.append((t, rng.uniform(0.8, 2.2)))
        seq.append((s, rng.uniform(6.0, 10.0) if s != "walking" else rng.uniform(4.0, 7.0)))
    d = np.array([x for _, x in seq]) * duration / sum(x for _, x in seq)
    segs = [{"cls": c, "t0": float(e - di), "t1": float(e)} for (c, _), di, e in zip(seq, d, np.cumsum(d))]
    segs[0]["t0"], segs[-1]["t1"] = 0.0, duration
    _place(rng, room, segs)
    return segs


def _place(rng: np.random.Generator, room: Room, segs: list[dict]) -> None:
    """Where each steady segment happens: on the bed, on a seat, or near where the person was."""
    y, x = room.free_spot(rng, 5)
    ang = rng.uniform(0, 2 * np.pi)
    for seg in segs:
        c = seg["cls"]
        if c.startswith("transition"):
            continue
        if c == BED:
            y, x, ang = room.lying_spot(rng)
        elif c == "sitting":
            if room.scenario == "bed":  # on the edge of the bed
                by, bx, bh, bw = room.bed
                y, x = (by + bh / 2, bx + rng.uniform(1, 3)) if bh > bw else (by + rng.uniform(1, 3), bx + bw / 2)
            else:
                y, x = room.seats[int(rng.random() < 0.25)]
            ang = rng.uniform(0, 2 * np.pi)
        elif c == "walking":
            pts = [(y, x)] + [room.free_spot(rng, 3) for _ in range(int(rng.integers(1, 3)))]
            seg["path"] = np.array(pts)
            y, x = pts[-1]
        else:  # people fall, kneel and stand where they are, now and then at the frame's edge
            m = 1.5 if rng.random() < 0.15 else (6.0 if c == RISK else 4.0)
            y = float(np.clip(y + rng.normal(0, 2.5), m, room.h - m))
            x = float(np.clip(x + rng.normal(0, 2.5), m, room.w - m))
            if c == RISK and room.on_bed(y, x):
                y = float(np.clip(room.bed[0] - 4, 2, room.h - 2))
            ang = rng.uniform(0, 2 * np.pi)
        seg.update(y=y, x=x, angle=ang, phase=rng.uniform(0, 2 * np.pi, size=4))


def _steady(seg: dict, t: float, size: float, warm: float) -> tuple[float, float, float, np.ndarray]:
    c, ph = seg["cls"], seg["phase"]
    parts = np.array(POSES[c], dtype=float)
    if c == "walking":
        path, span = seg["path"], max(seg["t1"] - seg["t0"], 1e-3)
        f = np.clip((t - seg["t0"]) / span, 0, 1) * (len(path) - 1)
        k = min(int(f), len(path) - 2)
        y, x = path[k] + (f - k) * (path[k + 1] - path[k])
        ang = float(np.arctan2(path[k + 1][0] - path[k][0], path[k + 1][1] - path[k][1]))
        parts[2, 0] += 1.3 * np.sin(2 * np.pi * 1.7 * t + ph[3])  # legs swinging under the shoulders
    else:
        sway, turn = SWAY.get(c, (0.45, 0.25))
        y = seg["y"] + sway * np.sin(2 * np.pi * 0.13 * t + ph[0])
        x = seg["x"] + sway * np.sin(2 * np.pi * 0.09 * t + ph[1])
        ang = seg["angle"] + turn * np.sin(2 * np.pi * 0.05 * t + ph[2])
    if c == "lower position-bending":
        parts[:2, 0] -= 0.8 * (1 + np.sin(2 * np.pi * 0.25 * t + ph[3]))  # reaching down and back
    parts[:, :3] *= size
    parts[:, 3] *= warm
    return float(y), float(x), float(ang), parts


def label_at(segs: list[dict], t: float) -> str:
    """The class at time ``t``; "" where the person is not in the room."""
    if not segs[0]["t0"] <= t <= segs[-1]["t1"]:
        return ""
    starts = np.array([s["t0"] for s in segs])
    return segs[max(int(np.searchsorted(starts, t, side="right")) - 1, 0)]["cls"]


def person_track(rng: np.random.Generator, room: Room, segs: list[dict], times: np.ndarray) -> Track:
    """The body at every frame time; outside the segments' span the person is away (``on`` False)."""
    size, warm = room.scale * rng.uniform(0.93, 1.07), room.warm * rng.uniform(0.92, 1.08)
    starts = np.array([s["t0"] for s in segs])
    on = (times >= segs[0]["t0"]) & (times <= segs[-1]["t1"])
    n = len(times)
    y, x, ang, parts = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros((n, 3, 4))
    labels = []
    for k, t in enumerate(np.clip(times, segs[0]["t0"], segs[-1]["t1"])):
        i = max(int(np.searchsorted(starts, t, side="right")) - 1, 0)
        seg = segs[i]
        labels.append(seg["cls"] if on[k] else "")
        if not seg["cls"].startswith("transition"):
            y[k], x[k], ang[k], parts[k] = _steady(seg, t, size, warm)
            continue
        prev, nxt = segs[i - 1] if i > 0 else segs[i + 1], segs[i + 1] if i + 1 < len(segs) else segs[i - 1]
        a, b = _steady(prev, seg["t0"], size, warm), _steady(nxt, seg["t1"], size, warm)
        f = float(np.clip((t - seg["t0"]) / max(seg["t1"] - seg["t0"], 1e-3), 0, 1))
        f = f * f * (3 - 2 * f)
        da = (b[2] - a[2] + np.pi) % (2 * np.pi) - np.pi
        y[k], x[k], ang[k] = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * da
        parts[k] = a[3] + f * (b[3] - a[3])
    return Track(y, x, ang, parts, on, labels)


def visitor_story(rng: np.random.Generator, room: Room, duration: float) -> list[dict]:
    """A second person (a carer, a relative) walks in from an edge, stands a moment and leaves."""
    t0 = rng.uniform(3.0, max(4.0, duration - 15.0))
    t1 = t0 + rng.uniform(2, 4)  # walks in
    t2 = t1 + rng.uniform(2, 6)  # stands
    t3 = t2 + rng.uniform(2, 4)  # walks out
    door = (float(rng.choice([0.0, room.h])), rng.uniform(5, room.w - 5))
    spot = room.free_spot(rng, 6)
    segs = [{"cls": "walking", "t0": t0, "t1": t1, "path": np.array([door, spot])},
            {"cls": "standing", "t0": t1, "t1": t2, "y": spot[0], "x": spot[1], "angle": rng.uniform(0, 2 * np.pi)},
            {"cls": "walking", "t0": t2, "t1": t3, "path": np.array([spot, door])}]
    for s in segs:
        s["phase"] = rng.uniform(0, 2 * np.pi, size=4)
    return segs
