"""Reader for ThermalDataGen data sets: ``frames/<sensor_id>.h5`` plus COCO-style keyframes.

Layout (what the earlier SlowFast system read)::

    DIR/frames/<sensor_id>.h5          frames (N,H,W) float32 °C, timestamps (N,) int64 ms, frame_seqs (N,)
    DIR/annotations/class_mapping.json {"classes": [...], "class_to_id": {...}}
    DIR/annotations/train.json         COCO: images, annotations, categories, info
    DIR/annotations/val.json

A sample is one annotated keyframe (image); its label is the most frequent ``category_id``
among that image's person boxes, ties going to the smallest id. One recording's file is read and
written by :mod:`actline.data.recordings.thermal_h5_file`, the annotations by :mod:`actline.data.coco`; both
are re-exported here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from actline.core.errors import ActlineError
from actline.data.coco import keyframe_label, read_class_mapping, read_coco
from actline.data.dataset import ClipDataset, Recording, Sample
from actline.data.recordings.thermal_h5_file import location_of, read_recording_h5, write_recording_h5

__all__ = ["SUBSETS", "is_thermal_h5_dir", "keyframe_label", "location_of", "read_class_mapping", "read_recording_h5",
           "read_thermal_dataset", "write_recording_h5"]

SUBSETS = ("train", "val")

Keyframes = dict[str, tuple[str, int, int, str]]  # image id -> (sensor, frame_idx, label, subset)


def is_thermal_h5_dir(root: Path) -> bool:
    return (root / "annotations" / "class_mapping.json").is_file() or (root / "frames").is_dir()


def read_thermal_dataset(root: str | Path, subsets: tuple[str, ...] = SUBSETS) -> ClipDataset:
    """Read a ThermalDataGen directory into a :class:`ClipDataset`.

    Recordings named by the annotations but missing on disk are skipped with a warning that
    names them and counts the samples lost; any other problem raises :class:`ActlineError`.
    """
    root = Path(root)
    if not root.is_dir():
        raise ActlineError(root, "data directory not found")
    ann_dir = root / "annotations"
    classes, class_to_id = read_class_mapping(ann_dir / "class_mapping.json")
    keyframes = _read_keyframes(ann_dir, subsets, {i: classes.index(c) for c, i in class_to_id.items()}, classes)
    recordings, warnings = _read_recordings(root, Counter(k[0] for k in keyframes.values()))
    samples = []
    for image_id, (sensor, frame_idx, label, subset) in sorted(keyframes.items(), key=lambda kv: (kv[1][0], kv[1][1])):
        if sensor not in recordings:
            continue
        rec = recordings[sensor]
        if not 0 <= frame_idx < rec.n_frames:
            raise ActlineError(ann_dir / f"{subset}.json",
                               f"image {image_id!r} has frame_idx {frame_idx}, but {rec.source} has {rec.n_frames} frames")
        samples.append(Sample(recording_id=sensor, frame_idx=frame_idx, label=label, subset=subset, id=image_id))
    if not samples:
        raise ActlineError(root, "no usable samples (no annotated keyframe with an existing recording)")
    return ClipDataset(name=root.name, root=root, format="thermal-h5", classes=classes,
                       recordings=recordings, samples=samples, warnings=warnings)


def _read_keyframes(ann_dir: Path, subsets: tuple[str, ...], id_to_class: dict[int, int],
                    classes: list[str]) -> Keyframes:
    """Every annotated keyframe of the subsets' files; an image in two subsets is refused."""
    keyframes: Keyframes = {}
    found_any = False
    for subset in subsets:
        path = ann_dir / f"{subset}.json"
        if not path.exists():
            continue
        found_any = True
        for image_id, sensor, frame_idx, label in read_coco(path, id_to_class, classes):
            if image_id in keyframes:
                raise ActlineError(path, f"image {image_id!r} is also in {keyframes[image_id][3]}.json")
            keyframes[image_id] = (sensor, frame_idx, label, subset)
    if not found_any:
        raise ActlineError(ann_dir, f"no annotation file found (expected {', '.join(s + '.json' for s in subsets)})")
    return keyframes


def _read_recordings(root: Path, samples_of: Counter) -> tuple[dict[str, Recording], list[str]]:
    """The recordings the annotations name (``samples_of``: sensor -> its keyframes), and a warning naming
    those missing on disk with the samples lost."""
    recordings: dict[str, Recording] = {}
    for sensor in sorted(samples_of):
        path = root / "frames" / f"{sensor}.h5"
        if path.exists():
            recordings[sensor] = read_recording_h5(path, sensor)
    missing = {s: n for s, n in samples_of.items() if s not in recordings}
    if not missing:
        return recordings, []
    names = ", ".join(f"{s} ({n})" for s, n in sorted(missing.items()))
    return recordings, [f"{root / 'frames'}: {len(missing)} recording(s) named by the annotations are missing, "
                        f"{sum(missing.values())} sample(s) skipped: {names}"]
