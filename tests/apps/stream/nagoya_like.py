"""A small data set in the Nagoya FIR 16x16 layout: three days of short recordings where a person walks in,
stands, falls, lies, gets up and leaves (walking and lying annotated as Nagoya annotates them; the standing
and the empty room unannotated)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DAYS = ("20170203", "20170206", "20170209")


def _story(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    frames = (20.0 + rng.normal(0, 0.08, (n, 16, 16))).astype(np.float32)
    fall = int(rng.integers(110, 130))  # the story ends by frame 250: recordings of 25 s and more
    segs = [(30, 80, "walk1"), (fall, fall + 15, "falling1" if rng.random() < 0.5 else "falling2"),
            (fall + 17, fall + 70, "lie"), (fall + 71, fall + 85, "standup"), (fall + 86, fall + 120, "walk2")]
    for i in range(n):
        if 30 <= i <= 80 or fall + 71 <= i <= fall + 120:  # walking across
            y, x, h, w = 6, 1 + (i * 7 // 20) % 12, 3, 3
        elif 80 < i < fall:  # standing still
            y, x, h, w = 6, 8, 3, 3
        elif fall <= i <= fall + 16:  # falling: the blob stretches
            y, x, h, w = 6, 8, 3, 3 + (i - fall) // 4
        elif fall + 17 <= i < fall + 71:  # lying: long and still
            y, x, h, w = 7, 7, 2, 7
        else:
            continue
        frames[i, y:y + h, x:x + w] += 2.0
    return frames, segs


def write_nagoya_like(root: Path, per_day: int = 3, seconds: float = 40.0, seed: int = 0) -> Path:
    """``root`` in the Nagoya layout (``<day>/raw/*.csv`` and ``annotation/annotation_<day>.csv``)."""
    rng = np.random.default_rng(seed)
    (root / "annotation").mkdir(parents=True)
    n = int(seconds * 10)
    header = ",".join(["Time (sec)", "PTAT"] + [f"P{i:03d}" for i in range(256)])
    for d, day in enumerate(DAYS):
        (root / day / "raw").mkdir(parents=True)
        lines = []
        for p in range(per_day):
            name = f"{day}_p{p + 1}_{'light' if p % 2 else 'dark'}{d + 1}.csv"
            frames, segs = _story(rng, n)
            rows = [f"{0.1 * k:.2f},20.0," + ",".join(f"{v:.2f}" for v in frames[k].ravel()) for k in range(n)]
            (root / day / "raw" / name).write_text("2017/02/03 17:28:07\n" + header + "\n" + "\n".join(rows) + "\n")
            lines.append(name + "," + ",".join(f"{s},{e},{lab}" for s, e, lab in segs))
        (root / "annotation" / f"annotation_{day}.csv").write_text("\n".join(lines) + "\n")
    return root
