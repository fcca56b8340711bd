"""Synthetic assembly-line video: labelled clips in the earlier system's folder layout, and long videos with a known timeline.

Each action is a distinct motion of coloured shapes over a static "work bench" (a pipe-coloured
bar); the fine actions of a family share a motion and differ in shape and shade. Speed, size,
position and sensor noise vary per clip, so a model has to learn the action, not one clip. Two families have two fine actions each (``mount``, ``apply``), so
the stage-2 classifiers have something to separate; the others map directly.

Layout written::

    OUT/clips/<fine_label>/clip_NNN.mp4
    OUT/long/video_NN.mp4, OUT/long/video_NN.csv   (start_s,end_s,label,fine,value_category)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actline.core.atomic import atomic_dir, write_text
from actline.core.progress import Progress
from actline.data.clips import parse_label
from actline.data.video import write_video

ACTIONS = {  # fine label -> (shape, colour, motion)
    "mount_o_ring_to_pipe_va": ("circle", (220, 40, 40), "right"),
    "mount_nipple_to_pipe_va": ("square", (230, 120, 30), "right"),
    "hand_tight_nipple_to_pipe_va": ("square", (40, 200, 60), "orbit"),
    "apply_grease_to_o_ring_va": ("circle", (50, 90, 230), "updown"),
    "apply_tape_to_nipple_va": ("circle", (40, 190, 220), "diagonal"),
    "inspect_pipe_rnva": ("circle", (230, 210, 40), "pulse"),
    "wait_idle_nva": ("square", (120, 120, 120), "still"),
}


@dataclass
class RGBSynthConfig:
    clips_per_action: int = 6
    clip_seconds: tuple[float, float] = (3.0, 5.0)
    long_videos: int = 2
    long_seconds: float = 60.0
    step_seconds: tuple[float, float] = (4.0, 9.0)  # duration of one step in a long video
    fps: float = 15.0  # deliberately not a multiple of the pipeline's 8 fps
    height: int = 96
    width: int = 128
    noise: float = 6.0
    seed: int = 0


def _render(action: str, n: int, fps: float, cfg: RGBSynthConfig, rng: np.random.Generator) -> np.ndarray:
    shape, colour, motion = ACTIONS[action]
    h, w = cfg.height, cfg.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.empty((h, w, 3), np.float32)
    base[:] = (60, 60, 66)
    base[int(h * 0.55):int(h * 0.65), :] = (150, 140, 120)  # the pipe on the bench
    speed = rng.uniform(0.8, 1.25)
    r = rng.uniform(0.09, 0.13) * h
    cx0, cy0 = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6)
    phase = rng.uniform(0, 2 * np.pi)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        t = i / fps * speed
        cx, cy, rr = cx0, cy0, r
        if motion == "right":
            cx = (w * 0.1 + (t * w * 0.35) % (w * 0.8))
        elif motion == "orbit":
            cx, cy = cx0 + 0.25 * w * np.cos(2.5 * t + phase), cy0 + 0.25 * h * np.sin(2.5 * t + phase)
        elif motion == "updown":
            cy = cy0 + 0.3 * h * np.sin(3.0 * t + phase)
        elif motion == "diagonal":
            s = np.sin(2.0 * t + phase)
            cx, cy = cx0 + 0.3 * w * s, cy0 + 0.3 * h * s
        elif motion == "pulse":
            rr = r * (1.0 + 0.6 * np.sin(4.0 * t + phase))
        if shape == "circle":
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= rr ** 2
        else:
            mask = (np.abs(xx - cx) <= rr) & (np.abs(yy - cy) <= rr)
        img = base.copy()
        img[mask] = colour
        img += rng.normal(0, cfg.noise, img.shape).astype(np.float32)
        out[i] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def generate_rgb_dataset(out: str | Path, cfg: RGBSynthConfig = RGBSynthConfig(), overwrite: bool = False,
                         progress: Progress | None = None) -> Path:
    """Write the clips and long videos at ``out`` (atomically: all of them or nothing). An existing
    directory is refused unless it is empty or ``overwrite`` is set (it is then replaced)."""
    out = Path(out)
    empty = out.is_dir() and not any(out.iterdir())
    with atomic_dir(out, overwrite=overwrite or empty) as tmp:
        _write_rgb(tmp, cfg, progress or (lambda *a: None))
    return out


def _write_rgb(out: Path, cfg: RGBSynthConfig, progress: Progress) -> None:
    rng = np.random.default_rng(cfg.seed)
    total = len(ACTIONS) * cfg.clips_per_action + cfg.long_videos
    for i, action in enumerate(ACTIONS):
        for k in range(cfg.clips_per_action):
            n = int(rng.uniform(*cfg.clip_seconds) * cfg.fps)
            write_video(out / "clips" / action / f"clip_{k:03d}.mp4", _render(action, n, cfg.fps, cfg, rng), cfg.fps)
            progress("videos", i * cfg.clips_per_action + k + 1, total)
    names = list(ACTIONS)
    for v in range(cfg.long_videos):
        t, prev, segs, frames = 0.0, None, [], []
        while t < cfg.long_seconds - 1e-9:
            action = rng.choice([a for a in names if a != prev])
            dur = float(rng.uniform(*cfg.step_seconds))
            if cfg.long_seconds - (t + dur) < cfg.step_seconds[0]:  # no sliver of a step at the end
                dur = cfg.long_seconds - t
            n0, n1 = int(round(t * cfg.fps)), int(round((t + dur) * cfg.fps))
            if n1 <= n0:
                break
            frames.append(_render(action, n1 - n0, cfg.fps, cfg, rng))
            segs.append((n0 / cfg.fps, n1 / cfg.fps, action))
            t, prev = n1 / cfg.fps, action
        write_video(out / "long" / f"video_{v:02d}.mp4", np.concatenate(frames), cfg.fps)
        buf = io.StringIO()
        wr = csv.writer(buf)
        wr.writerow(["start_s", "end_s", "label", "fine", "value_category"])
        for s, e, a in segs:
            p = parse_label(a)
            wr.writerow([f"{s:.3f}", f"{e:.3f}", p.coarse, p.fine, p.value_category])
        write_text(out / "long" / f"video_{v:02d}.csv", buf.getvalue())
        progress("videos", total - cfg.long_videos + v + 1, total)
