"""A "nothing" class: time outside every annotated action becomes a class of its own, so a model (and a
live stream) can say "none of these actions" instead of forcing every window into one of them.

:func:`add_background_class` labels as the class ``name``:

- recordings with frame labels (Nagoya): every unannotated frame;
- data sets with ``annotations/segments.csv`` (imported and labelled recordings): every frame outside
  every segment;
- keyframe-only data sets (ThermalDataGen): every frame farther than half a window from every keyframe;

and adds window samples there, one centre every two windows' length of such frames (16-frame windows:
every 32 frames, as ``read_nagoya(..., unlabelled="none")`` always did). Training's ``background_class``
setting and timeline training's setting of the same name call it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from actline.data.dataset import ClipDataset, Recording, Sample
from actline.data.labels.labelled_segments import EPS, read_segments_csv, relative_times
from actline.data.window import WindowRule


def add_background_class(ds: ClipDataset, name: str | None, rule: WindowRule) -> ClipDataset:
    """``ds`` with the class ``name`` for time outside every annotated action (a new data set; ``ds`` is not
    changed). ``name`` None or empty, or a data set that already has samples of ``name``: ``ds`` as it is."""
    if not name:
        return ds
    classes = ds.classes if name in ds.classes else [*ds.classes, name]
    bg = classes.index(name)
    if name in ds.classes and any(s.label == bg for s in ds.samples):
        return ds
    segments = _segments(ds)
    keyed = _keyframes(ds)
    subsets = _subsets(ds)
    recordings, samples = {}, list(ds.samples)
    for rid, rec in ds.recordings.items():
        outside = _outside(rec, segments, keyed.get(rid, []), rule)
        if rec.frame_labels is not None:
            labels = rec.frame_labels.copy()
            labels[outside] = bg
            rec = replace(rec, frame_labels=labels)
        recordings[rid] = rec
        centres = np.flatnonzero(outside)[::sample_every(rec, rule)]
        samples += [Sample(recording_id=rid, frame_idx=int(c), label=bg, subset=subsets.get(rid), id=f"{rid}@{c}")
                    for c in centres]
    return replace(ds, classes=classes, recordings=recordings, samples=samples)


def window_seconds(rec: Recording, rule: WindowRule) -> float:
    """What one window of ``rule`` spans in ``rec``: its seconds, or its frames at the recording's median rate."""
    if rule.seconds is not None:
        return rule.seconds
    dts = np.diff(rec.timestamps)
    return rule.length * (float(np.median(dts)) if len(dts) else 1.0 / rule.fps)


def sample_every(rec: Recording, rule: WindowRule) -> int:
    """Frames between two background window centres: two windows' length."""
    if rule.mode == "index":
        return 2 * rule.length
    dts = np.diff(rec.timestamps)
    return max(1, int(round(2 * window_seconds(rec, rule) / (float(np.median(dts)) if len(dts) else 0.1))))


def _outside(rec: Recording, segments: dict | None, keys: list[int], rule: WindowRule) -> np.ndarray:
    if rec.frame_labels is not None:
        return rec.frame_labels == -1
    rel = relative_times(rec)
    if segments is not None:
        inside = np.zeros(rec.n_frames, bool)
        for start, end in segments.get(rec.id, []):
            inside |= (rel >= start - EPS) & (rel < end - EPS)
        return ~inside
    if not keys:
        return np.ones(rec.n_frames, bool)
    kt = np.sort(rel[keys])
    j = np.searchsorted(kt, rel)
    before, after = kt[np.clip(j - 1, 0, len(kt) - 1)], kt[np.clip(j, 0, len(kt) - 1)]
    nearest = np.minimum(np.abs(rel - before), np.abs(rel - after))
    return nearest > window_seconds(rec, rule) / 2 + EPS


def _segments(ds: ClipDataset) -> dict[str, list[tuple[float, float]]] | None:
    """recording -> [(start_s, end_s)] from ``annotations/segments.csv`` where the data set has one."""
    path = ds.root / "annotations" / "segments.csv" if ds.format == "thermal-h5" else None
    if path is None or not path.is_file():
        return None
    out: dict[str, list[tuple[float, float]]] = {}
    for s in read_segments_csv(path):
        out.setdefault(s.recording, []).append((s.start_s, s.end_s))
    return out


def _keyframes(ds: ClipDataset) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for s in ds.samples:
        out.setdefault(s.recording_id, []).append(s.frame_idx)
    return out


def _subsets(ds: ClipDataset) -> dict[str, str | None]:
    """Each recording's subset (the most common among its samples), so a ``given`` split keeps it whole."""
    counts: dict[str, Counter] = {}
    for s in ds.samples:
        counts.setdefault(s.recording_id, Counter())[s.subset] += 1
    return {rid: c.most_common(1)[0][0] for rid, c in counts.items()}
