"""What is in a data set: recordings, timing, invalid pixels, classes per split, overlap warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import ClipDataset
from actline.data.rooms import room_likeness
from actline.data.splits import make_split
from actline.data.window import WindowRule


def summarize(ds: ClipDataset, spec: WindowRule | None = None, seed: int = 0) -> dict:
    spec = spec or WindowRule()
    recs = []
    for rec in ds.recordings.values():
        dts = rec.frame_intervals()
        bad = rec.invalid_mask()
        recs.append({
            "id": rec.id, "group": rec.group, "frames": rec.n_frames, "shape": list(rec.frames.shape[1:]),
            "duration_s": round(rec.duration_s, 2),
            "fps_median": round(1.0 / float(np.median(dts)), 2) if len(dts) and np.median(dts) > 0 else None,
            "interval_ms_min": round(float(dts.min()) * 1000, 1) if len(dts) else None,
            "interval_ms_max": round(float(dts.max()) * 1000, 1) if len(dts) else None,
            "gaps_over_1s": int((dts > 1.0).sum()),
            "frames_with_invalid_pixels": round(float(bad.reshape(rec.n_frames, -1).any(axis=1).mean()), 4),
            "invalid_pixel_share": round(float(bad.mean()), 5),
            "max_c": round(float(rec.frames.max()), 2),
            "samples": sum(1 for s in ds.samples if s.recording_id == rec.id),
        })
    splits = {}
    has_given = bool(ds.subset("train")) and bool(ds.subset("val"))
    for name in (["given"] if has_given else []) + ["by-recording"]:
        try:
            sp = make_split(ds, name, spec=spec, seed=seed, group_by="recording" if ds.format != "nagoya-csv" else "location")
        except ActlineError as exc:  # too few recordings for a grouped split: report, do not fail the summary
            splits[name] = {"error": str(exc)}
            continue
        splits[name] = {**sp.summary(), "train_counts": ds.class_counts(sp.train),
                        "eval_counts": ds.class_counts(sp.eval), "warning": sp.warning}
    counts = ds.class_counts()
    present = [c for c in counts.values() if c > 0]
    return {
        "name": ds.name, "root": str(ds.root), "format": ds.format, "classes": ds.classes,
        "n_recordings": len(ds.recordings), "n_samples": len(ds.samples),
        "total_frames": int(sum(r.n_frames for r in ds.recordings.values())),
        "total_duration_s": round(sum(r.duration_s for r in ds.recordings.values()), 1),
        "window": {"length": spec.length, "mode": spec.mode, "fps": spec.fps},
        "class_counts": counts,
        "imbalance_ratio": round(max(present) / min(present), 2) if present else None,
        "majority_share": round(max(present) / sum(present), 4) if present else None,
        "missing_classes": [c for c, n in counts.items() if n == 0],
        "recordings": recs, "splits": splits, "warnings": list(ds.warnings),
        "room_likeness": room_likeness(ds),
    }


def render_montage(ds: ClipDataset, path: str | Path, spec: WindowRule | None = None, per_class: int = 4,
                   frames_per_example: int = 4, seed: int = 0) -> Path:
    """A PNG: one row per class, ``per_class`` example windows, each shown as a few frames."""
    from actline.core.plotting import pyplot, save_figure

    plt = pyplot()

    spec = spec or WindowRule()
    rng = np.random.default_rng(seed)
    by_class = {i: [s for s in ds.samples if s.label == i] for i in range(len(ds.classes))}
    rows = [i for i, v in by_class.items() if v]
    ncols = per_class * frames_per_example
    fig, axes = plt.subplots(len(rows), ncols, figsize=(ncols * 0.9, len(rows) * 0.9 + 0.6), squeeze=False)
    for r, cls in enumerate(rows):
        picks = rng.choice(len(by_class[cls]), size=min(per_class, len(by_class[cls])), replace=False)
        for e in range(per_class):
            for f in range(frames_per_example):
                ax = axes[r, e * frames_per_example + f]
                ax.set_xticks([])
                ax.set_yticks([])
                if e >= len(picks):
                    ax.axis("off")
                    continue
                win = ds.window(by_class[cls][picks[e]], spec)
                k = int(round(f * (len(win) - 1) / max(frames_per_example - 1, 1)))
                ax.imshow(win[k], cmap="inferno", vmin=np.percentile(win, 1), vmax=np.percentile(win, 99.5))
        axes[r, 0].set_ylabel(f"{ds.classes[cls][:28]}\n(n={len(by_class[cls])})", rotation=0, ha="right",
                              va="center", fontsize=7)
    fig.suptitle(f"{ds.name}: example windows per class ({frames_per_example} frames across each window)",
                 fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)
