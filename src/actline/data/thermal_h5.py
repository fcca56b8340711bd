"""Reader for ThermalDataGen data sets: ``frames/<sensor_id>.h5`` plus COCO-style keyframes.

Layout (what the earlier SlowFast system read)::

    DIR/frames/<sensor_id>.h5          frames (N,H,W) float32 °C, timestamps (N,) int64 ms, frame_seqs (N,)
    DIR/annotations/class_mapping.json {"classes": [...], "class_to_id": {...}}
    DIR/annotations/train.json         COCO: images, annotations, categories, info
    DIR/annotations/val.json

A sample is one annotated keyframe (image); its label is the most frequent ``category_id``
among that image's person boxes, ties going to the smallest id.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import h5py
import numpy as np

from actline.core.errors import ActlineError
from actline.data.dataset import ClipDataset, Recording, Sample
from actline.data.limits import ReadLimits, current_limits

SUBSETS = ("train", "val")
REQUIRED_H5 = ("frames", "timestamps")


def is_thermal_h5_dir(root: Path) -> bool:
    return (root / "annotations" / "class_mapping.json").is_file() or (root / "frames").is_dir()


def keyframe_label(category_ids: list[int]) -> int:
    """Most frequent id; ties go to the smallest id (the earlier system's rule)."""
    counts = Counter(category_ids)
    best = max(counts.values())
    return min(c for c, n in counts.items() if n == best)


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise ActlineError(path, "file not found")
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ActlineError(path, f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ActlineError(path, f"expected a JSON object at the top level, found {type(obj).__name__}")
    return obj


def read_class_mapping(path: Path) -> tuple[list[str], dict[str, int]]:
    obj = _load_json(path)
    classes = obj.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ActlineError(path, "'classes' must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        dup = [c for c, n in Counter(classes).items() if n > 1]
        raise ActlineError(path, f"duplicate class names: {dup}")
    class_to_id = obj.get("class_to_id", {c: i for i, c in enumerate(classes)})
    if not isinstance(class_to_id, dict) or set(class_to_id) != set(classes):
        raise ActlineError(path, "'class_to_id' must name exactly the classes in 'classes'")
    if not all(isinstance(v, int) for v in class_to_id.values()) or len(set(class_to_id.values())) != len(classes):
        raise ActlineError(path, "'class_to_id' must map each class to a distinct integer id")
    return classes, class_to_id


MAX_ATTRS, MAX_ATTR_BYTES = 256, 64 * 1024  # a recording's attributes are a dozen scalars


def read_recording_h5(path: Path, sensor_id: str | None = None, limits: ReadLimits | None = None) -> Recording:
    """Read one ``frames/<sensor_id>.h5`` file, validating shapes and values.

    Shapes, types, storage and attributes are checked before any data is read: frames x H x W within
    ``limits``, and only datasets stored in this file (no external storage, external or soft links,
    or virtual datasets, any of which would make the reader open another file).
    """
    limits = current_limits(limits)
    try:
        fh = h5py.File(path, "r")
    except FileNotFoundError:
        raise ActlineError(path, "file not found") from None
    except OSError as exc:
        raise ActlineError(path, f"not a readable HDF5 file (empty, truncated or corrupt): {exc}") from None
    with fh:
        missing = [k for k in REQUIRED_H5 if k not in fh]
        if missing:
            raise ActlineError(path, f"missing dataset(s) {missing}; found {sorted(fh.keys())}")
        frames_ds = _dataset(fh, "frames", path, limits)
        if len(frames_ds.shape) != 3:
            raise ActlineError(path, f"'frames' must have shape (N, H, W), got {frames_ds.shape}")
        limits.check_values(path, frames_ds.shape)
        n = frames_ds.shape[0]
        ts_ds = _dataset(fh, "timestamps", path, limits)
        seqs_ds = _dataset(fh, "frame_seqs", path, limits) if "frame_seqs" in fh else None
        for name, ds in (("timestamps", ts_ds), ("frame_seqs", seqs_ds)):
            if ds is not None and ds.shape != (n,):
                raise ActlineError(path, f"'{name}' has shape {ds.shape}, expected ({n},)")
        attrs = _attrs(fh, path)
        limits.check_deadline(path)
        try:
            frames = frames_ds[()]
            timestamps = ts_ds[()]
            seqs = seqs_ds[()] if seqs_ds is not None else None
        except (OSError, ValueError, TypeError) as exc:
            raise ActlineError(path, f"cannot read data (truncated or corrupt): {exc}") from None
    if frames.shape[0] == 0:
        raise ActlineError(path, "'frames' is empty (0 frames)")
    frames = frames.astype(np.float32, copy=False)
    finite = np.isfinite(frames)
    if not finite.all():
        bad = int((~finite.reshape(len(frames), -1)).any(axis=1).argmax())
        raise ActlineError(path, f"'frames' contains NaN or inf ({int((~finite).sum())} values, first in frame {bad})")
    ts = timestamps.astype(np.float64) / 1000.0  # Unix milliseconds -> seconds
    if not np.isfinite(ts).all():
        raise ActlineError(path, "'timestamps' contains NaN or inf")
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size:
        raise ActlineError(path, f"'timestamps' go backwards at frame {int(back[0]) + 1} ({back.size} times)")
    sid = sensor_id or str(attrs.get("sensor_id") or path.stem)
    meta = dict(attrs)
    if seqs is not None:
        meta["frame_seqs"] = seqs
    return Recording(id=sid, frames=frames, timestamps=ts, group=str(attrs.get("group") or location_of(sid)),
                     source=str(path), meta=meta)


def _dataset(fh: h5py.File, name: str, path: Path, limits: ReadLimits) -> h5py.Dataset:
    """``fh[name]`` if it is a numeric dataset stored in this file, else a one-line error."""
    link = fh.get(name, getlink=True)
    if not isinstance(link, h5py.HardLink):
        raise ActlineError(path, f"'{name}' is a {type(link).__name__}: links are not followed")
    ds = fh[name]
    if not isinstance(ds, h5py.Dataset):
        raise ActlineError(path, f"'{name}' is not a dataset")
    if ds.is_virtual:
        raise ActlineError(path, f"'{name}' is a virtual dataset (its data lives in other files): refused")
    if ds.external:
        raise ActlineError(path, f"'{name}' keeps its data in external files: refused")
    if ds.dtype.kind not in "iuf" or ds.dtype.itemsize > 8:
        raise ActlineError(path, f"'{name}' must be numeric, got dtype {ds.dtype}")
    if ds.chunks:  # HDF5 decompresses a whole chunk at a time, and a chunk may exceed the shape
        limits.check_values(f"{path}: '{name}' chunk", ds.chunks)
    return ds


def _attrs(fh: h5py.File, path: Path) -> dict:
    names = list(fh.attrs)
    if len(names) > MAX_ATTRS:
        raise ActlineError(path, f"{len(names)} attributes, more than the limit of {MAX_ATTRS}")
    for k in names:
        size = fh.attrs.get_id(k).get_storage_size()
        if size > MAX_ATTR_BYTES:
            raise ActlineError(path, f"attribute {k!r} holds {size:,} bytes, more than the limit of {MAX_ATTR_BYTES:,}")
    try:
        return {k: _attr(fh.attrs[k]) for k in names}
    except (OSError, ValueError, TypeError) as exc:
        raise ActlineError(path, f"cannot read attributes (truncated or corrupt): {exc}") from None


def location_of(sensor_id: str) -> str:
    """A recording's location (room): its sensor id up to the first underscore (``SL14_R9`` -> ``SL14``)."""
    return sensor_id.split("_", 1)[0]


def _attr(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


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
    id_to_class = {i: classes.index(c) for c, i in class_to_id.items()}

    keyframes: dict[str, tuple[str, int, int, str]] = {}  # image id -> (sensor, frame_idx, label, subset)
    found_any = False
    for subset in subsets:
        path = ann_dir / f"{subset}.json"
        if not path.exists():
            continue
        found_any = True
        for image_id, sensor, frame_idx, label in _read_coco(path, id_to_class, classes):
            if image_id in keyframes:
                raise ActlineError(path, f"image {image_id!r} is also in {keyframes[image_id][3]}.json")
            keyframes[image_id] = (sensor, frame_idx, label, subset)
    if not found_any:
        raise ActlineError(ann_dir, f"no annotation file found (expected {', '.join(s + '.json' for s in subsets)})")

    recordings: dict[str, Recording] = {}
    warnings: list[str] = []
    lost: dict[str, int] = Counter(k[0] for k in keyframes.values())
    for sensor in sorted(lost):
        path = root / "frames" / f"{sensor}.h5"
        if not path.exists():
            continue
        recordings[sensor] = read_recording_h5(path, sensor)
    missing = {s: n for s, n in lost.items() if s not in recordings}
    if missing:
        names = ", ".join(f"{s} ({n})" for s, n in sorted(missing.items()))
        warnings.append(f"{root / 'frames'}: {len(missing)} recording(s) named by the annotations are missing, "
                        f"{sum(missing.values())} sample(s) skipped: {names}")

    samples = []
    for image_id, (sensor, frame_idx, label, subset) in sorted(keyframes.items(), key=lambda kv: (kv[1][0], kv[1][1])):
        if sensor in missing:
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


def _scalar_id(v) -> bool:
    return isinstance(v, (str, int)) and not isinstance(v, bool)


def _read_coco(path: Path, id_to_class: dict[int, int], classes: list[str]):
    """Yield (image_id, sensor_id, frame_idx, class index) for each image with at least one box."""
    obj = _load_json(path)
    for key in ("images", "annotations"):
        if not isinstance(obj.get(key), list):
            raise ActlineError(path, f"'{key}' must be a list")
    cat_names = {}
    for cat in obj.get("categories", []):
        if not isinstance(cat, dict) or not _scalar_id(cat.get("id")) or not isinstance(cat.get("name"), str):
            raise ActlineError(path, f"malformed category entry {str(cat)[:80]} (needs an integer or string id and a name)")
        if cat["name"] not in classes:
            raise ActlineError(path, f"category {cat['id']} has unknown class name {cat['name']!r}")
        cat_names[cat["id"]] = cat["name"]
    images = {}
    for i, img in enumerate(obj["images"]):
        if not isinstance(img, dict):
            raise ActlineError(path, f"images[{i}] is not an object")
        for key in ("id", "sensor_id", "frame_idx"):
            if key not in img:
                raise ActlineError(path, f"images[{i}] has no '{key}'")
        for key in ("id", "sensor_id"):
            if not _scalar_id(img[key]):
                raise ActlineError(path, f"images[{i}] {key} must be a string or an integer, got {str(img[key])[:40]}")
        if not isinstance(img["frame_idx"], int) or isinstance(img["frame_idx"], bool):
            raise ActlineError(path, f"images[{i}] frame_idx must be an integer, got {img['frame_idx']!r}")
        images[img["id"]] = img
    labels_of: dict[object, list[int]] = defaultdict(list)
    for i, ann in enumerate(obj["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or "category_id" not in ann:
            raise ActlineError(path, f"annotations[{i}] needs 'image_id' and 'category_id'")
        if not _scalar_id(ann["image_id"]) or not _scalar_id(ann["category_id"]):
            raise ActlineError(path, f"annotations[{i}] image_id and category_id must be strings or integers")
        if ann["image_id"] not in images:
            raise ActlineError(path, f"annotations[{i}] (id {ann.get('id')}) points to image {ann['image_id']!r}, "
                               "which is not in 'images'")
        cid = ann["category_id"]
        name = ann.get("category_name")
        if name is not None and name not in classes:
            raise ActlineError(path, f"annotations[{i}] has unknown class name {name!r}")
        if cid in cat_names:
            cls = classes.index(cat_names[cid])
        elif cid in id_to_class:
            cls = id_to_class[cid]
        else:
            raise ActlineError(path, f"annotations[{i}] has category_id {cid!r}, which no category or class has")
        if name is not None and classes[cls] != name:
            raise ActlineError(path, f"annotations[{i}] category_id {cid} is {classes[cls]!r} but category_name says {name!r}")
        labels_of[ann["image_id"]].append(cls)
    for image_id, labels in labels_of.items():
        img = images[image_id]
        yield str(image_id), str(img["sensor_id"]), int(img["frame_idx"]), keyframe_label(labels)


def write_recording_h5(path: Path, frames: np.ndarray, ts_ms: np.ndarray, sensor_id: str, mac: str = "",
                       created_at: str | None = None) -> Path:
    """One recording in the ThermalDataGen layout (gzip frames, int64 ms timestamps), atomically."""
    import datetime as dt

    from actline.core.atomic import atomic_path

    n, h, w = frames.shape
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("frames", data=frames, compression="gzip", compression_opts=4, chunks=(min(64, n), h, w))
        fh.create_dataset("timestamps", data=np.asarray(ts_ms, dtype=np.int64))
        fh.create_dataset("frame_seqs", data=np.arange(n, dtype=np.int64))
        attrs = {"sensor_id": sensor_id, "mac_address": mac, "frame_height": h, "frame_width": w,
                 "min_timestamp": int(np.min(ts_ms)), "max_timestamp": int(np.max(ts_ms)), "total_frames": n,
                 "created_at": created_at or dt.datetime.now(dt.timezone.utc).isoformat(), "compression": "gzip",
                 "compression_level": 4, "corrupted_count": int((frames <= -100).any(axis=(1, 2)).sum())}
        for k, v in attrs.items():
            fh.attrs[k] = v
    return path
