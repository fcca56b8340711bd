"""Thermal frames as pictures a person can label: a heat map on a fixed temperature scale, enlarged, with a
line of text (the sensor's clock) burned in by a small built-in bitmap font (no system fonts needed).

The scale is the same for every recording (default 15-40 °C), so one colour means one temperature in
every video. Sentinel pixels (below -100 °C: dead pixels) are drawn in a colour the scale never uses.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from actline.data.dataset import INVALID_BELOW_C

SENTINEL_RGB = (0, 200, 255)  # cyan: not on the scale (black-purple-red-orange-yellow-white)
_ANCHORS = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
                     [250, 193, 39], [252, 255, 164]], dtype=np.float64)
LUT = np.stack([np.interp(np.linspace(0, len(_ANCHORS) - 1, 256), np.arange(len(_ANCHORS)), _ANCHORS[:, c])
                for c in range(3)], axis=1).round().astype(np.uint8)

# 5x7 glyphs, one string a row ('#' lit)
_GLYPHS = {
    "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
    "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    "3": ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
    "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
    "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
    "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
    "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
    "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
    "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
    "-": [".....", ".....", ".....", "#####", ".....", ".....", "....."],
    "+": [".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."],
    ":": [".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."],
    ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
    "#": [".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."],
    "s": [".....", ".....", ".####", "#....", ".###.", "....#", "####."],
    " ": ["....."] * 7,
}
FONT = {k: np.array([[c == "#" for c in row] for row in v], dtype=bool) for k, v in _GLYPHS.items()}
GLYPH_H, GLYPH_W = 7, 5


def heat_rgb(frame: np.ndarray, scale_c: tuple[float, float] = (15.0, 40.0)) -> np.ndarray:
    """[H, W, 3] uint8: each pixel's temperature on the fixed scale; sentinels in :data:`SENTINEL_RGB`."""
    lo, hi = scale_c
    frame = np.asarray(frame, dtype=np.float32)
    k = np.clip(np.round((frame - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
    rgb = LUT[k]
    rgb[frame <= INVALID_BELOW_C] = SENTINEL_RGB
    return rgb


def text_width(text: str, scale: int) -> int:
    return len(text) * (GLYPH_W + 1) * scale


def draw_text(img: np.ndarray, text: str, x: int, y: int, scale: int = 2, rgb=(255, 255, 255)) -> None:
    """Burn ``text`` (digits, ``- + : . # s`` and spaces) into ``img`` at (x, y), each glyph pixel ``scale`` px."""
    for k, ch in enumerate(text):
        glyph = np.kron(FONT.get(ch, FONT[" "]), np.ones((scale, scale), dtype=bool))
        x0 = x + k * (GLYPH_W + 1) * scale
        region = img[y:y + glyph.shape[0], x0:x0 + glyph.shape[1]]
        region[glyph[:region.shape[0], :region.shape[1]]] = rgb


def clock_text(timestamp_s: float) -> str:
    """The sensor's clock: a UTC date and time for Unix timestamps (after 2000), else seconds."""
    if timestamp_s >= 946_684_800:
        t = dt.datetime.fromtimestamp(timestamp_s, dt.timezone.utc)
        return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
    return f"{timestamp_s:.3f}s"


def frame_text(timestamp_s: float, rel_s: float, index: int) -> str:
    return f"{clock_text(timestamp_s)} +{rel_s:.3f}s #{index}"


def layout(frame_shape: tuple[int, int], longest_text: str, zoom: int = 8) -> tuple[int, int, int]:
    """(text scale, width, height) of every video frame of a recording, from its longest line of text
    (its last frame's): a video's frames all have one size, even numbers (H.264 wants them)."""
    h, w = frame_shape[0] * zoom, frame_shape[1] * zoom
    scale = 2 if text_width(longest_text, 2) + 8 <= max(w, 320) else 1
    width = max(w, text_width(longest_text, scale) + 8)
    height = h + GLYPH_H * scale + 8
    return scale, width + width % 2, height + height % 2


def labelling_frame(frame: np.ndarray, text: str, size: tuple[int, int, int],
                    scale_c: tuple[float, float] = (15.0, 40.0), zoom: int = 8) -> np.ndarray:
    """One video frame: the heat map enlarged ``zoom`` times (nearest), and below it a band with ``text``
    (:func:`frame_text`: the sensor's clock, the time since the recording's first frame, the frame's
    index); ``size`` is :func:`layout`'s."""
    scale, width, height = size
    heat = np.repeat(np.repeat(heat_rgb(frame, scale_c), zoom, axis=0), zoom, axis=1)
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[:heat.shape[0], :heat.shape[1]] = heat
    draw_text(img, text, 4, heat.shape[0] + 4, scale)
    return img
