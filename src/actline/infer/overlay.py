"""Overlay video: the current label in a banner and a running timeline bar, drawn onto every frame
(of a video, or of a thermal recording rendered as a heat map)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from actline.core.plotting import palette
from actline.core.progress import Progress
from actline.data.segments import Segment
from actline.data.video import iter_frames, probe, write_video


def _bar(segs: list[Segment], width: int, height: int, duration: float, colours: dict) -> np.ndarray:
    bar = np.full((height, width, 3), 40, np.uint8)
    for s in segs:
        x0, x1 = int(s.start_s / duration * width), int(np.ceil(s.end_s / duration * width))
        bar[:, max(x0, 0):min(x1, width)] = colours[s.label]
    return bar


def display_frames(source: str | Path, max_width: int = 960) -> tuple[Iterator[tuple[float, np.ndarray]], float, float]:
    """(iterator of (t, RGB frame), fps, duration) to show a source: a video as it is (scaled down to
    ``max_width``), or a thermal recording as a heat map (1st-99.5th percentile, inferno, enlarged)."""
    from actline.data.formats import is_thermal_input, load_recording

    source = Path(source)
    if is_thermal_input(source):
        from matplotlib import colormaps

        rec = load_recording(source)
        fr = np.where(rec.invalid_mask(), np.nan, rec.frames)
        lo, hi = np.nanpercentile(fr, 1), np.nanpercentile(fr, 99.5)
        cmap = colormaps["inferno"]
        ts = rec.timestamps - rec.timestamps[0]
        fps = 1.0 / max(float(np.median(np.diff(ts))), 1e-3) if rec.n_frames > 1 else 10.0
        scale = max(1, 240 // rec.frames.shape[1])

        def thermal():
            for t, f in zip(ts, fr):
                rgb = (cmap(np.nan_to_num((f - lo) / (hi - lo + 1e-6), nan=0.0))[..., :3] * 255).astype(np.uint8)
                yield float(t), np.kron(rgb, np.ones((scale, scale, 1), np.uint8))
        return thermal(), fps, float(ts[-1] + 1.0 / fps)
    info = probe(source)

    def video():
        for t, img in iter_frames(source, fps=None, size=None):
            h, w = img.shape[:2]
            if w > max_width:  # keep the file small; PIL's resize is enough for a preview
                img = np.asarray(Image.fromarray(img).resize((max_width, int(h * max_width / w) // 2 * 2)))
            yield t, img
    return video(), info.fps or 25.0, info.duration_s


def render_overlay(video: str | Path, segs: list[Segment], out: str | Path, max_width: int = 960,
                   progress: Progress | None = None) -> Path:
    """Write ``out`` (mp4): every frame of ``video`` (or a thermal recording's heat map) at its own rate,
    with the label banner and the timeline bar."""
    frames_in, fps, src_duration = display_frames(video, max_width)
    colours = palette([s.label for s in segs] or ["none"])
    duration = max([s.end_s for s in segs] + [src_duration, 1e-3])
    fonts: dict[int, ImageFont.ImageFont] = {}
    starts = np.array([s.start_s for s in segs])

    def frames():
        bar = None
        for n, (t, img) in enumerate(frames_in, start=1):
            h, w = img.shape[:2]
            if bar is None:
                bar_h = max(6, h // 24)
                bar = _bar(segs, w, bar_h, duration, colours)
            i = int(np.searchsorted(starts, t, side="right")) - 1
            seg = segs[i] if 0 <= i < len(segs) and t < segs[i].end_s + 1e-6 else None
            pil = Image.fromarray(img)
            draw = ImageDraw.Draw(pil)
            banner_h = max(14, h // 14)
            if banner_h not in fonts:
                fonts[banner_h] = ImageFont.load_default(size=banner_h - 4)  # scalable with FreeType
            font = fonts[banner_h]
            draw.rectangle([0, 0, w, banner_h], fill=(0, 0, 0))
            if seg is not None:
                draw.rectangle([0, 0, 8, banner_h], fill=colours[seg.label])
                text = f"{seg.label} / {seg.fine or '-'}" + (f" [{seg.value_category}]" if seg.value_category else "") + \
                       (f" {seg.confidence:.2f}" if seg.confidence is not None else "")
                draw.text((12, 2), text, fill=(255, 255, 255), font=font)
            frame = np.asarray(pil).copy()
            frame[h - bar.shape[0]:] = bar
            x = min(int(t / duration * w), w - 1)
            frame[h - bar.shape[0] - 3:, max(x - 1, 0):x + 1] = 255  # the cursor
            if progress:
                progress(f"overlay {Path(video).name}", n, None)
            yield frame

    return write_video(out, frames(), fps)
