"""A synthetic fall in a realistic room, and a rule "model" that sees what the background leaves.

The recording: a 40x60 ceiling sensor at 5 fps; a person walks about for a minute, falls (a risk transition) and
then lies still on the floor for ``lie_s`` seconds (breathing sway only), drawn by the realistic
preset's room, body and sensor models (noise, drift, flaky pixels, a hot object).

The rule classifier implements the WindowClassifier contract on background-subtracted windows:
no warm blob -> ``nobody``; a blob whose centroid moves -> ``walking``; a blob that stays ->
``lying down-lying with risk``. It answers from what the window shows, so a background that
swallows the still person makes it answer ``nobody``.
"""

from __future__ import annotations

import numpy as np

from actline.data.synth.realistic_room import Room, render_people, sensor_readout
from actline.data.synth.realistic_story import RISK, RISK_T, person_track
from actline.infer import Recognizer

CLASSES = ["nobody", "walking", RISK]
FPS = 5.0


def fall_recording(lie_s: float = 600.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """(frames [N, 40, 60] °C, timestamps s, time the person comes to rest on the floor)."""
    rng = np.random.default_rng(seed)
    room = Room(rng, 40, 60, "floor")
    room.hot = room.hot[:1]
    path = np.array([(2.0, 30.0)] + [room.free_spot(rng, 6) for _ in range(8)])
    spot = path[-1]
    phase = rng.uniform(0, 2 * np.pi, size=4)
    walk_end, rest = 60.0, 62.0  # a minute walking about the room first: the median's history shows the floor
    segs = [{"cls": "walking", "t0": 0.0, "t1": walk_end, "path": path, "phase": phase},
            {"cls": RISK_T, "t0": walk_end, "t1": rest, "phase": phase},
            {"cls": RISK, "t0": rest, "t1": rest + lie_s, "y": spot[0], "x": spot[1], "angle": 0.4, "phase": phase}]
    times = np.arange(0.0, rest + lie_s, 1 / FPS)
    track = person_track(rng, room, segs, times)
    static, hot = room.background(rng, len(times))
    people = render_people(room, [{"y": track.y, "x": track.x, "angle": track.angle, "parts": track.parts,
                                   "on": track.on}], len(times))
    frames = sensor_readout(room, static[None] + np.maximum(hot, people), rng, 0.1, False)
    return frames, times, rest


class BlobRule:
    """``probs(windows)``: nobody / walking / lying from the warm blob of each window."""

    num_classes, feature_dim = 3, 0

    def probs(self, windows: np.ndarray, rooms=None) -> np.ndarray:
        out = np.full((len(windows), 3), 0.05, np.float32)
        for i, w in enumerate(windows):
            excess = w - np.median(w.reshape(len(w), -1), axis=1)[:, None, None]
            warm = (excess > 2.0) & (excess < 12.0)
            area = warm.sum(axis=(1, 2))
            if area.mean() < 12:
                out[i, 0] = 0.9
                continue
            yy, xx = np.mgrid[0:w.shape[1], 0:w.shape[2]]
            cy = (warm * yy).sum(axis=(1, 2)) / np.maximum(area, 1)
            cx = (warm * xx).sum(axis=(1, 2)) / np.maximum(area, 1)
            q = max(1, len(w) // 4)
            moved = np.hypot(cy[:q].mean() - cy[-q:].mean(), cx[:q].mean() - cx[-q:].mean())
            out[i, 1 if moved > 2.0 else 2] = 0.9
        return out


def rule_recognizer(length: int = 32) -> Recognizer:
    cfg = {"classes": CLASSES, "window": {"length": length, "mode": "index", "fps": FPS, "background": "recording-median"},
           "preprocessing": {"frame_shape": [40, 60]}}
    return Recognizer(BlobRule(), cfg)
